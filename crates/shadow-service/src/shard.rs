//! One shard of the shadow service. Every request for a given shadow goes to the same shard
//! (by a hash of its key), so a shard sees each of its shadows' requests in order and is the
//! only writer of them on this node. That lets it:
//!
//! * batch: it takes every request already queued (up to [`MAX_BATCH`]), decides them one
//!   after another against the state the earlier ones left, and stores the final state of
//!   each touched shadow in **one** conditional write, which the store commits together with
//!   the other shards' writes (group commit). Nothing is answered before that write is
//!   durable, so an `/accepted` is never published for an update that could still be lost;
//! * cache: it keeps the shadows it wrote (with their record versions) and decides updates
//!   without reading the store. The write is still conditional on the cached version, so a
//!   change made elsewhere (another node, DeleteThing's cascade) makes it fail; the shard then
//!   forgets what the batch touched and decides each request again alone, from fresh reads.
//!   GETs always read the store, so they never answer from a stale cache.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ferrite_broker::Broker;
use ferrite_mqtt_codec::QoS;
use ferrite_shadow::{
    Operation, Rejection, ResponseTopic, ShadowConfig, ShadowError, ShadowId, StoredShadow,
};
use ferrite_storage::StorageError;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::in_flight::InFlight;
use crate::store::{self, ShadowStore};

/// Requests decided together and stored in one write.
const MAX_BATCH: usize = 128;
/// Shadows a shard keeps decoded between requests.
const CACHE_PER_SHARD: usize = 1024;
/// Attempts of one request when concurrent writers keep changing its shadow.
const MAX_ATTEMPTS: usize = 16;

/// What every shard shares.
pub(crate) struct Context {
    pub broker: Broker,
    pub store: ShadowStore,
    pub config: ShadowConfig,
    pub in_flight: InFlight,
    pub thing_rate: crate::thing_rate::ThingRate,
}

impl Context {
    pub(crate) async fn publish(&self, topic: String, payload: Vec<u8>) {
        let msg = ferrite_broker::Message::from_service(
            "shadow",
            topic.as_str(),
            payload,
            QoS::AtLeastOnce,
        );
        if let Err(e) = self.broker.publish(msg).await {
            tracing::warn!(error = %e, %topic, "cannot publish a shadow response");
        }
    }
}

/// A REST caller's answer: the `/accepted` body or the rejection; `Err` when the store
/// failed (logged where it happened).
pub(crate) type RestOutcome = Result<Result<Vec<u8>, Rejection>, Failed>;

/// Who waits for a request's answer.
pub(crate) enum Reply {
    /// An MQTT request: the shard publishes the responses, and releases `client`'s in-flight
    /// count (`None`: published by the server itself, not counted).
    Mqtt { client: Option<Arc<str>> },
    /// A REST call: the shard publishes what an update or delete publishes and sends the
    /// outcome back.
    Rest(oneshot::Sender<RestOutcome>),
}

pub(crate) struct Job {
    pub op: Operation,
    pub id: ShadowId,
    pub payload: Bytes,
    pub reply: Reply,
}

/// The store failed for this request; the error was logged.
#[derive(Debug)]
pub(crate) struct Failed;

enum Decided {
    /// The messages to publish, in order; the first is the `/accepted` one.
    Accepted(Vec<(String, Vec<u8>)>),
    Rejected(Rejection),
}

/// One shadow's state while a batch is decided.
struct Slot {
    current: Option<StoredShadow>,
    /// The record version the decision is based on (`None`: no record).
    read_version: Option<u64>,
    dirty: bool,
}

pub(crate) struct Shard {
    ctx: Arc<Context>,
    rx: mpsc::Receiver<Job>,
    cache: HashMap<String, (StoredShadow, u64)>,
}

impl Shard {
    pub(crate) fn new(ctx: Arc<Context>, rx: mpsc::Receiver<Job>) -> Self {
        Shard {
            ctx,
            rx,
            cache: HashMap::new(),
        }
    }

