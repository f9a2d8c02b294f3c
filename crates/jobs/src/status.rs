//! The statuses of a job and of a job execution, as AWS spells them, and which of them end
//! an execution.

use serde::{Deserialize, Serialize};

/// A job's status (`JobStatus` in the `iot` model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Executions are being created, run or rolled out.
    InProgress,
    Canceled,
    /// A snapshot job whose every execution reached a terminal status.
    Completed,
    /// DeleteJob is removing the job's executions.
    DeletionInProgress,
    /// The job's `schedulingConfig.startTime` is in the future.
    Scheduled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Canceled => "CANCELED",
            JobStatus::Completed => "COMPLETED",
            JobStatus::DeletionInProgress => "DELETION_IN_PROGRESS",
            JobStatus::Scheduled => "SCHEDULED",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        [
            JobStatus::InProgress,
            JobStatus::Canceled,
            JobStatus::Completed,
            JobStatus::DeletionInProgress,
            JobStatus::Scheduled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the job can still change its executions' fate (DeleteJob without `force` only
    /// takes jobs that cannot).
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::InProgress | JobStatus::Scheduled)
    }
}

/// A job execution's status (`JobExecutionStatus` in both models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Rejected,
    Removed,
    Canceled,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 8] = [
        ExecutionStatus::Queued,
        ExecutionStatus::InProgress,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Rejected,
        ExecutionStatus::Removed,
        ExecutionStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "QUEUED",
            ExecutionStatus::InProgress => "IN_PROGRESS",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Rejected => "REJECTED",
            ExecutionStatus::Removed => "REMOVED",
            ExecutionStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(text: &str) -> Option<ExecutionStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Terminal statuses never change again (a retry creates a new execution).
    pub fn is_terminal(self) -> bool {
        !self.is_pending()
    }

    /// QUEUED or IN_PROGRESS: what a device's pending list holds.
    pub fn is_pending(self) -> bool {
        matches!(self, ExecutionStatus::Queued | ExecutionStatus::InProgress)
    }

    /// The statuses a device may report in UpdateJobExecution; the others are the service's.
    pub fn device_may_set(self) -> bool {
        matches!(
            self,
            ExecutionStatus::InProgress
                | ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::Rejected
        )
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_as_aws_spells_them() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [
            JobStatus::InProgress,
            JobStatus::Canceled,
            JobStatus::Completed,
            JobStatus::DeletionInProgress,
            JobStatus::Scheduled,
        ] {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(ExecutionStatus::parse("queued"), None);
        assert_eq!(JobStatus::parse("CANCELLATION_IN_PROGRESS"), None);
    }

    #[test]
    fn only_queued_and_in_progress_are_pending() {
        let pending: Vec<_> = ExecutionStatus::ALL
            .into_iter()
            .filter(|s| s.is_pending())
            .collect();
        assert_eq!(
            pending,
            [ExecutionStatus::Queued, ExecutionStatus::InProgress]
        );
        for s in ExecutionStatus::ALL {
            assert_eq!(s.is_terminal(), !pending.contains(&s));
        }
    }

    #[test]
    fn devices_set_progress_and_outcomes_only() {
        let device: Vec<_> = ExecutionStatus::ALL
            .into_iter()
            .filter(|s| s.device_may_set())
            .map(ExecutionStatus::as_str)
            .collect();
        assert_eq!(device, ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"]);
    }

    #[test]
    fn active_jobs_are_running_or_scheduled() {
        assert!(JobStatus::InProgress.is_active());
        assert!(JobStatus::Scheduled.is_active());
        assert!(!JobStatus::Canceled.is_active());
        assert!(!JobStatus::Completed.is_active());
        assert!(!JobStatus::DeletionInProgress.is_active());
    }
}
