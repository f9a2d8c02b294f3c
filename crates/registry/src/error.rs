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
    /// AWS: CertificateStateException (406): the certificate's status forbids the operation.
    #[error("{0}")]
    CertificateState(String),
    /// AWS: CertificateValidationException (400): the certificate cannot be parsed or verified.
    #[error("{0}")]
    CertificateValidation(String),
    /// AWS: CertificateConflictException (409).
    #[error("{0}")]
    CertificateConflict(String),
    /// AWS: RegistrationCodeValidationException (400).
    #[error("{0}")]
    RegistrationCodeValidation(String),
    /// AWS: DeleteConflictException (409): something is still attached.
    #[error("{0}")]
    DeleteConflict(String),
    /// AWS: MalformedPolicyException (400).
    #[error("{0}")]
    MalformedPolicy(String),
    /// AWS: VersionsLimitExceededException (409).
    #[error("{0}")]
    VersionsLimitExceeded(String),
    /// AWS: InvalidResponseException (400): a custom authorizer answered something unusable.
    #[error("{0}")]
    InvalidResponse(String),
    /// AWS: UnauthorizedException (401).
    #[error("{0}")]
    Unauthorized(String),
    /// AWS: ServiceUnavailableException (503): a dependency (e.g. a custom authorizer
    /// endpoint) could not be reached.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// Concurrent writers kept winning; AWS: ThrottlingException.
    #[error("too many concurrent changes to the same resources, retry")]
    Busy,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