    /// Serves requests until `cancel` fires or every sender is gone.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => return,
                job = self.rx.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.run_batch(jobs).await;
        }
    }

    async fn run_batch(&mut self, jobs: Vec<Job>) {
        // When another writer got in between, nothing was stored or answered: each request
        // is then decided again on its own.
        if jobs.len() > 1
            && let Some(results) = self.decide_and_store(&jobs).await
        {
            for (job, result) in jobs.into_iter().zip(results) {
                self.respond(job, result).await;
            }
            return;
        }
        for job in jobs {
            let mut result = Err(Failed);
            let mut settled = false;
            for _ in 0..MAX_ATTEMPTS {
                if let Some(mut results) = self.decide_and_store(std::slice::from_ref(&job)).await {
                    result = results.pop().unwrap_or(Err(Failed));
                    settled = true;
                    break;
                }
            }
            if !settled {
                tracing::error!(shadow = %store::key(&job.id), "a shadow kept changing under concurrent updates");
            }
            self.respond(job, result).await;
        }
    }

    /// Decides `jobs` in order and stores the outcome in one conditional write. `None`: the
    /// write met a change made elsewhere; nothing was stored and the shadows it touched are
    /// forgotten.
    async fn decide_and_store(&mut self, jobs: &[Job]) -> Option<Vec<Result<Decided, Failed>>> {
        let now = crate::now();
        let mut slots: HashMap<String, Slot> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let key = store::key(&job.id);
            if !slots.contains_key(&key) {
                match self.read(&key, job.op).await {
                    Ok(slot) => {
                        slots.insert(key.clone(), slot);
                        order.push(key.clone());
                    }
                    Err(e) => {
                        tracing::error!(error = %e, shadow = %key, "cannot read a shadow");
                        results.push(Err(Failed));
                        continue;
                    }
                }
            }
            let Some(slot) = slots.get_mut(&key) else {
                results.push(Err(Failed));
                continue;
            };
            let publishing = ferrite_shadow::Publishing {
                documents: job.op == Operation::Update
                    && self
                        .ctx
                        .broker
                        .has_receivers(&job.id.response_topic(ResponseTopic::UpdateDocuments)),
            };
            let decided = match ferrite_shadow::handle_publishing(
                job.op,
                &job.id,
                slot.current.as_ref(),
                &job.payload,
                now,
                &self.ctx.config,
                publishing,
            ) {
                Err(rejection) => Decided::Rejected(rejection),
                Ok(outcome) => {
                    let messages = outcome
                        .messages()
                        .into_iter()
                        .map(|(kind, payload)| (job.id.response_topic(kind), payload.to_vec()))
                        .collect();
                    if let Some(record) = outcome.into_record() {
                        slot.current = Some(record);
                        slot.dirty = true;
                    }
                    Decided::Accepted(messages)
                }
            };
            results.push(Ok(decided));
        }

        let mut writes = Vec::new();
        for key in &order {
            let slot = &slots[key];
            if let (true, Some(shadow)) = (slot.dirty, &slot.current) {
                match store::put(key, shadow, slot.read_version) {
                    Ok(write) => writes.push(write),
                    Err(e) => {
                        tracing::error!(error = %e, shadow = %key, "cannot encode a shadow");
                        return Some(jobs.iter().map(|_| Err(Failed)).collect());
                    }
                }
            }
        }
        if !writes.is_empty() {
            match self.ctx.store.write(writes).await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::error!(error = %e, "cannot store shadows");
                    return Some(jobs.iter().map(|_| Err(Failed)).collect());
                }
            }
        }
        // Stored (or nothing to store): keep what is now known.
        for key in order {
            let Some(slot) = slots.remove(&key) else {
                continue;
            };
            let version = if slot.dirty {
                Some(slot.read_version.map_or(1, |v| v + 1))
            } else {
                slot.read_version
            };
            if let (Some(shadow), Some(version)) = (slot.current, version) {
                self.remember(key, shadow, version);
            }
        }
        Some(results)
    }

    /// The shadow at `key` as a batch starts from: an update or delete takes it out of the
    /// cache (it goes back once the batch is stored), a GET and a miss read the store.
    async fn read(&mut self, key: &str, op: Operation) -> Result<Slot, StorageError> {
        let cached = self.cache.remove(key);
        if op != Operation::Get
            && let Some((shadow, version)) = cached
        {
            return Ok(Slot {
                current: Some(shadow),
                read_version: Some(version),
                dirty: false,
            });
        }
        let stored = self.ctx.store.load_key(key).await?;
        Ok(match stored {
            Some((shadow, version)) => Slot {
                current: Some(shadow),
                read_version: Some(version),
                dirty: false,
            },
            None => Slot {
                current: None,
                read_version: None,
                dirty: false,
            },
        })
    }

    fn remember(&mut self, key: String, shadow: StoredShadow, version: u64) {
        if self.cache.len() >= CACHE_PER_SHARD
            && !self.cache.contains_key(&key)
            && let Some(evicted) = self.cache.keys().next().cloned()
        {
            self.cache.remove(&evicted);
        }
        self.cache.insert(key, (shadow, version));
    }

    async fn respond(&self, job: Job, result: Result<Decided, Failed>) {
        match job.reply {
            Reply::Mqtt { client } => {
                // Released before publishing: a client that sends its next request as soon as
                // it sees this answer must not find the answered one still counted.
                if let Some(client) = &client {
                    self.ctx.in_flight.release(client);
                }
                let rejected = job.id.response_topic(job.op.rejected());
                match result {
                    Ok(Decided::Accepted(messages)) => {
                        for (topic, payload) in messages {
                            self.ctx.publish(topic, payload).await;
                        }
                    }
                    Ok(Decided::Rejected(rejection)) => {
                        self.ctx
                            .publish(rejected, rejection.payload(crate::now()))
                            .await;
                    }
                    Err(Failed) => {
                        let rejection = Rejection::new(
                            ShadowError::Internal,
                            crate::client_token(&job.payload, &self.ctx.config),
                        );
                        self.ctx
                            .publish(rejected, rejection.payload(crate::now()))
                            .await;
                    }
                }
            }
            Reply::Rest(tx) => {
                let outcome = match result {
                    Ok(Decided::Accepted(messages)) => {
                        let body = messages
                            .first()
                            .map(|(_, body)| body.clone())
                            .unwrap_or_default();
                        // A REST GET publishes nothing; updates and deletes publish as over MQTT.
                        if job.op != Operation::Get {
                            for (topic, payload) in messages {
                                self.ctx.publish(topic, payload).await;
                            }
                        }
                        Ok(Ok(body))
                    }
                    Ok(Decided::Rejected(rejection)) => Ok(Err(rejection)),
                    Err(Failed) => Err(Failed),
                };
                // The caller may have gone (client hung up): nothing to answer then.
                let _ = tx.send(outcome);
            }
        }
    }
}
