//! The topic rule operations through the real router: routes, the raw payload body, the
//! `x-amz-tagging` header, AWS's error names and statuses, and a destination confirmed by an
//! unsigned GET of the `enableUrl` its confirmation request carried.

// Tests spawn helper servers: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use common::{SECRET, arn, query_value};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn payload(sql: &str) -> Value {
    json!({"sql": sql, "actions": [{"republish": {
        "roleArn": "arn:aws:iam::123456789012:role/r", "topic": "out"}}]})
}

#[tokio::test]
async fn rule_lifecycle_over_the_wire() {
    let api = common::api();
    let r = api
        .call_with(
            "iot",
            SECRET,
            "POST",
            "/rules/hot",
            &[("x-amz-tagging", "env=prod")],
            &payload("SELECT * FROM 'sensors/+/data'").to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let got = api.ok("GET", "/rules/hot", Value::Null).await;
    assert_eq!(got["ruleArn"], json!(arn("rule/hot")));
    assert_eq!(got["rule"]["sql"], "SELECT * FROM 'sensors/+/data'");
    assert_eq!(got["rule"]["awsIotSqlVersion"], "2015-10-08");
    assert!(got["rule"]["createdAt"].is_number());

    let tags = format!("/tags?resourceArn={}", query_value(&arn("rule/hot")));
    let listed = api.ok("GET", &tags, Value::Null).await;
    assert_eq!(listed["tags"], json!([{"Key": "env", "Value": "prod"}]));

    api.ok("PATCH", "/rules/hot", payload("SELECT * FROM 'b'"))
        .await;
    api.ok("POST", "/rules/hot/disable", Value::Null).await;
    let listed = api
        .ok("GET", "/rules?ruleDisabled=true&topic=b", Value::Null)
        .await;
    assert_eq!(listed["rules"][0]["ruleName"], "hot");
    assert_eq!(listed["rules"][0]["ruleDisabled"], true);
    assert_eq!(listed["rules"][0]["topicPattern"], "b");
    let none = api
        .ok("GET", "/rules?ruleDisabled=false", Value::Null)
        .await;
    assert_eq!(none["rules"], json!([]));
    api.ok("POST", "/rules/hot/enable", Value::Null).await;
    api.ok("DELETE", "/rules/hot", Value::Null).await;

    let r = api.json("GET", "/rules/hot", Value::Null).await;
    assert_eq!(r.error(), (401, Some("UnauthorizedException")));
    assert_eq!(r.body["message"], "Access to topic rule 'hot' was denied");
}

#[tokio::test]
async fn refusals_have_aws_names_and_statuses() {
    let api = common::api();
    let r = api
        .json("POST", "/rules/bad", payload("SELECT * FROM sensors"))
        .await;
    assert_eq!(r.error(), (400, Some("SqlParseException")));

    let eleven = vec![json!({"lambda": {"functionArn": "f"}}); 11];
    let r = api
        .json(
            "POST",
            "/rules/many",
            json!({"sql": "SELECT * FROM 'a'", "actions": eleven}),
        )
        .await;
    assert_eq!(r.error(), (400, Some("InvalidRequestException")));

    let r = api
        .json(
            "POST",
            "/rules/odd",
            json!({"sql": "SELECT * FROM 'a'", "actions": [{"stepFunctions": {
                "stateMachineName": "m", "roleArn": "r"}}]}),
        )
        .await;
    assert_eq!(r.error(), (400, Some("InvalidRequestException")));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Ferrite does not support the stepFunctions action"),
        "{:?}",
        r.body
    );

    api.ok("POST", "/rules/dup", payload("SELECT * FROM 'a'"))
        .await;
    let r = api
        .json("POST", "/rules/dup", payload("SELECT * FROM 'a'"))
        .await;
    assert_eq!(r.error(), (409, Some("ResourceAlreadyExistsException")));
    assert_eq!(r.body["resourceArn"], json!(arn("rule/dup")));

    let r = api
        .json("POST", "/rules/bad-name", payload("SELECT * FROM 'a'"))
        .await;
    assert_eq!(r.error(), (400, Some("InvalidRequestException")));
}

#[tokio::test]
async fn a_destination_is_enabled_by_an_unsigned_get_of_its_enable_url() {
    let mut api = common::api();
    let service = api.rules_service.take().unwrap();
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    tokio::spawn(service.run(cancel));

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let endpoint = axum::Router::new().fallback(move |body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(serde_json::from_slice(&body).unwrap_or_default());
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, endpoint).await.unwrap() });

    let created = api
        .ok(
            "POST",
            "/destinations",
            json!({"destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": url}}}),
        )
        .await;
    let dest_arn = created["topicRuleDestination"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["topicRuleDestination"]["status"], "IN_PROGRESS");

    let confirmation = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let enable_url = confirmation["enableUrl"].as_str().unwrap();
    let path = enable_url.strip_prefix("http://localhost").unwrap();
    assert!(path.starts_with("/confirmdestination/"), "{enable_url}");

    let unsigned = http::Request::get(path).body(Body::empty()).unwrap();
    let r = api.send(unsigned).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let get = format!("/destinations/{dest_arn}");
    let got = api.ok("GET", &get, Value::Null).await;
    assert_eq!(got["topicRuleDestination"]["status"], "ENABLED");
    let listed = api.ok("GET", "/destinations", Value::Null).await;
    assert_eq!(listed["destinationSummaries"][0]["arn"], json!(dest_arn));

    // A token nobody was sent is refused, signed or not.
    let forged = http::Request::get("/confirmdestination/forged")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        api.send(forged).await.error(),
        (400, Some("InvalidRequestException"))
    );
    let r = api
        .json("GET", "/confirmdestination/forged", Value::Null)
        .await;
    assert_eq!(r.error(), (400, Some("InvalidRequestException")));

    api.ok(
        "PATCH",
        "/destinations",
        json!({"arn": dest_arn, "status": "DISABLED"}),
    )
    .await;
    api.ok("DELETE", &get, Value::Null).await;
    let r = api.json("GET", &get, Value::Null).await;
    assert_eq!(r.error(), (401, Some("UnauthorizedException")));
}
