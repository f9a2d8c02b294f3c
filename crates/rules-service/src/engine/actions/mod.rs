//! Actions: one module per action type (config → build → run). Each action of a rule gets a
//! bounded queue and a worker task of its own, so a slow or dead target delays only itself.
//! The engine treats a full queue as the broker treats a full QoS 0 subscriber queue: it waits
//! for room at most the QoS 0 back-pressure time, and an action whose queue stayed full that
//! long is congested: its new jobs are dropped (and counted) at once until its queue is half
//! empty. A busy action thus paces the engine (which then paces publishers through its tap)
//! instead of the engine evaluating messages only to drop them, and a dead target costs one
//! bounded wait. A job
//! that fails is retried with back-off; when every action that failed for one message has
//! given up, the rule's error action gets one message listing all of them, as AWS sends it.

pub(crate) mod amqp;
mod cloudwatch_logs;
mod cloudwatch_metric;
mod destination_status;
pub(crate) mod dynamodb;
mod dynamodb_api;
pub(crate) mod forward;
mod http;
mod http_post;
mod kafka;
pub(crate) mod lambda;
mod log_stream;
mod republish;
mod s3;
mod sns;
mod sqs;
mod streams;
#[cfg(test)]
pub(crate) mod test_endpoint;
#[cfg(test)]
mod test_job;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ferrite_broker::Broker;
use ferrite_rules::{CompiledSql, Selected};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::metrics::{ActionCounters, RuleMetrics};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Jobs one action holds before new ones are dropped. A worker runs once per turn of a busy
/// runtime, so its queue must hold what the engine hands it in one turn (the engine drains a
/// whole tap per turn). Channel blocks are allocated as jobs arrive, not up front.
const QUEUE: usize = 8 * 1024;
/// Jobs a worker takes from its queue at once: all of them.
const WORK_BATCH: usize = QUEUE;
/// Attempts of a failing job before it counts as failed.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Why an action could not do its job.
#[derive(Debug, Clone)]
pub(crate) struct ActionError {
    pub message: String,
    /// Worth trying again (a target that may come back), as opposed to a job that can never
    /// succeed (a topic a template made invalid).
    pub retry: bool,
}

impl ActionError {
    pub fn permanent(message: impl Into<String>) -> ActionError {
        ActionError {
            message: message.into(),
            retry: false,
        }
    }

    pub fn transient(message: impl Into<String>) -> ActionError {
        ActionError {
            message: message.into(),
            retry: true,
        }
    }
}

/// What every action can use.
#[derive(Clone)]
pub(crate) struct Deps {
    pub broker: Broker,
    pub config: Arc<super::EngineConfig>,
    /// The topic rule API: HTTP actions read their destinations' status through it.
    pub rules: crate::TopicRules,
    /// Where `cloudwatchMetric` actions put their metrics.
    pub metrics: Arc<RuleMetrics>,
    /// Connections to target systems, shared by every rule.
    pub clients: Arc<super::clients::Clients>,
    /// The engine's RabbitMQ connections, shared by its sqs actions.
    pub amqp: Arc<amqp::Links>,
}

/// One message's work for one action. Cheap to clone: every part is shared.
#[derive(Clone)]
pub(crate) struct Job {
    pub rule: Arc<str>,
    /// The message as the rule saw it and what its SELECT made of it: one allocation per
    /// message a rule selects (none for one it filters out, whose context stays on the stack).
    pub evaluated: Arc<Evaluated>,
    /// What the action sends: the SELECT output, or for the error action AWS's error message.
    pub payload: Bytes,
    /// Failures of this message's actions, for the error action.
    pub outcome: Option<Arc<Outcome>>,
}

/// What every action of one message shares.
pub(crate) struct Evaluated {
    pub ctx: super::context::RuleContext,
    /// The SELECT's output and what templates see.
    pub selected: Selected,
}

impl Job {
    pub fn new(
        rule: Arc<str>,
        ctx: super::context::RuleContext,
        selected: Selected,
        payload: Bytes,
        outcome: Option<Arc<Outcome>>,
    ) -> Job {
        Job {
            rule,
            evaluated: Arc::new(Evaluated { ctx, selected }),
            payload,
            outcome,
        }
    }

    pub fn ctx(&self) -> &super::context::RuleContext {
        &self.evaluated.ctx
    }

    pub fn selected(&self) -> &Selected {
        &self.evaluated.selected
    }

    /// The message as published (the context's: one reference count fewer per message).
    pub fn raw(&self) -> &Bytes {
        &self.ctx().msg.payload
    }

    pub fn as_ref(&self) -> JobRef<'_> {
        JobRef {
            rule: &self.rule,
            ctx: self.ctx(),
            selected: self.selected(),
            payload: &self.payload,
        }
    }
}

/// What an inline action reads of one message's work, borrowed: a [`Job`]'s parts, or those
/// of a message the engine runs without making a job (a rule whose actions are all inline and
/// which has no error action: nothing outlives the engine's turn, so nothing is shared).
#[derive(Clone, Copy)]
pub(crate) struct JobRef<'a> {
    pub rule: &'a str,
    pub ctx: &'a super::context::RuleContext,
    pub selected: &'a Selected,
    pub payload: &'a Bytes,
}

