//! Job executions on the control plane: DescribeJobExecution, ListJobExecutionsForJob,
//! ListJobExecutionsForThing, CancelJobExecution and DeleteJobExecution; and how executions
//! are stored (two records per execution, see [`crate::kinds`]), read, counted, and how a
//! snapshot job completes once none is pending.

use std::ops::ControlFlow;

use ferrite_jobs::{ExecutionStatus, Job, JobExecution, JobProcessDetails, StatusDetails};
use ferrite_registry::{Scope, decode, encode, epoch_secs, token};
use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;
use serde::Deserialize;
use serde_json::json;

use crate::kinds::{EXECUTION, EXECUTION_BY_JOB, JOB, execution_by_job_key, execution_key};
use crate::{Jobs, JobsError, Output, no_job, thing_arn};

/// AWS's page size for the execution listings when `maxResults` is absent.
const LIST_PAGE_DEFAULT: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobExecution {
    pub job_id: String,
    pub thing_name: String,
    pub execution_number: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJobExecutionsForJob {
    pub job_id: String,
    pub status: Option<ExecutionStatus>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJobExecutionsForThing {
    pub thing_name: String,
    pub status: Option<ExecutionStatus>,
    pub namespace_id: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelJobExecution {
    pub job_id: String,
    pub thing_name: String,
    #[serde(default)]
    pub force: bool,
    pub expected_version: Option<u64>,
    pub status_details: Option<StatusDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteJobExecution {
    pub job_id: String,
    pub thing_name: String,
    pub execution_number: u64,
    #[serde(default)]
    pub force: bool,
    pub namespace_id: Option<String>,
}

/// The writes that store `e`: the thing-first record under `expect`, and its job-first copy.
pub(crate) fn execution_writes(e: &JobExecution, expect: Expect) -> [Write; 2] {
    let doc = encode(e);
    [
        Write::put(
            EXECUTION,
            &execution_key(&e.thing_name, &e.job_id, e.execution_number),
            expect,
            doc.clone(),
        ),
        Write::put(
            EXECUTION_BY_JOB,
            &execution_by_job_key(&e.job_id, &e.thing_name, e.execution_number),
            Expect::Any,
            doc,
        ),
    ]
}

/// The writes that delete `e`, stored at `version`.
pub(crate) fn execution_deletes(e: &JobExecution, version: u64) -> [Write; 2] {
    [
        Write::delete(
            EXECUTION,
            &execution_key(&e.thing_name, &e.job_id, e.execution_number),
            Expect::Version(version),
        ),
        Write::delete(
            EXECUTION_BY_JOB,
            &execution_by_job_key(&e.job_id, &e.thing_name, e.execution_number),
            Expect::Any,
        ),
    ]
}

pub(crate) fn execution_changed(e: &JobExecution) -> RegistryChange {
    RegistryChange::JobExecutionChanged {
        job: e.job_id.clone(),
        thing: e.thing_name.clone(),
        execution_number: e.execution_number,
    }
}

/// AWS's `JobExecutionSummary` (control plane).
fn summary(e: &JobExecution) -> Output {
    let mut s = json!({
        "status": e.status,
        "queuedAt": epoch_secs(e.queued_at_ms),
        "lastUpdatedAt": epoch_secs(e.last_updated_at_ms),
        "executionNumber": e.execution_number,
    });
    if let Some(t) = e.started_at_ms {
        s["startedAt"] = epoch_secs(t);
    }
    if e.retry_attempt > 0 {
        s["retryAttempt"] = json!(e.retry_attempt);
    }
    s
}

/// AWS's `JobExecution` (control plane) at `now_ms`.
fn execution_json(scope: &Scope, e: &JobExecution, now_ms: i64) -> Output {
    let mut out = json!({
        "jobId": e.job_id,
        "status": e.status,
        "forceCanceled": e.force_canceled,
        "statusDetails": {"detailsMap": e.status_details},
        "thingArn": thing_arn(scope, &e.thing_name),
        "queuedAt": epoch_secs(e.queued_at_ms),
        "lastUpdatedAt": epoch_secs(e.last_updated_at_ms),
        "executionNumber": e.execution_number,
        "versionNumber": e.version_number,
    });
    if let Some(t) = e.started_at_ms {
        out["startedAt"] = epoch_secs(t);
    }
    if let Some(s) = e.seconds_before_timeout(now_ms) {
        out["approximateSecondsBeforeTimedOut"] = json!(s);
    }
    out
}

fn no_execution(job_id: &str, thing: &str) -> JobsError {
    JobsError::NotFound(format!(
        "Job execution of job {job_id} on thing {thing} does not exist."
    ))
}

impl Jobs {
    /// The executions of `job_id` on `thing`, oldest first, with their record versions.
    pub(crate) async fn executions_on_thing(
        &self,
        thing: &str,
        job_id: &str,
    ) -> Result<Vec<(JobExecution, u64)>, JobsError> {
        let mut out = Vec::new();
        self.docs
            .scan_until(EXECUTION, &format!("{thing}/{job_id}/"), None, |r| {
                out.push((decode(r)?, r.version));
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(out)
    }

    /// Execution `n` of `job_id` on `thing`, or the latest one when `n` is `None`.
    pub(crate) async fn execution(
        &self,
        thing: &str,
        job_id: &str,
        n: Option<u64>,
    ) -> Result<Option<(JobExecution, u64)>, JobsError> {
        match n {
            Some(n) => Ok(self
                .docs
                .get(EXECUTION, &execution_key(thing, job_id, n))
                .await?),
            None => Ok(self.executions_on_thing(thing, job_id).await?.pop()),
        }
    }

    /// Every execution of `job_id` (job-first copies; versions are not theirs to condition
    /// on), in thing order.
    pub(crate) async fn executions_of_job(
        &self,
        job_id: &str,
    ) -> Result<Vec<JobExecution>, JobsError> {
        let mut out = Vec::new();
        self.docs
            .scan_until(EXECUTION_BY_JOB, &format!("{job_id}/"), None, |r| {
                out.push(decode(r)?);
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(out)
    }

    /// The counts of `job_id`'s executions by status.
    pub(crate) async fn process_details(
        &self,
        job_id: &str,
    ) -> Result<JobProcessDetails, JobsError> {
        let mut details = JobProcessDetails::default();
        self.docs
            .scan_until(EXECUTION_BY_JOB, &format!("{job_id}/"), None, |r| {
                let e: JobExecution = decode(r)?;
                details.add(e.status);
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(details)
    }

    /// Whether any execution of `job_id` is pending. Stops at the first, looking first after
    /// `from` (the execution that just ended, whose neighbours in key order are the likeliest
    /// to be pending still: rollouts notify things in key order) and then before it. Called
    /// after every execution that ends, it reads few records while many are pending, so a
    /// job of n things costs far fewer than n² reads over its life.
    async fn any_pending(
        &self,
        job_id: &str,
        from: Option<&JobExecution>,
    ) -> Result<bool, JobsError> {
        let prefix = format!("{job_id}/");
        let from = from.map(|e| execution_by_job_key(job_id, &e.thing_name, e.execution_number));
        if let Some(k) = &from
            && self.pending_between(&prefix, Some(k.clone()), None).await?
        {
            return Ok(true);
        }
        self.pending_between(&prefix, None, from.as_deref()).await
    }

    /// Whether an execution keyed after `after` and before `before` is pending, read in small
    /// pages since the first pending one usually comes soon.
    async fn pending_between(
        &self,
        prefix: &str,
        mut after: Option<String>,
        before: Option<&str>,
    ) -> Result<bool, JobsError> {
        let mut page_size = 16;
        loop {
            let page = self
                .store()
                .list(EXECUTION_BY_JOB, prefix, after.as_deref(), page_size)
                .await?;
            for r in &page.records {
                if before.is_some_and(|b| r.key.as_str() >= b) {
                    return Ok(false);
                }
                if decode::<JobExecution>(r)?.status.is_pending() {
                    return Ok(true);
                }
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => return Ok(false),
            }
            page_size = (page_size * 4).min(1024);
        }
    }

    /// [`Self::complete_if_done_after`] with no execution to start looking from.
    pub(crate) async fn complete_if_done(&self, job_id: &str) -> Result<(), JobsError> {
        self.complete_if_done_after(job_id, None).await
    }

    /// Completes `job_id` if it is a snapshot job in progress with nothing pending. Called
    /// after an execution ended or went: every writer checks after its own write is durable,
    /// so the last one to end sees all of them ended. `ended` is the execution that just
    /// ended, if one did (where to look for pending ones first).
    pub(crate) async fn complete_if_done_after(
        &self,
        job_id: &str,
        ended: Option<&JobExecution>,
    ) -> Result<(), JobsError> {
        let now = self.clock.now_ms();
        let (completed, _) = self
            .docs
            .retry_wrote(|| async {
                let Some((mut job, version)) = self.docs.get::<Job>(JOB, job_id).await? else {
                    return Ok((Vec::new(), false));
                };
                // Things the rollout has not reached yet are still to come.
                if job.status != ferrite_jobs::JobStatus::InProgress
                    || self.rollout_pending(job_id).await?
                {
                    return Ok((Vec::new(), false));
                }
                if self.any_pending(job_id, ended).await? {
                    return Ok((Vec::new(), false));
                }
                if !job.complete_if_done(&JobProcessDetails::default(), now) {
                    return Ok((Vec::new(), false));
                }
                let write = Write::put(JOB, job_id, Expect::Version(version), encode(&job));
                Ok::<_, JobsError>((vec![write], true))
            })
            .await?;
        if completed {
            self.announce([RegistryChange::JobChanged {
                job: job_id.to_owned(),
            }]);
        }
        Ok(())
    }

    pub async fn describe_job_execution(
        &self,
        scope: &Scope,
        req: DescribeJobExecution,
    ) -> Result<Output, JobsError> {
        let (e, _) = self
            .execution(&req.thing_name, &req.job_id, req.execution_number)
            .await?
            .ok_or_else(|| no_execution(&req.job_id, &req.thing_name))?;
        Ok(json!({"execution": execution_json(scope, &e, self.clock.now_ms())}))
    }

    pub async fn list_job_executions_for_job(
        &self,
        scope: &Scope,
        req: ListJobExecutionsForJob,
    ) -> Result<Output, JobsError> {
        if self.docs.get::<Job>(JOB, &req.job_id).await?.is_none() {
            return Err(no_job(&req.job_id));
        }
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        let (items, next) = self
            .docs
            .page(
                EXECUTION_BY_JOB,
                &format!("{}/", req.job_id),
                req.next_token.as_deref(),
                limit,
                |_, e: JobExecution| {
                    if req.status.is_some_and(|s| s != e.status) {
                        return None;
                    }
                    Some(json!({
                        "thingArn": thing_arn(scope, &e.thing_name),
                        "jobExecutionSummary": summary(&e),
                    }))
                },
            )
            .await?;
        Ok(token::listing("executionSummaries", items, next))
    }

    pub async fn list_job_executions_for_thing(
        &self,
        req: ListJobExecutionsForThing,
    ) -> Result<Output, JobsError> {
        let limit = token::page_size(req.max_results, LIST_PAGE_DEFAULT);
        // Executions name no namespace of their own: a namespace filter keeps those of jobs
        // in it, read once per job.
        let namespace_jobs = match &req.namespace_id {
            None => None,
            Some(ns) => Some(self.jobs_in_namespace(ns).await?),
        };
        let (items, next) = self
            .docs
            .page(
                EXECUTION,
                &format!("{}/", req.thing_name),
                req.next_token.as_deref(),
                limit,
                |_, e: JobExecution| {
                    if req.status.is_some_and(|s| s != e.status) {
                        return None;
                    }
                    if namespace_jobs
                        .as_ref()
                        .is_some_and(|jobs: &Vec<String>| !jobs.contains(&e.job_id))
                    {
                        return None;
                    }
                    Some(json!({"jobId": e.job_id, "jobExecutionSummary": summary(&e)}))
                },
            )
            .await?;
        Ok(token::listing("executionSummaries", items, next))
    }

    async fn jobs_in_namespace(&self, namespace: &str) -> Result<Vec<String>, JobsError> {
        let mut ids = Vec::new();
        self.docs
            .scan_until(JOB, "", None, |r| {
                let job: Job = decode(r)?;
                if job.namespace_id.as_deref() == Some(namespace) {
                    ids.push(job.job_id);
                }
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(ids)
    }

    pub async fn cancel_job_execution(&self, req: CancelJobExecution) -> Result<Output, JobsError> {
        let now = self.clock.now_ms();
        let (e, _) = self
            .docs
            .retry_wrote(|| async {
                if self.docs.get::<Job>(JOB, &req.job_id).await?.is_none() {
                    return Err(no_job(&req.job_id));
                }
                let (mut e, version) = self
                    .execution(&req.thing_name, &req.job_id, None)
                    .await?
                    .ok_or_else(|| no_execution(&req.job_id, &req.thing_name))?;
                e.cancel(
                    req.force,
                    req.expected_version,
                    req.status_details.as_ref(),
                    now,
                )?;
                let writes = execution_writes(&e, Expect::Version(version)).to_vec();
                Ok::<_, JobsError>((writes, e))
            })
            .await?;
        self.announce([execution_changed(&e)]);
        self.complete_if_done(&req.job_id).await?;
        Ok(json!({}))
    }

    pub async fn delete_job_execution(&self, req: DeleteJobExecution) -> Result<Output, JobsError> {
        let (e, _) = self
            .docs
            .retry_wrote(|| async {
                let (e, version) = self
                    .execution(&req.thing_name, &req.job_id, Some(req.execution_number))
                    .await?
                    .ok_or_else(|| no_execution(&req.job_id, &req.thing_name))?;
                e.check_delete(req.force)?;
                Ok::<_, JobsError>((execution_deletes(&e, version).to_vec(), e))
            })
            .await?;
        self.announce([RegistryChange::JobExecutionDeleted {
            job: e.job_id.clone(),
            thing: e.thing_name.clone(),
            execution_number: e.execution_number,
        }]);
        if e.status.is_pending() {
            self.complete_if_done(&req.job_id).await?;
        }
        Ok(json!({}))
    }

    /// Applies `change` to every execution of `job_id` it changes, in batches, each write
    /// conditional on the version read (a conflicting batch is read and decided again).
    /// Returns the executions changed.
    pub(crate) async fn sweep_executions(
        &self,
        job_id: &str,
        change: impl Fn(&mut JobExecution) -> bool,
    ) -> Result<Vec<JobExecution>, JobsError> {
        let mut changed_all = Vec::new();
        let all = self.executions_of_job(job_id).await?;
        for chunk in all.chunks(SWEEP_BATCH) {
            let (changed, _) = self
                .docs
                .retry_wrote(|| async {
                    let mut writes = Vec::new();
                    let mut changed = Vec::new();
                    for listed in chunk {
                        let Some((mut e, version)) = self
                            .execution(&listed.thing_name, job_id, Some(listed.execution_number))
                            .await?
                        else {
                            continue;
                        };
                        if change(&mut e) {
                            writes.extend(execution_writes(&e, Expect::Version(version)));
                            changed.push(e);
                        }
                    }
                    Ok::<_, JobsError>((writes, changed))
                })
                .await?;
            self.announce(changed.iter().map(execution_changed));
            changed_all.extend(changed);
        }
        Ok(changed_all)
    }

    /// Deletes every execution of `job_id`, in batches.
    pub(crate) async fn delete_executions(&self, job_id: &str) -> Result<(), JobsError> {
        loop {
            let all = self.executions_of_job(job_id).await?;
            if all.is_empty() {
                return Ok(());
            }
            for chunk in all.chunks(SWEEP_BATCH) {
                let (deleted, _) = self
                    .docs
                    .retry_wrote(|| async {
                        let mut writes = Vec::new();
                        let mut deleted = Vec::new();
                        for listed in chunk {
                            match self
                                .execution(
                                    &listed.thing_name,
                                    job_id,
                                    Some(listed.execution_number),
                                )
                                .await?
                            {
                                Some((e, version)) => {
                                    writes.extend(execution_deletes(&e, version));
                                    deleted.push(e);
                                }
                                // A copy whose execution is gone: drop the copy alone.
                                None => writes.push(Write::delete(
                                    EXECUTION_BY_JOB,
                                    &execution_by_job_key(
                                        job_id,
                                        &listed.thing_name,
                                        listed.execution_number,
                                    ),
                                    Expect::Any,
                                )),
                            }
                        }
                        Ok::<_, JobsError>((writes, deleted))
                    })
                    .await?;
                self.announce(deleted.iter().map(|e| RegistryChange::JobExecutionDeleted {
                    job: e.job_id.clone(),
                    thing: e.thing_name.clone(),
                    execution_number: e.execution_number,
                }));
            }
        }
    }
}

/// Executions written per batch by the sweeps of CancelJob and DeleteJob.
const SWEEP_BATCH: usize = 200;
