//! The jobs device API over MQTT: requests on `$aws/things/{thing}/jobs/get`, `start-next`,
//! `{jobId}/get` and `{jobId}/update` reach the service through hold-policy taps (a service
//! that falls behind holds publishers; no request is lost), are decided by [`Jobs`], and are
//! answered on `/accepted` or `/rejected` through the broker's one publish path, where
//! subscriptions and `iot:Receive` decide who gets them. Execution changes announced on the
//! change feed become `notify` (the thing's pending list changed) and `notify-next` (its
//! head changed). One dispatcher hands both to [`WORKERS`] workers by a hash of the thing,
//! so a thing's requests and notifications keep their order and other things' do not wait.
//!
//! The taps name the request topics exactly, never the response topics: the service's own
//! responses must not come back to it (a held tap fed by its own reader would deadlock).

use std::collections::HashMap;
use std::sync::Arc;

use ferrite_broker::{Broker, BrokerError, Message, TapOptions};
use ferrite_jobs::device::{
    DeviceRequestKind, JobsTopic, client_token_of, execution_mqtt, notify_next_topic, notify_topic,
    parse_request, parse_topic, pending_lists, rejected, response_topic, stamp, summary_mqtt,
};
use ferrite_jobs::{ExecutionStatus, JobError, JobExecution};
use ferrite_mqtt_codec::QoS;
use ferrite_types::{ChangeSubscription, Received, RegistryChange};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Jobs, JobsError};

/// Requests waiting in each tap before publishers are held.
const TAP_QUEUE: usize = 1024;
/// AWS: `notify` lists at most 10 executions.
const NOTIFY_MAX: usize = 10;

const REQUEST_FILTERS: [&str; 4] = [
    "$aws/things/+/jobs/get",
    "$aws/things/+/jobs/start-next",
    "$aws/things/+/jobs/+/get",
    "$aws/things/+/jobs/+/update",
];

/// Workers requests and notifications are spread over, by thing: one thing's requests and
/// notifications stay in order on one worker, while different things' run side by side (their
/// store writes then share the store's group commits).
const WORKERS: usize = 8;
/// Work queued per worker before the dispatcher (and so the taps' publishers) wait.
const WORKER_QUEUE: usize = 256;

/// What a worker is given.
enum Work {
    Request(Arc<Message>),
    Changed(Arc<RegistryChange>),
    /// Whatever was told may be stale: tell each thing afresh next time.
    Forget,
    /// Tell the thing its pending jobs (after changes were missed).
    Notify(String),
}

/// The MQTT side of the jobs service: its taps, and the workers that answer requests and
/// notify things.
pub struct JobsDevice {
    jobs: Jobs,
    broker: Broker,
    taps: Vec<mpsc::Receiver<Arc<Message>>>,
}

/// One worker: the things hashed to it, and what it last told each of them.
struct Worker {
    jobs: Jobs,
    broker: Broker,
    /// Per thing: the pending executions and the head last announced, so `notify` and
    /// `notify-next` go out only when they change.
    told: HashMap<String, Vec<(String, u64)>>,
}

fn worker_of(thing: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    thing.hash(&mut h);
    (h.finish() % WORKERS as u64) as usize
}

impl JobsDevice {
    /// Taps the request topics on `broker`.
    pub fn new(jobs: Jobs, broker: Broker) -> Result<JobsDevice, BrokerError> {
        let taps = REQUEST_FILTERS
            .iter()
            .map(|f| broker.tap_with(f, TapOptions::hold("jobs", TAP_QUEUE)))
            .collect::<Result<_, _>>()?;
        Ok(JobsDevice { jobs, broker, taps })
    }

