//! The body of the `provisioning_template` fuzz target, shared with the stable-toolchain
//! corpus test so both exercise exactly the same checks.

use std::collections::BTreeMap;

use crate::{Builtins, Template, TemplateKind};

/// A fixed certificate id the fuzz body provisions.
pub const FUZZ_CERTIFICATE_ID: &str =
    "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";

/// Splits `data` at its first NUL byte into a template body and a parameters object (JSON of
/// string values; anything else means no parameters), parses the template, checks it for
/// both kinds and evaluates it. Invariants: no panic; an accepted body is within the length
/// limit; evaluation is deterministic; a plan's names have AWS's lengths, it attaches at most
/// ten policies and it serialises.
/// Returns 0 when the body was refused, 1 when it parsed, 2 when it also evaluated.
///
/// # Panics
/// On any violated invariant; that is the point of a fuzz body.
pub fn check_template(data: &[u8]) -> usize {
    let (body, params) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return 0;
    };
    let parameters: BTreeMap<String, String> = serde_json::from_slice(params).unwrap_or_default();
    let template = match Template::parse(body) {
        Ok(t) => t,
        Err(e) => {
            assert!(
                e.is_template_fault(),
                "parse error of the evaluation kind: {e}"
            );
            assert!(!e.aws_message().is_empty());
            return 0;
        }
    };
    assert!(body.chars().count() <= crate::MAX_TEMPLATE_BODY_CHARS);
    let _ = template.check_kind(TemplateKind::FleetProvisioning);
    let _ = template.check_kind(TemplateKind::Jitp);
    let builtins = Builtins::new()
        .with_certificate_id(FUZZ_CERTIFICATE_ID)
        .with("AWS::IoT::Certificate::CommonName", "device-1");
    let first = template.evaluate(&parameters, &builtins);
    let second = template.evaluate(&parameters, &builtins);
    assert_eq!(
        first, second,
        "evaluation is not deterministic for {body:?}"
    );
    match first {
        Ok(plan) => {
            if let Some(thing) = &plan.thing {
                assert!((1..=128).contains(&thing.thing_name.len()));
                assert!(thing.thing_groups.iter().all(|g| !g.is_empty()));
            }
            assert!(plan.policies.len() <= crate::template::MAX_POLICIES);
            for policy in &plan.policies {
                assert!((1..=128).contains(&policy.policy_name.len()));
            }
            // A device may never pick the certificate: a given id parameter is ignored.
            if let Some(crate::CertificatePlan {
                source: crate::CertificateSource::Id(id),
                ..
            }) = &plan.certificate
            {
                assert_eq!(id.len(), 64);
            }
            serde_json::to_string(&plan).expect("plans serialise");
            2
        }
        Err(e) => {
            assert!(!e.aws_message().is_empty());
            1
        }
    }
}
