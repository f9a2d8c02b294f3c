//! The Device Shadow service. It owns the running part of shadows: it taps shadow request
//! topics (`$aws/things/{thing}/shadow[/name/{shadow}]/{get|update|delete}`) from the
//! broker, applies `ferrite_shadow`'s pure operations to the stored shadow, stores the result
//! conditionally on the version it read (so concurrent writers never lose an update), and
//! publishes the `/accepted`, `/rejected`, `/delta` and `/documents` messages through the
//! broker, where the normal subscription and policy rules deliver them. An accepted update is
//! stored before its `/accepted` message is published.
//!
//! MQTT requests and REST calls take the same path: a request goes to the shard that owns its
//! shadow (see [`shard`]), which batches, caches and stores; REST callers wait for the
//! shard's answer.

mod in_flight;
mod shard;
mod store;
mod thing_rate;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_broker::{Broker, BrokerError, Message};
use ferrite_shadow::{
    NameError, Operation, Rejection, ShadowConfig, ShadowError, ShadowId, TopicKind,
};
use ferrite_storage::RegistryStore;
use ferrite_types::AwsException;
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::in_flight::InFlight;
use crate::shard::{Context, Failed, Job, Reply, Shard};
use crate::thing_rate::ThingRate;
pub use store::ShadowStore;

/// Requests waiting in each tap before publishers are held.
const TAP_QUEUE: usize = 1024;
/// Requests waiting for each shard before the dispatcher (and so the taps) is held.
const SHARD_QUEUE: usize = 256;
/// Shards: independent writers whose writes the store commits together.
const SHARDS: usize = 16;
/// Filters of the request topics: classic and named shadows.
const CLASSIC_REQUESTS: &str = "$aws/things/+/shadow/+";
const NAMED_REQUESTS: &str = "$aws/things/+/shadow/name/+/+";

/// The service's tunables beyond the shadow semantics themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub shadow: ShadowConfig,
    /// Unanswered requests one MQTT client may have before more are rejected with 429 (AWS: 10).
    pub max_in_flight_per_client: usize,
    /// Requests per second per thing, MQTT and REST together, before 429 (AWS's adjustable
    /// quota: 20); 0 = unlimited.
    pub max_requests_per_thing_per_sec: u32,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            shadow: ShadowConfig::default(),
            max_in_flight_per_client: 10,
            max_requests_per_thing_per_sec: 0,
        }
    }
}

/// The handle REST calls use. Cheap to clone.
#[derive(Clone)]
pub struct Shadows {
    ctx: Arc<Context>,
    shards: Arc<[Sender<Job>]>,
}

/// A REST call's failure. Its AWS exception is the shadow error's (the same code and message an
/// MQTT caller reads on `/rejected`), or InvalidRequestException for a bad thing or shadow
/// name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    #[error(transparent)]
    Refused(#[from] ShadowError),
    #[error(transparent)]
    InvalidName(#[from] NameError),
}

impl AwsException for RestError {
    fn exception_name(&self) -> &'static str {
        match self {
            RestError::Refused(e) => e.aws_exception(),
            RestError::InvalidName(_) => "InvalidRequestException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            RestError::Refused(e) => e.aws_message(),
            RestError::InvalidName(e) => e.to_string(),
        }
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            RestError::Refused(e) => e.code(),
            RestError::InvalidName(_) => 400,
        }
    }
}

impl Shadows {
    /// Queues `job` on the shard that owns its shadow; gives it back when the service stopped.
    async fn send(&self, job: Job) -> Result<(), Job> {
        let mut hasher = DefaultHasher::new();
        job.id.thing().as_str().hash(&mut hasher);
        job.id.shadow().map(|s| s.as_str()).hash(&mut hasher);
        let shard = (hasher.finish() % self.shards.len() as u64) as usize;
        self.shards[shard].send(job).await.map_err(|e| e.0)
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
        let id = ShadowId::parse(thing, shadow)?;
        if !self.ctx.thing_rate.try_take(thing) {
            return Err(ShadowError::Throttled.into());
        }
        let (tx, rx) = oneshot::channel();
        let job = Job {
            op,
            id,
            payload: Bytes::copy_from_slice(payload),
            reply: Reply::Rest(tx),
        };
        if self.send(job).await.is_err() {
            return Err(ShadowError::Internal.into());
        }
        match rx.await {
            Ok(Ok(Ok(body))) => Ok(body),
            Ok(Ok(Err(rejection))) => Err(rejection.error.into()),
            Ok(Err(Failed)) | Err(_) => Err(ShadowError::Internal.into()),
        }
    }

