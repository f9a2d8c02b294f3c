//! AWS IoT provisioning templates for Ferrite: the template language as a parser and an
//! evaluator, without I/O.
//!
//! [`Template::parse`] reads a template body (≤ [`MAX_TEMPLATE_BODY_CHARS`] characters) and checks
//! everything that does not depend on the values a device sends: the sections (`Parameters`,
//! `Mappings`, `Conditions`, `Resources`, `DeviceConfiguration`), the resource types
//! (`AWS::IoT::Thing`, `AWS::IoT::Certificate`, `AWS::IoT::Policy`) and their properties, the
//! intrinsic functions (`Ref`, `Fn::Join`, `Fn::Select`, `Fn::FindInMap`, `Fn::Split`, `Fn::Sub`,
//! `Fn::GetAtt`, `Fn::If`) and conditions (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`,
//! `Condition`), references to parameters, conditions and resources, and reference cycles.
//! Every error is an [`TemplateError`] whose [`TemplateError::aws_message`] is the text an
//! `InvalidRequestException` carries.
//!
//! [`Template::evaluate`] takes the device's parameters and the built-in values
//! ([`Builtins`]: the certificate's id and, for JITP, its subject fields) and yields a
//! [`Plan`]: which thing to create or update with what, which certificate to set to which
//! status, which policies to attach with which document, the `deviceConfiguration` to answer
//! with and the resolved parameters. The provisioning service executes the plan; nothing here
//! touches the registry.
//!
//! Evaluation is bounded: the body is short, nesting is limited to [`MAX_NESTING`] levels,
//! condition and resource results are memoised (a chain of references cannot blow up
//! exponentially) and every produced string or list is capped ([`MAX_VALUE_CHARS`],
//! [`MAX_LIST_ITEMS`]). The `provisioning_template` fuzz target checks that no input panics.

#![warn(missing_docs)]

mod builtins;
mod error;
mod eval;
mod expr;
pub mod fuzzing;
mod names;
mod plan;
mod template;

pub use builtins::{BUILTIN_PARAMETERS, Builtins, NO_VALUE};
pub use error::TemplateError;
pub use plan::{
    CertificatePlan, CertificateSource, CertificateStatus, Override, Plan, PolicyPlan,
    PolicySource, ThingOverrides, ThingPlan,
};
pub use template::{Template, TemplateKind};

/// AWS's limit on `templateBody`, in characters.
pub const MAX_TEMPLATE_BODY_CHARS: usize = 10_240;

/// How deeply JSON values and intrinsic functions may nest in a template.
pub const MAX_NESTING: usize = 32;

/// The longest string an evaluation may produce (joined, substituted or looked up).
pub const MAX_VALUE_CHARS: usize = 65_536;

/// The longest list an evaluation may produce (split, joined or looked up).
pub const MAX_LIST_ITEMS: usize = 1_024;
