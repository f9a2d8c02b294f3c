//! Continuous jobs follow their target groups: a thing that joins a targeted group (or one of
//! its descendants) gets an execution, a thing that leaves (or is deleted, or whose group is)
//! has its pending execution REMOVED or, when a rate-limited rollout has not reached it yet,
//! leaves the rollout; and a thing that joins again gets a new execution (the next
//! `executionNumber`, its retries counted afresh). Driven by the registry's changes on the
//! change feed ([`Jobs::run`]).
//!
//! Every decision is made from the state read now (membership, the thing's executions, its
//! rollout record), never from the change alone, and written conditionally on what was read:
//! so every node of a cluster may hear the same change and act on it, a change heard late or
//! twice does no harm, and a rollout batch racing the decision is serialised with it by the
//! rollout record both delete. A subscriber that missed changes reconciles every continuous
//! job in full, in pages.

use std::collections::BTreeSet;

use ferrite_jobs::{
    ExecutionStatus, Job, JobExecution, JobStatus, Target, TargetSelection, parse_target,
};
use ferrite_registry::{RegistryError, decode};
use ferrite_storage::{Expect, Write};
use ferrite_types::{ChangeSubscription, Received, RegistryChange};
use tokio_util::sync::CancellationToken;

use crate::executions::{execution_changed, execution_writes};
use crate::kinds::{EXECUTION_BY_JOB, JOB, ROLLOUT};
use crate::reach::Reach;
use crate::rollout::{rollout_key, rollout_prefix};
use crate::{Jobs, JobsError};

