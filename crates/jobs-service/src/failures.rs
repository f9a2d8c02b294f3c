//! Executions that end badly and what follows: an execution whose in-progress or step timer
//! ran out is TIMED_OUT (on its timer, see [`crate::timers`]); a FAILED or TIMED_OUT
//! execution is retried while the job's `jobExecutionsRetryConfig` allows (a new QUEUED
//! execution, written in the same batch as the end it retries, so a retry is never lost
//! nor made twice); and a job whose failures meet an `abortConfig` criterion is canceled.

use ferrite_jobs::{Job, JobExecution, JobStatus};
use ferrite_storage::Expect;

use crate::executions::{execution_changed, execution_writes};
use crate::{Jobs, JobsError};

/// The `reasonCode` of a job canceled by its `abortConfig` [VERIFY: AWS's value is not
/// documented].
pub const ABORT_REASON_CODE: &str = "ABORTED";

impl Jobs {
    /// The retry of `ended` that `job`'s retry configuration allows now, if any: only a job
    /// still in progress retries.
    pub(crate) fn retry_of(
        job: Option<&Job>,
        ended: &JobExecution,
        now_ms: i64,
    ) -> Option<JobExecution> {
        let job = job.filter(|j| j.status == JobStatus::InProgress)?;
        ended.retry(job.config.job_executions_retry_config.as_ref()?, now_ms)
    }

    /// The timer of execution `n` of `job_id` on `thing` fell due: it times out if it is still
    /// IN_PROGRESS and its timer has really run out (a step timer set since moved it on).
    pub(crate) async fn time_out(
        &self,
        thing: &str,
        job_id: &str,
        n: u64,
    ) -> Result<(), JobsError> {
        let now = self.clock.now_ms();
        let (ended, _) = self
            .docs
            .retry_wrote(|| async {
                let Some((mut e, version)) = self.execution(thing, job_id, Some(n)).await? else {
                    return Ok((Vec::new(), None));
                };
                if e.timeout_at_ms().is_none_or(|at| at > now) || !e.time_out(now) {
                    return Ok((Vec::new(), None));
                }
                let job = self.job_of(job_id).await?;
                let mut writes = execution_writes(&e, Expect::Version(version)).to_vec();
                let retry = Self::retry_of(job.as_ref(), &e, now);
                if let Some(r) = &retry {
                    writes.extend(execution_writes(r, Expect::Absent));
                }
                Ok::<_, JobsError>((writes, Some((e, retry))))
            })
            .await?;
        if let Some((e, retry)) = ended {
            self.announce(std::iter::once(&e).chain(&retry).map(execution_changed));
            self.after_end(job_id, &e).await?;
        }
        Ok(())
    }

    /// After one of `job_id`'s executions ended (by its device or its timer): the job aborts
    /// if an abort criterion is met now, and completes if nothing is left pending.
    pub(crate) async fn after_end(
        &self,
        job_id: &str,
        ended: &JobExecution,
    ) -> Result<(), JobsError> {
        self.abort_if_tripped(job_id).await?;
        self.complete_if_done_after(job_id, Some(ended)).await
    }

    /// Cancels `job_id` (without force: running executions go on, queued ones and queued
    /// retries are canceled, things not rolled out yet never get one) when its failures meet
    /// one of its abort criteria.
    async fn abort_if_tripped(&self, job_id: &str) -> Result<(), JobsError> {
        let Some(job) = self.job_of(job_id).await? else {
            return Ok(());
        };
        let Some(abort) = job
            .config
            .abort_config
            .as_ref()
            .filter(|_| job.status == JobStatus::InProgress)
        else {
            return Ok(());
        };
        let details = self.process_details(job_id).await?;
        let Some(c) = abort.tripped(&details) else {
            return Ok(());
        };
        let comment = format!(
            "Job aborted: {} failures reached {}% of the things that ran the job (at least {}).",
            c.failure_type, c.threshold_percentage, c.min_number_of_executed_things
        );
        tracing::info!(job = job_id, %comment, "job aborted");
        self.cancel_job_as(
            job_id,
            false,
            Some(ABORT_REASON_CODE.to_owned()),
            Some(comment),
            true,
        )
        .await?;
        Ok(())
    }
}
