//! Forwarded calls against a local endpoint that checks their signatures with Ferrite's own
//! SigV4 verifier (written to AWS's specification, and what boto3's signatures pass).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method as AxumMethod, Uri};
use ferrite_auth::sigv4::{Payload, SecretKey, SignedRequest, Verified, Verifier};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::mpsc;

use super::*;

const WAIT: Duration = Duration::from_secs(10);

struct Hit {
    method: AxumMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The verifier's verdict on the request's signature.
    verified: Result<Verified, String>,
}

/// What the endpoint answers: status, content type, body.
type Answer = Arc<Mutex<(u16, &'static str, String)>>;

async fn endpoint() -> (String, mpsc::UnboundedReceiver<Hit>, Answer) {
    let (tx, rx) = mpsc::unbounded_channel();
    let answer: Answer = Arc::new(Mutex::new((200, "application/json", "{}".into())));
    let reply = answer.clone();
    let verifier = Arc::new(Verifier::new(HashMap::from([(
        "AKIDFORWARD".to_owned(),
        SecretKey::new("forward-secret"),
    )])));
    let app = axum::Router::new().fallback(
        move |method: AxumMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (tx, reply, verifier) = (tx.clone(), reply.clone(), verifier.clone());
            async move {
                let request = SignedRequest {
                    method: method.as_str(),
                    path: uri.path(),
                    query: uri.query().unwrap_or_default(),
                    headers: &headers,
                    payload: Payload::Bytes(&body),
                };
                let verified = verifier
                    .verify(&request, Clock::system().now_system_time())
                    .map_err(|e| e.to_string());
                let _ = tx.send(Hit {
                    method,
                    uri,
                    headers,
                    body,
                    verified,
                });
                let (status, content_type, body) = reply.lock().clone();
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", content_type)],
                    body,
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx, answer)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap()
}

fn keys() -> ForwardConfig {
    ForwardConfig {
        region: "eu-central-1".into(),
        access_key_id: "AKIDFORWARD".into(),
        secret_access_key: "forward-secret".into(),
    }
}

#[test]
fn an_empty_endpoint_means_no_forwarding() {
    assert!(Forward::for_section("", &keys()).is_none());
    assert!(Forward::for_section("  ", &keys()).is_none());
    let f = Forward::for_section("http://127.0.0.1:4566/", &keys()).unwrap();
    assert_eq!(f.endpoint, "http://127.0.0.1:4566");
}

#[tokio::test]
async fn json_calls_are_signed_for_the_service_and_region_and_carry_the_target() {
    let (url, mut rx, answer) = endpoint().await;
    *answer.lock() = (
        200,
        "application/x-amz-json-1.0",
        r#"{"MessageId":"m-1"}"#.into(),
    );
    let forward = Forward::for_section(&url, &keys()).unwrap();
    let input = json!({"QueueUrl": "http://q/123456789012/orders", "MessageBody": "hi"});
    let out = forward
        .json_call("sqs", "1.0", "AmazonSQS.SendMessage", &input)
        .await
        .unwrap();
    assert_eq!(out, json!({"MessageId": "m-1"}));
    let hit = next(&mut rx).await;
    let verified = hit.verified.expect("the signature verifies");
    assert_eq!(verified.service, "sqs");
    assert_eq!(verified.region, "eu-central-1");
    assert_eq!(verified.access_key_id, "AKIDFORWARD");
    assert_eq!(hit.method, AxumMethod::POST);
    assert_eq!(hit.uri.path(), "/");
    assert_eq!(hit.headers["x-amz-target"], "AmazonSQS.SendMessage");
    assert_eq!(hit.headers["content-type"], "application/x-amz-json-1.0");
    assert_eq!(serde_json::from_slice::<Value>(&hit.body).unwrap(), input);
}

#[tokio::test]
async fn s3_calls_sign_the_payload_hash_and_extra_headers() {
    let (url, mut rx, answer) = endpoint().await;
    *answer.lock() = (200, "application/xml", String::new());
    let forward = Forward::for_section(&url, &keys()).unwrap();
    forward
        .call(Call {
            service: "s3",
            method: Method::PUT,
            // Unescaped: S3 signs paths as sent, where the verifier (for Ferrite's own
            // services) encodes them once more, so an escape would verify only on one side.
            path: "/bucket/a/b-c.json".into(),
            headers: vec![("x-amz-acl", "public-read".into())],
            body: Bytes::from_static(b"{\"t\":1}"),
        })
        .await
        .unwrap();
    let hit = next(&mut rx).await;
    assert_eq!(hit.verified.expect("the signature verifies").service, "s3");
    assert_eq!(hit.method, AxumMethod::PUT);
    assert_eq!(hit.uri.path(), "/bucket/a/b-c.json");
    assert!(hit.headers.contains_key("x-amz-content-sha256"));
    let authorization = hit.headers["authorization"].to_str().unwrap();
    assert!(authorization.contains("x-amz-acl"), "{authorization}");
    assert_eq!(&hit.body[..], b"{\"t\":1}");
}

#[tokio::test]
async fn refusals_are_permanent_and_overload_is_transient() {
    let (url, mut rx, answer) = endpoint().await;
    let forward = Forward::for_section(&url, &keys()).unwrap();
    let cases = [
        (
            400,
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no such queue"}"#,
            false,
            "QueueDoesNotExist: no such queue",
        ),
        (
            403,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            false,
            "AccessDenied: Access Denied",
        ),
        (
            400,
            r#"{"__type":"ThrottlingException","message":"slow down"}"#,
            true,
            "ThrottlingException",
        ),
        (
            503,
            "<Error><Code>SlowDown</Code></Error>",
            true,
            "SlowDown",
        ),
    ];
    for (status, body, retry, text) in cases {
        *answer.lock() = (status, "text/plain", body.into());
        let err = forward
            .json_call("sqs", "1.0", "AmazonSQS.SendMessage", &json!({}))
            .await
            .unwrap_err();
        next(&mut rx).await;
        assert_eq!(err.retry, retry, "{status} {body}: {}", err.message);
        assert!(err.message.contains(text), "{}", err.message);
        assert!(err.message.contains(&status.to_string()), "{}", err.message);
    }
}

#[tokio::test]
async fn an_endpoint_that_is_down_is_transient_and_missing_keys_permanent() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let forward = Forward::for_section(&url, &keys()).unwrap();
    let err = forward
        .json_call("sqs", "1.0", "AmazonSQS.SendMessage", &json!({}))
        .await
        .unwrap_err();
    assert!(err.retry, "{}", err.message);

    let no_keys = Forward::for_section(&url, &ForwardConfig::default()).unwrap();
    let err = no_keys
        .json_call("sqs", "1.0", "AmazonSQS.SendMessage", &json!({}))
        .await
        .unwrap_err();
    assert!(!err.retry);
    assert!(err.message.contains("[targets.forward]"), "{}", err.message);
}
