//! When a job's executions come into being: at once for an unlimited rollout; in batches of
//! the job's rate per minute for a rate-limited one (`maximumPerMinute`, `exponentialRate`);
//! only while one of its `maintenanceWindows` is open (the first batch waits for the next
//! opening); at `schedulingConfig.startTime` for a scheduled job; and what its `endTime` does
//! (`endBehavior` STOP_ROLLOUT, CANCEL, FORCE_CANCEL).
//!
//! The first minute's batch is created with the job (or at its scheduled start); a thing the
//! rollout has not reached is a `job-rollout` record, not an execution: like on
//! AWS [VERIFY], it has no execution yet, so the device is not notified, and
//! ListJobExecutionsForJob and `jobProcessDetails` do not count it. Each batch deletes the
//! records it takes (conditional on their versions) and creates their executions
//! (conditional on their absence) in one write, with the timer of the next batch, so a
//! restart or a second node never loses or duplicates a thing. Continuous jobs' later
//! joiners are queued at once, and a thing that left a continuous job's groups before its
//! turn leaves the rollout: its record is dropped when the change is heard, and a batch
//! checks each thing it takes against the job's targets as they are then (see
//! [`crate::continuous`]).

use std::collections::BTreeSet;

use ferrite_jobs::{
    ExecutionStatus, Job, JobExecution, JobProcessDetails, JobStatus, MaintenanceWindow, Target,
    TargetSelection, Window, parse_target, window_at,
};
use ferrite_registry::{RegistryError, Scope};
use ferrite_storage::{Expect, Write};
use ferrite_types::RegistryChange;

use crate::executions::{execution_changed, execution_writes};
use crate::kinds::{JOB, ROLLOUT};
use crate::reach::Reach;
use crate::timers::{Action, schedule};
use crate::{Jobs, JobsError};

/// Rollout records deleted per batch when a rollout is dropped.
const DROP_BATCH: usize = 500;
/// AWS's highest rate: what a batch takes at most.
const MAX_BATCH: u64 = 1000;

pub(crate) fn rollout_prefix(job_id: &str) -> String {
    format!("{job_id}/")
}

/// The rollout record of `thing` in `job_id`'s rollout.
pub(crate) fn rollout_key(job_id: &str, thing: &str) -> String {
    format!("{}{thing}", rollout_prefix(job_id))
}

/// The job's maintenance windows (none: it may roll out at any time).
fn windows(job: &Job) -> &[MaintenanceWindow] {
    job.config
        .scheduling_config
        .as_ref()
        .map_or(&[], |s| s.maintenance_windows.as_slice())
}

/// Every execution counted in `details`.
fn total(details: &JobProcessDetails) -> u64 {
    ExecutionStatus::ALL.iter().map(|s| details.count(*s)).sum()
}

impl Jobs {
    /// The writes that give `job` (starting now) its executions on `things`: the executions
    /// of the first minute's batch (every thing for an unlimited rollout), and for the things
    /// left one rollout record each and the timer of the next batch, a minute later. Returns
    /// the writes, the executions they create and whether things are left for later.
    pub(crate) fn begin_executions(
        &self,
        job: &Job,
        things: &BTreeSet<String>,
        now_ms: i64,
    ) -> (Vec<Write>, Vec<JobExecution>, bool) {
        let window = window_at(windows(job), now_ms);
        let first = match window {
            Window::Open => job
                .config
                .job_executions_rollout_config
                .as_ref()
                .and_then(|r| r.per_minute(0, 0))
                .map_or(things.len(), |n| n as usize),
            Window::OpensAt(_) | Window::Closed => 0,
        };
        let executions: Vec<JobExecution> = things
            .iter()
            .take(first)
            .map(|thing| JobExecution::queued(&job.job_id, thing, 1, now_ms))
            .collect();
        let mut writes: Vec<Write> = executions
            .iter()
            .flat_map(|e| execution_writes(e, Expect::Absent))
            .collect();
        let rest = things.len() > first;
        if rest {
            writes.extend(things.iter().skip(first).map(|t| {
                Write::put(
                    ROLLOUT,
                    &rollout_key(&job.job_id, t),
                    Expect::Any,
                    "{}".into(),
                )
            }));
            let next = Action::Rollout {
                job: job.job_id.clone(),
            };
            match window {
                Window::Open => writes.push(schedule(&next, now_ms + self.minute_ms)),
                Window::OpensAt(at) => writes.push(schedule(&next, at)),
                Window::Closed => {}
            }
        }
        (writes, executions, rest)
    }

