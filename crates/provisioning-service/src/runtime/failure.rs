//! Why a provisioning request failed, in the two shapes AWS answers with: a fleet provisioning
//! `/rejected` payload (`statusCode`, `errorCode`, `errorMessage`) over MQTT, and an AWS
//! exception for the control plane's RegisterThing and CreateProvisioningClaim.

use ferrite_registry::RegistryError;
use ferrite_types::AwsException;
use serde_json::{Value, json};

use crate::ProvisioningError;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionFailure {
    /// The request is not the JSON the API takes.
    #[error("{0}")]
    InvalidPayload(String),
    /// The CSR cannot be signed.
    #[error("{0}")]
    InvalidCsr(String),
    /// The ownership token is missing, unknown, expired or for another certificate.
    #[error("{0}")]
    InvalidToken(String),
    /// No such template, or it cannot run here (disabled, of the other type).
    #[error("{0}")]
    TemplateNotFound(String),
    /// The template cannot be evaluated with these parameters, or names a resource that
    /// does not exist.
    #[error("{0}")]
    InvalidParameters(String),
    /// `OverrideSettings` says `FAIL` and the existing resource differs.
    #[error("{0}")]
    ResourceConflict(String),
    /// The pre-provisioning hook refused, failed or did not answer.
    #[error("{0}")]
    HookDenied(String),
    /// Concurrent writers kept winning.
    #[error("the resources are being changed concurrently, retry")]
    Throttled,
    /// Anything else: logged, answered as an internal failure.
    #[error("{0}")]
    Internal(String),
}

impl ProvisionFailure {
    /// A registry refusal met while applying a plan: a missing resource is the template's
    /// (or its parameters') fault; a refused value too.
    pub(crate) fn from_registry(e: RegistryError) -> ProvisionFailure {
        match e {
            RegistryError::NotFound(m)
            | RegistryError::InvalidRequest(m)
            | RegistryError::MalformedPolicy(m)
            | RegistryError::LimitExceeded(m) => ProvisionFailure::InvalidParameters(m),
            RegistryError::CertificateState(m) | RegistryError::CertificateConflict(m) => {
                ProvisionFailure::ResourceConflict(m)
            }
            RegistryError::CertificateValidation(m) => ProvisionFailure::InvalidCsr(m),
            RegistryError::Busy | RegistryError::VersionConflict(_) => ProvisionFailure::Throttled,
            other => ProvisionFailure::Internal(other.to_string()),
        }
    }

    /// The fleet provisioning `/rejected` payload.
    pub fn rejected(&self) -> Value {
        let (status, code) = match self {
            ProvisionFailure::InvalidPayload(_) => (400, "InvalidPayload"),
            ProvisionFailure::InvalidCsr(_) => (400, "InvalidCSR"),
            ProvisionFailure::InvalidToken(_) => (400, "InvalidCertificateOwnershipToken"),
            ProvisionFailure::TemplateNotFound(_) => (404, "ResourceNotFound"),
            ProvisionFailure::InvalidParameters(_) => (400, "InvalidParameters"),
            ProvisionFailure::ResourceConflict(_) => (409, "ResourceConflictsException"),
            ProvisionFailure::HookDenied(_) => (403, "AccessDenied"),
            ProvisionFailure::Throttled => (429, "ThrottlingException"),
            ProvisionFailure::Internal(_) => (500, "InternalFailure"),
        };
        let message = match self {
            ProvisionFailure::Internal(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        };
        json!({"statusCode": status, "errorCode": code, "errorMessage": message})
    }
}

impl From<ProvisioningError> for ProvisionFailure {
    fn from(e: ProvisioningError) -> ProvisionFailure {
        match e {
            ProvisioningError::Conflict => ProvisionFailure::Throttled,
            ProvisioningError::Registry(e) => ProvisionFailure::from_registry(e),
            other => ProvisionFailure::Internal(other.to_string()),
        }
    }
}

/// The control plane's view (RegisterThing, CreateProvisioningClaim): the exceptions the
/// `iot` model declares for them.
impl AwsException for ProvisionFailure {
    fn exception_name(&self) -> &'static str {
        match self {
            ProvisionFailure::InvalidPayload(_)
            | ProvisionFailure::InvalidCsr(_)
            | ProvisionFailure::InvalidToken(_)
            | ProvisionFailure::InvalidParameters(_) => "InvalidRequestException",
            ProvisionFailure::TemplateNotFound(_) => "ResourceNotFoundException",
            ProvisionFailure::ResourceConflict(_) | ProvisionFailure::HookDenied(_) => {
                "ResourceRegistrationFailureException"
            }
            ProvisionFailure::Throttled => "ThrottlingException",
            ProvisionFailure::Internal(_) => "InternalFailureException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            ProvisionFailure::Internal(_) => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        }
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            ProvisionFailure::TemplateNotFound(_) => 404,
            ProvisionFailure::Throttled => 429,
            ProvisionFailure::Internal(_) => 500,
            _ => 400,
        }
    }
}
