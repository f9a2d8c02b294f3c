//! The registry's failures, named after what went wrong; the HTTP edge maps each to AWS's
//! exception name and status.

use ferrite_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// AWS: ResourceNotFoundException.
    #[error("{0}")]
    NotFound(String),
    /// AWS: ResourceAlreadyExistsException, with the existing resource's id and ARN.
    #[error("{message}")]
    AlreadyExists {
        message: String,
        resource_id: String,
        resource_arn: String,
    },
    /// AWS: VersionConflictException.
    #[error("{0}")]
    VersionConflict(String),
    /// AWS: InvalidRequestException.
    #[error("{0}")]
    InvalidRequest(String),
    /// AWS: LimitExceededException.
    #[error("{0}")]
    LimitExceeded(String),
    /// Concurrent writers kept winning; AWS: ThrottlingException.
    #[error("too many concurrent changes to the same resources, retry")]
    Busy,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