    /// Whether things still wait for `job_id`'s rollout.
    pub(crate) async fn rollout_pending(&self, job_id: &str) -> Result<bool, JobsError> {
        let page = self
            .store()
            .list(ROLLOUT, &rollout_prefix(job_id), None, 1)
            .await?;
        Ok(!page.records.is_empty())
    }

    /// Forgets the things `job_id`'s rollout has not reached (canceled, deleted, stopped).
    pub(crate) async fn drop_rollout(&self, job_id: &str) -> Result<(), JobsError> {
        loop {
            let page = self
                .store()
                .list(ROLLOUT, &rollout_prefix(job_id), None, DROP_BATCH)
                .await?;
            if page.records.is_empty() {
                return Ok(());
            }
            let deletes = page
                .records
                .iter()
                .map(|r| Write::delete(ROLLOUT, &r.key, Expect::Any))
                .collect();
            self.store().write(deletes).await?;
        }
    }

    /// The next batch of `job_id`'s rollout: as many things as its rate allows this minute
    /// get their execution, and the next batch is set a minute later while things remain.
    pub(crate) async fn rollout_step(&self, job_id: &str) -> Result<(), JobsError> {
        let now = self.clock.now_ms();
        let Some(job) = self.job_of(job_id).await? else {
            return self.drop_rollout(job_id).await;
        };
        match job.status {
            JobStatus::InProgress => {}
            JobStatus::Scheduled => return Ok(()),
            _ => return self.drop_rollout(job_id).await,
        }
        let next = Action::Rollout {
            job: job_id.to_owned(),
        };
        match window_at(windows(&job), now) {
            Window::Open => {}
            // Outside every maintenance window: nothing rolls out until the next opens.
            Window::OpensAt(at) => {
                self.store().write(vec![schedule(&next, at)]).await?;
                self.wake_timers();
                return Ok(());
            }
            Window::Closed => return Ok(()),
        }
        let details = self.process_details(job_id).await?;
        let rate = job
            .config
            .job_executions_rollout_config
            .as_ref()
            .and_then(|r| r.per_minute(total(&details), details.count(ExecutionStatus::Succeeded)));
        let per_minute = rate.unwrap_or(MAX_BATCH).min(MAX_BATCH) as usize;
        // An unlimited rollout (held back by a window) goes on at once, in batches.
        let next_due = if rate.is_some() {
            now + self.minute_ms
        } else {
            now
        };
        let prefix = rollout_prefix(job_id);
        // A continuous job rolls out to the things its targets reach now: one that left
        // since the rollout began leaves the rollout (as the membership change does, were
        // it late or lost).
        let reach = (job.target_selection == TargetSelection::Continuous).then(|| Reach::of(&job));
        let (queued, _) = self
            .docs
            .retry_wrote(|| async {
                let page = self
                    .store()
                    .list(ROLLOUT, &prefix, None, per_minute)
                    .await?;
                let mut writes = Vec::new();
                let mut queued = Vec::new();
                for r in &page.records {
                    let thing = &r.key[prefix.len()..];
                    writes.push(Write::delete(ROLLOUT, &r.key, Expect::Version(r.version)));
                    if let Some(reach) = &reach
                        && !reach.reaches(self, thing).await?
                    {
                        continue;
                    }
                    // A continuous job may have reached the thing meanwhile.
                    if self.executions_on_thing(thing, job_id).await?.is_empty() {
                        let e = JobExecution::queued(job_id, thing, 1, now);
                        writes.extend(execution_writes(&e, Expect::Absent));
                        queued.push(e);
                    }
                }
                if page.next_after.is_some() {
                    writes.push(schedule(&next, next_due));
                }
                Ok::<_, JobsError>((writes, queued))
            })
            .await?;
        tracing::debug!(job = job_id, rolled_out = queued.len(), "rollout batch");
        self.announce(queued.iter().map(execution_changed));
        self.wake_timers();
        self.complete_if_done(job_id).await
    }

