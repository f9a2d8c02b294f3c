//! Forwarded calls against a local endpoint that checks their signatures.

use axum::http::Method as AxumMethod;
use serde_json::json;

use super::*;
use crate::engine::actions::test_endpoint::{endpoint, keys, next};

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

#[tokio::test]
async fn query_calls_send_a_signed_form() {
    let (url, mut rx, answer) = endpoint().await;
    *answer.lock() = (200, "text/xml", "<PublishResponse/>".into());
    let forward = Forward::for_section(&url, &keys()).unwrap();
    let body = forward
        .query_call(
            "sns",
            "Publish",
            "2010-03-31",
            &[
                ("TopicArn", "arn:aws:sns:eu-central-1:1:t"),
                ("Message", "{\"a\": \"b c&d=é\"}"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(&body[..], b"<PublishResponse/>");
    let hit = next(&mut rx).await;
    assert_eq!(hit.verified.expect("the signature verifies").service, "sns");
    assert_eq!(hit.method, AxumMethod::POST);
    assert!(
        hit.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(
        std::str::from_utf8(&hit.body).unwrap(),
        "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aeu-central-1%3A1%3At\
         &Message=%7B%22a%22%3A%20%22b%20c%26d%3D%C3%A9%22%7D"
    );
}

#[tokio::test]
async fn refusals_carry_the_services_error_code() {
    let (url, mut rx, answer) = endpoint().await;
    *answer.lock() = (
        400,
        "application/x-amz-json-1.1",
        r#"{"__type":"ResourceAlreadyExistsException","message":"exists"}"#.into(),
    );
    let forward = Forward::for_section(&url, &keys()).unwrap();
    let err = forward
        .try_json_call("logs", "1.1", "Logs_20140328.CreateLogStream", &json!({}))
        .await
        .unwrap_err();
    next(&mut rx).await;
    assert_eq!(err.code.as_deref(), Some("ResourceAlreadyExistsException"));
    assert!(!err.error.retry);
}