impl JobRef<'_> {
    /// The message as published.
    pub fn raw(&self) -> &Bytes {
        &self.ctx.msg.payload
    }
}

/// An action ready to run, built from its AWS JSON against its rule's compiled SQL.
pub(crate) trait Action: Send + Sync + 'static {
    /// The action's name in error messages (`RepublishAction`).
    fn name(&self) -> &'static str;
    /// What it writes to, for `failedResource`.
    fn resource(&self) -> String;
    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>>;
    /// The payload fields its templates read (the engine parses only what the rule and its
    /// actions read); `All` unless the action says otherwise.
    fn fields(&self) -> ferrite_rules::json::Fields {
        ferrite_rules::json::Fields::All
    }
    /// The republish action, which the engine runs itself, on its own task, rather than
    /// queueing it for the action's worker: its work is the broker's own, so no job crosses a
    /// queue and a busy broker paces the engine (and, through its tap, the publishers) as it
    /// paces any publisher. Run so, it is tried once.
    fn as_republish(&self) -> Option<&republish::Republish> {
        None
    }
}

/// Builds the action an AWS `Action` object describes. The API refused unknown types and
/// invalid configurations, so an error here means a rule stored by an older version.
pub(crate) fn build(
    kind: &str,
    config: &Value,
    sql: &CompiledSql,
    deps: &Deps,
) -> Result<Arc<dyn Action>, String> {
    match kind {
        "republish" => Ok(Arc::new(republish::Republish::build(config, sql, deps)?)),
        "http" => Ok(Arc::new(http::Http::build(config, sql, deps)?)),
        "lambda" => Ok(Arc::new(lambda::Lambda::build(config, sql, deps)?)),
        "cloudwatchMetric" => Ok(Arc::new(cloudwatch_metric::CloudwatchMetric::build(
            config, sql, deps,
        )?)),
        "cloudwatchLogs" => Ok(Arc::new(cloudwatch_logs::CloudwatchLogs::build(
            config, sql, deps,
        )?)),
        "dynamoDB" => Ok(Arc::new(dynamodb::DynamoDb::build(config, sql, deps)?)),
        "dynamoDBv2" => Ok(Arc::new(dynamodb::DynamoDbV2::build(config, sql, deps)?)),
        "kinesis" => Ok(Arc::new(streams::Kinesis::build(config, sql, deps)?)),
        "firehose" => Ok(Arc::new(streams::Firehose::build(config, deps)?)),
        "sns" => Ok(Arc::new(sns::Sns::build(config, deps)?)),
        "sqs" => Ok(Arc::new(sqs::Sqs::build(config, deps)?)),
        "s3" => Ok(Arc::new(s3::S3::build(config, sql, deps)?)),
        "kafka" => Ok(Arc::new(kafka::Kafka::build(config, sql, deps)?)),
        other => Err(format!("the {other} action is not available yet")),
    }
}

/// The failures of one message's actions, gathered until the last action is done.
pub(crate) struct Outcome {
    remaining: Mutex<usize>,
    failures: Mutex<Vec<Value>>,
    error_action: Option<Runner>,
}

impl Outcome {
    pub fn new(actions: usize, error_action: Option<Runner>) -> Arc<Outcome> {
        Arc::new(Outcome {
            remaining: Mutex::new(actions),
            failures: Mutex::new(Vec::new()),
            error_action,
        })
    }

    /// One action finished, with its failure if it failed; the last one hands the failures to
    /// the error action.
    pub fn done(&self, failure: Option<Value>, job: &Job) {
        if let Some(f) = failure {
            self.failures.lock().push(f);
        }
        let last = {
            let mut remaining = self.remaining.lock();
            *remaining = remaining.saturating_sub(1);
            *remaining == 0
        };
        if last {
            let failures = std::mem::take(&mut *self.failures.lock());
            self.report(failures, job);
        }
    }

    /// Sends AWS's error message for `failures` to the error action.
    pub fn report(&self, failures: Vec<Value>, job: &Job) {
        let Some(error_action) = &self.error_action else {
            return;
        };
        if failures.is_empty() {
            return;
        }
        let message = json!({
            "ruleName": &*job.rule,
            "topic": job.ctx().topic(),
            "cloudwatchTraceId": uuid::Uuid::new_v4().to_string(),
            "clientId": job.ctx().client_id().unwrap_or("n/a"),
            "base64OriginalPayload": STANDARD.encode(job.raw()),
            "failures": failures,
        });
        error_action.try_submit(Job {
            rule: job.rule.clone(),
            evaluated: job.evaluated.clone(),
            payload: Bytes::from(message.to_string()),
            outcome: None,
        });
    }
}

/// AWS's description of one failed action.
pub(crate) fn failure(action: &dyn Action, message: &str) -> Value {
    json!({
        "failedAction": action.name(),
        "failedResource": action.resource(),
        "errorMessage": message,
    })
}

