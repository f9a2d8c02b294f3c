//! The AWS IoT Jobs control plane: CreateJob (inline document or `documentSource`, targets of
//! things and thing groups expanded to executions, SNAPSHOT and CONTINUOUS target selection,
//! configurations validated by `ferrite_jobs`, job templates, tags), DescribeJob, ListJobs,
//! UpdateJob, CancelJob, DeleteJob, GetJobDocument, AssociateTargetsWithJob, the execution
//! operations (DescribeJobExecution, ListJobExecutionsForJob/ForThing, CancelJobExecution,
//! DeleteJobExecution) and job templates (Create/Describe/List/DeleteJobTemplate), stored
//! through `ferrite_storage::RegistryStore` beside the registry.
//!
//! Devices reach their executions over MQTT through [`JobsDevice`] (taps on the request
//! topics, answers and `notify`/`notify-next` through the broker's one publish path) and over
//! `iot-jobs-data` through the same operations ([`Jobs::start_next`], [`Jobs::update_for_device`],
//! ...). [`Jobs::run`] keeps continuous jobs in step with thing group membership, and
//! [`Jobs::run_timers`] runs the durable timers (in-progress and step timeouts, rollout
//! batches, scheduled starts and ends) that one node of a cluster acts on; retries and abort
//! criteria follow the executions that end badly.
//!
//! Writes follow the registry's optimistic cycle ([`ferrite_registry::Documents`]): read,
//! decide with `ferrite_jobs`, write one conditional batch, decide again on a conflict; once
//! durable they announce `RegistryChange`s for jobs and executions on the shared
//! [`ChangeFeed`]. Operations that touch every execution of a job (CancelJob, DeleteJob)
//! change the job first and then sweep its executions in batches, each conditional on the
//! execution versions it read, so devices updating meanwhile are never overwritten.

mod continuous;
mod device;
mod error;
mod executions;
mod failures;
mod jobs;
mod kinds;
mod mqtt;
mod reach;
mod rollout;
mod targets;
mod templates;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timer_tests;
mod timers;

use std::sync::Arc;

use ferrite_registry::{Documents, Registry, Scope};
use ferrite_storage::RegistryStore;
use ferrite_types::{ChangeFeed, ChangeSubscription, Clock, InProcessFeed, RegistryChange};

pub use device::DeviceExecution;
pub use error::JobsError;
pub use executions::{
    CancelJobExecution, DeleteJobExecution, DescribeJobExecution, ListJobExecutionsForJob,
    ListJobExecutionsForThing,
};
pub use failures::ABORT_REASON_CODE;
pub use jobs::{
    AssociateTargetsWithJob, CancelJob, CreateJob, DeleteJob, JobId, ListJobs, UpdateJob,
};
pub use mqtt::JobsDevice;
pub use templates::{CreateJobTemplate, JobTemplateId, ListJobTemplates};

pub type Output = serde_json::Value;

/// What the server registers with the registry so that the tag operations accept job ARNs.
pub const JOB_TAGGABLE: ferrite_registry::tags::Taggable = ferrite_registry::tags::Taggable {
    arn_type: "job",
    kind: kinds::JOB,
};

/// The same for job template ARNs.
pub const TEMPLATE_TAGGABLE: ferrite_registry::tags::Taggable = ferrite_registry::tags::Taggable {
    arn_type: "jobtemplate",
    kind: kinds::JOB_TEMPLATE,
};

/// The jobs API over one store: a cheap handle, cloned into the HTTP edge.
#[derive(Clone)]
pub struct Jobs {
    docs: Documents,
    /// Resolves targets: things and the things of thing groups.
    registry: Registry,
    changes: Arc<dyn ChangeFeed>,
    clock: Clock,
    /// How long a minute of the jobs timers lasts (AWS: 60,000 ms).
    minute_ms: i64,
    /// Wakes [`Jobs::run_timers`] when a timer is set.
    timer_wake: Arc<tokio::sync::Notify>,
}

impl Jobs {
    /// The jobs API over `store`, resolving targets through `registry` (over the same store),
    /// with a change feed of its own and the system clock.
    pub fn new(store: Arc<dyn RegistryStore>, registry: Registry) -> Jobs {
        Jobs {
            docs: Documents::new(store),
            registry,
            changes: Arc::new(InProcessFeed::default()),
            clock: Clock::system(),
            minute_ms: ferrite_jobs::MINUTE_MS,
            timer_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Makes a minute of timeouts and rollout rates last `ms` (tests shorten it; AWS's
    /// minute is 60,000 ms).
    pub fn with_minute_ms(mut self, ms: i64) -> Jobs {
        self.minute_ms = ms.max(1);
        self
    }

    /// The timers of an execution of `job`.
    fn timers_of(&self, job: Option<&ferrite_jobs::Job>) -> ferrite_jobs::Timers {
        ferrite_jobs::Timers {
            in_progress_minutes: job.and_then(|j| j.config.in_progress_timeout_minutes()),
            minute_ms: self.minute_ms,
        }
    }

    /// Announces changes on `feed` (the server shares one feed between every service).
    pub fn with_change_feed(mut self, feed: Arc<dyn ChangeFeed>) -> Jobs {
        self.changes = feed;
        self
    }

    /// Reads wall time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Jobs {
        self.clock = clock;
        self
    }

    /// The changes announced from now on.
    pub fn subscribe_changes(&self) -> ChangeSubscription {
        self.changes.subscribe()
    }

    /// Call once the write that made `changes` is durable.
    fn announce(&self, changes: impl IntoIterator<Item = RegistryChange>) {
        for change in changes {
            self.changes.publish(change);
        }
    }

    fn store(&self) -> &Arc<dyn RegistryStore> {
        self.docs.store()
    }
}

/// `arn:aws:iot:{region}:{account}:job/{jobId}`.
fn job_arn(scope: &Scope, job_id: &str) -> String {
    scope.arn(&format!("job/{job_id}"))
}

/// `arn:aws:iot:{region}:{account}:jobtemplate/{id}`.
fn template_arn(scope: &Scope, id: &str) -> String {
    scope.arn(&format!("jobtemplate/{id}"))
}

/// `arn:aws:iot:{region}:{account}:thing/{name}`.
fn thing_arn(scope: &Scope, thing: &str) -> String {
    scope.arn(&format!("thing/{thing}"))
}

fn no_job(job_id: &str) -> JobsError {
    JobsError::NotFound(format!("Job {job_id} does not exist."))
}
