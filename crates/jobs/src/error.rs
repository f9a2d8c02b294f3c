//! What the jobs model refuses, named after what went wrong.

use crate::execution::ExecutionState;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// A malformed or out-of-range request (AWS: InvalidRequestException; MQTT
    /// `InvalidRequest`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The execution's or job's status does not allow the change (AWS:
    /// InvalidStateTransitionException, 409; MQTT `InvalidStateTransition`, with the
    /// execution's current state).
    #[error("{message}")]
    InvalidStateTransition {
        message: String,
        state: Option<ExecutionState>,
    },
    /// `expectedVersion` is not the execution's `versionNumber` (AWS: VersionConflictException
    /// on the control plane; MQTT `VersionMismatch`, with the current state).
    #[error("{message}")]
    VersionMismatch {
        message: String,
        state: ExecutionState,
    },
    /// A device request's payload is not a JSON object (MQTT `InvalidJson`; HTTP requests
    /// are parsed by the edge and never get here).
    #[error("{0}")]
    InvalidJson(String),
    /// A quota (targets per job) would be passed (AWS: LimitExceededException).
    #[error("{0}")]
    LimitExceeded(String),
    /// DescribeJobExecution of a device on an execution that already ended (iot-jobs-data:
    /// TerminalStateException; MQTT `TerminalStateReached`).
    #[error("{0}")]
    TerminalState(String),
}

impl JobError {
    /// The `code` of a `/rejected` response over MQTT.
    pub fn mqtt_code(&self) -> &'static str {
        match self {
            JobError::InvalidRequest(_) | JobError::LimitExceeded(_) => "InvalidRequest",
            JobError::InvalidJson(_) => "InvalidJson",
            JobError::InvalidStateTransition { .. } => "InvalidStateTransition",
            JobError::VersionMismatch { .. } => "VersionMismatch",
            JobError::TerminalState(_) => "TerminalStateReached",
        }
    }

    /// The execution state a `/rejected` response carries (only for state and version
    /// refusals, as on AWS).
    pub fn execution_state(&self) -> Option<&ExecutionState> {
        match self {
            JobError::InvalidStateTransition { state, .. } => state.as_ref(),
            JobError::VersionMismatch { state, .. } => Some(state),
            _ => None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> JobError {
        JobError::InvalidRequest(message.into())
    }
}
