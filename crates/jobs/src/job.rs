//! A job: its id, document, targets, target selection, configurations and status, and what
//! the control plane may do to it (cancel, delete, complete, add targets).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::JobConfig;
use crate::{ExecutionStatus, JobError, JobStatus};

/// AWS: at most 100 targets per job, counting AssociateTargetsWithJob's.
pub const MAX_TARGETS: usize = 100;
/// The model's `JobDocument` length.
pub const MAX_DOCUMENT_CHARS: usize = 32_768;
/// The model's `JobId` length.
const MAX_JOB_ID_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetSelection {
    /// Executions for the targets' things as they are when the job is created.
    #[default]
    Snapshot,
    /// Also for things that join a target group later; the job never completes.
    Continuous,
}

impl TargetSelection {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSelection::Snapshot => "SNAPSHOT",
            TargetSelection::Continuous => "CONTINUOUS",
        }
    }
}

/// A job's document: inline JSON text, or where to fetch it (`documentSource`, an S3 URL,
/// kept as given: Ferrite hands it out, it does not fetch it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobDocument {
    Inline(String),
    Source(String),
}

impl JobDocument {
    /// Exactly one of `document` and `documentSource`; an inline document must be JSON.
    pub fn from_request(
        document: Option<String>,
        source: Option<String>,
    ) -> Result<JobDocument, JobError> {
        match (document, source) {
            (Some(_), Some(_)) => Err(JobError::invalid(
                "Specify either document or documentSource, not both.",
            )),
            (None, None) => Err(JobError::invalid(
                "Either document or documentSource must be specified.",
            )),
            (Some(d), None) => {
                check_document(&d)?;
                Ok(JobDocument::Inline(d))
            }
            (None, Some(s)) => Ok(JobDocument::Source(s)),
        }
    }

    pub fn inline(&self) -> Option<&str> {
        match self {
            JobDocument::Inline(d) => Some(d),
            JobDocument::Source(_) => None,
        }
    }

    pub fn source(&self) -> Option<&str> {
        match self {
            JobDocument::Inline(_) => None,
            JobDocument::Source(s) => Some(s),
        }
    }
}

/// An inline job document: at most 32,768 characters of JSON.
pub fn check_document(document: &str) -> Result<(), JobError> {
    let chars = document.chars().count();
    if chars > MAX_DOCUMENT_CHARS {
        return Err(JobError::invalid(format!(
            "The job document can have at most {MAX_DOCUMENT_CHARS} characters; it has {chars}."
        )));
    }
    serde_json::from_str::<serde_json::Value>(document)
        .map(|_| ())
        .map_err(|e| JobError::invalid(format!("The job document is not valid JSON: {e}")))
}

/// A job id (or job template id): 1–64 characters of `[a-zA-Z0-9_-]`.
pub fn check_job_id(id: &str) -> Result<(), JobError> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_JOB_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(JobError::invalid(format!(
            "The job id {id} must be 1 to {MAX_JOB_ID_CHARS} characters of [a-zA-Z0-9_-]."
        )))
    }
}

/// What a target ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Thing {
        region: &'a str,
        account: &'a str,
        name: &'a str,
    },
    ThingGroup {
        region: &'a str,
        account: &'a str,
        name: &'a str,
    },
}

