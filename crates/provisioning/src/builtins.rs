//! The built-in (pseudo) parameters a template may reference without declaring them, and the
//! values a provisioning request supplies for them.

use std::collections::BTreeMap;

/// `Ref: AWS::NoValue` removes the property, list item or attribute it stands for.
pub const NO_VALUE: &str = "AWS::NoValue";

/// Every built-in parameter name: the certificate being provisioned (fleet provisioning, JITP)
/// and the subject fields of a JITP device certificate, plus the account and region.
pub const BUILTIN_PARAMETERS: &[&str] = &[
    "AWS::IoT::Certificate::Id",
    "AWS::IoT::Certificate::CommonName",
    "AWS::IoT::Certificate::Country",
    "AWS::IoT::Certificate::Organization",
    "AWS::IoT::Certificate::OrganizationalUnit",
    "AWS::IoT::Certificate::DistinguishedNameQualifier",
    "AWS::IoT::Certificate::StateName",
    "AWS::IoT::Certificate::SerialNumber",
    "AWS::IoT::Certificate::Locality",
    "AWS::IoT::Certificate::Title",
    "AWS::IoT::Certificate::Pseudonym",
    "AWS::IoT::Certificate::GenerationQualifier",
    "AWS::IoT::Certificate::Email",
    "AWS::AccountId",
    "AWS::Region",
];

/// Values for the built-in parameters of one provisioning request. A built-in the template
/// references but the request lacks (a subject field the certificate does not have) fails
/// the evaluation with [`crate::TemplateError::MissingBuiltin`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Builtins {
    values: BTreeMap<String, String>,
}

impl Builtins {
    /// No built-in values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a built-in by its full name (`AWS::IoT::Certificate::CommonName`); names outside
    /// [`BUILTIN_PARAMETERS`] are ignored, so a caller cannot smuggle in other parameters.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        if is_builtin(name) {
            self.values.insert(name.to_owned(), value.into());
        }
        self
    }

    /// The certificate being provisioned.
    pub fn with_certificate_id(self, id: impl Into<String>) -> Self {
        self.with("AWS::IoT::Certificate::Id", id)
    }

    /// The value of one built-in, if the request supplies it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN_PARAMETERS.contains(&name)
}
