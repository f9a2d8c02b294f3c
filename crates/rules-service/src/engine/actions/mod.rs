//! Actions: one module per action type (config → build → run). Each action of a rule gets a
//! bounded queue and a worker task of its own, so a slow or dead target delays only itself:
//! when its queue is full, new jobs for it are dropped and counted, never waited for. A job
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

use super::metrics::RuleMetrics;

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

/// One message's work for one action.
pub(crate) struct Job {
    pub rule: Arc<str>,
    /// The SELECT's output and what templates see.
    pub selected: Arc<Selected>,
    /// The message as published.
    pub raw: Bytes,
    pub ctx: Arc<super::services::RuleContext>,
    /// What the action sends: the SELECT output, or for the error action AWS's error message.
    pub payload: Bytes,
    /// Failures of this message's actions, for the error action.
    pub outcome: Option<Arc<Outcome>>,
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
            "topic": job.ctx.topic,
            "cloudwatchTraceId": uuid::Uuid::new_v4().to_string(),
            "clientId": job.ctx.client_id.as_deref().unwrap_or("n/a"),
            "base64OriginalPayload": STANDARD.encode(&job.raw),
            "failures": failures,
        });
        error_action.submit(Job {
            rule: job.rule.clone(),
            selected: job.selected.clone(),
            raw: job.raw.clone(),
            ctx: job.ctx.clone(),
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
    metrics: Arc<RuleMetrics>,
}

impl Runner {
    /// The payload fields the action's templates read.
    pub fn fields(&self) -> ferrite_rules::json::Fields {
        self.action.fields()
    }

    /// Starts `action`'s worker on `tasks`.
    pub fn start(
        action: Arc<dyn Action>,
        metrics: Arc<RuleMetrics>,
        tasks: &TaskTracker,
    ) -> Runner {
        let (tx, rx) = mpsc::channel(QUEUE);
        tasks.spawn(work(action.clone(), metrics.clone(), rx));
        Runner {
            tx,
            action,
            metrics,
        }
    }

    /// Whether the queue is full, so a job submitted now would be dropped.
    pub fn is_full(&self) -> bool {
        self.tx.capacity() == 0
    }

    /// Counts a job dropped before it was made (its rule was not even evaluated).
    pub fn count_dropped(&self, rule: &str) {
        RuleMetrics::action(&self.metrics.action_dropped, rule, self.action.name());
    }

    /// Queues a job; a full queue drops it (counted) rather than wait.
    pub fn submit(&self, job: Job) {
        if let Err(err) = self.tx.try_send(job) {
            let job = match err {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            RuleMetrics::action(&self.metrics.action_dropped, &job.rule, self.action.name());
            if let Some(outcome) = &job.outcome {
                let f = failure(
                    &*self.action,
                    "the action's queue was full; message dropped",
                );
                outcome.done(Some(f), &job);
            }
        }
    }
}

async fn work(action: Arc<dyn Action>, metrics: Arc<RuleMetrics>, mut rx: mpsc::Receiver<Job>) {
    // Jobs are taken a batch per wake-up, so a busy runtime still gives the worker its share.
    let mut batch = Vec::with_capacity(WORK_BATCH);
    while rx.recv_many(&mut batch, WORK_BATCH).await > 0 {
        for job in batch.drain(..) {
            run(&*action, &metrics, job).await;
        }
    }
}

async fn run(action: &dyn Action, metrics: &RuleMetrics, job: Job) {
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
        match &result {
            Ok(()) => RuleMetrics::action(&metrics.action_succeeded, &job.rule, action.name()),
            Err(e) => {
                tracing::debug!(rule = %job.rule, action = action.name(), error = %e.message, "rule action failed");
                RuleMetrics::action(&metrics.action_failed, &job.rule, action.name());
            }
        }
        if let Some(outcome) = &job.outcome {
            let failed = result.err().map(|e| failure(action, &e.message));
            outcome.done(failed, &job);
        }
    }
}
