//! The Device Shadow service. It owns the running part of shadows: it taps shadow request
//! topics (`$aws/things/{thing}/shadow[/name/{shadow}]/{get|update|delete}`) from the
//! broker, applies `ferrite_shadow`'s pure operations to the stored shadow, stores the result
//! conditionally on the version it read (so concurrent writers never lose an update), and
//! publishes the `/accepted`, `/rejected`, `/delta` and `/documents` messages through the
//! broker, where the normal subscription and policy rules deliver them. An accepted update is
//! stored before its `/accepted` message is published.

mod store;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrite_broker::{Broker, BrokerError, Message};
use ferrite_mqtt_codec::{Properties, QoS};
use ferrite_shadow::{Operation, Rejection, ShadowConfig, ShadowError, ShadowId, TopicKind};
use ferrite_storage::{RegistryStore, StorageError};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

pub use store::ShadowStore;

/// Requests waiting for the service before publishers are held.
const QUEUE: usize = 1024;
/// Filters of the request topics: classic and named shadows.
const CLASSIC_REQUESTS: &str = "$aws/things/+/shadow/+";
const NAMED_REQUESTS: &str = "$aws/things/+/shadow/name/+/+";
/// Attempts of one request when concurrent writers keep changing the shadow.
const MAX_ATTEMPTS: usize = 16;

/// The shadow service's shared part: what both the MQTT loop and REST calls use. Cheap to
/// clone.
#[derive(Clone)]
pub struct Shadows {
    broker: Broker,
    store: ShadowStore,
    config: Arc<ShadowConfig>,
}

/// What one request came to.
pub enum Handled {
    /// Applied (or read): the response body (the `/accepted` payload) and every message to
    /// publish, in order.
    Accepted {
        body: Vec<u8>,
        messages: Vec<(String, Vec<u8>)>,
    },
    Rejected(Rejection),
}

/// A REST call's failure: the HTTP status, AWS's exception name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl RestError {
    fn of(e: &ShadowError) -> RestError {
        RestError {
            status: e.code(),
            code: e.aws_exception(),
            message: e.aws_message(),
        }
    }

    fn internal(e: &StorageError) -> RestError {
        tracing::error!(error = %e, "shadow storage failed");
        RestError::of(&ShadowError::Internal)
    }
}

impl Shadows {
    /// Runs one request against the stored shadow.
    pub async fn request(
        &self,
        op: Operation,
        id: &ShadowId,
        payload: &[u8],
    ) -> Result<Handled, StorageError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.store.load(id).await?;
            let now = now();
            let outcome = match ferrite_shadow::handle(
                op,
                id,
                current.as_ref().map(|(s, _)| s),
                payload,
                now,
                &self.config,
            ) {
                Ok(outcome) => outcome,
                Err(rejection) => return Ok(Handled::Rejected(rejection)),
            };
            if let Some(record) = outcome.record()
                && !self
                    .store
                    .save(id, &record, current.as_ref().map(|(_, v)| *v))
                    .await?
            {
                // Someone else changed the shadow since it was read: decide again.
                continue;
            }
            let messages: Vec<(String, Vec<u8>)> = outcome
                .messages()
                .into_iter()
                .map(|(kind, payload)| (id.response_topic(kind), payload.to_vec()))
                .collect();
            let body = messages.first().map(|(_, b)| b.clone()).unwrap_or_default();
            return Ok(Handled::Accepted { body, messages });
        }
        Err(StorageError::Backend(
            "the shadow kept changing under concurrent updates".into(),
        ))
    }

    /// An MQTT request: responses (or the rejection) are published.
    async fn serve(&self, msg: &Message) {
        let Ok(topic) = ferrite_shadow::parse_topic(&msg.topic) else {
            return;
        };
        let TopicKind::Request(op) = topic.kind else {
            return;
        };
        let rejected = topic.id.response_topic(op.rejected());
        match self.request(op, &topic.id, &msg.payload).await {
            Ok(Handled::Accepted { messages, .. }) => {
                for (topic, payload) in messages {
                    self.publish(topic, payload).await;
                }
            }
            Ok(Handled::Rejected(rejection)) => {
                self.publish(rejected, rejection.payload(now())).await;
            }
            Err(e) => {
                // The store failed: the client learns it as AWS's 500.
                tracing::error!(error = %e, topic = %msg.topic, "shadow request failed");
                let rejection = Rejection {
                    error: ShadowError::Internal,
                    client_token: None,
                };
                self.publish(rejected, rejection.payload(now())).await;
            }
        }
    }

    /// A REST call (GetThingShadow, UpdateThingShadow, DeleteThingShadow): the response body.
    /// Updates and deletes publish their `/accepted` (and `/delta`, `/documents`) messages as
    /// MQTT requests do; failures are only answered, never published (as AWS).
    pub async fn rest(
        &self,
        op: Operation,
        thing: &str,
        shadow: Option<&str>,
        payload: &[u8],
    ) -> Result<Vec<u8>, RestError> {
        let id = ShadowId::parse(thing, shadow).map_err(|e| RestError {
            status: 400,
            code: "InvalidRequestException",
            message: e.to_string(),
        })?;
        match self.request(op, &id, payload).await {
            Ok(Handled::Accepted { body, messages }) => {
                if op != Operation::Get {
                    for (topic, payload) in messages {
                        self.publish(topic, payload).await;
                    }
                }
                Ok(body)
            }
            Ok(Handled::Rejected(rejection)) => Err(RestError::of(&rejection.error)),
            Err(e) => Err(RestError::internal(&e)),
        }
    }

    /// ListNamedShadowsForThing: names after `after`, at most `limit`, and whether more follow.
    pub async fn list_named(
        &self,
        thing: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), RestError> {
        self.store
            .list_named(thing, after, limit)
            .await
            .map_err(|e| RestError::internal(&e))
    }

    async fn publish(&self, topic: String, payload: Vec<u8>) {
        let msg = Message::new(
            Arc::from(topic.as_str()),
            Bytes::from(payload),
            QoS::AtLeastOnce,
            false,
            &Properties::default(),
            None,
        );
        if let Err(e) = self.broker.publish(msg).await {
            tracing::warn!(error = %e, %topic, "cannot publish a shadow response");
        }
    }
}

/// The MQTT side of the service: the tapped request topics and the task serving them.
pub struct ShadowService {
    shadows: Shadows,
    classic: Receiver<Arc<Message>>,
    named: Receiver<Arc<Message>>,
}

impl ShadowService {
    /// Taps the request topics at once, so no request published after this returns is
    /// missed, even before [`ShadowService::run`] is first polled.
    pub fn new(
        broker: Broker,
        store: Arc<dyn RegistryStore>,
        config: ShadowConfig,
    ) -> Result<Self, BrokerError> {
        Ok(ShadowService {
            classic: broker.tap(CLASSIC_REQUESTS, QUEUE)?,
            named: broker.tap(NAMED_REQUESTS, QUEUE)?,
            shadows: Shadows {
                broker,
                store: ShadowStore::new(store),
                config: Arc::new(config),
            },
        })
    }

    /// The handle REST calls use.
    pub fn shadows(&self) -> Shadows {
        self.shadows.clone()
    }

    /// Serves shadow requests until `cancel` fires. Requests are handled one at a time, in
    /// the order they were published, which keeps each client's requests in order.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => return,
                m = self.classic.recv() => m,
                m = self.named.recv() => m,
            };
            let Some(msg) = msg else { return };
            self.shadows.serve(&msg).await;
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
