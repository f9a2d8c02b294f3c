//! The topic rule API's failures and the AWS exception each one is ([`AwsException`]); the
//! HTTP edge takes the status from the service's model.

use ferrite_registry::RegistryError;
use ferrite_storage::StorageError;
use ferrite_types::AwsException;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// AWS: SqlParseException (400): the rule's SQL does not parse.
    #[error("{0}")]
    SqlParse(String),
    /// AWS: InvalidRequestException (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// AWS: ResourceAlreadyExistsException (409), with the existing resource's ARN.
    #[error("{message}")]
    AlreadyExists {
        message: String,
        resource_arn: String,
    },
    /// A rule or destination that does not exist. AWS answers UnauthorizedException (401)
    /// ("Access to topic rule 'x' was denied"): none of the topic rule operations declares
    /// ResourceNotFoundException, and tools (Terraform) expect exactly this answer.
    #[error("{0}")]
    Denied(String),
    /// AWS: ConflictingResourceUpdateException (409): concurrent writers kept winning.
    #[error("the resource is being updated concurrently, retry")]
    Conflict,
    /// What the registry's tag and pagination helpers refuse, as the registry names it.
    #[error(transparent)]
    Registry(RegistryError),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<RegistryError> for RulesError {
    fn from(e: RegistryError) -> RulesError {
        match e {
            RegistryError::Busy => RulesError::Conflict,
            RegistryError::Storage(e) => RulesError::Storage(e),
            other => RulesError::Registry(other),
        }
    }
}

impl From<StorageError> for RulesError {
    fn from(e: StorageError) -> RulesError {
        RulesError::Storage(e)
    }
}

impl AwsException for RulesError {
    fn exception_name(&self) -> &'static str {
        match self {
            RulesError::SqlParse(_) => "SqlParseException",
            RulesError::InvalidRequest(_) => "InvalidRequestException",
            RulesError::AlreadyExists { .. } => "ResourceAlreadyExistsException",
            RulesError::Denied(_) => "UnauthorizedException",
            RulesError::Conflict => "ConflictingResourceUpdateException",
            RulesError::Registry(e) => e.exception_name(),
            RulesError::Storage(_) => "InternalException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            RulesError::Registry(e) => e.exception_message(),
            // The storage error is ours to log, not the client's to read.
            RulesError::Storage(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }

    fn exception_fields(&self) -> Map<String, Value> {
        match self {
            RulesError::AlreadyExists { resource_arn, .. } => {
                let mut fields = Map::new();
                fields.insert("resourceArn".into(), json!(resource_arn));
                fields
            }
            RulesError::Registry(e) => e.exception_fields(),
            _ => Map::new(),
        }
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            RulesError::SqlParse(_) | RulesError::InvalidRequest(_) => 400,
            RulesError::AlreadyExists { .. } | RulesError::Conflict => 409,
            RulesError::Denied(_) => 401,
            RulesError::Registry(e) => e.undeclared_status(),
            RulesError::Storage(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_failures_keep_their_names_but_busy_is_a_conflict() {
        let e = RulesError::from(RegistryError::InvalidRequest("bad token".into()));
        assert_eq!(e.exception_name(), "InvalidRequestException");
        assert_eq!(e.exception_message(), "bad token");
        assert_eq!(
            RulesError::from(RegistryError::Busy).exception_name(),
            "ConflictingResourceUpdateException"
        );
        let storage = RulesError::from(RegistryError::Storage(StorageError::Corrupt("x".into())));
        assert_eq!(storage.exception_name(), "InternalException");
        assert_eq!(storage.exception_message(), "An internal error occurred.");
    }
}
