//! The MQTT 3.1.1 / 5.0 broker: sessions, QoS 0/1/2 state machines, retained messages,
//! wills, keep-alive, take-over, MQTT 5 features and routing. Transport-agnostic: it serves
//! any byte stream the `transport` crate hands it. Hot state lives in memory; durable state
//! is streamed to a `BrokerStore` with group commit before the acknowledgements that promise it.

mod auth;
mod connection;
mod lifecycle;
mod message;
mod metrics;
mod persist;
mod records;
mod router;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrite_config::MqttConfig;
use ferrite_storage::{BrokerStore, StorageError};
use ferrite_topic::{MatchOptions, TopicLimits};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use auth::{
    AllowAll, Authorizer, ConnectContext, ConnectFuture, HttpRequestHead, Permissions, Revoker,
    TransportIdentity, allow_all,
};
pub use message::Message;
pub use metrics::Metrics;

use persist::Persister;
use router::{Backpressure, Router};
use session::SessionCell;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("invalid topic: {0}")]
    Topic(#[from] ferrite_topic::TopicError),
    #[error("broker is shutting down")]
    ShuttingDown,
    #[error("the payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },
}

/// Facts about an accepted connection that the broker cannot learn from MQTT itself.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub local_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    /// What TLS / WebSocket revealed about the client; boxed and dropped after CONNECT.
    pub transport: Option<Box<TransportIdentity>>,
    /// Time allowed until CONNECT has arrived.
    pub connect_timeout: Duration,
    /// The server is at its connection cap: answer CONNECT with "server busy" and close.
    pub over_capacity: bool,
}

pub(crate) struct BrokerInner {
    pub cfg: MqttConfig,
    pub limits: TopicLimits,
    pub router: Router,
    pub sessions: Mutex<HashMap<Arc<str>, Arc<SessionCell>>>,
    pub persister: Arc<Persister>,
    pub store: Arc<dyn BrokerStore>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<dyn Authorizer>,
    /// This node's id, stamped on the origin of every message received here.
    pub node: Arc<str>,
    /// Cancelled at shutdown: every connection and timer watches it.
    pub cancel: CancellationToken,
    /// Connections and timers.
    pub tasks: TaskTracker,
    /// The persister's commit task, drained last.
    pub persist_task: TaskTracker,
    next_uid: AtomicU64,
    next_conn: AtomicU64,
}

impl BrokerInner {
    pub fn uid(&self) -> u64 {
        self.next_uid.fetch_add(1, Ordering::Relaxed)
    }

    pub fn conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn backpressure(&self) -> Backpressure {
        Backpressure {
            qos0: Duration::from_millis(self.cfg.qos0_backpressure_ms),
            qos12: Duration::from_millis(self.cfg.backpressure_timeout_ms),
        }
    }
}

/// The broker. Cheap to clone; all clones are one broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

impl Broker {
    /// Loads the durable state from `store` and returns a running broker.
    pub async fn start(
        cfg: MqttConfig,
        store: Arc<dyn BrokerStore>,
        auth: Arc<dyn Authorizer>,
        metrics: Arc<Metrics>,
    ) -> Result<Broker, BrokerError> {
        let snapshot = store.load().await?;
        let match_options = MatchOptions {
            multilevel_matches_parent: cfg.multilevel_wildcard_matches_parent,
        };
        let persist_task = TaskTracker::new();
        let persister = Persister::start(store.clone(), &persist_task);
        let inner = Arc::new(BrokerInner {
            limits: TopicLimits {
                max_bytes: cfg.max_topic_bytes,
                max_levels: cfg.max_topic_levels,
            },
            router: Router::new(match_options, cfg.retained_for_wildcard_subscriptions),
            cfg,
            sessions: Mutex::new(HashMap::new()),
            persister,
            store,
            metrics,
            auth,
            node: ferrite_types::message::local_node(),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            persist_task,
            next_uid: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
        });
        lifecycle::restore(&inner, snapshot);
        Ok(Broker { inner })
    }

