//! Bulk thing registration: StartThingRegistrationTask, DescribeThingRegistrationTask,
//! ListThingRegistrationTasks, StopThingRegistrationTask and ListThingRegistrationTaskReports.
//!
//! A task is one document of kind [`TASK_KIND`] keyed by its id. Its input file is a JSON-lines
//! object in a bucket ([`Buckets`]: a local directory as the rules engine's `s3` action sees
//! it, or S3 at `[targets.s3] forward_endpoint`); every line is one parameters object,
//! provisioned exactly as the control plane's RegisterThing does
//! ([`FleetProvisioning::register_thing_api`]). A running task is owned by a lease in its
//! document ([`lease`]): its runner renews it, and when it lapses (the owner died) or its
//! owner's node restarted, any runner ([`BulkRegistration::run`]) claims the task and resumes
//! it. Each line's outcome is written in one batch with the task's counts (kind
//! [`LINE_KIND`]), so a resumed task starts after the last line counted, never counts a line
//! twice, and its reports, written to the input bucket when it ends, hold every line.

mod buckets;
mod lease;
mod run;
mod s3;
#[cfg(test)]
mod tests;

pub use buckets::Buckets;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use ferrite_provisioning::Template;
use ferrite_registry::{Documents, Scope, encode, epoch_secs, token};
use ferrite_storage::{Expect, Write, WriteOutcome};
use ferrite_types::Clock;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::lease::{Lease, Owner};
use crate::{FleetProvisioning, Output, ProvisioningError};

/// The record kind of thing registration tasks, keyed by task id.
pub const TASK_KIND: &str = "thing-registration-task";

/// Where a task's reports go in its input bucket: `{REPORT_PREFIX}/{taskId}/{results|errors}.jsonl`.
/// [VERIFY: AWS's layout of the report objects.]
pub const REPORT_PREFIX: &str = "thing-registration-tasks";

const LIST_PAGE_DEFAULT: usize = 100;

/// The record kind of a task's processed lines, keyed `{taskId}/{lineNumber:010}`: the line's
/// report entry, kept until the task's reports are written.
pub const LINE_KIND: &str = "thing-registration-line";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
    Cancelling,
}

impl TaskStatus {
    fn is_running(self) -> bool {
        matches!(self, TaskStatus::InProgress | TaskStatus::Cancelling)
    }
}

/// A stored task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskDoc {
    task_id: String,
    region: String,
    account: String,
    template_body: String,
    input_file_bucket: String,
    input_file_key: String,
    role_arn: String,
    status: TaskStatus,
    #[serde(default)]
    message: Option<String>,
    success_count: u64,
    failure_count: u64,
    percentage_progress: u64,
    created_ms: i64,
    modified_ms: i64,
    /// Which reports were written (`RESULTS`, `ERRORS`).
    #[serde(default)]
    reports: Vec<String>,
    /// Who runs it, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
    /// The SHA-256 (hex) of the input file as first read: a resumed task must read the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_sha256: Option<String>,
}

impl TaskDoc {
    fn describe(&self) -> Output {
        let mut out = json!({
            "taskId": self.task_id,
            "creationDate": epoch_secs(self.created_ms),
            "lastModifiedDate": epoch_secs(self.modified_ms),
            "templateBody": self.template_body,
            "inputFileBucket": self.input_file_bucket,
            "inputFileKey": self.input_file_key,
            "roleArn": self.role_arn,
            "status": self.status,
            "successCount": self.success_count,
            "failureCount": self.failure_count,
            "percentageProgress": self.percentage_progress,
        });
        if let Some(m) = &self.message {
            out["message"] = json!(m);
        }
        out
    }

