//! AWS IoT Jobs semantics without I/O: a job ([`Job`]) and its executions on things
//! ([`JobExecution`]), their statuses and the transitions AWS allows between them
//! ([`JobStatus`], [`ExecutionStatus`]), the execution's `versionNumber` and the
//! `expectedVersion` check, `statusDetails` limits ([`StatusDetails`]), and the job's
//! configurations (rollout, abort, timeout, retry, presigned URLs, scheduling) parsed from
//! AWS's JSON and validated with AWS's messages ([`JobConfig`]).
//!
//! Every decision returns a [`JobError`] naming what went wrong; the services map it to the
//! plane's wire form (an HTTP exception on the control plane and `iot-jobs-data`, a
//! `/rejected` code over MQTT, see [`JobError::mqtt_code`]). Times are milliseconds since the
//! epoch, passed in by the caller: nothing here reads a clock.

mod config;
mod details;
pub mod device;
mod error;
mod execution;
mod job;
mod status;
mod window;

pub use config::{
    AbortConfig, AbortCriteria, ExponentialRate, JobConfig, MaintenanceWindow, PresignedUrlConfig,
    RateIncreaseCriteria, RetryConfig, RetryCriteria, RolloutConfig, SchedulingConfig,
    TimeoutConfig, parse_schedule_time,
};
pub use details::{MAX_STATUS_DETAILS, StatusDetails, check_status_details};
pub use error::JobError;
pub use execution::{
    DeviceUpdate, ExecutionState, JobExecution, MAX_STEP_TIMEOUT_MINUTES, MINUTE_MS, Timers,
    check_step_timeout,
};
pub use job::{
    Job, JobDocument, JobProcessDetails, Target, TargetSelection, check_document, check_job_id,
    parse_target,
};
pub use status::{ExecutionStatus, JobStatus};
pub use window::{Cron, Window, window_at};
