//! A job execution: one job on one thing. Its status moves as AWS allows (devices report
//! progress and outcomes, the service queues, cancels, times out and removes), every change
//! bumps `versionNumber`, and a request carrying `expectedVersion` applies only at that
//! version.

use serde::{Deserialize, Serialize};

use crate::details::{StatusDetails, check_status_details};
use crate::{ExecutionStatus, JobError};

/// AWS: step and in-progress timers run for at most 7 days.
pub const MAX_STEP_TIMEOUT_MINUTES: i64 = 10_080;

/// A job execution as stored. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecution {
    pub job_id: String,
    pub thing_name: String,
    /// 1 for a thing's first execution of a job; a retry or a re-joined continuous job gets
    /// the next number.
    pub execution_number: u64,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub status_details: StatusDetails,
    pub queued_at_ms: i64,
    #[serde(default)]
    pub started_at_ms: Option<i64>,
    pub last_updated_at_ms: i64,
    /// 1 when queued, +1 on every change.
    pub version_number: u64,
    #[serde(default)]
    pub force_canceled: bool,
    /// How many times this execution was retried (0 for a first attempt).
    #[serde(default)]
    pub retry_attempt: u32,
    /// When the job's in-progress timer ends, once the execution started.
    #[serde(default)]
    pub in_progress_deadline_ms: Option<i64>,
    /// When the device's step timer ends (never after the in-progress timer).
    #[serde(default)]
    pub step_deadline_ms: Option<i64>,
}

/// What UpdateJobExecutionState reports: `status`, `statusDetails`, `versionNumber`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionState {
    pub status: ExecutionStatus,
    pub status_details: StatusDetails,
    pub version_number: u64,
}

/// The timers an execution runs under: the job's in-progress timeout and how long a minute
/// lasts (AWS: 60,000 ms; a test server may shorten it so timeouts and rollouts run quickly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub in_progress_minutes: Option<i64>,
    pub minute_ms: i64,
}

/// AWS's minute.
pub const MINUTE_MS: i64 = 60_000;

impl From<Option<i64>> for Timers {
    fn from(in_progress_minutes: Option<i64>) -> Timers {
        Timers {
            in_progress_minutes,
            minute_ms: MINUTE_MS,
        }
    }
}

/// A device's UpdateJobExecution (MQTT `{jobId}/update` or iot-jobs-data).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceUpdate {
    /// Required on every update; `None` is refused.
    pub status: Option<ExecutionStatus>,
    /// Replaces the details when given; absent leaves them unchanged.
    pub status_details: Option<StatusDetails>,
    pub expected_version: Option<u64>,
    /// A new step timer (minutes from now), or -1 to clear the current one.
    pub step_timeout_minutes: Option<i64>,
}

/// A step timeout as AWS takes it: 1 minute to 7 days, or -1 (clear) where `allow_clear`.
pub fn check_step_timeout(minutes: i64, allow_clear: bool) -> Result<(), JobError> {
    if (allow_clear && minutes == -1) || (1..=MAX_STEP_TIMEOUT_MINUTES).contains(&minutes) {
        return Ok(());
    }
    Err(JobError::invalid(format!(
        "stepTimeoutInMinutes must be between 1 and {MAX_STEP_TIMEOUT_MINUTES}{}; {minutes} was given.",
        if allow_clear {
            ", or -1 to clear the step timer"
        } else {
            ""
        }
    )))
}

impl JobExecution {
    /// A new execution, queued at `now_ms`.
    pub fn queued(job_id: &str, thing_name: &str, execution_number: u64, now_ms: i64) -> Self {
        JobExecution {
            job_id: job_id.to_owned(),
            thing_name: thing_name.to_owned(),
            execution_number,
            status: ExecutionStatus::Queued,
            status_details: StatusDetails::new(),
            queued_at_ms: now_ms,
            started_at_ms: None,
            last_updated_at_ms: now_ms,
            version_number: 1,
            force_canceled: false,
            retry_attempt: 0,
            in_progress_deadline_ms: None,
            step_deadline_ms: None,
        }
    }

