//! AWS IoT event messages. Owns turning what happens into `$aws/events/...` messages and
//! publishing them through the broker's one publish path (so subscribers and rules both see
//! them): lifecycle events (presence and subscriptions, always on) from the broker's
//! lifecycle seam, and registry events (things, thing groups, thing types, memberships,
//! hierarchy, type associations; each on only when UpdateEventConfigurations enables it) and
//! job events (jobs and job executions, likewise) from the registry change feed, which every
//! cluster node hears.

mod jobs;
mod lifecycle;
mod registry;

use std::sync::Arc;

use ferrite_broker::{Broker, LifecycleEvent, LifecycleObserver, Message};
use ferrite_mqtt_codec::QoS;
use ferrite_types::ChangeSubscription;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry as MetricsRegistry;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use lifecycle::{QueueObserver, message as lifecycle_message};
pub use registry::enabled_types;

/// Lifecycle events waiting to be published, at most; beyond it they are dropped and counted
/// rather than holding up connections.
pub const DEFAULT_QUEUE: usize = 16 * 1024;

/// What the service needs to know about the account it plays.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub account_id: String,
    /// The region in the ARNs of registry events.
    pub region: String,
    pub queue_capacity: usize,
}

#[derive(Debug, Default, Clone)]
pub struct EventMetrics {
    /// Lifecycle events dropped because the queue was full.
    pub lifecycle_dropped: Counter,
    /// Event messages handed to the broker.
    pub published: Counter,
}

impl EventMetrics {
    pub fn register(&self, registry: &mut MetricsRegistry) {
        registry.register(
            "ferrite_events_lifecycle_dropped",
            "Lifecycle events dropped because the events queue was full",
            self.lifecycle_dropped.clone(),
        );
        registry.register(
            "ferrite_events_published",
            "Event messages published",
            self.published.clone(),
        );
    }
}

/// The events service before it runs: its observer goes into the broker's seams, then the
/// service runs with the broker it publishes through.
pub struct EventsService {
    cfg: EventsConfig,
    lifecycle: mpsc::Receiver<LifecycleEvent>,
    metrics: EventMetrics,
    /// Where job and execution events read what changed; without it there are none.
    jobs: Option<ferrite_jobs_service::Jobs>,
}

impl EventsService {
    /// The service and the observer to hand the broker (`Seams::lifecycle`).
    pub fn new(
        cfg: EventsConfig,
        metrics: EventMetrics,
    ) -> (EventsService, Arc<dyn LifecycleObserver>) {
        let (tx, rx) = mpsc::channel(cfg.queue_capacity.max(1));
        let observer = Arc::new(QueueObserver {
            tx,
            dropped: metrics.lifecycle_dropped.clone(),
        });
        let service = EventsService {
            cfg,
            lifecycle: rx,
            metrics,
            jobs: None,
        };
        (service, observer)
    }

    /// Publishes job and job execution events (when enabled), reading jobs through `jobs`.
    pub fn with_jobs(mut self, jobs: ferrite_jobs_service::Jobs) -> EventsService {
        self.jobs = Some(jobs);
        self
    }

    /// Publishes events until `cancel`. `changes` should be subscribed before the call so no
    /// registry change falls before the service reads the event configuration.
    pub async fn run(
        self,
        broker: Broker,
        registry: ferrite_registry::Registry,
        changes: ChangeSubscription,
        cancel: CancellationToken,
    ) {
        let EventsService {
            cfg,
            mut lifecycle,
            metrics,
            jobs,
        } = self;
        let publisher = Publisher {
            broker,
            metrics: metrics.clone(),
        };
        let lifecycle_loop = async {
            loop {
                let event = tokio::select! {
                    _ = cancel.cancelled() => return,
                    e = lifecycle.recv() => match e {
                        Some(e) => e,
                        None => return,
                    },
                };
                let (topic, body) = lifecycle::message(&event);
                publisher.publish(topic, &body).await;
            }
        };
        let registry_loop = registry::run(&cfg, &publisher, registry, jobs, changes, &cancel);
        tokio::join!(lifecycle_loop, registry_loop);
    }
}

/// Publishes event messages through the broker's one publish path.
pub(crate) struct Publisher {
    broker: Broker,
    metrics: EventMetrics,
}

impl Publisher {
    /// Publishes `body` on `topic` at QoS 1 (AWS: at least once). Does not wait for
    /// durability: events are not acknowledged to anyone.
    pub(crate) async fn publish(&self, topic: String, body: &serde_json::Value) {
        let payload = body.to_string();
        let msg = Message::from_service("events", topic, payload, QoS::AtLeastOnce);
        match self.broker.dispatch(msg).await {
            Ok(_) => {
                self.metrics.published.inc();
            }
            Err(e) => tracing::debug!(error = %e, "event not published"),
        }
    }
}
