//! Record kinds of the jobs service in the registry's store. Job ids, template ids and thing
//! names never contain `/` (their model patterns forbid it), so `/` separates key parts.

/// `{jobId}`: a job ([`ferrite_jobs::Job`]).
pub const JOB: &str = "job";
/// `{thingName}/{jobId}/{executionNumber:010}`: a job execution, keyed thing first so a
/// thing's executions (its pending list, ListJobExecutionsForThing) are one prefix, and a
/// job's executions on one thing list in execution-number order.
pub const EXECUTION: &str = "job-execution";
/// `{jobId}/{thingName}/{executionNumber:010}`: the same execution, keyed job first for
/// ListJobExecutionsForJob, the job's counts and the sweeps of CancelJob and DeleteJob. Both
/// records are written in the same batch; the thing-first one carries the condition.
pub const EXECUTION_BY_JOB: &str = "job-execution-by-job";
/// `{due:016}/{action id}`: a durable timer (see [`crate::timers`]).
pub const TIMER: &str = "job-timer";
/// `{jobId}/{thingName}`: a thing a rate-limited rollout has not reached yet (its execution
/// is created when the rollout gets to it).
pub const ROLLOUT: &str = "job-rollout";
/// `{jobTemplateId}`: a job template.
pub const JOB_TEMPLATE: &str = "job-template";

/// `{thing}/{job}/{n}`.
pub fn execution_key(thing: &str, job: &str, n: u64) -> String {
    format!("{thing}/{job}/{n:010}")
}

/// `{job}/{thing}/{n}`.
pub fn execution_by_job_key(job: &str, thing: &str, n: u64) -> String {
    format!("{job}/{thing}/{n:010}")
}