    /// Serves requests and notifications until `cancel`; work already handed to a worker is
    /// finished first.
    pub async fn run(self, mut changes: ChangeSubscription, cancel: CancellationToken) {
        let JobsDevice {
            jobs,
            broker,
            mut taps,
        } = self;
        let mut workers = tokio::task::JoinSet::new();
        let senders: Vec<mpsc::Sender<Work>> = (0..WORKERS)
            .map(|_| {
                let (tx, rx) = mpsc::channel(WORKER_QUEUE);
                let worker = Worker {
                    jobs: jobs.clone(),
                    broker: broker.clone(),
                    told: HashMap::new(),
                };
                workers.spawn(worker.run(rx));
                tx
            })
            .collect();
        let to = |thing: &str| &senders[worker_of(thing)];
        let [a, b, c, d] = &mut taps[..] else {
            unreachable!("one tap per request filter")
        };
        loop {
            let request = tokio::select! {
                _ = cancel.cancelled() => break,
                Some(m) = a.recv() => m,
                Some(m) = b.recv() => m,
                Some(m) = c.recv() => m,
                Some(m) = d.recv() => m,
                change = changes.recv() => {
                    match change {
                        // The node that made the change notifies; what this node last told
                        // the thing may be stale now, so it tells it afresh next time.
                        Some(Received::Change(c)) if changes.from_other_node() => match &*c {
                            RegistryChange::JobExecutionChanged { thing, .. }
                            | RegistryChange::JobExecutionDeleted { thing, .. } => {
                                let _ = to(thing).send(Work::Forget).await;
                            }
                            _ => {}
                        },
                        Some(Received::Change(c)) => match &*c {
                            RegistryChange::JobExecutionChanged { thing, .. }
                            | RegistryChange::JobExecutionDeleted { thing, .. } => {
                                let _ = to(thing).send(Work::Changed(c.clone())).await;
                            }
                            RegistryChange::Cleared => {
                                for tx in &senders {
                                    let _ = tx.send(Work::Forget).await;
                                }
                            }
                            _ => {}
                        },
                        Some(Received::Missed(n)) => {
                            // Notifications those changes should have caused are owed: every
                            // thing with pending jobs is told again (a repeat is harmless).
                            tracing::warn!(missed = n, "jobs device side fell behind the change feed; notifying every thing with pending jobs again");
                            for tx in &senders {
                                let _ = tx.send(Work::Forget).await;
                            }
                            match jobs.things_with_pending().await {
                                Ok(things) => {
                                    for thing in things {
                                        let _ = to(&thing).send(Work::Notify(thing)).await;
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "cannot list the things with pending jobs"),
                            }
                        }
                        None => break,
                    }
                    continue;
                }
            };
            if let Some(JobsTopic::Request { thing, .. }) = parse_topic(&request.topic) {
                let _ = to(thing).send(Work::Request(request.clone())).await;
            }
        }
        drop(senders);
        while workers.join_next().await.is_some() {}
    }
}

impl Worker {
    async fn run(mut self, mut work: mpsc::Receiver<Work>) {
        while let Some(w) = work.recv().await {
            match w {
                Work::Request(m) => self.request(&m).await,
                Work::Changed(c) => self.changed(&c).await,
                Work::Forget => self.told.clear(),
                Work::Notify(thing) => self.notify(thing).await,
            }
        }
    }

    async fn publish(&self, topic: String, payload: Value) {
        let msg = Message::from_service(
            "jobs",
            topic.as_str(),
            payload.to_string(),
            QoS::AtLeastOnce,
        );
        if let Err(e) = self.broker.publish(msg).await {
            tracing::warn!(error = %e, %topic, "cannot publish a jobs response");
        }
    }

    async fn request(&mut self, msg: &Message) {
        let Some(JobsTopic::Request { thing, kind }) = parse_topic(&msg.topic) else {
            return;
        };
        let token = client_token_of(&msg.payload);
        let now = self.jobs.clock.now_ms();
        let answer = match parse_request(&msg.payload) {
            Ok(req) => self.answer(thing, &kind, req).await,
            Err(e) => Err(JobsError::Job(e)),
        };
        let (accepted, body) = match answer {
            Ok(body) => (true, stamp(body, token.as_deref(), now)),
            Err(e) => (false, rejection(&e, token.as_deref(), now)),
        };
        self.publish(response_topic(&msg.topic, accepted), body)
            .await;
    }