    /// Serves one client connection until it closes. The caller owns the task.
    pub async fn serve<S>(&self, stream: S, info: ConnInfo)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.inner.cancel.is_cancelled() {
            return;
        }
        let token = self.inner.tasks.token();
        connection::run(self.inner.clone(), stream, info).await;
        drop(token);
    }

    /// Publishes a message from the server itself (rules, shadows, HTTP publish). Returns once
    /// it is routed and, for QoS 1/2, durable for every persistent subscriber.
    pub async fn publish(&self, msg: Message) -> Result<usize, BrokerError> {
        ferrite_topic::validate_topic_name(&msg.topic, &self.inner.limits)?;
        if msg.payload.len() > self.inner.cfg.max_payload_size {
            return Err(BrokerError::PayloadTooLarge {
                size: msg.payload.len(),
                limit: self.inner.cfg.max_payload_size,
            });
        }
        if self.inner.cancel.is_cancelled() {
            return Err(BrokerError::ShuttingDown);
        }
        let msg = Arc::new(msg);
        let inner = &self.inner;
        let mut ops = Vec::new();
        if msg.retain {
            inner.router.retain(
                &msg,
                inner.cfg.max_retained_messages,
                &inner.metrics,
                &mut ops,
            );
        }
        let n = inner
            .router
            .route(
                &msg,
                inner.cfg.max_queued_messages,
                inner.backpressure(),
                &inner.metrics,
                &mut ops,
            )
            .await;
        let ticket = inner.persister.submit(ops);
        inner.persister.wait(ticket).await;
        Ok(n)
    }

    /// Feeds every publish on a reserved topic matching `filter` (e.g.
    /// `$aws/things/+/shadow/+`) to the returned receiver, besides the topic's subscribers.
    /// The channel holds `capacity` messages; when it is full, publishers wait, as they do for
    /// a full subscriber queue. The tap ends when the receiver is dropped.
    pub fn tap(
        &self,
        filter: &str,
        capacity: usize,
    ) -> Result<tokio::sync::mpsc::Receiver<Arc<Message>>, BrokerError> {
        ferrite_topic::validate_topic_filter(filter, &self.inner.limits)?;
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let mut taps = self.inner.router.taps.write();
        taps.retain(|t| !t.tx.is_closed());
        taps.push(router::Tap {
            filter: filter.to_owned(),
            tx,
        });
        Ok(rx)
    }

    /// The retained message on `topic`, unless there is none or it has expired.
    /// Whether a publish on `topic` would reach anyone now: a subscription or a tap matches.
    /// Lets a server-side publisher skip building messages nobody would receive.
    pub fn has_receivers(&self, topic: &str) -> bool {
        self.inner.router.has_receivers(topic)
    }

    pub fn retained(&self, topic: &str) -> Option<Arc<Message>> {
        let now = message::now_ms();
        self.inner
            .router
            .retained
            .read()
            .get(topic)
            .filter(|m| !m.is_expired(now))
            .cloned()
    }

    /// Retained messages in topic order after `after`, at most `limit`, and whether more
    /// follow. Sorts all retained topics per call: meant for listing by hand, not for a hot
    /// path.
    pub fn retained_page(&self, after: Option<&str>, limit: usize) -> (Vec<Arc<Message>>, bool) {
        let now = message::now_ms();
        let mut all: Vec<Arc<Message>> = self
            .inner
            .router
            .retained
            .read()
            .iter()
            .filter(|(topic, m)| after.is_none_or(|a| *topic > a) && !m.is_expired(now))
            .map(|(_, m)| m.clone())
            .collect();
        all.sort_unstable_by(|a, b| a.topic.cmp(&b.topic));
        let more = all.len() > limit;
        all.truncate(limit);
        (all, more)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Number of sessions held, connected or not.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.lock().len()
    }

    /// Disconnects every client (MQTT 5: reason 0x8B), writes the final session state and
    /// closes the store. Waits at most `timeout` for connections to finish.
    pub async fn shutdown(&self, timeout: Duration) {
        let inner = &self.inner;
        inner.cancel.cancel();
        inner.tasks.close();
        if tokio::time::timeout(timeout, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after shutdown timeout");
        }
        let last = inner.persister.close();
        inner.persist_task.close();
        if tokio::time::timeout(timeout, inner.persist_task.wait())
            .await
            .is_err()
            || !inner.persister.is_durable(last)
        {
            tracing::error!("store did not confirm the last writes before shutdown");
        }
    }
}