    fn scope(&self) -> Scope {
        Scope {
            region: self.region.clone(),
            account: self.account.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartThingRegistrationTask {
    pub template_body: String,
    pub input_file_bucket: String,
    pub input_file_key: String,
    pub role_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskId {
    pub task_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingRegistrationTasks {
    pub status: Option<TaskStatus>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListThingRegistrationTaskReports {
    pub task_id: String,
    pub report_type: String,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

/// The largest input file a task reads by default (64 MiB: several hundred thousand lines).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// The bulk registration service: a cheap handle, cloned into the HTTP edge.
#[derive(Clone)]
pub struct BulkRegistration {
    fleet: FleetProvisioning,
    /// The largest input file a task reads: it is held in memory while the task runs.
    max_input_bytes: u64,
    docs: Documents,
    buckets: Arc<Buckets>,
    clock: Clock,
    /// Who this runner is in the leases it takes.
    owner: Owner,
    /// The tasks this runner runs, each cancellable by Stop.
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
    tasks: TaskTracker,
    /// Cancelled at shutdown: every running task stops between two lines.
    shutdown: CancellationToken,
    /// Wakes [`BulkRegistration::run`] to look for tasks to take over (a Stop of a task
    /// nobody runs).
    wake: Arc<Notify>,
    /// How many task runs ended on this runner (tests wait on it).
    ended: Arc<watch::Sender<u64>>,
    #[cfg(test)]
    gate: Option<Arc<tests::Gate>>,
    #[cfg(test)]
    aborts: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl BulkRegistration {
    pub fn new(fleet: FleetProvisioning, buckets: Buckets) -> BulkRegistration {
        BulkRegistration {
            max_input_bytes: MAX_INPUT_BYTES,
            docs: Documents::new(fleet.templates.docs.store().clone()),
            clock: fleet.clock,
            fleet,
            buckets: Arc::new(buckets),
            owner: Owner::of_node(uuid::Uuid::new_v4().to_string()),
            running: Arc::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            wake: Arc::default(),
            ended: Arc::new(watch::Sender::new(0)),
            #[cfg(test)]
            gate: None,
            #[cfg(test)]
            aborts: Arc::default(),
        }
    }

    /// Takes leases as `node` (default: a node id of this process only). A node that keeps
    /// its id across restarts resumes the tasks it was running as soon as it starts again,
    /// instead of after their leases lapse.
    pub fn with_node(mut self, node: impl Into<String>) -> BulkRegistration {
        self.owner = Owner::of_node(node.into());
        self
    }

    /// Reads input files of at most `bytes` (default [`MAX_INPUT_BYTES`]).
    pub fn with_max_input_bytes(mut self, bytes: u64) -> BulkRegistration {
        self.max_input_bytes = bytes;
        self
    }

    /// Takes over running tasks whose lease lapsed or whose owner is an earlier instance of
    /// this node (resuming them), now and every [`lease::POLL_MS`], until `cancel`; then stops
    /// the tasks it runs between two lines and releases their leases for another runner.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.take_over().await {
                tracing::warn!(error = %e, "cannot look for thing registration tasks to take over");
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(lease::POLL_MS as u64)) => {}
            }
        }
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Claims every running task this runner may take and runs it; returns how many.
    pub(crate) async fn take_over(&self) -> Result<usize, ProvisioningError> {
        let now = self.clock.now_ms();
        let mut claimable = Vec::new();
        self.docs
            .scan_until(TASK_KIND, "", None, |r| {
                let t: TaskDoc = ferrite_registry::decode(r)?;
                if t.status.is_running()
                    && self.owner.may_claim(t.lease.as_ref(), now)
                    && !self.running.lock().contains_key(&t.task_id)
                {
                    claimable.push((t, r.version));
                }
                Ok(std::ops::ControlFlow::Continue(()))
            })
            .await?;
        let mut claimed = 0;
        for (mut task, version) in claimable {
            let previous = task.lease.replace(self.owner.lease(now));
            let claim = Write::put(
                TASK_KIND,
                &task.task_id,
                Expect::Version(version),
                encode(&task),
            );
            if !matches!(
                self.docs.store().write(vec![claim]).await?,
                WriteOutcome::Applied
            ) {
                // Another runner claimed it first, or it changed: not ours.
                continue;
            }
            tracing::info!(task = %task.task_id, previous = ?previous, "resuming a thing registration task");
            self.spawn(task.task_id);
            claimed += 1;
        }
        Ok(claimed)
    }

    fn spawn(&self, id: String) {
        let cancel = self.shutdown.child_token();
        self.running.lock().insert(id.clone(), cancel.clone());
        let _run = self.tasks.spawn(self.clone().execute(id, cancel));
        #[cfg(test)]
        self.aborts.lock().push(_run.abort_handle());
    }

    pub async fn start_thing_registration_task(
        &self,
        scope: &Scope,
        req: StartThingRegistrationTask,
    ) -> Result<Output, ProvisioningError> {
        Template::parse(&req.template_body)?;
        self.buckets
            .check(&req.input_file_bucket, &req.input_file_key)
            .map_err(ProvisioningError::InvalidRequest)?;
        let now = self.clock.now_ms();
        let task = TaskDoc {
            task_id: uuid::Uuid::new_v4().to_string(),
            region: scope.region.clone(),
            account: scope.account.clone(),
            template_body: req.template_body,
            input_file_bucket: req.input_file_bucket,
            input_file_key: req.input_file_key,
            role_arn: req.role_arn,
            status: TaskStatus::InProgress,
            message: None,
            success_count: 0,
            failure_count: 0,
            percentage_progress: 0,
            created_ms: now,
            modified_ms: now,
            reports: Vec::new(),
            lease: Some(self.owner.lease(now)),
            input_sha256: None,
        };
        let write = Write::put(TASK_KIND, &task.task_id, Expect::Absent, encode(&task));
        self.docs
            .retry_wrote(|| async { Ok::<_, ProvisioningError>((vec![write.clone()], ())) })
            .await?;
        let id = task.task_id;
        self.spawn(id.clone());
        Ok(json!({"taskId": id}))
    }

    pub async fn describe_thing_registration_task(
        &self,
        req: TaskId,
    ) -> Result<Output, ProvisioningError> {
        Ok(self.task(&req.task_id).await?.describe())
    }

    pub async fn list_thing_registration_tasks(
        &self,
        req: ListThingRegistrationTasks,
    ) -> Result<Output, ProvisioningError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (items, next) = self
            .docs
            .page(
                TASK_KIND,
                "",
                req.next_token.as_deref(),
                limit,
                |_, t: TaskDoc| {
                    (req.status.is_none_or(|s| s == t.status)).then(|| json!(t.task_id))
                },
            )
            .await?;
        Ok(token::listing("taskIds", items, next))
    }

    /// Stop: a running task becomes Cancelling, and Cancelled once its runner sees it
    /// between two lines and has written the reports of the lines it did (a task nobody
    /// runs any more is taken over to do so).
    pub async fn stop_thing_registration_task(
        &self,
        req: TaskId,
    ) -> Result<Output, ProvisioningError> {
        let task = self.task(&req.task_id).await?;
        if !task.status.is_running() {
            return Err(ProvisioningError::InvalidRequest(format!(
                "The task {} is not in progress.",
                req.task_id
            )));
        }
        self.update(&req.task_id, |t| {
            if t.status == TaskStatus::InProgress {
                t.status = TaskStatus::Cancelling;
            }
        })
        .await?;
        let local = self.running.lock().get(&req.task_id).cloned();
        match local {
            Some(cancel) => cancel.cancel(),
            None => self.wake.notify_one(),
        }
        Ok(json!({}))
    }

    /// The report of `reportType` as a resource link, once the task wrote it: a presigned
    /// URL when buckets are at an S3 endpoint, else an `s3://{bucket}/{key}` URI of the
    /// bucket directory's file. [VERIFY: AWS keeps reports in storage of its own; here they
    /// are in the input bucket.]
    pub async fn list_thing_registration_task_reports(
        &self,
        req: ListThingRegistrationTaskReports,
    ) -> Result<Output, ProvisioningError> {
        let kind = report_kind(&req.report_type)?;
        let _ = (req.next_token, req.max_results);
        let task = self.task(&req.task_id).await?;
        let links: Vec<String> = if task.reports.iter().any(|r| r == &req.report_type) {
            vec![self.buckets.link(
                &task.input_file_bucket,
                &report_key(&task.task_id, kind),
                &self.clock,
            )]
        } else {
            Vec::new()
        };
        Ok(json!({"resourceLinks": links, "reportType": req.report_type}))
    }

    async fn task(&self, id: &str) -> Result<TaskDoc, ProvisioningError> {
        self.docs
            .get::<TaskDoc>(TASK_KIND, id)
            .await?
            .map(|(t, _)| t)
            .ok_or_else(|| {
                ProvisioningError::NotFound(format!(
                    "The thing registration task {id} does not exist."
                ))
            })
    }

    /// Applies `change` to the stored task in one conditional write; returns what was stored.
    async fn update(
        &self,
        id: &str,
        change: impl Fn(&mut TaskDoc),
    ) -> Result<TaskDoc, ProvisioningError> {
        let now = self.clock.now_ms();
        let (task, _) = self
            .docs
            .retry_wrote(|| async {
                let (mut t, version) = self
                    .docs
                    .get::<TaskDoc>(TASK_KIND, id)
                    .await?
                    .ok_or_else(|| ProvisioningError::NotFound(id.to_owned()))?;
                change(&mut t);
                t.modified_ms = now;
                let w = Write::put(TASK_KIND, id, Expect::Version(version), encode(&t));
                Ok::<_, ProvisioningError>((vec![w], t))
            })
            .await?;
        Ok(task)
    }
}

/// `RESULTS` → `results`, `ERRORS` → `errors`.
fn report_kind(report_type: &str) -> Result<&'static str, ProvisioningError> {
    match report_type {
        "RESULTS" => Ok("results"),
        "ERRORS" => Ok("errors"),
        other => Err(ProvisioningError::InvalidRequest(format!(
            "{other} is not a report type (ERRORS or RESULTS)."
        ))),
    }
}

fn report_key(task_id: &str, kind: &str) -> String {
    format!("{REPORT_PREFIX}/{task_id}/{kind}.jsonl")
}