/// An action's queue; the worker behind it ends when every runner for it is dropped.
#[derive(Clone)]
pub(crate) struct Runner {
    tx: mpsc::Sender<Job>,
    action: Arc<dyn Action>,
    counters: ActionCounters,
    /// The queue stayed full past the hold: drop without waiting until it is half empty.
    congested: Arc<AtomicBool>,
}

impl Runner {
    /// The payload fields the action's templates read.
    pub fn fields(&self) -> ferrite_rules::json::Fields {
        self.action.fields()
    }

    /// Starts `action`'s worker on `tasks`.
    pub fn start(
        action: Arc<dyn Action>,
        rule: &str,
        metrics: &RuleMetrics,
        tasks: &TaskTracker,
    ) -> Runner {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = metrics.action_counters(rule, action.name());
        tasks.spawn(work(action.clone(), counters.clone(), rx));
        Runner {
            tx,
            action,
            counters,
            congested: Arc::default(),
        }
    }

    /// Whether the engine runs the action on its own task ([`Action::as_republish`]).
    pub fn is_inline(&self) -> bool {
        self.action.as_republish().is_some()
    }

    /// Runs a job of an inline action here and now, once.
    pub async fn run_inline(&self, job: Job) {
        let result = match self.action.as_republish() {
            Some(republish) => republish.publish(job.as_ref()).await,
            None => self.action.execute(&job).await,
        };
        finish(&*self.action, &self.counters, &job, result);
    }

    /// [`Runner::run_inline`] for work no error action hears of, without a job: a republish
    /// (the one inline action) publishes from what the engine holds.
    pub async fn run_borrowed(&self, job: JobRef<'_>) {
        if let Some(republish) = self.action.as_republish() {
            let result = republish.publish(job).await;
            count(&*self.action, &self.counters, job.rule, &result);
        }
    }

    /// Whether the action is congested and its queue still more than half full, so a job
    /// submitted now would be dropped unless there happens to be room.
    pub fn is_congested(&self) -> bool {
        self.congested.load(Ordering::Relaxed) && self.tx.capacity() * 2 < self.tx.max_capacity()
    }

    /// Counts a job dropped before it was made (its rule was not even evaluated).
    pub fn count_dropped(&self) {
        self.counters.dropped.inc();
    }

    /// Queues a job, waiting at most `hold` for room unless the action is congested (see the
    /// module's header); what finds no room is dropped and counted.
    pub async fn submit(&self, job: Job, hold: Duration) {
        if self.congested.load(Ordering::Relaxed) {
            if self.is_congested() {
                return self.try_submit(job);
            }
            self.congested.store(false, Ordering::Relaxed);
        }
        let job = match self.tx.try_send(job) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Closed(job)) => return self.drop_job(job),
            Err(mpsc::error::TrySendError::Full(job)) => job,
        };
        match tokio::time::timeout(hold, self.tx.reserve()).await {
            Ok(Ok(permit)) => permit.send(job),
            Ok(Err(_closed)) => self.drop_job(job),
            Err(_elapsed) => {
                self.congested.store(true, Ordering::Relaxed);
                self.drop_job(job);
            }
        }
    }

    /// Queues a job if there is room now; otherwise drops it (counted). For callers that must
    /// not wait: the error action, evaluations on blocking threads.
    pub fn try_submit(&self, job: Job) {
        if let Err(err) = self.tx.try_send(job) {
            let job = match err {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            self.drop_job(job);
        }
    }

    fn drop_job(&self, job: Job) {
        self.counters.dropped.inc();
        if let Some(outcome) = &job.outcome {
            let f = failure(
                &*self.action,
                "the action's queue was full; message dropped",
            );
            outcome.done(Some(f), &job);
        }
    }
}

async fn work(action: Arc<dyn Action>, counters: ActionCounters, mut rx: mpsc::Receiver<Job>) {
    // Jobs are taken a batch per wake-up, so a busy runtime still gives the worker its share.
    let mut batch = Vec::with_capacity(WORK_BATCH);
    while rx.recv_many(&mut batch, WORK_BATCH).await > 0 {
        for job in batch.drain(..) {
            run(&*action, &counters, job).await;
        }
    }
}

async fn run(action: &dyn Action, counters: &ActionCounters, job: Job) {
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        let result = loop {
            match action.execute(&job).await {
                Ok(()) => break Ok(()),
                Err(e) if e.retry && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 4;
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        finish(action, counters, &job, result);
    }
}

/// Counts a job's result and tells its outcome.
fn finish(
    action: &dyn Action,
    counters: &ActionCounters,
    job: &Job,
    result: Result<(), ActionError>,
) {
    count(action, counters, &job.rule, &result);
    if let Some(outcome) = &job.outcome {
        let failed = result.err().map(|e| failure(action, &e.message));
        outcome.done(failed, job);
    }
}

/// Counts an action's result.
fn count(
    action: &dyn Action,
    counters: &ActionCounters,
    rule: &str,
    result: &Result<(), ActionError>,
) {
    match result {
        Ok(()) => {
            counters.succeeded.inc();
        }
        Err(e) => {
            tracing::debug!(rule, action = action.name(), error = %e.message, "rule action failed");
            counters.failed.inc();
        }
    }
}
