//! The typed result of evaluating a template: what the provisioning service must do.

use std::collections::BTreeMap;

use serde::Serialize;

/// Everything one provisioning run does, in AWS's order: the thing (created or updated),
/// the certificate's status, the policies attached to the certificate; plus what the device
/// is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The thing resource, unless the template has none (or its condition is false).
    pub thing: Option<ThingPlan>,
    /// The certificate resource.
    pub certificate: Option<CertificatePlan>,
    /// The policies to attach to the certificate, in logical-name order (JSON objects carry no
    /// order Ferrite keeps).
    pub policies: Vec<PolicyPlan>,
    /// `DeviceConfiguration`, flattened to strings.
    pub device_configuration: BTreeMap<String, String>,
    /// The value every declared parameter resolved to (given, built-in or default).
    pub parameters: BTreeMap<String, String>,
}

/// What to do about a property of a resource that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Override {
    /// Keep the existing value (AWS's behaviour when `OverrideSettings` says nothing).
    DoNothing,
    /// Replace it with the template's value.
    Replace,
    /// Refuse the provisioning (`ResourceConflictsException`) if it differs.
    Fail,
    /// Merge attributes or groups (only `AttributePayload` and `ThingGroups`).
    Merge,
}

/// The thing to create, or to update when it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingPlan {
    /// The resource's logical name in the template (the key of `resourceArns`).
    pub logical_name: String,
    /// The thing's name.
    pub thing_name: String,
    /// `AttributePayload`.
    pub attributes: BTreeMap<String, String>,
    /// `ThingTypeName`.
    pub thing_type_name: Option<String>,
    /// `ThingGroups`, in template order without duplicates.
    pub thing_groups: Vec<String>,
    /// `BillingGroup`.
    pub billing_group: Option<String>,
    /// `OverrideSettings`.
    pub overrides: ThingOverrides,
}

/// `OverrideSettings` of a thing resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingOverrides {
    /// `AttributePayload`.
    pub attribute_payload: Override,
    /// `ThingTypeName`.
    pub thing_type_name: Override,
    /// `ThingGroups`.
    pub thing_groups: Override,
    /// `BillingGroup`.
    pub billing_group: Override,
}

impl Default for ThingOverrides {
    fn default() -> Self {
        Self {
            attribute_payload: Override::DoNothing,
            thing_type_name: Override::DoNothing,
            thing_groups: Override::DoNothing,
            billing_group: Override::DoNothing,
        }
    }
}

/// How the template names the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum CertificateSource {
    /// `CertificateId`: an existing certificate (fleet provisioning and JITP).
    Id(String),
    /// `CertificateSigningRequest`: a certificate to issue from this CSR (bulk registration).
    SigningRequest(String),
    /// `CertificatePem` (+ `CACertificatePem`): a certificate to register.
    Pem {
        /// The device certificate.
        certificate_pem: String,
        /// Its CA, when several registered CAs share a subject.
        ca_certificate_pem: Option<String>,
    },
}

/// The status the certificate ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertificateStatus {
    /// `ACTIVE` (the default).
    Active,
    /// `INACTIVE`.
    Inactive,
}

impl CertificateStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }
}

/// The certificate resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificatePlan {
    /// The resource's logical name.
    pub logical_name: String,
    /// Which certificate.
    pub source: CertificateSource,
    /// `Status`.
    pub status: CertificateStatus,
    /// `OverrideSettings.Status`.
    pub status_override: Override,
}

/// Where a policy comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicySource {
    /// `PolicyName`: an existing policy.
    Existing,
    /// `PolicyDocument`: create the policy (named after the document's SHA-256 unless a
    /// `PolicyName` is also given) with this document if it does not exist.
    Document(String),
}

/// One policy to attach to the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPlan {
    /// The resource's logical name.
    pub logical_name: String,
    /// The policy's name.
    pub policy_name: String,
    /// Existing, or created from a document.
    pub source: PolicySource,
}
