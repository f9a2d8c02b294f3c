//! The pre-provisioning hook: the Lambda function a template names, asked synchronously before
//! every RegisterThing. As for custom authorizers and the rules engine's Lambda actions, a
//! function is an HTTP endpoint found through `[aws.functions]`
//! (`ferrite_auth::custom::function_url`: the ARN, else the function name in it; an
//! `http(s)://` ARN is its own endpoint), and is called with the same client.
//!
//! Input (payload version `2020-04-01`): `claimCertificateId`, `certificateId`,
//! `certificatePem`, `templateArn`, `clientId`, `parameters`. Output: `allowProvisioning` and
//! optional `parameterOverrides`, merged over the device's parameters. No endpoint, a failed
//! or late call, an unreadable answer, or `allowProvisioning` not `true` all refuse.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::ProvisionFailure;

/// AWS gives the hook five seconds. [VERIFY]
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the hook is told about one request.
pub(crate) struct HookInput<'a> {
    pub claim_certificate_id: Option<&'a str>,
    pub certificate_id: &'a str,
    pub certificate_pem: &'a str,
    pub template_arn: &'a str,
    pub client_id: Option<&'a str>,
    pub parameters: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookOutput {
    #[serde(default)]
    allow_provisioning: bool,
    #[serde(default)]
    parameter_overrides: BTreeMap<String, String>,
}

fn denied(why: String) -> ProvisionFailure {
    ProvisionFailure::HookDenied(why)
}

/// Asks the function `target_arn`; returns the parameters to provision with.
pub(crate) async fn ask(
    functions: &Arc<BTreeMap<String, String>>,
    target_arn: &str,
    input: HookInput<'_>,
) -> Result<BTreeMap<String, String>, ProvisionFailure> {
    let url = ferrite_auth::custom::function_url(functions, target_arn).ok_or_else(|| {
        tracing::warn!(
            function = target_arn,
            "no endpoint in [aws.functions] for a pre-provisioning hook"
        );
        denied("The pre-provisioning hook could not be invoked.".into())
    })?;
    let event = json!({
        "claimCertificateId": input.claim_certificate_id.unwrap_or(""),
        "certificateId": input.certificate_id,
        "certificatePem": input.certificate_pem,
        "templateArn": input.template_arn,
        "clientId": input.client_id.unwrap_or(""),
        "parameters": input.parameters,
    });
    let call = ferrite_auth::custom::client::post_json(
        &url,
        &[("x-amz-invocation-type", "RequestResponse")],
        event.to_string().into_bytes(),
    );
    let response = match tokio::time::timeout(HOOK_TIMEOUT, call).await {
        Err(_) => return Err(denied("The pre-provisioning hook timed out.".into())),
        Ok(Err(e)) => {
            tracing::info!(error = %e, function = target_arn, "pre-provisioning hook failed");
            return Err(denied(
                "The pre-provisioning hook could not be invoked.".into(),
            ));
        }
        Ok(Ok(r)) => r,
    };
    if !(200..300).contains(&response.status) {
        return Err(denied(format!(
            "The pre-provisioning hook failed with status {}.",
            response.status
        )));
    }
    let out: HookOutput = serde_json::from_slice(&response.body)
        .map_err(|_| denied("The pre-provisioning hook returned an invalid response.".into()))?;
    if !out.allow_provisioning {
        return Err(denied(
            "The pre-provisioning hook rejected the provisioning request.".into(),
        ));
    }
    let mut parameters = input.parameters.clone();
    parameters.extend(out.parameter_overrides);
    Ok(parameters)
}
