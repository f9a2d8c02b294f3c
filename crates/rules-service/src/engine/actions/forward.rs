//! Forwarding: an action type whose `[targets.<section>]` sets `forward_endpoint` calls the
//! AWS service's real API at that endpoint (AWS itself, LocalStack, moto, MinIO, ...),
//! SigV4-signed with `[targets.forward]`'s keys and region, instead of delivering to a local
//! system. One [`Forward`] per action; every call is one signed HTTP request on a connection of
//! its own, bounded by [`CALL_TIMEOUT`].
//!
//! How an action adopts it:
//! - build: `Forward::for_section(&targets.<section>.forward_endpoint, &targets.forward)`;
//!   `None` means deliver locally;
//! - JSON-protocol services (botocore's `protocol: json`): [`Forward::json_call`] with the
//!   signing name, the model's `jsonVersion` and `{targetPrefix}.{Operation}`, e.g. DynamoDB
//!   `("dynamodb", "1.0", "DynamoDB_20120810.PutItem")`, Kinesis `("kinesis", "1.1",
//!   "Kinesis_20131202.PutRecord")`, Firehose `("firehose", "1.1",
//!   "Firehose_20150804.PutRecord")`, SQS `("sqs", "1.0", "AmazonSQS.SendMessage")`;
//! - query-protocol services (SNS, CloudWatch): [`Forward::query_call`] with the action, the
//!   API version and the parameters, sent as a `POST /` of
//!   `application/x-www-form-urlencoded` `Action=Publish&Version=2010-03-31&...`;
//! - everything else (S3's REST-XML): [`Forward::call`] with a [`Call`];
//! - errors come back as [`ActionError`]s already classified: no answer, throttling and 5xx are
//!   transient (the action's retries apply), other refusals permanent, with AWS's error code
//!   and message in the text the error action reports. An action that must react to one
//!   error code (a log stream that already exists) calls [`Forward::try_json_call`], whose
//!   [`CallError`] carries the code.

use std::time::Duration;

use bytes::Bytes;
use ferrite_auth::custom::client;
use ferrite_auth::signer::{Signer, Unsigned};
use ferrite_config::ForwardConfig;
use ferrite_types::Clock;
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::ActionError;

/// How long one forwarded call may take, connection included.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What a form value leaves as it is (RFC 3986's unreserved characters), as botocore encodes
/// query-protocol bodies.
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `value` as one segment of a REST path (`/functions/{FunctionName}/...`): everything but
/// RFC 3986's unreserved characters percent-encoded, as botocore encodes URI labels.
pub(crate) fn path_segment(value: &str) -> String {
    utf8_percent_encode(value, FORM_VALUE).to_string()
}

/// An AWS-compatible endpoint and the keys calls to it are signed with.
#[derive(Debug)]
pub(crate) struct Forward {
    /// `scheme://host[:port]`, without a trailing `/`.
    endpoint: String,
    signer: Signer,
}

/// One request to forward.
pub(crate) struct Call<'a> {
    /// The service's signing name (`s3`, `sns`, ...).
    pub service: &'a str,
    pub method: Method,
    /// Path and query, already URI-encoded as they go on the wire.
    pub path: String,
    /// Headers besides `host` and the signature's.
    pub headers: Vec<(&'a str, String)>,
    pub body: Bytes,
}

/// A forwarded call that failed: what the action reports, and the service's error code when
/// the service answered with one.
#[derive(Debug)]
pub(crate) struct CallError {
    pub code: Option<String>,
    pub error: ActionError,
}

impl From<CallError> for ActionError {
    fn from(e: CallError) -> ActionError {
        e.error
    }
}

impl From<ActionError> for CallError {
    fn from(error: ActionError) -> CallError {
        CallError { code: None, error }
    }
}

impl Forward {
    /// What a section's `forward_endpoint` asks for: `None` when it is empty (deliver locally).
    pub fn for_section(endpoint: &str, keys: &ForwardConfig) -> Option<Forward> {
        let endpoint = endpoint.trim().trim_end_matches('/');
        if endpoint.is_empty() {
            return None;
        }
        Some(Forward {
            endpoint: endpoint.to_owned(),
            signer: Signer::new(&keys.region, &keys.access_key_id, &keys.secret_access_key),
        })
    }

