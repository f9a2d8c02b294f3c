//! The jobs API's failures and the AWS exception each one is ([`AwsException`]); the HTTP
//! edge takes the status from the service's model.

use ferrite_jobs::JobError;
use ferrite_registry::RegistryError;
use ferrite_storage::StorageError;
use ferrite_types::AwsException;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// What the job model refuses (requests, transitions, versions, limits).
    #[error(transparent)]
    Job(#[from] JobError),
    /// AWS: ResourceNotFoundException (404).
    #[error("{0}")]
    NotFound(String),
    /// AWS: ResourceAlreadyExistsException (409), with the job's id and ARN.
    #[error("{message}")]
    AlreadyExists {
        message: String,
        resource_id: String,
        resource_arn: String,
    },
    /// AWS: ConflictException (409): CreateJobTemplate of an id in use.
    #[error("{message}")]
    Conflict {
        message: String,
        resource_id: String,
    },
    /// The registry's refusals (target things and groups, tags, page tokens), as it names
    /// them.
    #[error(transparent)]
    Registry(RegistryError),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<RegistryError> for JobsError {
    fn from(e: RegistryError) -> JobsError {
        match e {
            RegistryError::Storage(e) => JobsError::Storage(e),
            other => JobsError::Registry(other),
        }
    }
}

impl From<StorageError> for JobsError {
    fn from(e: StorageError) -> JobsError {
        JobsError::Storage(e)
    }
}

impl AwsException for JobsError {
    fn exception_name(&self) -> &'static str {
        match self {
            JobsError::Job(JobError::InvalidRequest(_) | JobError::InvalidJson(_)) => {
                "InvalidRequestException"
            }
            JobsError::Job(JobError::LimitExceeded(_)) => "LimitExceededException",
            JobsError::Job(JobError::InvalidStateTransition { .. }) => {
                "InvalidStateTransitionException"
            }
            JobsError::Job(JobError::VersionMismatch { .. }) => "VersionConflictException",
            JobsError::Job(JobError::TerminalState(_)) => "TerminalStateException",
            JobsError::NotFound(_) => "ResourceNotFoundException",
            JobsError::AlreadyExists { .. } => "ResourceAlreadyExistsException",
            JobsError::Conflict { .. } => "ConflictException",
            JobsError::Registry(e) => e.exception_name(),
            JobsError::Storage(_) => "InternalFailureException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            JobsError::Registry(e) => e.exception_message(),
            // The storage error is ours to log, not the client's to read.
            JobsError::Storage(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }

    fn exception_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        match self {
            JobsError::AlreadyExists {
                resource_id,
                resource_arn,
                ..
            } => {
                fields.insert("resourceId".into(), json!(resource_id));
                fields.insert("resourceArn".into(), json!(resource_arn));
            }
            JobsError::Conflict { resource_id, .. } => {
                fields.insert("resourceId".into(), json!(resource_id));
            }
            JobsError::Registry(e) => return e.exception_fields(),
            _ => {}
        }
        fields
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            JobsError::Job(JobError::InvalidRequest(_) | JobError::InvalidJson(_)) => 400,
            JobsError::Job(JobError::LimitExceeded(_)) => 410,
            JobsError::Job(JobError::InvalidStateTransition { .. })
            | JobsError::Job(JobError::VersionMismatch { .. })
            | JobsError::AlreadyExists { .. }
            | JobsError::Conflict { .. } => 409,
            JobsError::Job(JobError::TerminalState(_)) => 410,
            JobsError::NotFound(_) => 404,
            JobsError::Registry(e) => e.undeclared_status(),
            JobsError::Storage(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_refusals_become_aws_exceptions() {
        let cases = [
            (
                JobError::InvalidRequest("m".into()),
                "InvalidRequestException",
                400,
            ),
            (
                JobError::LimitExceeded("m".into()),
                "LimitExceededException",
                410,
            ),
            (
                JobError::InvalidStateTransition {
                    message: "m".into(),
                    state: None,
                },
                "InvalidStateTransitionException",
                409,
            ),
            (
                JobError::TerminalState("m".into()),
                "TerminalStateException",
                410,
            ),
        ];
        for (e, name, status) in cases {
            let e = JobsError::from(e);
            assert_eq!(e.exception_name(), name);
            assert_eq!(e.exception_message(), "m");
            assert_eq!(e.undeclared_status(), status);
        }
    }

    #[test]
    fn already_exists_names_the_job() {
        let e = JobsError::AlreadyExists {
            message: "m".into(),
            resource_id: "j".into(),
            resource_arn: "arn".into(),
        };
        assert_eq!(
            Value::Object(e.exception_fields()),
            json!({"resourceId": "j", "resourceArn": "arn"})
        );
        let storage = JobsError::from(RegistryError::Storage(StorageError::Corrupt("x".into())));
        assert_eq!(storage.exception_name(), "InternalFailureException");
        assert_eq!(storage.exception_message(), "An internal error occurred.");
    }
}