    /// The things `job`'s targets reach now; targets deleted since reach nothing.
    async fn things_of(&self, job: &Job) -> Result<BTreeSet<String>, JobsError> {
        let mut things = BTreeSet::new();
        for arn in &job.targets {
            let scope = match parse_target(arn) {
                Ok(Target::Thing {
                    region, account, ..
                })
                | Ok(Target::ThingGroup {
                    region, account, ..
                }) => Scope {
                    region: region.to_owned(),
                    account: account.to_owned(),
                },
                Err(_) => continue,
            };
            match self
                .resolve_targets(&scope, std::slice::from_ref(arn))
                .await
            {
                Ok(found) => things.extend(found),
                Err(JobsError::Registry(RegistryError::NotFound(_)))
                | Err(JobsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(things)
    }

    /// A scheduled job's `startTime` came: it goes IN_PROGRESS and its targets, resolved
    /// now, get their executions (or enter its rollout).
    pub(crate) async fn start_scheduled(&self, job_id: &str) -> Result<(), JobsError> {
        let now = self.clock.now_ms();
        let Some(job) = self.job_of(job_id).await? else {
            return Ok(());
        };
        if job.status != JobStatus::Scheduled {
            return Ok(());
        }
        let things = self.things_of(&job).await?;
        let (started, _) = self
            .docs
            .retry_wrote(|| async {
                let Some((mut job, version)) = self.docs.get::<Job>(JOB, job_id).await? else {
                    return Ok((Vec::new(), Vec::new()));
                };
                if job.status != JobStatus::Scheduled {
                    return Ok((Vec::new(), Vec::new()));
                }
                job.status = JobStatus::InProgress;
                job.last_updated_at_ms = now;
                let (mut writes, executions, rest) = self.begin_executions(&job, &things, now);
                if !rest {
                    let details: JobProcessDetails = executions.iter().map(|e| e.status).collect();
                    job.complete_if_done(&details, now);
                }
                writes.push(Write::put(
                    JOB,
                    job_id,
                    Expect::Version(version),
                    ferrite_registry::encode(&job),
                ));
                let mut changes = vec![RegistryChange::JobChanged {
                    job: job_id.to_owned(),
                }];
                changes.extend(executions.iter().map(execution_changed));
                Ok::<_, JobsError>((writes, changes))
            })
            .await?;
        self.announce(started);
        self.wake_timers();
        Ok(())
    }

    /// A job's `endTime` came: STOP_ROLLOUT forgets the things not reached yet (the job
    /// completes once its executions end), CANCEL and FORCE_CANCEL cancel it.
    pub(crate) async fn end_scheduled(&self, job_id: &str) -> Result<(), JobsError> {
        let Some(job) = self.job_of(job_id).await? else {
            return Ok(());
        };
        if !job.status.is_active() {
            return Ok(());
        }
        let Some((_, behavior)) = job.config.scheduled_end() else {
            return Ok(());
        };
        match behavior {
            "CANCEL" | "FORCE_CANCEL" => {
                let force = behavior == "FORCE_CANCEL";
                self.cancel_job_as(job_id, force, None, None, false).await?;
                Ok(())
            }
            _ => {
                self.drop_rollout(job_id).await?;
                self.complete_if_done(job_id).await
            }
        }
    }
}
