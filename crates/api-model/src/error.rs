//! The crate's error types: routing, request decoding and validation, response encoding.
//!
//! Messages are lowercase except [`ConstraintViolations`], whose text is AWS's own validation
//! message and goes to clients unchanged.

use std::fmt;

use crate::operation::HttpMethod;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid percent-encoding")]
pub struct InvalidPercentEncoding;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no operation matches {method} {path}")]
    NotFound { method: String, path: String },
    /// The path matches operations, but none with this method.
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: Vec<HttpMethod>,
    },
    #[error("invalid percent-encoding in the request path")]
    InvalidPercentEncoding,
}

/// Why a request could not become a valid operation input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("malformed json body: {reason}")]
    MalformedJson { reason: String },
    /// A member's value has the wrong JSON type, or text in a label, query or header does not
    /// parse as the member's type. `path` uses AWS's notation (`a.b`, `list.1.member`).
    #[error("invalid value at '{path}': expected {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("invalid percent-encoding in the query string")]
    InvalidPercentEncoding,
    #[error(transparent)]
    Constraints(#[from] ConstraintViolations),
}

/// One failed model constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Member path in AWS's notation, e.g. `topicRulePayload.actions.1.member.lambda`.
    pub path: String,
    /// The value as AWS renders it: `'text'`, or `null` for a missing member.
    pub value: String,
    /// E.g. `Member must have length less than or equal to 128`.
    pub constraint: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Value {} at '{}' failed to satisfy constraint: {}",
            self.value, self.path, self.constraint
        )
    }
}

/// All failed constraints of one request, never empty; displays as AWS's message
/// `N validation error(s) detected: ...; ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConstraintViolations(pub Vec<Violation>);

impl fmt::Display for ConstraintViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} validation error{} detected: ",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// The handler's output does not fit the operation's output shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("output is not a json object")]
    NotAnObject,
    #[error("invalid base64 in blob payload member '{member}'")]
    InvalidBase64 { member: &'static str },
    #[error("invalid timestamp at '{path}'")]
    InvalidTimestamp { path: String },
    #[error("invalid value for '{member}' bound to {binding}")]
    InvalidBinding {
        member: &'static str,
        binding: &'static str,
    },
    #[error("{service} has no error shape '{name}'")]
    UnknownErrorShape {
        service: crate::Service,
        name: String,
    },
}
