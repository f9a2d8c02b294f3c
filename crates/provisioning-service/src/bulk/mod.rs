//! Bulk thing registration: StartThingRegistrationTask, DescribeThingRegistrationTask,
//! ListThingRegistrationTasks, StopThingRegistrationTask and ListThingRegistrationTaskReports.
//!
//! A task is one document of kind [`TASK_KIND`] keyed by its id. Its input file is a JSON-lines
//! object in a bucket, which is a local directory as the rules engine's `s3` action sees it
//! (`ferrite_config::S3Targets::bucket_dir`); every line is one parameters object, provisioned
//! exactly as the control plane's RegisterThing does ([`FleetProvisioning::register_thing_api`]).
//! The task runs in the background on this node ([`run`]); its progress is written to the
//! document as lines are processed, and the result and error reports land in the input bucket
//! when it ends. A task still running when the node stopped is marked Failed when the service
//! next starts ([`BulkRegistration::run`]): the simplest honest answer, since the half-applied
//! lines are not known to be idempotent.

mod run;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use ferrite_config::S3Targets;
use ferrite_provisioning::Template;
use ferrite_registry::{Documents, Scope, encode, epoch_secs, token};
use ferrite_storage::{Expect, Write};
use ferrite_types::Clock;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{FleetProvisioning, Output, ProvisioningError};

/// The record kind of thing registration tasks, keyed by task id.
pub const TASK_KIND: &str = "thing-registration-task";

/// Where a task's reports go in its input bucket: `{REPORT_PREFIX}/{taskId}/{results|errors}.jsonl`.
/// [VERIFY: AWS's layout of the report objects.]
pub const REPORT_PREFIX: &str = "thing-registration-tasks";

const LIST_PAGE_DEFAULT: usize = 100;

/// The message of a task a restart interrupted.
pub const INTERRUPTED: &str = "The task was interrupted by a restart of the server.";

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

/// Where buckets live: the rules engine's `[targets.s3]` mapping over the data directory.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    pub s3: S3Targets,
    pub data_dir: PathBuf,
}

impl Buckets {
    /// The file of `key` in `bucket`, refusing keys that would leave the bucket's directory.
    fn object(&self, bucket: &str, key: &str) -> Result<PathBuf, String> {
        let dir = self.s3.bucket_dir(bucket, &self.data_dir)?;
        if key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == ".." || s.contains(['\\', '\0']))
        {
            return Err(format!(
                "the key {key:?} cannot name a file in a directory bucket"
            ));
        }
        Ok(dir.join(key))
    }
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
    /// The tasks this node runs, each cancellable by Stop.
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
    tasks: TaskTracker,
    /// Cancelled at shutdown: every running task stops between two lines.
    shutdown: CancellationToken,
}

impl BulkRegistration {
    pub fn new(fleet: FleetProvisioning, buckets: Buckets) -> BulkRegistration {
        BulkRegistration {
            max_input_bytes: MAX_INPUT_BYTES,
            docs: Documents::new(fleet.templates.docs.store().clone()),
            clock: fleet.clock,
            fleet,
            buckets: Arc::new(buckets),
            running: Arc::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Reads input files of at most `bytes` (default [`MAX_INPUT_BYTES`]).
    pub fn with_max_input_bytes(mut self, bytes: u64) -> BulkRegistration {
        self.max_input_bytes = bytes;
        self
    }

    /// Marks the tasks a previous run left running as Failed (Cancelled when a Stop was
    /// pending), then waits for `cancel` and stops the tasks it runs. [VERIFY: in a cluster
    /// this presumes tasks run on the node that restarts; tasks carry no owner yet.]
    pub async fn run(self, cancel: CancellationToken) {
        if let Err(e) = self.fail_interrupted().await {
            tracing::error!(error = %e, "marking interrupted thing registration tasks failed");
        }
        cancel.cancelled().await;
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    async fn fail_interrupted(&self) -> Result<(), ProvisioningError> {
        let mut interrupted = Vec::new();
        self.docs
            .scan_until(TASK_KIND, "", None, |r| {
                let t: TaskDoc = ferrite_registry::decode(r)?;
                if t.status.is_running() {
                    interrupted.push(t.task_id);
                }
                Ok(std::ops::ControlFlow::Continue(()))
            })
            .await?;
        for id in interrupted {
            if self.running.lock().contains_key(&id) {
                continue;
            }
            self.update(&id, |t| {
                if t.status == TaskStatus::Cancelling {
                    t.status = TaskStatus::Cancelled;
                } else if t.status == TaskStatus::InProgress {
                    t.status = TaskStatus::Failed;
                    t.message = Some(INTERRUPTED.into());
                }
            })
            .await?;
        }
        Ok(())
    }

    pub async fn start_thing_registration_task(
        &self,
        scope: &Scope,
        req: StartThingRegistrationTask,
    ) -> Result<Output, ProvisioningError> {
        Template::parse(&req.template_body)?;
        self.buckets
            .object(&req.input_file_bucket, &req.input_file_key)
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
        };
        let write = Write::put(TASK_KIND, &task.task_id, Expect::Absent, encode(&task));
        self.docs
            .retry_wrote(|| async { Ok::<_, ProvisioningError>((vec![write.clone()], ())) })
            .await?;
        let cancel = self.shutdown.child_token();
        self.running
            .lock()
            .insert(task.task_id.clone(), cancel.clone());
        let id = task.task_id.clone();
        self.tasks.spawn(self.clone().execute(task, cancel));
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
    /// between two lines (or right away when no node runs it any more).
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
        let local = self.running.lock().get(&req.task_id).cloned();
        self.update(&req.task_id, |t| {
            if t.status == TaskStatus::InProgress {
                t.status = if local.is_some() {
                    TaskStatus::Cancelling
                } else {
                    TaskStatus::Cancelled
                };
            }
        })
        .await?;
        if let Some(cancel) = local {
            cancel.cancel();
        }
        Ok(json!({}))
    }

    /// The report of `reportType` as a resource link, once the task wrote it.
    /// [VERIFY: AWS answers presigned HTTPS URLs; here an `s3://{bucket}/{key}` URI of the
    /// bucket directory's file.]
    pub async fn list_thing_registration_task_reports(
        &self,
        req: ListThingRegistrationTaskReports,
    ) -> Result<Output, ProvisioningError> {
        let kind = report_kind(&req.report_type)?;
        let _ = (req.next_token, req.max_results);
        let task = self.task(&req.task_id).await?;
        let links: Vec<String> = if task.reports.iter().any(|r| r == &req.report_type) {
            vec![format!(
                "s3://{}/{}",
                task.input_file_bucket,
                report_key(&task.task_id, kind)
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

/// Writes `body` to `path` whole: a temporary file renamed into place.
async fn write_whole(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, body).await?;
    tokio::fs::rename(&tmp, path).await
}
