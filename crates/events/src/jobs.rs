//! Job events (`JOB`, `JOB_EXECUTION`; off until UpdateEventConfigurations enables them): a
//! job that completed, was canceled or is being or was deleted, and a job execution that
//! reached a terminal status or was deleted, as AWS's `$aws/events/job/{jobId}/{operation}` and
//! `$aws/events/jobExecution/{jobId}/{operation}` messages.
//!
//! The change feed says only that a job or execution changed, so the job or execution is
//! read when its change arrives, and the status last seen for each is remembered: a job whose
//! settings change after it completed does not complete again, and an execution retried after
//! it failed is announced again when its new attempt ends. A node that restarts forgets what it
//! saw, which can repeat an event at most once per job or execution (AWS promises at least
//! once too); so can turning the events on after a job ended (see [`JobEvents::messages`]).

use std::collections::HashMap;

use ferrite_jobs_service::{DescribeJobExecution, JobId, Jobs};
use ferrite_registry::Scope;
use ferrite_types::{Clock, RegistryChange};
use serde_json::{Value, json};

/// Statuses remembered at most, per kind; beyond it the memory starts over (at worst an event
/// is repeated).
const REMEMBERED: usize = 200_000;

pub(crate) struct JobEvents {
    jobs: Jobs,
    scope: Scope,
    clock: Clock,
    /// Job id → the status last read.
    job_status: HashMap<String, String>,
    /// (job id, thing, execution number) → the status last read.
    execution_status: HashMap<(String, String, u64), String>,
}

type Messages = Vec<(String, Value)>;

impl JobEvents {
    pub(crate) fn new(jobs: Jobs, scope: Scope) -> JobEvents {
        JobEvents {
            jobs,
            scope,
            clock: Clock::system(),
            job_status: HashMap::new(),
            execution_status: HashMap::new(),
        }
    }

    /// The messages `change` makes with `JOB` (`jobs_on`) and `JOB_EXECUTION` (`executions_on`)
    /// events enabled as given; called only while one of them is on, so that a fleet without
    /// job events pays no reads. A job that ended while they were off and changes after they
    /// were turned on is announced once then.
    pub(crate) async fn messages(
        &mut self,
        change: &RegistryChange,
        jobs_on: bool,
        executions_on: bool,
    ) -> Messages {
        let mut out = Vec::new();
        match change {
            RegistryChange::JobCreated { job } | RegistryChange::JobChanged { job } => {
                let Some(described) = self.describe_job(job).await else {
                    return out;
                };
                let status = described["status"].as_str().unwrap_or_default().to_owned();
                if self.job_status.len() >= REMEMBERED {
                    self.job_status.clear();
                }
                let before = self.job_status.insert(job.clone(), status.clone());
                let operation = match status.as_str() {
                    "COMPLETED" => "completed",
                    "CANCELED" => "canceled",
                    "DELETION_IN_PROGRESS" => "deletion_in_progress",
                    _ => return out,
                };
                if jobs_on && before.as_deref() != Some(status.as_str()) {
                    out.push(self.job(job, operation, &status, Some(&described)));
                }
            }
            RegistryChange::JobDeleted { job } => {
                self.job_status.remove(job);
                if jobs_on {
                    out.push(self.job(job, "deleted", "DELETED", None));
                }
            }
            RegistryChange::JobExecutionChanged {
                job,
                thing,
                execution_number,
            } => {
                let Some(execution) = self.describe_execution(job, thing, *execution_number).await
                else {
                    return out;
                };
                let status = execution["status"].as_str().unwrap_or_default().to_owned();
                if self.execution_status.len() >= REMEMBERED {
                    self.execution_status.clear();
                }
                let key = (job.clone(), thing.clone(), *execution_number);
                let before = self.execution_status.insert(key, status.clone());
                let operation = match status.as_str() {
                    "SUCCEEDED" => "succeeded",
                    "FAILED" => "failed",
                    "REJECTED" => "rejected",
                    "CANCELED" => "canceled",
                    "TIMED_OUT" => "timed_out",
                    "REMOVED" => "removed",
                    _ => return out,
                };
                if executions_on && before.as_deref() != Some(status.as_str()) {
                    let details = execution["statusDetails"]["detailsMap"].clone();
                    out.push(self.execution(job, thing, operation, &status, details));
                }
            }
            RegistryChange::JobExecutionDeleted {
                job,
                thing,
                execution_number,
            } => {
                let key = (job.clone(), thing.clone(), *execution_number);
                let before = self.execution_status.remove(&key);
                if executions_on {
                    let status = before.unwrap_or_else(|| "DELETED".to_owned());
                    out.push(self.execution(job, thing, "deleted", &status, Value::Null));
                }
            }
            RegistryChange::Cleared => {
                self.job_status.clear();
                self.execution_status.clear();
            }
            _ => {}
        }
        out
    }

    async fn describe_job(&self, job: &str) -> Option<Value> {
        let req = JobId {
            job_id: job.to_owned(),
        };
        match self.jobs.describe_job(&self.scope, req).await {
            Ok(mut out) => Some(out["job"].take()),
            Err(e) => {
                tracing::debug!(job, error = %e, "job gone before its event was made");
                None
            }
        }
    }

    async fn describe_execution(&self, job: &str, thing: &str, n: u64) -> Option<Value> {
        let req = DescribeJobExecution {
            job_id: job.to_owned(),
            thing_name: thing.to_owned(),
            execution_number: Some(n),
        };
        match self.jobs.describe_job_execution(&self.scope, req).await {
            Ok(mut out) => Some(out["execution"].take()),
            Err(e) => {
                tracing::debug!(job, thing, error = %e, "execution gone before its event was made");
                None
            }
        }
    }

    /// The fields every job event starts with (AWS: the timestamp in seconds).
    fn head(&self, event_type: &str, operation: &str, job: &str, status: &str) -> Value {
        json!({
            "eventType": event_type,
            "eventId": uuid::Uuid::new_v4().simple().to_string(),
            "timestamp": self.clock.now_ms() / 1000,
            "operation": operation,
            "jobId": job,
            "status": status,
        })
    }

    fn job(
        &self,
        job: &str,
        operation: &str,
        status: &str,
        described: Option<&Value>,
    ) -> (String, Value) {
        let mut body = self.head("JOB", operation, job, status);
        if let Some(d) = described {
            for field in [
                "targetSelection",
                "targets",
                "description",
                "comment",
                "reasonCode",
            ] {
                if !d[field].is_null() {
                    body[field] = d[field].clone();
                }
            }
            // AWS reports these in milliseconds here, unlike DescribeJob's seconds.
            for field in ["createdAt", "lastUpdatedAt"] {
                if let Some(secs) = d[field].as_f64() {
                    body[field] = json!((secs * 1000.0).round() as i64);
                }
            }
            if operation == "completed" {
                if let Some(secs) = d["completedAt"].as_f64() {
                    body["completedAt"] = json!((secs * 1000.0).round() as i64);
                }
                body["jobProcessDetails"] = d["jobProcessDetails"].clone();
            }
        }
        (format!("$aws/events/job/{job}/{operation}"), body)
    }

    fn execution(
        &self,
        job: &str,
        thing: &str,
        operation: &str,
        status: &str,
        details: Value,
    ) -> (String, Value) {
        let mut body = self.head("JOB_EXECUTION", operation, job, status);
        body["thingArn"] = json!(self.scope.arn(&format!("thing/{thing}")));
        if details.is_object() {
            body["statusDetails"] = details;
        }
        (format!("$aws/events/jobExecution/{job}/{operation}"), body)
    }
}