/// A job target: `arn:aws:iot:{region}:{account}:thing/{name}` or `…:thinggroup/{name}`.
pub fn parse_target(arn: &str) -> Result<Target<'_>, JobError> {
    let invalid = || {
        JobError::invalid(format!(
            "The target {arn} is not the ARN of a thing or a thing group."
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _partition, "iot", region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    if region.is_empty() || account.is_empty() {
        return Err(invalid());
    }
    let (kind, name) = resource.split_once('/').ok_or_else(invalid)?;
    let name_ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    if !name_ok {
        return Err(invalid());
    }
    match kind {
        "thing" => Ok(Target::Thing {
            region,
            account,
            name,
        }),
        "thinggroup" => Ok(Target::ThingGroup {
            region,
            account,
            name,
        }),
        _ => Err(invalid()),
    }
}

/// A job as stored. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The key of the job's tags, unique per creation (a job deleted and created again does
    /// not inherit the old one's tags).
    pub id: String,
    pub job_id: String,
    pub target_selection: TargetSelection,
    pub status: JobStatus,
    pub targets: Vec<String>,
    pub document: JobDocument,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub config: JobConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_template_arn: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub document_parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_package_versions: Vec<String>,
    pub created_at_ms: i64,
    pub last_updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<i64>,
    #[serde(default)]
    pub force_canceled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Job {
    /// At most [`MAX_TARGETS`] distinct targets.
    pub fn check_targets(targets: &[String]) -> Result<(), JobError> {
        let mut distinct: Vec<&String> = targets.iter().collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() > MAX_TARGETS {
            return Err(JobError::LimitExceeded(format!(
                "A job can have at most {MAX_TARGETS} targets; this request would give it {}.",
                distinct.len()
            )));
        }
        Ok(())
    }

    /// CancelJob: an active job becomes CANCELED (with `force`, its IN_PROGRESS executions
    /// are canceled too); a canceled job may be canceled again with `force`, to cancel the
    /// executions the first cancellation spared.
    pub fn cancel(
        &mut self,
        force: bool,
        reason_code: Option<String>,
        comment: Option<String>,
        now_ms: i64,
    ) -> Result<(), JobError> {
        match self.status {
            JobStatus::InProgress | JobStatus::Scheduled => {}
            JobStatus::Canceled if force => {}
            other => {
                return Err(JobError::invalid(format!(
                    "Job {} is {other} and cannot be canceled{}.",
                    self.job_id,
                    if other == JobStatus::Canceled {
                        " again without force"
                    } else {
                        ""
                    }
                )));
            }
        }
        self.status = JobStatus::Canceled;
        self.force_canceled |= force;
        if reason_code.is_some() {
            self.reason_code = reason_code;
        }
        if comment.is_some() {
            self.comment = comment;
        }
        self.last_updated_at_ms = now_ms;
        Ok(())
    }

    /// DeleteJob: an active job only with `force`. A job already being deleted may be
    /// deleted again (the deletion resumes).
    pub fn check_delete(&self, force: bool) -> Result<(), JobError> {
        if self.status.is_active() && !force {
            return Err(JobError::InvalidStateTransition {
                message: format!(
                    "Job {} is {}; set force to delete it.",
                    self.job_id, self.status
                ),
                state: None,
            });
        }
        Ok(())
    }

    /// UpdateJob and the other changes of a job's settings: not while it is being deleted.
    pub fn check_update(&self) -> Result<(), JobError> {
        if self.status == JobStatus::DeletionInProgress {
            return Err(JobError::invalid(format!(
                "Job {} is being deleted and cannot be updated.",
                self.job_id
            )));
        }
        Ok(())
    }

    /// AssociateTargetsWithJob: only a continuous job that is in progress takes new targets.
    pub fn check_associate(&self) -> Result<(), JobError> {
        if self.target_selection != TargetSelection::Continuous {
            return Err(JobError::invalid(format!(
                "Targets can only be added to a CONTINUOUS job; job {} is SNAPSHOT.",
                self.job_id
            )));
        }
        if self.status != JobStatus::InProgress {
            return Err(JobError::invalid(format!(
                "Targets can only be added to a job that is IN_PROGRESS; job {} is {}.",
                self.job_id, self.status
            )));
        }
        Ok(())
    }

    /// A snapshot job in progress completes when none of its executions is pending any
    /// more. Returns whether it did.
    pub fn complete_if_done(&mut self, details: &JobProcessDetails, now_ms: i64) -> bool {
        let done = self.target_selection == TargetSelection::Snapshot
            && self.status == JobStatus::InProgress
            && details.pending() == 0;
        if done {
            self.status = JobStatus::Completed;
            self.completed_at_ms = Some(now_ms);
            self.last_updated_at_ms = now_ms;
        }
        done
    }
}

/// The counts of a job's executions by status (`jobProcessDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobProcessDetails {
    counts: BTreeMap<ExecutionStatus, u64>,
}

impl JobProcessDetails {
    pub fn add(&mut self, status: ExecutionStatus) {
        *self.counts.entry(status).or_default() += 1;
    }

    pub fn count(&self, status: ExecutionStatus) -> u64 {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// QUEUED plus IN_PROGRESS executions.
    pub fn pending(&self) -> u64 {
        self.count(ExecutionStatus::Queued) + self.count(ExecutionStatus::InProgress)
    }

    /// AWS's `JobProcessDetails` members.
    pub fn to_json(&self) -> serde_json::Value {
        use ExecutionStatus::*;
        serde_json::json!({
            "numberOfCanceledThings": self.count(Canceled),
            "numberOfSucceededThings": self.count(Succeeded),
            "numberOfFailedThings": self.count(Failed),
            "numberOfRejectedThings": self.count(Rejected),
            "numberOfQueuedThings": self.count(Queued),
            "numberOfInProgressThings": self.count(InProgress),
            "numberOfRemovedThings": self.count(Removed),
            "numberOfTimedOutThings": self.count(TimedOut),
        })
    }
}

impl FromIterator<ExecutionStatus> for JobProcessDetails {
    fn from_iter<I: IntoIterator<Item = ExecutionStatus>>(iter: I) -> Self {
        let mut d = JobProcessDetails::default();
        for s in iter {
            d.add(s);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn job(selection: TargetSelection, status: JobStatus) -> Job {
        Job {
            id: "uuid".into(),
            job_id: "fw-1".into(),
            target_selection: selection,
            status,
            targets: vec!["arn:aws:iot:eu-west-1:123456789012:thing/lamp".into()],
            document: JobDocument::Inline(r#"{"op":"update"}"#.into()),
            description: None,
            config: JobConfig::default(),
            namespace_id: None,
            job_template_arn: None,
            document_parameters: BTreeMap::new(),
            destination_package_versions: Vec::new(),
            created_at_ms: T0,
            last_updated_at_ms: T0,
            completed_at_ms: None,
            force_canceled: false,
            reason_code: None,
            comment: None,
        }
    }

    #[test]
    fn a_document_is_inline_json_or_a_source_never_both() {
        let d = JobDocument::from_request(Some("{\"a\":1}".into()), None).unwrap();
        assert_eq!(d.inline(), Some("{\"a\":1}"));
        assert_eq!(d.source(), None);
        let s =
            JobDocument::from_request(None, Some("https://s3.amazonaws.com/b/k".into())).unwrap();
        assert_eq!(s.source(), Some("https://s3.amazonaws.com/b/k"));
        assert!(JobDocument::from_request(Some("{}".into()), Some("x".into())).is_err());
        assert!(JobDocument::from_request(None, None).is_err());
        let err = JobDocument::from_request(Some("not json".into()), None).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn documents_are_at_most_32768_characters() {
        let fits = format!("\"{}\"", "x".repeat(MAX_DOCUMENT_CHARS - 2));
        assert!(check_document(&fits).is_ok());
        let over = format!("\"{}\"", "x".repeat(MAX_DOCUMENT_CHARS - 1));
        assert!(
            check_document(&over)
                .unwrap_err()
                .to_string()
                .contains("32768")
        );
    }

    #[test]
    fn job_ids_follow_the_model() {
        assert!(check_job_id("fw_update-2").is_ok());
        assert!(check_job_id(&"a".repeat(64)).is_ok());
        for bad in ["", "has space", "dot.id", "$next", &"a".repeat(65)] {
            assert!(check_job_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_thing_or_thing_group_arns() {
        assert_eq!(
            parse_target("arn:aws:iot:eu-west-1:123456789012:thing/lamp:1").unwrap(),
            Target::Thing {
                region: "eu-west-1",
                account: "123456789012",
                name: "lamp:1"
            }
        );
        assert_eq!(
            parse_target("arn:aws:iot:us-east-1:123456789012:thinggroup/fleet").unwrap(),
            Target::ThingGroup {
                region: "us-east-1",
                account: "123456789012",
                name: "fleet"
            }
        );
        for bad in [
            "lamp",
            "arn:aws:iot:eu-west-1:123456789012:policy/p",
            "arn:aws:s3:eu-west-1:123456789012:thing/lamp",
            "arn:aws:iot:eu-west-1:123456789012:thing/",
            "arn:aws:iot:eu-west-1:123456789012:thing/a/b",
            "arn:aws:iot::123456789012:thing/lamp",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn at_most_100_distinct_targets() {
        let many: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        assert!(Job::check_targets(&many).is_ok());
        let mut repeated = many.clone();
        repeated.push("t0".into());
        assert!(Job::check_targets(&repeated).is_ok());
        let mut over = many;
        over.push("t100".into());
        assert!(matches!(
            Job::check_targets(&over),
            Err(JobError::LimitExceeded(_))
        ));
    }

    #[test]
    fn cancel_takes_active_jobs_and_canceled_ones_only_with_force() {
        let mut j = job(TargetSelection::Snapshot, JobStatus::InProgress);
        j.cancel(false, Some("OBSOLETE".into()), Some("old".into()), T0 + 1)
            .unwrap();
        assert_eq!(j.status, JobStatus::Canceled);
        assert!(!j.force_canceled);
        assert_eq!(j.reason_code.as_deref(), Some("OBSOLETE"));
        assert_eq!(j.last_updated_at_ms, T0 + 1);
        assert!(j.cancel(false, None, None, T0 + 2).is_err());
        j.cancel(true, None, None, T0 + 2).unwrap();
        assert!(j.force_canceled);
        assert_eq!(j.reason_code.as_deref(), Some("OBSOLETE"));
        assert!(
            job(TargetSelection::Snapshot, JobStatus::Scheduled)
                .cancel(false, None, None, T0)
                .is_ok()
        );
        for status in [JobStatus::Completed, JobStatus::DeletionInProgress] {
            for force in [false, true] {
                let err = job(TargetSelection::Snapshot, status)
                    .cancel(force, None, None, T0)
                    .unwrap_err();
                assert!(matches!(err, JobError::InvalidRequest(_)), "{status}");
            }
        }
    }

    #[test]
    fn deleting_an_active_job_needs_force() {
        for (status, without_force) in [
            (JobStatus::InProgress, false),
            (JobStatus::Scheduled, false),
            (JobStatus::Canceled, true),
            (JobStatus::Completed, true),
            (JobStatus::DeletionInProgress, true),
        ] {
            let j = job(TargetSelection::Snapshot, status);
            assert_eq!(j.check_delete(false).is_ok(), without_force, "{status}");
            assert!(j.check_delete(true).is_ok());
        }
        let err = job(TargetSelection::Snapshot, JobStatus::InProgress)
            .check_delete(false)
            .unwrap_err();
        assert!(matches!(err, JobError::InvalidStateTransition { .. }));
    }

    #[test]
    fn only_running_continuous_jobs_take_new_targets() {
        assert!(
            job(TargetSelection::Continuous, JobStatus::InProgress)
                .check_associate()
                .is_ok()
        );
        assert!(
            job(TargetSelection::Snapshot, JobStatus::InProgress)
                .check_associate()
                .is_err()
        );
        assert!(
            job(TargetSelection::Continuous, JobStatus::Canceled)
                .check_associate()
                .is_err()
        );
    }

    #[test]
    fn a_snapshot_job_completes_when_nothing_is_pending() {
        use ExecutionStatus::*;
        let mut j = job(TargetSelection::Snapshot, JobStatus::InProgress);
        let running: JobProcessDetails = [Succeeded, InProgress].into_iter().collect();
        assert!(!j.complete_if_done(&running, T0));
        let done: JobProcessDetails = [Succeeded, Failed, Canceled].into_iter().collect();
        assert!(j.complete_if_done(&done, T0 + 9));
        assert_eq!(j.status, JobStatus::Completed);
        assert_eq!(j.completed_at_ms, Some(T0 + 9));
        assert!(!j.complete_if_done(&done, T0 + 10), "completes once");
        let mut c = job(TargetSelection::Continuous, JobStatus::InProgress);
        assert!(!c.complete_if_done(&done, T0));
        let mut canceled = job(TargetSelection::Snapshot, JobStatus::Canceled);
        assert!(!canceled.complete_if_done(&done, T0));
    }

    #[test]
    fn process_details_count_every_status() {
        use ExecutionStatus::*;
        let d: JobProcessDetails = [Queued, Queued, InProgress, Succeeded, TimedOut]
            .into_iter()
            .collect();
        assert_eq!(d.pending(), 3);
        assert_eq!(
            d.to_json(),
            json!({"numberOfCanceledThings": 0, "numberOfSucceededThings": 1,
                   "numberOfFailedThings": 0, "numberOfRejectedThings": 0,
                   "numberOfQueuedThings": 2, "numberOfInProgressThings": 1,
                   "numberOfRemovedThings": 0, "numberOfTimedOutThings": 1})
        );
    }

    #[test]
    fn jobs_store_as_json_with_their_configuration_inline() {
        let mut j = job(TargetSelection::Continuous, JobStatus::InProgress);
        j.config.timeout_config = Some(crate::TimeoutConfig {
            in_progress_timeout_in_minutes: Some(5),
        });
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["timeoutConfig"], json!({"inProgressTimeoutInMinutes": 5}));
        assert_eq!(v["targetSelection"], "CONTINUOUS");
        assert_eq!(v["document"], json!({"inline": "{\"op\":\"update\"}"}));
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), j);
    }
}