    pub fn state(&self) -> ExecutionState {
        ExecutionState {
            status: self.status,
            status_details: self.status_details.clone(),
            version_number: self.version_number,
        }
    }

    /// When the execution times out, if a timer runs (only while IN_PROGRESS).
    pub fn timeout_at_ms(&self) -> Option<i64> {
        if self.status != ExecutionStatus::InProgress {
            return None;
        }
        match (self.in_progress_deadline_ms, self.step_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `approximateSecondsBeforeTimedOut` at `now_ms`.
    pub fn seconds_before_timeout(&self, now_ms: i64) -> Option<i64> {
        self.timeout_at_ms()
            .map(|at| (at - now_ms).max(0).div_euclid(1000))
    }

    /// The order of a thing's pending list: every IN_PROGRESS execution first, then the
    /// QUEUED ones, each oldest first (the job id breaks ties so the order is total).
    pub fn pending_rank(&self) -> (bool, i64, &str, u64) {
        (
            self.status != ExecutionStatus::InProgress,
            self.queued_at_ms,
            &self.job_id,
            self.execution_number,
        )
    }

    fn check_version(&self, expected: Option<u64>) -> Result<(), JobError> {
        match expected {
            Some(v) if v != self.version_number => Err(JobError::VersionMismatch {
                message: format!(
                    "The expected version {v} does not match the job execution's current version {}.",
                    self.version_number
                ),
                state: self.state(),
            }),
            _ => Ok(()),
        }
    }

    fn transition_refused(&self, message: String) -> JobError {
        JobError::InvalidStateTransition {
            message,
            state: Some(self.state()),
        }
    }

    fn touch(&mut self, now_ms: i64) {
        self.version_number += 1;
        self.last_updated_at_ms = now_ms;
    }

    /// Moves a QUEUED execution to IN_PROGRESS: its start time, the job's in-progress timer
    /// (`in_progress_timeout_minutes`) and the device's step timer begin now.
    fn begin(&mut self, timers: Timers, now_ms: i64) {
        self.status = ExecutionStatus::InProgress;
        self.started_at_ms = Some(now_ms);
        self.in_progress_deadline_ms = timers
            .in_progress_minutes
            .map(|m| now_ms + m * timers.minute_ms);
    }

    /// A step timer of `minutes` from now, cut to the in-progress timer; -1 clears it.
    fn set_step_timer(&mut self, minutes: i64, minute_ms: i64, now_ms: i64) {
        self.step_deadline_ms = (minutes != -1).then(|| {
            let at = now_ms + minutes * minute_ms;
            self.in_progress_deadline_ms
                .map_or(at, |limit| at.min(limit))
        });
    }

    /// UpdateJobExecution from the device. The request is checked (status present, details,
    /// step timeout), then `expectedVersion`, then the transition: a device may set
    /// IN_PROGRESS, SUCCEEDED, FAILED or REJECTED on a QUEUED or IN_PROGRESS execution
    /// (IN_PROGRESS → IN_PROGRESS refreshes details and the step timer).
    pub fn apply_device_update(
        &mut self,
        update: &DeviceUpdate,
        timers: impl Into<Timers>,
        now_ms: i64,
    ) -> Result<(), JobError> {
        let timers = timers.into();
        let Some(to) = update.status else {
            return Err(JobError::invalid("status is required."));
        };
        if let Some(details) = &update.status_details {
            check_status_details(details)?;
        }
        if let Some(m) = update.step_timeout_minutes {
            check_step_timeout(m, true)?;
        }
        self.check_version(update.expected_version)?;
        if !to.device_may_set() {
            return Err(self.transition_refused(format!(
                "A device cannot set a job execution's status to {to}; it may set IN_PROGRESS, \
                 SUCCEEDED, FAILED or REJECTED."
            )));
        }
        if self.status.is_terminal() {
            return Err(self.transition_refused(format!(
                "Job execution {} of job {} on thing {} is in terminal status {} and cannot \
                 be updated to {to}.",
                self.execution_number, self.job_id, self.thing_name, self.status
            )));
        }
        if self.status == ExecutionStatus::Queued {
            self.begin(timers, now_ms);
        }
        self.status = to;
        if let Some(details) = &update.status_details {
            self.status_details = details.clone();
        }
        if to.is_terminal() {
            self.in_progress_deadline_ms = None;
            self.step_deadline_ms = None;
        } else if let Some(m) = update.step_timeout_minutes {
            self.set_step_timer(m, timers.minute_ms, now_ms);
        }
        self.touch(now_ms);
        Ok(())
    }

    /// StartNextPendingJobExecution on this execution, the head of the thing's pending list:
    /// a QUEUED execution starts (details and step timer applied) and `true` is returned; an
    /// IN_PROGRESS one is left unchanged (`false`), as AWS returns it as it is.
    pub fn start(
        &mut self,
        status_details: Option<&StatusDetails>,
        step_timeout_minutes: Option<i64>,
        timers: impl Into<Timers>,
        now_ms: i64,
    ) -> Result<bool, JobError> {
        let timers = timers.into();
        if let Some(details) = status_details {
            check_status_details(details)?;
        }
        if let Some(m) = step_timeout_minutes {
            check_step_timeout(m, false)?;
        }
        match self.status {
            ExecutionStatus::InProgress => Ok(false),
            ExecutionStatus::Queued => {
                self.begin(timers, now_ms);
                if let Some(details) = status_details {
                    self.status_details = details.clone();
                }
                if let Some(m) = step_timeout_minutes {
                    self.set_step_timer(m, timers.minute_ms, now_ms);
                }
                self.touch(now_ms);
                Ok(true)
            }
            other => Err(self.transition_refused(format!(
                "Job execution {} of job {} on thing {} is in terminal status {other}.",
                self.execution_number, self.job_id, self.thing_name
            ))),
        }
    }

    /// CancelJobExecution: a QUEUED execution is canceled; an IN_PROGRESS one only with
    /// `force`; a terminal one never.
    pub fn cancel(
        &mut self,
        force: bool,
        expected_version: Option<u64>,
        status_details: Option<&StatusDetails>,
        now_ms: i64,
    ) -> Result<(), JobError> {
        if let Some(details) = status_details {
            check_status_details(details)?;
        }
        self.check_version(expected_version)?;
        match self.status {
            ExecutionStatus::Queued => {}
            ExecutionStatus::InProgress if force => {}
            ExecutionStatus::InProgress => {
                return Err(self.transition_refused(format!(
                    "Job execution {} of job {} on thing {} is IN_PROGRESS; set force to cancel it.",
                    self.execution_number, self.job_id, self.thing_name
                )));
            }
            other => {
                return Err(self.transition_refused(format!(
                    "Job execution {} of job {} on thing {} is in terminal status {other} and \
                     cannot be canceled.",
                    self.execution_number, self.job_id, self.thing_name
                )));
            }
        }
        self.status = ExecutionStatus::Canceled;
        self.force_canceled = force;
        if let Some(details) = status_details {
            self.status_details = details.clone();
        }
        self.in_progress_deadline_ms = None;
        self.step_deadline_ms = None;
        self.touch(now_ms);
        Ok(())
    }

    /// What CancelJob does to each execution: QUEUED ones are canceled, IN_PROGRESS ones only
    /// with `force`. Returns whether this execution changed.
    pub fn cancel_for_job(&mut self, force: bool, now_ms: i64) -> bool {
        let cancels = match self.status {
            ExecutionStatus::Queued => true,
            ExecutionStatus::InProgress => force,
            _ => false,
        };
        if cancels {
            self.cancel(force, None, None, now_ms)
                .expect("a pending execution cancels");
        }
        cancels
    }

    /// The service's end of a pending execution whose thing left a continuous job's target
    /// groups. Returns whether it changed.
    pub fn remove(&mut self, now_ms: i64) -> bool {
        self.end_by_service(ExecutionStatus::Removed, now_ms, |s| s.is_pending())
    }

    /// The end of an IN_PROGRESS execution whose in-progress or step timer ran out. Returns
    /// whether it changed (only IN_PROGRESS executions time out).
    pub fn time_out(&mut self, now_ms: i64) -> bool {
        self.end_by_service(ExecutionStatus::TimedOut, now_ms, |s| {
            s == ExecutionStatus::InProgress
        })
    }

    fn end_by_service(
        &mut self,
        to: ExecutionStatus,
        now_ms: i64,
        from: impl Fn(ExecutionStatus) -> bool,
    ) -> bool {
        if !from(self.status) {
            return false;
        }
        self.status = to;
        self.in_progress_deadline_ms = None;
        self.step_deadline_ms = None;
        self.touch(now_ms);
        true
    }

    /// The retry of this ended execution, if `retry` allows one more for its status: a new
    /// QUEUED execution with the next number and `retryAttempt` one higher. A FAILED or
    /// TIMED_OUT execution may be retried while its attempts are below the criterion's
    /// `numberOfRetries` for that failure (ALL counting for both). [VERIFY] a retry is a new
    /// execution number, as the model's `executionNumber` and `retryAttempt` suggest.
    pub fn retry(&self, retry: &crate::RetryConfig, now_ms: i64) -> Option<JobExecution> {
        if !matches!(
            self.status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut
        ) || self.retry_attempt >= retry.retries_for(self.status)
        {
            return None;
        }
        let mut next = JobExecution::queued(
            &self.job_id,
            &self.thing_name,
            self.execution_number + 1,
            now_ms,
        );
        next.retry_attempt = self.retry_attempt + 1;
        Some(next)
    }

    /// DeleteJobExecution: a terminal execution may go; a pending one only with `force`.
    pub fn check_delete(&self, force: bool) -> Result<(), JobError> {
        if self.status.is_terminal() || force {
            return Ok(());
        }
        Err(JobError::InvalidStateTransition {
            message: format!(
                "Job execution {} of job {} on thing {} is {}; set force to delete it.",
                self.execution_number, self.job_id, self.thing_name, self.status
            ),
            state: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutionStatus::*;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn exec() -> JobExecution {
        JobExecution::queued("job1", "lamp", 1, T0)
    }

    fn in_state(status: ExecutionStatus) -> JobExecution {
        let mut e = exec();
        e.status = status;
        e
    }

    fn update(status: ExecutionStatus) -> DeviceUpdate {
        DeviceUpdate {
            status: Some(status),
            ..DeviceUpdate::default()
        }
    }

    fn details(k: &str, v: &str) -> StatusDetails {
        [(k.to_owned(), v.to_owned())].into()
    }

    #[test]
    fn a_new_execution_is_queued_at_version_one() {
        let e = exec();
        assert_eq!(e.status, Queued);
        assert_eq!(e.version_number, 1);
        assert_eq!((e.queued_at_ms, e.last_updated_at_ms), (T0, T0));
        assert_eq!(e.started_at_ms, None);
        assert_eq!(e.timeout_at_ms(), None);
    }

    #[test]
    fn device_transitions_follow_the_table() {
        // (from, to, allowed)
        for from in ExecutionStatus::ALL {
            for to in ExecutionStatus::ALL {
                let mut e = in_state(from);
                let result = e.apply_device_update(&update(to), None, T0 + 5);
                let allowed = from.is_pending() && to.device_may_set();
                assert_eq!(result.is_ok(), allowed, "{from} -> {to}: {result:?}");
                if allowed {
                    assert_eq!(e.status, to);
                    assert_eq!(e.version_number, 2);
                    assert_eq!(e.last_updated_at_ms, T0 + 5);
                } else {
                    let err = result.unwrap_err();
                    assert_eq!(err.mqtt_code(), "InvalidStateTransition", "{from} -> {to}");
                    assert_eq!(err.execution_state().unwrap().status, from);
                    assert_eq!(e, in_state(from), "a refused update changes nothing");
                }
            }
        }
    }

    #[test]
    fn starting_records_the_start_time_once() {
        let mut e = exec();
        e.apply_device_update(&update(InProgress), None, T0 + 10)
            .unwrap();
        assert_eq!(e.started_at_ms, Some(T0 + 10));
        e.apply_device_update(&update(InProgress), None, T0 + 20)
            .unwrap();
        assert_eq!(e.started_at_ms, Some(T0 + 10));
        assert_eq!(e.version_number, 3);
        e.apply_device_update(&update(Succeeded), None, T0 + 30)
            .unwrap();
        assert_eq!(e.started_at_ms, Some(T0 + 10));
        assert_eq!(e.last_updated_at_ms, T0 + 30);
        assert_eq!(e.version_number, 4);
    }

    #[test]
    fn a_queued_execution_may_finish_directly() {
        let mut e = exec();
        e.apply_device_update(&update(Rejected), None, T0 + 1)
            .unwrap();
        assert_eq!(e.status, Rejected);
        assert_eq!(e.started_at_ms, Some(T0 + 1));
    }

    #[test]
    fn status_is_required() {
        let err = exec()
            .apply_device_update(&DeviceUpdate::default(), None, T0)
            .unwrap_err();
        assert_eq!(err, JobError::InvalidRequest("status is required.".into()));
    }

    #[test]
    fn expected_version_must_match_and_reports_the_current_state() {
        let mut e = exec();
        let mut u = update(InProgress);
        u.expected_version = Some(2);
        let err = e.apply_device_update(&u, None, T0).unwrap_err();
        assert_eq!(err.mqtt_code(), "VersionMismatch");
        assert_eq!(
            err.execution_state(),
            Some(&ExecutionState {
                status: Queued,
                status_details: StatusDetails::new(),
                version_number: 1
            })
        );
        u.expected_version = Some(1);
        e.apply_device_update(&u, None, T0).unwrap();
        assert_eq!(e.version_number, 2);
    }

    #[test]
    fn the_version_is_checked_before_the_transition() {
        let mut e = in_state(Succeeded);
        let mut u = update(InProgress);
        u.expected_version = Some(9);
        assert_eq!(
            e.apply_device_update(&u, None, T0).unwrap_err().mqtt_code(),
            "VersionMismatch"
        );
    }

    #[test]
    fn details_replace_when_given_and_stay_when_absent() {
        let mut e = exec();
        let mut u = update(InProgress);
        u.status_details = Some(details("step", "download"));
        e.apply_device_update(&u, None, T0).unwrap();
        assert_eq!(e.status_details, details("step", "download"));
        e.apply_device_update(&update(InProgress), None, T0)
            .unwrap();
        assert_eq!(e.status_details, details("step", "download"));
        u.status_details = Some(details("progress", "50"));
        e.apply_device_update(&u, None, T0).unwrap();
        assert_eq!(e.status_details, details("progress", "50"));
    }

    #[test]
    fn bad_details_are_refused_before_anything_changes() {
        let mut e = exec();
        let mut u = update(InProgress);
        u.status_details = Some((0..11).map(|i| (format!("k{i}"), "v".into())).collect());
        assert_eq!(
            e.apply_device_update(&u, None, T0).unwrap_err().mqtt_code(),
            "InvalidRequest"
        );
        assert_eq!(e, exec());
    }

    #[test]
    fn the_in_progress_timer_starts_with_the_execution() {
        let mut e = exec();
        e.apply_device_update(&update(InProgress), Some(10), T0)
            .unwrap();
        assert_eq!(e.timeout_at_ms(), Some(T0 + 10 * MIN));
        assert_eq!(e.seconds_before_timeout(T0 + 1500), Some(598));
        assert_eq!(e.seconds_before_timeout(T0 + 11 * MIN), Some(0));
        e.apply_device_update(&update(Succeeded), Some(10), T0 + 1)
            .unwrap();
        assert_eq!(e.timeout_at_ms(), None);
    }

    #[test]
    fn a_step_timer_replaces_the_last_and_never_passes_the_in_progress_timer() {
        let mut e = exec();
        let mut u = update(InProgress);
        u.step_timeout_minutes = Some(5);
        e.apply_device_update(&u, Some(10), T0).unwrap();
        assert_eq!(e.timeout_at_ms(), Some(T0 + 5 * MIN));
        u.step_timeout_minutes = Some(3);
        e.apply_device_update(&u, Some(10), T0 + MIN).unwrap();
        assert_eq!(e.timeout_at_ms(), Some(T0 + 4 * MIN));
        u.step_timeout_minutes = Some(60);
        e.apply_device_update(&u, Some(10), T0 + MIN).unwrap();
        assert_eq!(e.timeout_at_ms(), Some(T0 + 10 * MIN));
        u.step_timeout_minutes = Some(-1);
        e.apply_device_update(&u, Some(10), T0 + MIN).unwrap();
        assert_eq!(e.step_deadline_ms, None);
        assert_eq!(e.timeout_at_ms(), Some(T0 + 10 * MIN));
        // An update without a step timeout leaves the timer as it is.
        u.step_timeout_minutes = Some(2);
        e.apply_device_update(&u, None, T0 + MIN).unwrap();
        e.apply_device_update(&update(InProgress), None, T0 + 2 * MIN)
            .unwrap();
        assert_eq!(e.timeout_at_ms(), Some(T0 + 3 * MIN));
    }

    #[test]
    fn step_timeouts_are_bounded() {
        assert!(check_step_timeout(1, false).is_ok());
        assert!(check_step_timeout(10_080, false).is_ok());
        assert!(check_step_timeout(-1, true).is_ok());
        for bad in [0, 10_081, -2] {
            assert!(check_step_timeout(bad, true).is_err(), "{bad}");
        }
        assert!(check_step_timeout(-1, false).is_err());
        let mut u = update(InProgress);
        u.step_timeout_minutes = Some(0);
        assert_eq!(
            exec()
                .apply_device_update(&u, None, T0)
                .unwrap_err()
                .mqtt_code(),
            "InvalidRequest"
        );
    }

    #[test]
    fn start_next_starts_a_queued_head_and_leaves_a_running_one() {
        let mut e = exec();
        assert!(
            e.start(Some(&details("a", "b")), Some(5), Some(10), T0 + 7)
                .unwrap()
        );
        assert_eq!(e.status, InProgress);
        assert_eq!(e.started_at_ms, Some(T0 + 7));
        assert_eq!(e.status_details, details("a", "b"));
        assert_eq!(e.timeout_at_ms(), Some(T0 + 7 + 5 * MIN));
        assert_eq!(e.version_number, 2);
        let before = e.clone();
        assert!(
            !e.start(Some(&details("c", "d")), None, None, T0 + 9)
                .unwrap()
        );
        assert_eq!(e, before);
        assert!(in_state(Failed).start(None, None, None, T0).is_err());
        assert!(exec().start(None, Some(-1), None, T0).is_err());
    }

    #[test]
    fn cancel_takes_queued_and_with_force_in_progress() {
        let mut e = exec();
        e.cancel(false, None, Some(&details("why", "obsolete")), T0 + 1)
            .unwrap();
        assert_eq!(e.status, Canceled);
        assert!(!e.force_canceled);
        assert_eq!(e.status_details, details("why", "obsolete"));
        assert_eq!(e.version_number, 2);

        let mut running = in_state(InProgress);
        let err = running.cancel(false, None, None, T0).unwrap_err();
        assert_eq!(err.mqtt_code(), "InvalidStateTransition");
        running.cancel(true, None, None, T0).unwrap();
        assert_eq!(running.status, Canceled);
        assert!(running.force_canceled);

        for terminal in ExecutionStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for force in [false, true] {
                let err = in_state(terminal)
                    .cancel(force, None, None, T0)
                    .unwrap_err();
                assert_eq!(err.mqtt_code(), "InvalidStateTransition", "{terminal}");
            }
        }
    }

    #[test]
    fn cancel_checks_the_expected_version() {
        let err = exec().cancel(false, Some(3), None, T0).unwrap_err();
        assert!(matches!(err, JobError::VersionMismatch { .. }));
        assert!(exec().cancel(false, Some(1), None, T0).is_ok());
    }

    #[test]
    fn job_cancellation_spares_running_executions_without_force() {
        let mut q = exec();
        assert!(q.cancel_for_job(false, T0));
        let mut r = in_state(InProgress);
        assert!(!r.cancel_for_job(false, T0));
        assert_eq!(r.status, InProgress);
        assert!(r.cancel_for_job(true, T0));
        assert_eq!(r.status, Canceled);
        let mut done = in_state(Succeeded);
        assert!(!done.cancel_for_job(true, T0));
        assert_eq!(done.status, Succeeded);
    }

    #[test]
    fn the_service_removes_pending_and_times_out_running_executions() {
        let mut q = exec();
        assert!(q.remove(T0));
        assert_eq!(q.status, Removed);
        assert!(!q.remove(T0));
        let mut r = in_state(InProgress);
        assert!(r.remove(T0));
        assert_eq!(r.status, Removed);

        let mut queued = exec();
        assert!(!queued.time_out(T0));
        let mut running = exec();
        running
            .apply_device_update(&update(InProgress), Some(1), T0)
            .unwrap();
        assert!(running.time_out(T0 + MIN));
        assert_eq!(running.status, TimedOut);
        assert_eq!(running.timeout_at_ms(), None);
        assert_eq!(running.version_number, 3);
    }

    #[test]
    fn deleting_a_pending_execution_needs_force() {
        for s in ExecutionStatus::ALL {
            let e = in_state(s);
            assert!(e.check_delete(true).is_ok());
            assert_eq!(e.check_delete(false).is_ok(), s.is_terminal(), "{s}");
        }
    }

    #[test]
    fn pending_lists_put_running_first_then_oldest() {
        let mut a = JobExecution::queued("a", "t", 1, T0 + 2);
        let b = JobExecution::queued("b", "t", 1, T0 + 1);
        let mut c = JobExecution::queued("c", "t", 1, T0 + 3);
        c.status = InProgress;
        a.status = Queued;
        let mut all = [a.clone(), b.clone(), c.clone()];
        all.sort_by(|x, y| x.pending_rank().cmp(&y.pending_rank()));
        let ids: Vec<_> = all.iter().map(|e| e.job_id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
    }

    #[test]
    fn executions_store_as_json_and_read_back() {
        let mut e = exec();
        e.apply_device_update(&update(InProgress), Some(10), T0)
            .unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"status\":\"IN_PROGRESS\""), "{json}");
        assert_eq!(serde_json::from_str::<JobExecution>(&json).unwrap(), e);
    }

    #[test]
    fn a_shorter_minute_scales_every_timer() {
        let timers = Timers {
            in_progress_minutes: Some(10),
            minute_ms: 100,
        };
        let mut e = exec();
        e.start(None, Some(2), timers, T0).unwrap();
        assert_eq!(e.step_deadline_ms, Some(T0 + 200));
        assert_eq!(e.in_progress_deadline_ms, Some(T0 + 1000));
    }

    #[test]
    fn failures_are_retried_while_attempts_remain() {
        let retry: crate::RetryConfig = serde_json::from_value(serde_json::json!({
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}))
        .unwrap();
        let mut e = in_state(Failed);
        let r1 = e.retry(&retry, T0 + 5).unwrap();
        assert_eq!(
            (
                r1.status,
                r1.execution_number,
                r1.retry_attempt,
                r1.queued_at_ms
            ),
            (Queued, 2, 1, T0 + 5)
        );
        e.retry_attempt = 2;
        assert!(e.retry(&retry, T0).is_none());
        assert!(in_state(TimedOut).retry(&retry, T0).is_none());
        assert!(in_state(Rejected).retry(&retry, T0).is_none());
        assert!(in_state(Succeeded).retry(&retry, T0).is_none());
    }
}
