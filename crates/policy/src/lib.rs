//! AWS IoT Core policy documents for Ferrite: parse, validate, compile and evaluate.
//!
//! This crate owns everything that interprets a policy document: the IAM JSON grammar as AWS
//! IoT accepts it, with AWS's `MalformedPolicyException` messages ([`Policy::parse`]); the
//! compilation of actions, resources and conditions into matchers (IAM wildcards `*`/`?`,
//! MQTT `+`/`#` as plain characters, policy variables `${...}` and their escapes); and the
//! evaluation of a request against a set of policies with IAM's rules: default deny, an
//! explicit deny wins ([`evaluate`] for TestAuthorization, [`is_allowed`] for the broker's
//! hot path).
//!
//! It is pure and synchronous: no I/O, no async, no global state. Where values come from
//! (client id, thing, certificate fields, source IP, the clock) is the caller's business,
//! expressed through the [`Context`] trait; the AWS rules about those values that are
//! independent of the caller (certificate attributes containing wildcard characters are left
//! unresolved, variable values never act as wildcards) are applied here.

#![warn(missing_docs)]

mod condition;
mod context;
mod document;
mod error;
mod evaluate;
mod pattern;
mod statement;
mod typed;

use std::sync::Arc;

pub use context::{Context, ContextValue, MAX_CERTIFICATE_VALUE_CHARS, WithTime};
pub use document::{MAX_DOCUMENT_CHARS, Version};
pub use error::PolicyError;
pub use evaluate::{Decision, Evaluation, Request, evaluate, is_allowed};

use statement::Statement;

/// A parsed, validated and compiled policy document. Cheap to clone (`Arc` inside); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Policy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    document: String,
    version: Version,
    statements: Box<[Statement]>,
    time_dependent: bool,
}

impl Policy {
    /// Parses and validates a policy document as AWS does (CreatePolicy, CreatePolicyVersion,
    /// custom authorizer responses). The error's message is what AWS puts in
    /// `MalformedPolicyException`.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        let parsed = document::parse(document)?;
        let time_dependent = parsed.statements.iter().any(|s| {
            s.conditions.iter().any(|c| c.is_time_dependent())
                || s.resources
                    .variables()
                    .iter()
                    .any(|v| condition::is_time_key(&v.key))
        });
        Ok(Policy {
            inner: Arc::new(Inner {
                document: document.to_owned(),
                version: parsed.version,
                statements: parsed.statements.into(),
                time_dependent,
            }),
        })
    }

    /// True if some condition reads a key whose value changes over time (`aws:CurrentTime`,
    /// `aws:EpochTime`), so a decision for one request must not be cached.
    pub fn is_time_dependent(&self) -> bool {
        self.inner.time_dependent
    }

    /// The document text exactly as given to [`Policy::parse`].
    pub fn document(&self) -> &str {
        &self.inner.document
    }

    /// The policy language version the document declared (or defaulted to).
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The number of statements.
    pub fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    fn statements(&self) -> &[Statement] {
        &self.inner.statements
    }
}
