//! The one error type of template parsing and evaluation, with the message an
//! `InvalidRequestException` (control plane) or a rejected provisioning request carries.

/// Why a template is refused or could not be evaluated. `at` is the JSON path of the offending
/// element (`Resources.thing.Properties.ThingName`), so a user can find it in a long body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The body is longer than AWS's 10,240 characters.
    #[error("template body has {chars} characters, more than the limit of {limit}")]
    BodyTooLong {
        /// The body's length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not a JSON object.
    #[error("template body is not a valid JSON object: {0}")]
    NotJson(String),
    /// Values or functions nest deeper than [`crate::MAX_NESTING`].
    #[error("template nests deeper than {limit} levels at {at}")]
    TooDeep {
        /// Where the limit was passed.
        at: String,
        /// The limit.
        limit: usize,
    },
    /// The template's structure is wrong (unknown section, bad function arguments, unknown
    /// reference, cycle, ...). Found without any parameter value.
    #[error("invalid template at {at}: {message}")]
    Invalid {
        /// Where.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A declared parameter has no value and no default.
    #[error("parameter {0} has no value and no default")]
    MissingParameter(String),
    /// A parameter value does not fit its declared type.
    #[error("parameter {name} is not a valid {kind}: {value:?}")]
    ParameterType {
        /// The parameter.
        name: String,
        /// Its declared type.
        kind: &'static str,
        /// The value given.
        value: String,
    },
    /// A built-in parameter (certificate id, a subject field) is referenced but the
    /// provisioning request does not supply it.
    #[error("built-in parameter {0} is not available for this request")]
    MissingBuiltin(String),
    /// Evaluating the template with these parameters failed (index out of range, missing
    /// mapping key, a value that is not a valid thing name, ...).
    #[error("cannot evaluate template at {at}: {message}")]
    Evaluation {
        /// Where.
        at: String,
        /// What went wrong.
        message: String,
    },
}

impl TemplateError {
    pub(crate) fn invalid(at: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            at: at.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn eval(at: &str, message: impl Into<String>) -> Self {
        Self::Evaluation {
            at: at.to_owned(),
            message: message.into(),
        }
    }

    /// True when the template itself is wrong, whatever the parameters (CreateProvisioningTemplate
    /// refuses it); false when only this evaluation failed.
    pub fn is_template_fault(&self) -> bool {
        matches!(
            self,
            Self::BodyTooLong { .. }
                | Self::NotJson(_)
                | Self::TooDeep { .. }
                | Self::Invalid { .. }
        )
    }

    /// The message a client sees, in AWS's style: a sentence starting with a capital letter.
    pub fn aws_message(&self) -> String {
        match self {
            Self::BodyTooLong { limit, .. } => {
                format!("The template body exceeds the maximum length of {limit} characters.")
            }
            Self::NotJson(detail) => format!("The template body is not valid JSON: {detail}"),
            Self::TooDeep { at, limit } => {
                format!("The template nests deeper than {limit} levels at {at}.")
            }
            Self::Invalid { at, message } => format!("Invalid template: {message} (at {at})."),
            Self::MissingParameter(name) => {
                format!("Parameter {name} is required by the template but was not provided.")
            }
            Self::ParameterType { name, kind, value } => {
                format!("Parameter {name} must be a {kind}; got \"{value}\".")
            }
            Self::MissingBuiltin(name) => {
                format!("Built-in parameter {name} is not available for this request.")
            }
            Self::Evaluation { at, message } => {
                format!("Failed to evaluate the template: {message} (at {at}).")
            }
        }
    }
}