    /// ListNamedShadowsForThing: names after `after`, at most `limit`, and whether more follow.
    pub async fn list_named(
        &self,
        thing: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), RestError> {
        self.ctx
            .store
            .list_named(thing, after, limit)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot list named shadows");
                RestError::from(ShadowError::Internal)
            })
    }
}

/// The MQTT side of the service: the tapped request topics, the dispatcher and the shards.
pub struct ShadowService {
    shadows: Shadows,
    shards: Vec<Shard>,
    classic: Receiver<Arc<Message>>,
    named: Receiver<Arc<Message>>,
}

impl ShadowService {
    /// Taps the request topics at once, so no request published after this returns is
    /// missed, even before [`ShadowService::run`] is first polled.
    pub fn new(
        broker: Broker,
        store: Arc<dyn RegistryStore>,
        config: ServiceConfig,
    ) -> Result<Self, BrokerError> {
        let classic = broker.tap(CLASSIC_REQUESTS, TAP_QUEUE)?;
        let named = broker.tap(NAMED_REQUESTS, TAP_QUEUE)?;
        let ctx = Arc::new(Context {
            broker,
            store: ShadowStore::new(store),
            config: config.shadow,
            in_flight: InFlight::new(config.max_in_flight_per_client.max(1)),
            thing_rate: ThingRate::new(config.max_requests_per_thing_per_sec),
        });
        let (senders, shards): (Vec<_>, Vec<_>) = (0..SHARDS)
            .map(|_| {
                let (tx, rx) = mpsc::channel(SHARD_QUEUE);
                (tx, Shard::new(ctx.clone(), rx))
            })
            .unzip();
        Ok(ShadowService {
            shadows: Shadows {
                ctx,
                shards: senders.into(),
            },
            shards,
            classic,
            named,
        })
    }

    /// The handle REST calls use.
    pub fn shadows(&self) -> Shadows {
        self.shadows.clone()
    }

    /// Serves shadow requests until `cancel` fires; the shards are its own tasks and end with
    /// it. Requests for one shadow are handled in the order they were published.
    pub async fn run(self, cancel: CancellationToken) {
        let ShadowService {
            shadows,
            shards,
            mut classic,
            mut named,
        } = self;
        let mut tasks = JoinSet::new();
        for shard in shards {
            tasks.spawn(shard.run(cancel.clone()));
        }
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => break,
                m = classic.recv() => m,
                m = named.recv() => m,
            };
            let Some(msg) = msg else { break };
            dispatch(&shadows, &msg).await;
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// Hands one tapped request to its shard, or rejects it with 429 when its thing is over its
/// request quota or its client already waits for too many answers.
async fn dispatch(shadows: &Shadows, msg: &Message) {
    let Ok(topic) = ferrite_shadow::parse_topic(&msg.topic) else {
        return;
    };
    let TopicKind::Request(op) = topic.kind else {
        return;
    };
    let ctx = &shadows.ctx;
    let throttled = !ctx.thing_rate.try_take(topic.id.thing().as_str())
        || msg
            .origin
            .client_id
            .as_ref()
            .is_some_and(|client| !ctx.in_flight.try_acquire(client));
    if throttled {
        let rejection = Rejection::new(
            ShadowError::Throttled,
            client_token(&msg.payload, &ctx.config),
        );
        let rejected = topic.id.response_topic(op.rejected());
        ctx.publish(rejected, rejection.payload(now())).await;
        return;
    }
    let job = Job {
        op,
        id: topic.id,
        payload: msg.payload.clone(),
        reply: Reply::Mqtt {
            client: msg.origin.client_id.clone(),
        },
    };
    if let Err(job) = shadows.send(job).await
        && let Reply::Mqtt {
            client: Some(client),
        } = &job.reply
    {
        ctx.in_flight.release(client);
    }
}

/// The request's valid `clientToken`, for rejections decided before the request is parsed.
fn client_token(payload: &[u8], config: &ShadowConfig) -> Option<String> {
    ferrite_shadow::parse_token_request(payload, config)
        .ok()
        .and_then(|r| r.client_token)
}

fn now() -> u64 {
    u64::try_from(ferrite_types::clock::system_now_ms() / 1000).unwrap_or(0)
}
