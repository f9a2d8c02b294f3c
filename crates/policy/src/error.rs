//! The policy parse error and the exact messages AWS IoT puts in `MalformedPolicyException`.
//!
//! Every rejection starts with AWS IoT's prefix `Policy document is Malformed`; where IAM (whose
//! grammar IoT policies follow) has a well-known wording for the problem, the detail reuses it.

/// Why a policy document was rejected. `message` is the text for `MalformedPolicyException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// The message AWS returns in `MalformedPolicyException`.
    pub message: String,
}

/// The prefix AWS IoT gives every `MalformedPolicyException` about a document's content.
pub(crate) const PREFIX: &str = "Policy document is Malformed";

impl PolicyError {
    /// `Policy document is Malformed: {detail}`.
    pub(crate) fn malformed(detail: impl std::fmt::Display) -> PolicyError {
        PolicyError {
            message: format!("{PREFIX}: {detail}"),
        }
    }

    /// The document is not JSON, or not a JSON object.
    pub(crate) fn syntax() -> PolicyError {
        PolicyError::malformed("Invalid policy syntax.")
    }

    /// The document has more non-whitespace characters than the quota allows.
    pub(crate) fn too_large(len: usize, max: usize) -> PolicyError {
        PolicyError::malformed(format_args!(
            "Policy document size {len} exceeds the maximum of {max} characters, excluding whitespace"
        ))
    }

    pub(crate) fn missing_field(field: &str) -> PolicyError {
        PolicyError::malformed(format_args!("Missing required field {field}"))
    }

    pub(crate) fn unsupported_element(element: &str) -> PolicyError {
        PolicyError::malformed(format_args!("Unsupported policy element: {element}"))
    }

    pub(crate) fn wrong_type(element: &str, expected: &str) -> PolicyError {
        PolicyError::malformed(format_args!("{element} must be {expected}"))
    }

    pub(crate) fn both(element: &str, negated: &str) -> PolicyError {
        PolicyError::malformed(format_args!(
            "Policy statement cannot contain both {element} and {negated}"
        ))
    }

    pub(crate) fn invalid_resources(resources: &[&str]) -> PolicyError {
        PolicyError::malformed(format_args!(
            "The following resources are invalid : {}",
            resources.join(", ")
        ))
    }
}
