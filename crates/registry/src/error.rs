//! The registry's failures, named after what went wrong, and the AWS exception each one is
//! ([`AwsException`]); the HTTP edge takes the status from the service's model.

use ferrite_storage::StorageError;
use ferrite_types::AwsException;
use serde_json::{Map, Value, json};

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

impl AwsException for RegistryError {
    fn exception_name(&self) -> &'static str {
        match self {
            RegistryError::NotFound(_) => "ResourceNotFoundException",
            RegistryError::AlreadyExists { .. } => "ResourceAlreadyExistsException",
            RegistryError::VersionConflict(_) => "VersionConflictException",
            RegistryError::InvalidRequest(_) => "InvalidRequestException",
            RegistryError::LimitExceeded(_) => "LimitExceededException",
            RegistryError::CertificateState(_) => "CertificateStateException",
            RegistryError::CertificateValidation(_) => "CertificateValidationException",
            RegistryError::CertificateConflict(_) => "CertificateConflictException",
            RegistryError::RegistrationCodeValidation(_) => "RegistrationCodeValidationException",
            RegistryError::DeleteConflict(_) => "DeleteConflictException",
            RegistryError::MalformedPolicy(_) => "MalformedPolicyException",
            RegistryError::VersionsLimitExceeded(_) => "VersionsLimitExceededException",
            RegistryError::InvalidResponse(_) => "InvalidResponseException",
            RegistryError::Unauthorized(_) => "UnauthorizedException",
            RegistryError::ServiceUnavailable(_) => "ServiceUnavailableException",
            RegistryError::Busy => "ThrottlingException",
            RegistryError::Storage(_) => "InternalFailureException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            RegistryError::Busy => "Rate exceeded".to_owned(),
            // The storage error is ours to log, not the client's to read.
            RegistryError::Storage(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }

    fn exception_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        if let RegistryError::AlreadyExists {
            resource_id,
            resource_arn,
            ..
        } = self
        {
            fields.insert("resourceId".into(), json!(resource_id));
            fields.insert("resourceArn".into(), json!(resource_arn));
        }
        fields
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            RegistryError::NotFound(_) => 404,
            RegistryError::AlreadyExists { .. }
            | RegistryError::VersionConflict(_)
            | RegistryError::CertificateConflict(_)
            | RegistryError::DeleteConflict(_)
            | RegistryError::VersionsLimitExceeded(_) => 409,
            RegistryError::InvalidRequest(_)
            | RegistryError::CertificateValidation(_)
            | RegistryError::RegistrationCodeValidation(_)
            | RegistryError::MalformedPolicy(_)
            | RegistryError::InvalidResponse(_) => 400,
            RegistryError::LimitExceeded(_) => 410,
            RegistryError::CertificateState(_) => 406,
            RegistryError::Unauthorized(_) => 401,
            RegistryError::ServiceUnavailable(_) => 503,
            RegistryError::Busy => 429,
            RegistryError::Storage(_) => 500,
        }
    }
}
