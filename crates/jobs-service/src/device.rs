//! What devices ask of their executions (over MQTT now, over `iot-jobs-data` later): the
//! pending list, StartNextPendingJobExecution, DescribeJobExecution (`$next` included) and
//! UpdateJobExecution, decided by `ferrite_jobs` and written with the same optimistic cycle
//! as the control plane. Results are typed; `ferrite_jobs::device` renders them.

use std::ops::ControlFlow;

use ferrite_jobs::device::NEXT;
use ferrite_jobs::{DeviceUpdate, Job, JobExecution, StatusDetails};
use ferrite_registry::decode;
use ferrite_storage::{Expect, Write};

use crate::executions::{execution_changed, execution_writes};
use crate::kinds::{EXECUTION, EXECUTION_BY_JOB, JOB};
use crate::timers::{Action, schedule, unschedule};
use crate::{Jobs, JobsError};

/// An execution with the inline document of its job (absent for a `documentSource` job or a
/// job deleted meanwhile).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceExecution {
    pub execution: JobExecution,
    pub document: Option<String>,
}

fn no_execution(job_id: &str, thing: &str) -> JobsError {
    JobsError::NotFound(format!(
        "Job execution of job {job_id} on thing {thing} does not exist."
    ))
}

impl Jobs {
    /// `thing`'s pending executions (QUEUED and IN_PROGRESS) with their versions, in AWS's
    /// order: IN_PROGRESS first, then QUEUED, each oldest first.
    pub async fn pending_executions(
        &self,
        thing: &str,
    ) -> Result<Vec<(JobExecution, u64)>, JobsError> {
        let mut pending = Vec::new();
        self.docs
            .scan_until(EXECUTION, &format!("{thing}/"), None, |r| {
                let e: JobExecution = decode(r)?;
                if e.status.is_pending() {
                    pending.push((e, r.version));
                }
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        pending.sort_by(|(a, _), (b, _)| a.pending_rank().cmp(&b.pending_rank()));
        Ok(pending)
    }

    /// Every thing with a pending execution of an active job: what must be notified again when
    /// the device side missed changes (its change feed overflowed). Reads the executions of
    /// active jobs only, never the history of ended ones.
    pub(crate) async fn things_with_pending(
        &self,
    ) -> Result<std::collections::BTreeSet<String>, JobsError> {
        let mut active = Vec::new();
        self.docs
            .scan_until(JOB, "", None, |r| {
                let job: Job = decode(r)?;
                if job.status.is_active() {
                    active.push(job.job_id);
                }
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        let mut things = std::collections::BTreeSet::new();
        for job_id in active {
            self.docs
                .scan_until(EXECUTION_BY_JOB, &format!("{job_id}/"), None, |r| {
                    let e: JobExecution = decode(r)?;
                    if e.status.is_pending() {
                        things.insert(e.thing_name);
                    }
                    Ok(ControlFlow::Continue(()))
                })
                .await?;
        }
        Ok(things)
    }

    pub(crate) async fn job_of(&self, job_id: &str) -> Result<Option<Job>, JobsError> {
        Ok(self.docs.get::<Job>(JOB, job_id).await?.map(|(j, _)| j))
    }

    fn with_document(execution: JobExecution, job: Option<&Job>) -> DeviceExecution {
        DeviceExecution {
            document: job.and_then(|j| j.document.inline()).map(str::to_owned),
            execution,
        }
    }

    /// StartNextPendingJobExecution: the head of the pending list, started if it was
    /// QUEUED; `None` when nothing is pending.
    pub async fn start_next(
        &self,
        thing: &str,
        status_details: Option<&StatusDetails>,
        step_timeout_minutes: Option<i64>,
    ) -> Result<Option<DeviceExecution>, JobsError> {
        let now = self.clock.now_ms();
        let ((out, started), _) = self
            .docs
            .retry_wrote(|| async {
                let Some((mut e, version)) =
                    self.pending_executions(thing).await?.into_iter().next()
                else {
                    return Ok((Vec::new(), (None, false)));
                };
                let job = self.job_of(&e.job_id).await?;
                let before = e.timeout_at_ms();
                let started = e.start(
                    status_details,
                    step_timeout_minutes,
                    self.timers_of(job.as_ref()),
                    now,
                )?;
                let writes = if started {
                    let mut writes = execution_writes(&e, Expect::Version(version)).to_vec();
                    writes.extend(timer_writes(&e, before));
                    writes
                } else {
                    Vec::new()
                };
                Ok::<_, JobsError>((
                    writes,
                    (Some(Self::with_document(e, job.as_ref())), started),
                ))
            })
            .await?;
        if started && let Some(d) = &out {
            self.announce([execution_changed(&d.execution)]);
            self.wake_timers();
        }
        Ok(out)
    }

    /// DescribeJobExecution for a device: execution `execution_number` (or the latest) of
    /// `job_id` on `thing`, or with `$next` the head of the pending list (`None` when nothing
    /// is pending).
    pub async fn describe_for_device(
        &self,
        thing: &str,
        job_id: &str,
        execution_number: Option<u64>,
    ) -> Result<Option<DeviceExecution>, JobsError> {
        let e = if job_id == NEXT {
            match self.pending_executions(thing).await?.into_iter().next() {
                Some((e, _)) => e,
                None => return Ok(None),
            }
        } else {
            self.execution(thing, job_id, execution_number)
                .await?
                .ok_or_else(|| no_execution(job_id, thing))?
                .0
        };
        let job = self.job_of(&e.job_id).await?;
        Ok(Some(Self::with_document(e, job.as_ref())))
    }

    /// UpdateJobExecution from a device: execution `execution_number` (or the latest) of
    /// `job_id` on `thing`. A snapshot job whose last pending execution this ends completes.
    pub async fn update_for_device(
        &self,
        thing: &str,
        job_id: &str,
        execution_number: Option<u64>,
        update: &DeviceUpdate,
    ) -> Result<DeviceExecution, JobsError> {
        let now = self.clock.now_ms();
        let (out, _) = self
            .docs
            .retry_wrote(|| async {
                let (mut e, version) = self
                    .execution(thing, job_id, execution_number)
                    .await?
                    .ok_or_else(|| no_execution(job_id, thing))?;
                let job = self.job_of(job_id).await?;
                let before = e.timeout_at_ms();
                e.apply_device_update(update, self.timers_of(job.as_ref()), now)?;
                let mut writes = execution_writes(&e, Expect::Version(version)).to_vec();
                writes.extend(timer_writes(&e, before));
                let retry = Self::retry_of(job.as_ref(), &e, now);
                if let Some(r) = &retry {
                    writes.extend(execution_writes(r, Expect::Absent));
                }
                Ok::<_, JobsError>((writes, (Self::with_document(e, job.as_ref()), retry)))
            })
            .await?;
        let (out, retry) = out;
        self.announce(
            std::iter::once(&out.execution)
                .chain(&retry)
                .map(execution_changed),
        );
        self.wake_timers();
        if out.execution.status.is_terminal() {
            self.after_end(job_id, &out.execution).await?;
        }
        Ok(out)
    }
}

/// The timer writes when `e`'s timeout moved from `before`: the old timer dropped, the new
/// one set (in the batch that moves it).
fn timer_writes(e: &JobExecution, before: Option<i64>) -> Vec<Write> {
    let after = e.timeout_at_ms();
    if after == before {
        return Vec::new();
    }
    let action = Action::Timeout {
        thing: e.thing_name.clone(),
        job: e.job_id.clone(),
        execution_number: e.execution_number,
    };
    before
        .map(|at| unschedule(&action, at))
        .into_iter()
        .chain(after.map(|at| schedule(&action, at)))
        .collect()
}