/// Records read per store call while reconciling (jobs, executions, rollout records).
const RECONCILE_PAGE: usize = 200;

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
                // Any membership may have changed meanwhile.
                Some(Received::Missed(n)) => {
                    tracing::warn!(
                        missed = n,
                        "continuous jobs fell behind the change feed; reconciling them all"
                    );
                    if let Err(e) = self.reconcile_continuous_jobs(|_| true).await {
                        tracing::warn!(error = %e, "cannot reconcile continuous jobs");
                    }
                }
                None => return,
            }
        }
    }

    /// Applies one registry change to the continuous jobs it concerns.
    pub async fn membership_changed(&self, change: &RegistryChange) -> Result<(), JobsError> {
        match change {
            RegistryChange::ThingAddedToGroup { thing, .. }
            | RegistryChange::ThingRemovedFromGroup { thing, .. }
            // A deleted thing left its groups (the registry announces no removal for them).
            | RegistryChange::ThingDeleted { thing, .. } => self.reconcile_thing(thing).await,
            // Its things left it: they concern the jobs targeting it or one of its ancestors
            // (a group with children cannot be deleted).
            RegistryChange::ThingGroupDeleted { group, last } => {
                let mut concerned = BTreeSet::from([group.as_str()]);
                match last {
                    Some(facts) => concerned.extend(facts.ancestors.iter().map(String::as_str)),
                    None => return self.reconcile_continuous_jobs(|_| true).await,
                }
                self.reconcile_continuous_jobs(|job| {
                    job.targets.iter().any(|t| {
                        matches!(parse_target(t), Ok(Target::ThingGroup { name, .. })
                                 if concerned.contains(name))
                    })
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// One page of the continuous jobs in progress, after `after`, and where the next starts.
    async fn continuous_jobs_page(
        &self,
        after: Option<&str>,
    ) -> Result<(Vec<Job>, Option<String>), JobsError> {
        let page = self.store().list(JOB, "", after, RECONCILE_PAGE).await?;
        let mut jobs = Vec::new();
        for r in &page.records {
            let job: Job = decode(r)?;
            if job.target_selection == TargetSelection::Continuous
                && job.status == JobStatus::InProgress
            {
                jobs.push(job);
            }
        }
        Ok((jobs, page.next_after))
    }

    /// Every continuous job in progress: `thing` gets an execution when the job reaches it
    /// and has none (or its last one was REMOVED), and leaves the job (its pending execution
    /// REMOVED, its rollout record dropped) when the job no longer reaches it.
    async fn reconcile_thing(&self, thing: &str) -> Result<(), JobsError> {
        let mut after: Option<String> = None;
        loop {
            let (jobs, next) = self.continuous_jobs_page(after.as_deref()).await?;
            for job in jobs {
                self.reconcile_on(&job.job_id, &Reach::of(&job), thing)
                    .await?;
            }
            match next {
                Some(k) => after = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// Brings every continuous job in progress that `concerned` selects in step with its
    /// targets as they are now, one job at a time and in pages (see
    /// [`Self::reconcile_job`]). A job that fails is logged and the others go on.
    pub(crate) async fn reconcile_continuous_jobs(
        &self,
        concerned: impl Fn(&Job) -> bool,
    ) -> Result<(), JobsError> {
        let mut after: Option<String> = None;
        loop {
            let (jobs, next) = self.continuous_jobs_page(after.as_deref()).await?;
            for job in jobs.iter().filter(|j| concerned(j)) {
                if let Err(e) = self.reconcile_job(job).await {
                    tracing::warn!(job = %job.job_id, error = %e, "cannot reconcile a continuous job");
                }
            }
            match next {
                Some(k) => after = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// Brings `job` in step with its targets: every thing it reaches that has no execution
    /// (or whose last one was REMOVED) and no rollout record gets one; every thing with a
    /// pending execution or a rollout record that it no longer reaches leaves it. Reads the
    /// targeted groups' members, the job's executions and its rollout records a page at a
    /// time; each thing that may need a change is then decided by [`Self::reconcile_on`].
    async fn reconcile_job(&self, job: &Job) -> Result<(), JobsError> {
        let job_id = job.job_id.as_str();
        let reach = Reach::of(job);
        // Things reached: those with no current execution.
        for arn in &job.targets {
            match parse_target(arn) {
                Ok(Target::Thing { name, .. }) => {
                    self.reconcile_if_unserved(job_id, &reach, name).await?
                }
                Ok(Target::ThingGroup { name, .. }) => {
                    let mut next: Option<String> = None;
                    loop {
                        let (things, token) =
                            match self.group_things_page(name, next.as_deref()).await {
                                Ok(page) => page,
                                // A targeted group deleted since reaches nothing.
                                Err(JobsError::Registry(RegistryError::NotFound(_))) => break,
                                Err(e) => return Err(e),
                            };
                        for thing in &things {
                            self.reconcile_if_unserved(job_id, &reach, thing).await?;
                        }
                        match token {
                            Some(t) => next = Some(t),
                            None => break,
                        }
                    }
                }
                Err(_) => {}
            }
        }
        // Pending executions: the last of each thing (its records list in number order).
        let prefix = format!("{job_id}/");
        let mut after: Option<String> = None;
        let mut last: Option<JobExecution> = None;
        loop {
            let page = self
                .store()
                .list(EXECUTION_BY_JOB, &prefix, after.as_deref(), RECONCILE_PAGE)
                .await?;
            for r in &page.records {
                let e: JobExecution = decode(r)?;
                if let Some(prev) = last.take()
                    && prev.thing_name != e.thing_name
                    && prev.status.is_pending()
                {
                    self.reconcile_on(job_id, &reach, &prev.thing_name).await?;
                }
                last = Some(e);
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        if let Some(prev) = last.filter(|e| e.status.is_pending()) {
            self.reconcile_on(job_id, &reach, &prev.thing_name).await?;
        }
        // Things the rollout has not reached yet.
        let prefix = rollout_prefix(job_id);
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store()
                .list(ROLLOUT, &prefix, after.as_deref(), RECONCILE_PAGE)
                .await?;
            for r in &page.records {
                self.reconcile_on(job_id, &reach, &r.key[prefix.len()..])
                    .await?;
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// [`Self::reconcile_on`] for a thing found among the job's targets, when it has no
    /// execution or its last one was REMOVED (the others need nothing while it is reached).
    async fn reconcile_if_unserved(
        &self,
        job_id: &str,
        reach: &Reach,
        thing: &str,
    ) -> Result<(), JobsError> {
        let unserved = self
            .executions_on_thing(thing, job_id)
            .await?
            .last()
            .is_none_or(|(e, _)| e.status == ExecutionStatus::Removed);
        if unserved {
            self.reconcile_on(job_id, reach, thing).await?;
        }
        Ok(())
    }

    /// Brings `thing` in step with continuous job `job_id`, whose targets are `reach`:
    /// - reached, with no execution or a REMOVED last one, and no rollout record: a new
    ///   QUEUED execution (the next number; a new membership, so `retryAttempt` 0);
    /// - reached with a rollout record: nothing, the rollout gets to it;
    /// - not reached: its pending execution is REMOVED and its rollout record dropped.
    ///
    /// Written conditionally on the records read, so a rollout batch taking the same record
    /// or a device ending the same execution meanwhile makes it decide again.
    async fn reconcile_on(
        &self,
        job_id: &str,
        reach: &Reach,
        thing: &str,
    ) -> Result<(), JobsError> {
        let reached = reach.reaches(self, thing).await?;
        let now = self.clock.now_ms();
        let waiting_key = rollout_key(job_id, thing);
        let (changed, _) = self
            .docs
            .retry_wrote(|| async {
                let executions = self.executions_on_thing(thing, job_id).await?;
                let waiting = self.store().get(ROLLOUT, &waiting_key).await?;
                let last = executions.last();
                let mut writes = Vec::new();
                let mut changed = None;
                if !reached {
                    if let Some(r) = &waiting {
                        writes.push(Write::delete(
                            ROLLOUT,
                            &waiting_key,
                            Expect::Version(r.version),
                        ));
                    }
                    if let Some((e, v)) = last.filter(|(e, _)| e.status.is_pending()) {
                        let mut e = e.clone();
                        e.remove(now);
                        writes.extend(execution_writes(&e, Expect::Version(*v)));
                        changed = Some(e);
                    }
                } else if waiting.is_none() {
                    let n = match last {
                        None => Some(1),
                        Some((e, _)) if e.status == ExecutionStatus::Removed => {
                            Some(e.execution_number + 1)
                        }
                        Some(_) => None,
                    };
                    if let Some(n) = n {
                        let e = JobExecution::queued(job_id, thing, n, now);
                        writes.extend(execution_writes(&e, Expect::Absent));
                        changed = Some(e);
                    }
                }
                Ok::<_, JobsError>((writes, changed))
            })
            .await?;
        if let Some(e) = changed {
            self.announce([execution_changed(&e)]);
        }
        Ok(())
    }
}