    async fn answer(
        &self,
        thing: &str,
        kind: &DeviceRequestKind,
        req: ferrite_jobs::device::DeviceRequest,
    ) -> Result<Value, JobsError> {
        let now = self.jobs.clock.now_ms();
        let execution = |d: Option<crate::DeviceExecution>, with_document: bool| {
            let mut out = json!({});
            if let Some(d) = d {
                let doc = d.document.as_deref().filter(|_| with_document);
                out["execution"] = execution_mqtt(&d.execution, doc, now);
            }
            out
        };
        match kind {
            DeviceRequestKind::GetPending => {
                let pending = self.jobs.pending_executions(thing).await?;
                Ok(pending_lists(pending.iter().map(|(e, _)| e).collect()))
            }
            DeviceRequestKind::StartNext => {
                let d = self
                    .jobs
                    .start_next(thing, req.status_details.as_ref(), req.step_timeout_minutes)
                    .await?;
                Ok(execution(d, true))
            }
            DeviceRequestKind::Describe { job_id } => {
                let d = self
                    .jobs
                    .describe_for_device(thing, job_id, req.execution_number)
                    .await?;
                Ok(execution(d, req.include_job_document.unwrap_or(true)))
            }
            DeviceRequestKind::Update { job_id } => {
                let d = self
                    .jobs
                    .update_for_device(thing, job_id, req.execution_number, &req.update)
                    .await?;
                let mut out = json!({});
                if req.include_job_execution_state {
                    out["executionState"] =
                        serde_json::to_value(d.execution.state()).expect("states serialise");
                }
                if req.include_job_document.unwrap_or(false)
                    && let Some(doc) = &d.document
                {
                    out["jobDocument"] = serde_json::from_str(doc).unwrap_or_else(|_| json!(doc));
                }
                Ok(out)
            }
        }
    }

    /// `notify` when `thing`'s pending list changed, `notify-next` when its head did.
    async fn changed(&mut self, change: &RegistryChange) {
        let thing = match change {
            RegistryChange::JobExecutionChanged { thing, .. }
            | RegistryChange::JobExecutionDeleted { thing, .. } => thing.clone(),
            RegistryChange::Cleared => {
                self.told.clear();
                return;
            }
            _ => return,
        };
        self.notify(thing).await;
    }

    /// Tells `thing` its pending jobs (`notify`) and its next one (`notify-next`) when they
    /// differ from what it was last told.
    async fn notify(&mut self, thing: String) {
        let pending = match self.jobs.pending_executions(&thing).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, %thing, "cannot read a thing's pending jobs");
                return;
            }
        };
        let now_keys: Vec<(String, u64)> = pending
            .iter()
            .map(|(e, _)| (e.job_id.clone(), e.execution_number))
            .collect();
        let before = self.told.get(&thing);
        let list_changed = before.is_none_or(|b| {
            let mut b = b.clone();
            let mut n = now_keys.clone();
            b.sort();
            n.sort();
            b != n
        });
        let head_changed = before.is_none_or(|b| b.first() != now_keys.first());
        self.told.insert(thing.clone(), now_keys);
        let now = self.jobs.clock.now_ms();
        if list_changed {
            let executions: Vec<&JobExecution> =
                pending.iter().map(|(e, _)| e).take(NOTIFY_MAX).collect();
            let mut jobs = Map::new();
            for status in [ExecutionStatus::InProgress, ExecutionStatus::Queued] {
                let of: Vec<Value> = executions
                    .iter()
                    .filter(|e| e.status == status)
                    .map(|e| summary_mqtt(e))
                    .collect();
                if !of.is_empty() {
                    jobs.insert(status.as_str().into(), Value::Array(of));
                }
            }
            self.publish(
                notify_topic(&thing),
                stamp(json!({"jobs": jobs}), None, now),
            )
            .await;
        }
        if head_changed {
            let mut body = json!({});
            if let Some((e, _)) = pending.first() {
                let doc = match self
                    .jobs
                    .describe_for_device(&thing, &e.job_id, Some(e.execution_number))
                    .await
                {
                    Ok(Some(d)) => d.document,
                    _ => None,
                };
                body["execution"] = execution_mqtt(e, doc.as_deref(), now);
            }
            self.publish(notify_next_topic(&thing), stamp(body, None, now))
                .await;
        }
    }
}

/// A `/rejected` payload for any failure: the model's refusals with their codes, a missing
/// execution as `ResourceNotFound`, anything else as `InternalError`.
fn rejection(e: &JobsError, token: Option<&str>, now_ms: i64) -> Value {
    match e {
        JobsError::Job(e) => rejected(e, token, now_ms),
        JobsError::NotFound(m) => {
            let mut v = rejected(&JobError::InvalidRequest(m.clone()), token, now_ms);
            v["code"] = json!("ResourceNotFound");
            v
        }
        other => {
            tracing::warn!(error = %other, "a jobs request failed");
            let mut v = rejected(
                &JobError::InvalidRequest("An internal error occurred.".into()),
                token,
                now_ms,
            );
            v["code"] = json!("InternalError");
            v
        }
    }
}
