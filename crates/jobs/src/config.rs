//! A job's (and job template's) configurations as AWS's JSON names them:
//! `jobExecutionsRolloutConfig`, `abortConfig`, `timeoutConfig`, `jobExecutionsRetryConfig`,
//! `presignedUrlConfig` and `schedulingConfig`. They deserialise from the validated request
//! (the model already checked types, enums and the ranges it declares) and [`JobConfig::check`]
//! adds the rules the model cannot say: one rollout kind at a time, exactly one rate-increase
//! criterion, AWS's upper limits, no failure type twice, retries per device at most 10,
//! schedule times in AWS's format and order. They serialise back unchanged for DescribeJob.

use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::JobError;

/// AWS: at most 1,000 executions notified per minute per job.
const MAX_PER_MINUTE: u32 = 1000;
/// AWS: an in-progress timeout of at most 7 days.
const MAX_IN_PROGRESS_MINUTES: i64 = 10_080;
/// AWS: at most 10 retries per device across all criteria.
const MAX_RETRIES: u32 = 10;
/// AWS: a scheduled job's end at least 30 minutes and at most 2 years after its start.
const MIN_SCHEDULE_MS: i64 = 30 * 60_000;
const MAX_SCHEDULE_MS: i64 = 2 * 365 * 24 * 3_600_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialRate {
    pub base_rate_per_minute: u32,
    pub increment_factor: f64,
    pub rate_increase_criteria: RateIncreaseCriteria,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateIncreaseCriteria {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortConfig {
    pub criteria_list: Vec<AbortCriteria>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortCriteria {
    /// FAILED, REJECTED, TIMED_OUT or ALL.
    pub failure_type: String,
    /// CANCEL.
    pub action: String,
    pub threshold_percentage: f64,
    pub min_number_of_executed_things: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_timeout_in_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryConfig {
    pub criteria_list: Vec<RetryCriteria>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryCriteria {
    /// FAILED, TIMED_OUT or ALL.
    pub failure_type: String,
    pub number_of_retries: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrlConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_sec: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// STOP_ROLLOUT, CANCEL or FORCE_CANCEL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_behavior: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<MaintenanceWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// A cron expression, `cron(...)`.
    pub start_time: String,
    pub duration_in_minutes: u32,
}

/// Every configuration a job can carry; a template carries all but `schedulingConfig` (it has
/// `maintenanceWindows` of its own).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presigned_url_config: Option<PresignedUrlConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_executions_rollout_config: Option<RolloutConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AbortConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_config: Option<TimeoutConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_executions_retry_config: Option<RetryConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_config: Option<SchedulingConfig>,
}

fn invalid(message: String) -> JobError {
    JobError::InvalidRequest(message)
}

/// `yyyy-MM-dd'T'HH:mm` (UTC), the format of `schedulingConfig` times, as milliseconds.
pub fn parse_schedule_time(text: &str) -> Result<i64, JobError> {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let t = PrimitiveDateTime::parse(text, format).map_err(|_| {
        invalid(format!(
            "The time {text} is not in the format yyyy-MM-dd'T'HH:mm (UTC)."
        ))
    })?;
    Ok((t.assume_utc().unix_timestamp_nanos() / 1_000_000) as i64)
}

impl JobConfig {
    /// The rules the model does not state. `now_ms` dates scheduled starts.
    pub fn check(&self, now_ms: i64) -> Result<(), JobError> {
        if let Some(r) = &self.job_executions_rollout_config {
            r.check()?;
        }
        if let Some(a) = &self.abort_config {
            a.check()?;
        }
        if let Some(t) = &self.timeout_config {
            t.check()?;
        }
        if let Some(r) = &self.job_executions_retry_config {
            r.check()?;
        }
        if let Some(p) = &self.presigned_url_config {
            p.check()?;
        }
        if let Some(s) = &self.scheduling_config {
            s.check(now_ms)?;
        }
        Ok(())
    }

    /// This configuration with what it leaves out taken from `template` (CreateJob with a
    /// `jobTemplateArn`: the request's own values win).
    pub fn or(self, template: &JobConfig) -> JobConfig {
        JobConfig {
            presigned_url_config: self
                .presigned_url_config
                .or_else(|| template.presigned_url_config.clone()),
            job_executions_rollout_config: self
                .job_executions_rollout_config
                .or_else(|| template.job_executions_rollout_config.clone()),
            abort_config: self.abort_config.or_else(|| template.abort_config.clone()),
            timeout_config: self
                .timeout_config
                .or_else(|| template.timeout_config.clone()),
            job_executions_retry_config: self
                .job_executions_retry_config
                .or_else(|| template.job_executions_retry_config.clone()),
            scheduling_config: self
                .scheduling_config
                .or_else(|| template.scheduling_config.clone()),
        }
    }

    /// The in-progress timer, in minutes, if the job has one.
    pub fn in_progress_timeout_minutes(&self) -> Option<i64> {
        self.timeout_config
            .as_ref()
            .and_then(|t| t.in_progress_timeout_in_minutes)
    }

    /// The scheduled end and what happens then (STOP_ROLLOUT when not given), if the job has
    /// an end.
    pub fn scheduled_end(&self) -> Option<(i64, &str)> {
        let s = self.scheduling_config.as_ref()?;
        let end = parse_schedule_time(s.end_time.as_deref()?).ok()?;
        Some((end, s.end_behavior.as_deref().unwrap_or("STOP_ROLLOUT")))
    }

    /// The scheduled start, if the job has one.
    pub fn scheduled_start_ms(&self) -> Option<i64> {
        self.scheduling_config
            .as_ref()
            .and_then(|s| s.start_time.as_deref())
            .and_then(|t| parse_schedule_time(t).ok())
    }
}

impl RolloutConfig {
    pub fn check(&self) -> Result<(), JobError> {
        match (self.maximum_per_minute, &self.exponential_rate) {
            (Some(_), Some(_)) => Err(invalid(
                "jobExecutionsRolloutConfig can have maximumPerMinute or exponentialRate, not both."
                    .into(),
            )),
            (Some(n), None) if !(1..=MAX_PER_MINUTE).contains(&n) => Err(invalid(format!(
                "maximumPerMinute must be between 1 and {MAX_PER_MINUTE}; {n} was given."
            ))),
            (None, Some(rate)) => rate.check(),
            _ => Ok(()),
        }
    }
}

impl RolloutConfig {
    /// How many executions may be rolled out in the minute starting now, after `notified`
    /// things were notified and `succeeded` succeeded; `None` when the rollout is unlimited.
    /// An exponential rate multiplies the base by `incrementFactor` once for every full
    /// `rateIncreaseCriteria` reached (AWS's example: base 50, factor 2, 1000 notified →
    /// 50/min until 1000, then 100/min until 2000, ...), never above AWS's 1000 per minute.
    /// [VERIFY] the rate is rounded down, and "notified" counts every execution created.
    pub fn per_minute(&self, notified: u64, succeeded: u64) -> Option<u64> {
        if let Some(n) = self.maximum_per_minute {
            return Some(u64::from(n));
        }
        let rate = self.exponential_rate.as_ref()?;
        let c = &rate.rate_increase_criteria;
        let (count, step) = match (c.number_of_notified_things, c.number_of_succeeded_things) {
            (Some(n), _) => (notified, n),
            (None, Some(n)) => (succeeded, n),
            (None, None) => (0, 1),
        };
        let increases = (count / u64::from(step.max(1))).min(64) as i32;
        let per = f64::from(rate.base_rate_per_minute) * rate.increment_factor.powi(increases);
        Some((per.floor() as u64).clamp(1, u64::from(MAX_PER_MINUTE)))
    }
}

impl AbortConfig {
    /// The first criterion `details` meet, if any: at least `minNumberOfExecutedThings`
    /// executions ended by the device or a timer (SUCCEEDED, FAILED, REJECTED, TIMED_OUT),
    /// and the failures of the criterion's type are at least `thresholdPercentage` of them.
    /// [VERIFY] AWS documents the minimum as things "notified"; counting executions that
    /// ended keeps one early failure from aborting a large job.
    pub fn tripped(&self, details: &crate::JobProcessDetails) -> Option<&AbortCriteria> {
        use crate::ExecutionStatus::*;
        let executed = [Succeeded, Failed, Rejected, TimedOut]
            .into_iter()
            .map(|s| details.count(s))
            .sum::<u64>();
        self.criteria_list.iter().find(|c| {
            let failures: u64 = match c.failure_type.as_str() {
                "FAILED" => details.count(Failed),
                "REJECTED" => details.count(Rejected),
                "TIMED_OUT" => details.count(TimedOut),
                _ => details.count(Failed) + details.count(Rejected) + details.count(TimedOut),
            };
            executed > 0
                && executed >= u64::from(c.min_number_of_executed_things)
                && failures as f64 * 100.0 / executed as f64 >= c.threshold_percentage
        })
    }
}

impl ExponentialRate {
    fn check(&self) -> Result<(), JobError> {
        let base = self.base_rate_per_minute;
        if !(1..=MAX_PER_MINUTE).contains(&base) {
            return Err(invalid(format!(
                "baseRatePerMinute must be between 1 and {MAX_PER_MINUTE}; {base} was given."
            )));
        }
        let factor = self.increment_factor;
        if !(1.1..=5.0).contains(&factor) {
            return Err(invalid(format!(
                "incrementFactor must be between 1.1 and 5.0; {factor} was given."
            )));
        }
        // AWS allows at most one decimal place.
        if ((factor * 10.0).round() - factor * 10.0).abs() > 1e-9 {
            return Err(invalid(format!(
                "incrementFactor can have at most one decimal place; {factor} was given."
            )));
        }
        let c = &self.rate_increase_criteria;
        match (c.number_of_notified_things, c.number_of_succeeded_things) {
            (Some(_), Some(_)) | (None, None) => Err(invalid(
                "rateIncreaseCriteria must have exactly one of numberOfNotifiedThings and \
                 numberOfSucceededThings."
                    .into(),
            )),
            (Some(0), _) | (_, Some(0)) => Err(invalid(
                "rateIncreaseCriteria's number of things must be at least 1.".into(),
            )),
            _ => Ok(()),
        }
    }
}

impl AbortConfig {
    pub fn check(&self) -> Result<(), JobError> {
        if self.criteria_list.is_empty() {
            return Err(invalid(
                "abortConfig.criteriaList must not be empty.".into(),
            ));
        }
        let mut seen = Vec::new();
        for c in &self.criteria_list {
            if !["FAILED", "REJECTED", "TIMED_OUT", "ALL"].contains(&c.failure_type.as_str()) {
                return Err(invalid(format!(
                    "Unknown abort failureType {}; expected FAILED, REJECTED, TIMED_OUT or ALL.",
                    c.failure_type
                )));
            }
            if c.action != "CANCEL" {
                return Err(invalid(format!(
                    "Unknown abort action {}; expected CANCEL.",
                    c.action
                )));
            }
            if seen.contains(&c.failure_type.as_str()) {
                return Err(invalid(format!(
                    "abortConfig.criteriaList has failureType {} more than once.",
                    c.failure_type
                )));
            }
            seen.push(&c.failure_type);
            let p = c.threshold_percentage;
            if !(p > 0.0 && p <= 100.0) {
                return Err(invalid(format!(
                    "thresholdPercentage must be greater than 0 and at most 100; {p} was given."
                )));
            }
            if c.min_number_of_executed_things < 1 {
                return Err(invalid(
                    "minNumberOfExecutedThings must be at least 1.".into(),
                ));
            }
        }
        Ok(())
    }
}

impl TimeoutConfig {
    pub fn check(&self) -> Result<(), JobError> {
        match self.in_progress_timeout_in_minutes {
            Some(m) if !(1..=MAX_IN_PROGRESS_MINUTES).contains(&m) => Err(invalid(format!(
                "inProgressTimeoutInMinutes must be between 1 and {MAX_IN_PROGRESS_MINUTES}; \
                 {m} was given."
            ))),
            _ => Ok(()),
        }
    }
}

impl RetryConfig {
    pub fn check(&self) -> Result<(), JobError> {
        if self.criteria_list.is_empty() || self.criteria_list.len() > 2 {
            return Err(invalid(
                "jobExecutionsRetryConfig.criteriaList must have 1 or 2 criteria.".into(),
            ));
        }
        let types: Vec<&str> = self
            .criteria_list
            .iter()
            .map(|c| c.failure_type.as_str())
            .collect();
        if let Some(bad) = types
            .iter()
            .find(|t| !["FAILED", "TIMED_OUT", "ALL"].contains(t))
        {
            return Err(invalid(format!(
                "Unknown retry failureType {bad}; expected FAILED, TIMED_OUT or ALL."
            )));
        }
        if types.len() == 2 && (types[0] == types[1] || types.contains(&"ALL")) {
            return Err(invalid(
                "jobExecutionsRetryConfig.criteriaList cannot repeat a failureType or combine \
                 ALL with another."
                    .into(),
            ));
        }
        let total: u32 = self.criteria_list.iter().map(|c| c.number_of_retries).sum();
        if total > MAX_RETRIES {
            return Err(invalid(format!(
                "A job execution can be retried at most {MAX_RETRIES} times; the criteria \
                 allow {total}."
            )));
        }
        Ok(())
    }

    /// How many retries a failure of `status` (FAILED or TIMED_OUT) may have.
    pub fn retries_for(&self, status: crate::ExecutionStatus) -> u32 {
        self.criteria_list
            .iter()
            .filter(|c| c.failure_type == "ALL" || c.failure_type == status.as_str())
            .map(|c| c.number_of_retries)
            .max()
            .unwrap_or(0)
    }
}

impl PresignedUrlConfig {
    pub fn check(&self) -> Result<(), JobError> {
        match self.expires_in_sec {
            Some(s) if !(60..=3600).contains(&s) => Err(invalid(format!(
                "expiresInSec must be between 60 and 3600; {s} was given."
            ))),
            _ => Ok(()),
        }
    }
}

impl SchedulingConfig {
    pub fn check(&self, now_ms: i64) -> Result<(), JobError> {
        let start = self
            .start_time
            .as_deref()
            .map(parse_schedule_time)
            .transpose()?;
        let end = self
            .end_time
            .as_deref()
            .map(parse_schedule_time)
            .transpose()?;
        if let Some(s) = start
            && s < now_ms - 60_000
        {
            return Err(invalid(format!(
                "The startTime {} is in the past.",
                self.start_time.as_deref().unwrap_or_default()
            )));
        }
        if let Some(e) = end {
            let from = start.unwrap_or(now_ms);
            if e - from < MIN_SCHEDULE_MS {
                return Err(invalid(
                    "The endTime must be at least 30 minutes after the startTime.".into(),
                ));
            }
            if e - from > MAX_SCHEDULE_MS {
                return Err(invalid(
                    "The endTime must be at most 2 years after the startTime.".into(),
                ));
            }
        }
        if let Some(b) = &self.end_behavior {
            if !["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"].contains(&b.as_str()) {
                return Err(invalid(format!(
                    "Unknown endBehavior {b}; expected STOP_ROLLOUT, CANCEL or FORCE_CANCEL."
                )));
            }
            if end.is_none() {
                return Err(invalid("endBehavior needs an endTime.".into()));
            }
        }
        for w in &self.maintenance_windows {
            w.check()?;
        }
        Ok(())
    }
}

impl MaintenanceWindow {
    pub fn check(&self) -> Result<(), JobError> {
        crate::window::Cron::parse(&self.start_time)?;
        if !(1..=1430).contains(&self.duration_in_minutes) {
            return Err(invalid(format!(
                "durationInMinutes must be between 1 and 1430; {} was given.",
                self.duration_in_minutes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ExecutionStatus;

    /// 2026-12-06T00:00 UTC.
    const NOW: i64 = 1_796_515_200_000;

    fn config(v: serde_json::Value) -> JobConfig {
        serde_json::from_value(v).unwrap()
    }

    fn refused(v: serde_json::Value) -> String {
        match config(v.clone()).check(NOW) {
            Err(JobError::InvalidRequest(m)) => m,
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn a_full_configuration_round_trips_as_aws_json() {
        let v = json!({
            "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/r", "expiresInSec": 600},
            "jobExecutionsRolloutConfig": {"exponentialRate": {
                "baseRatePerMinute": 50, "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 1000}}},
            "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                "thresholdPercentage": 10.0, "minNumberOfExecutedThings": 5}]},
            "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
            "jobExecutionsRetryConfig": {"criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 3},
                {"failureType": "TIMED_OUT", "numberOfRetries": 2}]},
            "schedulingConfig": {"startTime": "2026-12-07T10:00", "endTime": "2026-12-07T12:00",
                "endBehavior": "CANCEL",
                "maintenanceWindows": [{"startTime": "cron(0 0 ? * MON *)", "durationInMinutes": 60}]}
        });
        let c = config(v.clone());
        c.check(NOW).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
        assert_eq!(c.in_progress_timeout_minutes(), Some(60));
        assert_eq!(c.scheduled_start_ms(), Some(NOW + 34 * 3_600_000));
        assert_eq!(
            serde_json::to_value(JobConfig::default()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn rollout_is_one_kind_within_aws_limits() {
        assert!(
            config(json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 1000}}))
                .check(NOW)
                .is_ok()
        );
        assert!(
            config(json!({"jobExecutionsRolloutConfig": {}}))
                .check(NOW)
                .is_ok()
        );
        let m = refused(json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}}));
        assert!(m.contains("between 1 and 1000"), "{m}");
        let both = json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 5, "exponentialRate": {
            "baseRatePerMinute": 5, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}}});
        assert!(refused(both).contains("not both"));
    }

    #[test]
    fn exponential_rates_need_one_criterion_and_a_sane_factor() {
        let rate = |base: u32, factor: f64, criteria: serde_json::Value| {
            json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
                "baseRatePerMinute": base, "incrementFactor": factor, "rateIncreaseCriteria": criteria}}})
        };
        let one = json!({"numberOfSucceededThings": 10});
        assert!(config(rate(1, 1.1, one.clone())).check(NOW).is_ok());
        assert!(config(rate(1000, 5.0, one.clone())).check(NOW).is_ok());
        assert!(refused(rate(0, 2.0, one.clone())).contains("baseRatePerMinute"));
        assert!(refused(rate(1001, 2.0, one.clone())).contains("baseRatePerMinute"));
        assert!(refused(rate(10, 1.0, one.clone())).contains("incrementFactor"));
        assert!(refused(rate(10, 5.1, one.clone())).contains("incrementFactor"));
        assert!(refused(rate(10, 1.25, one.clone())).contains("one decimal"));
        assert!(refused(rate(10, 2.0, json!({}))).contains("exactly one"));
        assert!(
            refused(rate(
                10,
                2.0,
                json!({"numberOfNotifiedThings": 1, "numberOfSucceededThings": 1})
            ))
            .contains("exactly one")
        );
    }

    #[test]
    fn abort_criteria_are_checked_one_by_one() {
        let crit = |t: &str, a: &str, p: f64, n: u32| {
            json!({"abortConfig": {"criteriaList": [{"failureType": t, "action": a,
                "thresholdPercentage": p, "minNumberOfExecutedThings": n}]}})
        };
        assert!(config(crit("ALL", "CANCEL", 100.0, 1)).check(NOW).is_ok());
        assert!(refused(crit("ALL", "CANCEL", 0.0, 1)).contains("thresholdPercentage"));
        assert!(refused(crit("ALL", "CANCEL", 100.5, 1)).contains("thresholdPercentage"));
        assert!(refused(crit("ALL", "CANCEL", 50.0, 0)).contains("minNumberOfExecutedThings"));
        assert!(refused(crit("SUCCEEDED", "CANCEL", 50.0, 1)).contains("failureType"));
        assert!(refused(crit("FAILED", "PAUSE", 50.0, 1)).contains("action"));
        assert!(refused(json!({"abortConfig": {"criteriaList": []}})).contains("empty"));
        let twice = json!({"abortConfig": {"criteriaList": [
            {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 1, "minNumberOfExecutedThings": 1},
            {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 2, "minNumberOfExecutedThings": 1}]}});
        assert!(refused(twice).contains("more than once"));
    }

    #[test]
    fn in_progress_timeouts_run_a_minute_to_a_week() {
        let t = |m: i64| json!({"timeoutConfig": {"inProgressTimeoutInMinutes": m}});
        assert!(config(t(1)).check(NOW).is_ok());
        assert!(config(t(10_080)).check(NOW).is_ok());
        assert!(refused(t(0)).contains("inProgressTimeoutInMinutes"));
        assert!(refused(t(10_081)).contains("inProgressTimeoutInMinutes"));
        assert!(config(json!({"timeoutConfig": {}})).check(NOW).is_ok());
    }

    #[test]
    fn retries_are_at_most_ten_per_device() {
        let r =
            |list: serde_json::Value| json!({"jobExecutionsRetryConfig": {"criteriaList": list}});
        let ok = config(r(json!([{"failureType": "FAILED", "numberOfRetries": 6},
                                 {"failureType": "TIMED_OUT", "numberOfRetries": 4}])));
        ok.check(NOW).unwrap();
        let retry = ok.job_executions_retry_config.unwrap();
        assert_eq!(retry.retries_for(ExecutionStatus::Failed), 6);
        assert_eq!(retry.retries_for(ExecutionStatus::TimedOut), 4);
        assert_eq!(retry.retries_for(ExecutionStatus::Rejected), 0);
        assert!(
            refused(r(json!([{"failureType": "FAILED", "numberOfRetries": 6},
                                 {"failureType": "TIMED_OUT", "numberOfRetries": 5}])))
            .contains("at most 10")
        );
        assert!(
            refused(r(json!([{"failureType": "FAILED", "numberOfRetries": 1},
                                 {"failureType": "FAILED", "numberOfRetries": 1}])))
            .contains("repeat")
        );
        assert!(
            refused(r(json!([{"failureType": "ALL", "numberOfRetries": 1},
                                 {"failureType": "FAILED", "numberOfRetries": 1}])))
            .contains("ALL")
        );
        assert!(refused(r(json!([]))).contains("1 or 2"));
        assert!(
            refused(r(
                json!([{"failureType": "REJECTED", "numberOfRetries": 1}])
            ))
            .contains("failureType")
        );
        let all = config(r(json!([{"failureType": "ALL", "numberOfRetries": 2}])));
        let all = all.job_executions_retry_config.unwrap();
        assert_eq!(all.retries_for(ExecutionStatus::Failed), 2);
        assert_eq!(all.retries_for(ExecutionStatus::TimedOut), 2);
    }

    #[test]
    fn presigned_urls_expire_within_a_minute_and_an_hour() {
        let p = |s: i64| json!({"presignedUrlConfig": {"expiresInSec": s}});
        assert!(config(p(60)).check(NOW).is_ok());
        assert!(config(p(3600)).check(NOW).is_ok());
        assert!(refused(p(59)).contains("expiresInSec"));
        assert!(refused(p(3601)).contains("expiresInSec"));
    }

    #[test]
    fn schedules_use_aws_times_in_order() {
        let s = |v: serde_json::Value| json!({"schedulingConfig": v});
        assert_eq!(parse_schedule_time("2026-12-06T00:00").unwrap(), NOW);
        for bad in [
            "2026-12-06",
            "2026-12-06T00:00:00",
            "2026-12-06 00:00",
            "06/12/2026T00:00",
            "2026-13-01T00:00",
        ] {
            assert!(parse_schedule_time(bad).is_err(), "{bad}");
        }
        assert!(refused(s(json!({"startTime": "2026-12-05T10:00"}))).contains("past"));
        assert!(
            refused(s(
                json!({"startTime": "2026-12-07T10:00", "endTime": "2026-12-07T10:29"})
            ))
            .contains("30 minutes")
        );
        assert!(
            config(s(
                json!({"startTime": "2026-12-07T10:00", "endTime": "2026-12-07T10:30"})
            ))
            .check(NOW)
            .is_ok()
        );
        assert!(
            refused(s(
                json!({"startTime": "2026-12-07T10:00", "endTime": "2029-12-07T10:30"})
            ))
            .contains("2 years")
        );
        assert!(refused(s(json!({"endTime": "2026-12-06T00:10"}))).contains("30 minutes"));
        assert!(
            refused(s(
                json!({"startTime": "2026-12-07T10:00", "endBehavior": "CANCEL"})
            ))
            .contains("endTime")
        );
        assert!(refused(s(json!({"startTime": "x"}))).contains("yyyy-MM-dd'T'HH:mm"));
    }

    #[test]
    fn maintenance_windows_are_cron_windows_of_at_most_1430_minutes() {
        let w = |cron: &str, d: u32| json!({"schedulingConfig": {"maintenanceWindows": [{"startTime": cron, "durationInMinutes": d}]}});
        assert!(config(w("cron(0 22 * * ? *)", 1430)).check(NOW).is_ok());
        assert!(refused(w("0 22 * * ? *", 60)).contains("cron"));
        assert!(refused(w("cron(0 22 * *)", 60)).contains("cron"));
        assert!(refused(w("cron(0 22 * * ? *)", 1431)).contains("durationInMinutes"));
    }

    #[test]
    fn request_values_win_over_the_template() {
        let template = config(json!({
            "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 10}}));
        let request = config(json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 5}}));
        let merged = request.or(&template);
        assert_eq!(merged.in_progress_timeout_minutes(), Some(5));
        assert_eq!(
            merged
                .job_executions_rollout_config
                .unwrap()
                .maximum_per_minute,
            Some(10)
        );
    }

    #[test]
    fn rollout_rates_grow_by_the_factor_per_criterion_reached() {
        let fixed = config(json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 7}}));
        let fixed = fixed.job_executions_rollout_config.unwrap();
        assert_eq!(fixed.per_minute(5000, 0), Some(7));
        assert_eq!(RolloutConfig::default().per_minute(0, 0), None);
        let exp = config(json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
            "baseRatePerMinute": 50, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 1000}}}}));
        let exp = exp.job_executions_rollout_config.unwrap();
        assert_eq!(exp.per_minute(0, 0), Some(50));
        assert_eq!(exp.per_minute(999, 0), Some(50));
        assert_eq!(exp.per_minute(1000, 0), Some(100));
        assert_eq!(exp.per_minute(2500, 0), Some(200));
        assert_eq!(exp.per_minute(100_000, 0), Some(1000));
        let by_success = config(json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
            "baseRatePerMinute": 1, "incrementFactor": 1.5,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 2}}}}));
        let by_success = by_success.job_executions_rollout_config.unwrap();
        assert_eq!(by_success.per_minute(100, 1), Some(1));
        assert_eq!(by_success.per_minute(100, 4), Some(2));
    }

    #[test]
    fn abort_criteria_count_failures_among_executed_things() {
        use crate::JobProcessDetails;
        use ExecutionStatus::*;
        let abort = config(json!({"abortConfig": {"criteriaList": [
            {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50.0,
             "minNumberOfExecutedThings": 2}]}}))
        .abort_config
        .unwrap();
        let d = |s: &[ExecutionStatus]| s.iter().copied().collect::<JobProcessDetails>();
        // One failure of one executed: below the minimum.
        assert!(abort.tripped(&d(&[Failed, Queued, Queued])).is_none());
        assert!(abort.tripped(&d(&[Failed, Succeeded, Queued])).is_some());
        assert!(abort.tripped(&d(&[Failed, Succeeded, Succeeded])).is_none());
        // Rejections are not FAILED; ALL counts them.
        assert!(abort.tripped(&d(&[Rejected, Rejected])).is_none());
        let all = config(json!({"abortConfig": {"criteriaList": [
            {"failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 100.0,
             "minNumberOfExecutedThings": 2}]}}))
        .abort_config
        .unwrap();
        assert!(all.tripped(&d(&[Rejected, TimedOut, Canceled])).is_some());
    }
}