    /// A call to a JSON-protocol service: `POST /` with `X-Amz-Target: {target}` and the
    /// input as the body; the output on success.
    pub async fn json_call(
        &self,
        service: &str,
        json_version: &str,
        target: &str,
        input: &Value,
    ) -> Result<Value, ActionError> {
        Ok(self
            .try_json_call(service, json_version, target, input)
            .await?)
    }

    /// [`Forward::json_call`], failing with the service's error code when it gave one.
    pub async fn try_json_call(
        &self,
        service: &str,
        json_version: &str,
        target: &str,
        input: &Value,
    ) -> Result<Value, CallError> {
        let body = self
            .send(Call {
                service,
                method: Method::POST,
                path: "/".into(),
                headers: vec![
                    (
                        "content-type",
                        format!("application/x-amz-json-{json_version}"),
                    ),
                    ("x-amz-target", target.to_owned()),
                ],
                body: Bytes::from(input.to_string()),
            })
            .await?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| {
            CallError::from(ActionError::permanent(format!(
                "{target} at {} answered with a body that is not JSON: {e}",
                self.endpoint
            )))
        })
    }

    /// A call to a query-protocol service: `Action`, `Version` and `params` form-encoded in
    /// a `POST /`; the XML response body on success.
    pub async fn query_call(
        &self,
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<Bytes, ActionError> {
        self.call(Call {
            service,
            method: Method::POST,
            path: "/".into(),
            headers: vec![(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: Bytes::from(form(action, version, params)),
        })
        .await
    }

    /// Signs and sends `call`; the response body when the status is 2xx.
    pub async fn call(&self, call: Call<'_>) -> Result<Bytes, ActionError> {
        Ok(self.send(call).await?)
    }

    async fn send(&self, call: Call<'_>) -> Result<Bytes, CallError> {
        if !self.signer.has_keys() {
            return Err(ActionError::permanent(format!(
                "forwarding to {} needs [targets.forward] access_key_id and secret_access_key",
                self.endpoint
            ))
            .into());
        }
        let url = format!("{}{}", self.endpoint, call.path);
        let headers = self.signed_headers(&call, &url)?;
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let sent = client::send(call.method.clone(), &url, &borrowed, call.body);
        let response = match tokio::time::timeout(CALL_TIMEOUT, sent).await {
            Err(_) => {
                return Err(ActionError::transient(format!(
                    "{url} did not answer within {} s",
                    CALL_TIMEOUT.as_secs()
                ))
                .into());
            }
            Ok(Err(e @ client::ClientError::BadUrl(_))) => {
                return Err(ActionError::permanent(e.to_string()).into());
            }
            Ok(Err(e)) => return Err(ActionError::transient(e.to_string()).into()),
            Ok(Ok(response)) => response,
        };
        if (200..300).contains(&response.status) {
            return Ok(response.body);
        }
        let (code, message) = ferrite_auth::signer::aws_error(&response.body);
        let text = format!(
            "{} {} answered {}: {code}: {message}",
            call.method, url, response.status
        );
        let error = if response.status >= 500 || response.status == 429 || is_throttling(&code) {
            ActionError::transient(text)
        } else {
            ActionError::permanent(text)
        };
        Err(CallError {
            code: Some(code),
            error,
        })
    }

    /// All headers to send: the call's plus the signature's.
    fn signed_headers(
        &self,
        call: &Call<'_>,
        url: &str,
    ) -> Result<Vec<(String, String)>, ActionError> {
        let headers: Vec<(&str, &str)> =
            call.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let request = Unsigned {
            method: call.method.as_str(),
            url,
            headers: &headers,
            body: &call.body,
        };
        self.signer
            .sign(call.service, &request, Clock::system().now_system_time())
            .map_err(|e| ActionError::permanent(e.to_string()))
    }
}

/// A query-protocol body: `Action`, `Version`, then `params`, each value percent-encoded.
fn form(action: &str, version: &str, params: &[(&str, &str)]) -> String {
    let mut body = format!("Action={action}&Version={version}");
    for (name, value) in params {
        body.push('&');
        body.push_str(name);
        body.push('=');
        body.extend(utf8_percent_encode(value, FORM_VALUE));
    }
    body
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "SlowDown"
            | "ServiceUnavailable"
    )
}

#[cfg(test)]
mod tests;
