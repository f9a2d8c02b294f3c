//! Continuous jobs follow their target groups: a thing that joins a targeted group (or one of
//! its descendants) gets an execution, a thing that leaves has its pending execution REMOVED,
//! and a thing that joins again gets a new execution (the next `executionNumber`). Driven by
//! the registry's membership changes on the change feed ([`Jobs::run`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use ferrite_jobs::{
    ExecutionStatus, Job, JobExecution, JobStatus, Target, TargetSelection, parse_target,
};
use ferrite_registry::decode;
use ferrite_storage::Expect;
use ferrite_types::{ChangeSubscription, Received, RegistryChange};
use tokio_util::sync::CancellationToken;

use crate::executions::{execution_changed, execution_writes};
use crate::kinds::JOB;
use crate::{Jobs, JobsError};

impl Jobs {
    /// Keeps continuous jobs in step with group membership until `cancel`.
    pub async fn run(self, mut changes: ChangeSubscription, cancel: CancellationToken) {
        loop {
            let change = tokio::select! {
                _ = cancel.cancelled() => return,
                c = changes.recv() => c,
            };
            match change {
                Some(Received::Change(c)) => {
                    if let Err(e) = self.membership_changed(&c).await {
                        tracing::warn!(error = %e, "cannot update continuous jobs");
                    }
                }
                // Missed membership changes are picked up at the thing's next change.
                Some(Received::Missed(n)) => {
                    tracing::warn!(missed = n, "continuous jobs fell behind the change feed");
                }
                None => return,
            }
        }
    }

    /// Applies one registry change to the continuous jobs it concerns.
    pub async fn membership_changed(&self, change: &RegistryChange) -> Result<(), JobsError> {
        match change {
            RegistryChange::ThingAddedToGroup { thing, .. }
            | RegistryChange::ThingRemovedFromGroup { thing, .. } => {
                self.reconcile_thing(thing).await
            }
            _ => Ok(()),
        }
    }

    /// Whether `job`'s targets reach `thing` now.
    async fn reaches(&self, job: &Job, thing: &str) -> Result<bool, JobsError> {
        for arn in &job.targets {
            match parse_target(arn) {
                Ok(Target::Thing { name, .. }) if name == thing => return Ok(true),
                Ok(Target::ThingGroup { name, .. }) => {
                    let mut members = BTreeSet::new();
                    match self.group_things(name, &mut members).await {
                        Ok(()) => {}
                        // A targeted group deleted since reaches nothing.
                        Err(JobsError::Registry(ferrite_registry::RegistryError::NotFound(_))) => {}
                        Err(e) => return Err(e),
                    }
                    if members.contains(thing) {
                        return Ok(true);
                    }
                }
                _ => {}
            }
        }
        Ok(false)
    }

    /// Every continuous job in progress: queues an execution for `thing` when the job reaches
    /// it and it has none (or its last one was REMOVED), and removes its pending one when the
    /// job no longer reaches it.
    async fn reconcile_thing(&self, thing: &str) -> Result<(), JobsError> {
        let mut jobs = Vec::new();
        self.docs
            .scan_until(JOB, "", None, |r| {
                let job: Job = decode(r)?;
                if job.target_selection == TargetSelection::Continuous
                    && job.status == JobStatus::InProgress
                {
                    jobs.push(job);
                }
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        for job in jobs {
            let reached = self.reaches(&job, thing).await?;
            let now = self.clock.now_ms();
            let (changed, _) = self
                .docs
                .retry_wrote(|| async {
                    let executions = self.executions_on_thing(thing, &job.job_id).await?;
                    let last = executions.last();
                    let (e, expect) = match last {
                        Some((e, v)) if !reached && e.status.is_pending() => {
                            let mut e = e.clone();
                            e.remove(now);
                            (e, Expect::Version(*v))
                        }
                        None if reached => (
                            JobExecution::queued(&job.job_id, thing, 1, now),
                            Expect::Absent,
                        ),
                        Some((e, _)) if reached && e.status == ExecutionStatus::Removed => (
                            JobExecution::queued(&job.job_id, thing, e.execution_number + 1, now),
                            Expect::Absent,
                        ),
                        _ => return Ok((Vec::new(), None)),
                    };
                    Ok::<_, JobsError>((execution_writes(&e, expect).to_vec(), Some(e)))
                })
                .await?;
            if let Some(e) = changed {
                self.announce([execution_changed(&e)]);
            }
        }
        Ok(())
    }
}
