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

#[cfg(test)]
// The test endpoint runs on a detached task: the lint policy is for the service's own code.
#[allow(clippy::disallowed_methods)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::Value;
    use tokio::sync::mpsc;

    use super::*;

    /// An endpoint answering `status` and `body` to every POST, reporting the events.
    async fn endpoint(
        status: StatusCode,
        body: &'static str,
    ) -> (String, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new().fallback(move |event: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(serde_json::from_slice(&event).unwrap_or(Value::Null));
                (status, body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, rx)
    }

    fn input<'a>(parameters: &'a BTreeMap<String, String>) -> HookInput<'a> {
        HookInput {
            claim_certificate_id: Some("claim"),
            certificate_id: "c0ffee",
            certificate_pem: "PEM",
            template_arn: "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/t",
            client_id: Some("dev"),
            parameters,
        }
    }

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:hook";

    #[tokio::test]
    async fn overrides_are_merged_and_the_event_has_awss_shape() {
        let (url, mut events) = endpoint(
            StatusCode::OK,
            r#"{"allowProvisioning": true, "parameterOverrides": {"B": "hook"}}"#,
        )
        .await;
        let functions = Arc::new(BTreeMap::from([(ARN.to_owned(), url)]));
        let given = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
        ]);
        let merged = ask(&functions, ARN, input(&given)).await.unwrap();
        assert_eq!(merged["A"], "1");
        assert_eq!(merged["B"], "hook");
        let event = events.recv().await.unwrap();
        assert_eq!(
            event,
            json!({"claimCertificateId": "claim", "certificateId": "c0ffee", "certificatePem": "PEM",
                   "templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/t",
                   "clientId": "dev", "parameters": {"A": "1", "B": "2"}})
        );
    }

    #[tokio::test]
    async fn anything_but_an_explicit_allow_refuses() {
        let given = BTreeMap::new();
        let answers = [
            (StatusCode::OK, r#"{"allowProvisioning": false}"#),
            (StatusCode::OK, r#"{}"#),
            (StatusCode::OK, "not json"),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"allowProvisioning": true}"#,
            ),
        ];
        for (status, body) in answers {
            let (url, _events) = endpoint(status, body).await;
            let functions = Arc::new(BTreeMap::from([(ARN.to_owned(), url)]));
            let e = ask(&functions, ARN, input(&given)).await.unwrap_err();
            assert_eq!(e.rejected()["statusCode"], 403, "{status} {body}");
            assert_eq!(e.rejected()["errorCode"], "AccessDenied");
        }
        // No endpoint for the function.
        let e = ask(&Arc::new(BTreeMap::new()), ARN, input(&given))
            .await
            .unwrap_err();
        assert!(matches!(e, ProvisionFailure::HookDenied(_)));
    }
}
