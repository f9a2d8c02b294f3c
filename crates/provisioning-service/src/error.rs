//! The provisioning template API's failures and the AWS exception each one is
//! ([`AwsException`]); the HTTP edge takes the status from the service's model.

use ferrite_registry::RegistryError;
use ferrite_storage::StorageError;
use ferrite_types::AwsException;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// AWS: InvalidRequestException (400): a malformed template body, a hook on a JITP
    /// template, contradictory members.
    #[error("{0}")]
    InvalidRequest(String),
    /// AWS: ResourceAlreadyExistsException (409), with the existing template's ARN.
    #[error("{message}")]
    AlreadyExists {
        message: String,
        resource_arn: String,
    },
    /// AWS: ResourceNotFoundException (404): no such template or version.
    #[error("{0}")]
    NotFound(String),
    /// AWS: VersionsLimitExceededException (409): a template has at most five versions.
    #[error("{0}")]
    VersionsLimit(String),
    /// AWS: DeleteConflictException (409): the default version cannot be deleted.
    #[error("{0}")]
    DeleteConflict(String),
    /// AWS: ConflictingResourceUpdateException (409): concurrent writers kept winning.
    #[error("the resource is being updated concurrently, retry")]
    Conflict,
    /// What the registry's tag and pagination helpers refuse, as the registry names it.
    #[error(transparent)]
    Registry(RegistryError),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<RegistryError> for ProvisioningError {
    fn from(e: RegistryError) -> ProvisioningError {
        match e {
            RegistryError::Busy => ProvisioningError::Conflict,
            RegistryError::Storage(e) => ProvisioningError::Storage(e),
            other => ProvisioningError::Registry(other),
        }
    }
}

impl From<StorageError> for ProvisioningError {
    fn from(e: StorageError) -> ProvisioningError {
        ProvisioningError::Storage(e)
    }
}

impl From<ferrite_provisioning::TemplateError> for ProvisioningError {
    fn from(e: ferrite_provisioning::TemplateError) -> ProvisioningError {
        ProvisioningError::InvalidRequest(e.aws_message())
    }
}

impl AwsException for ProvisioningError {
    fn exception_name(&self) -> &'static str {
        match self {
            ProvisioningError::InvalidRequest(_) => "InvalidRequestException",
            ProvisioningError::AlreadyExists { .. } => "ResourceAlreadyExistsException",
            ProvisioningError::NotFound(_) => "ResourceNotFoundException",
            ProvisioningError::VersionsLimit(_) => "VersionsLimitExceededException",
            ProvisioningError::DeleteConflict(_) => "DeleteConflictException",
            ProvisioningError::Conflict => "ConflictingResourceUpdateException",
            ProvisioningError::Registry(e) => e.exception_name(),
            ProvisioningError::Storage(_) => "InternalFailureException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            ProvisioningError::Registry(e) => e.exception_message(),
            // The storage error is ours to log, not the client's to read.
            ProvisioningError::Storage(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }

    fn exception_fields(&self) -> Map<String, Value> {
        match self {
            ProvisioningError::AlreadyExists { resource_arn, .. } => {
                let mut fields = Map::new();
                fields.insert("resourceArn".into(), json!(resource_arn));
                fields
            }
            ProvisioningError::Registry(e) => e.exception_fields(),
            _ => Map::new(),
        }
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            ProvisioningError::InvalidRequest(_) => 400,
            ProvisioningError::NotFound(_) => 404,
            ProvisioningError::AlreadyExists { .. }
            | ProvisioningError::VersionsLimit(_)
            | ProvisioningError::DeleteConflict(_)
            | ProvisioningError::Conflict => 409,
            ProvisioningError::Registry(e) => e.undeclared_status(),
            ProvisioningError::Storage(_) => 500,
        }
    }
}
