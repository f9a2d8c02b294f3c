//! The API's request path in-process: requests signed with the AWS SDK for Rust's signer go
//! through the real router (SigV4, routing, model validation, dispatch, AWS error shapes)
//! onto an embedded store in a temp dir.

mod common;

use axum::body::Body;
use common::{api_with, arn};
use serde_json::json;

fn api(test_hooks: bool) -> common::Api {
    api_with(test_hooks)
}

#[tokio::test]
async fn thing_lifecycle_with_aws_shapes() {
    let api = api(false);
    let created = api
        .call(
            "POST",
            "/things/lamp-1",
            r#"{"attributePayload":{"attributes":{"room":"hall"}}}"#,
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["thingName"], "lamp-1");
    // The region of the signature's scope is the region of the ARN.
    assert_eq!(created.body["thingArn"], arn("thing/lamp-1").as_str());
    let id = created.body["thingId"].as_str().unwrap().to_owned();

    // Creating the same thing again is idempotent; with other attributes it conflicts.
    let again = api
        .call(
            "POST",
            "/things/lamp-1",
            r#"{"attributePayload":{"attributes":{"room":"hall"}}}"#,
        )
        .await;
    assert_eq!(
        (again.status, again.body["thingId"].as_str()),
        (200, Some(id.as_str()))
    );
    let clash = api
        .call(
            "POST",
            "/things/lamp-1",
            r#"{"attributePayload":{"attributes":{"room":"attic"}}}"#,
        )
        .await;
    assert_eq!(clash.status, 409);
    assert_eq!(
        clash.error_type.as_deref(),
        Some("ResourceAlreadyExistsException")
    );
    assert_eq!(clash.body["resourceId"], id.as_str());

    let described = api.call("GET", "/things/lamp-1", "").await;
    assert_eq!(described.body["version"], 1);
    assert_eq!(described.body["defaultClientId"], "lamp-1");
    assert_eq!(described.body["attributes"], json!({"room": "hall"}));

    // Merge, then a stale expectedVersion conflicts.
    let updated = api
        .call(
            "PATCH",
            "/things/lamp-1",
            r#"{"attributePayload":{"attributes":{"floor":"2","room":""},"merge":true},"expectedVersion":1}"#,
        )
        .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let described = api.call("GET", "/things/lamp-1", "").await;
    assert_eq!(described.body["version"], 2);
    assert_eq!(described.body["attributes"], json!({"floor": "2"}));
    let stale = api
        .call("PATCH", "/things/lamp-1", r#"{"expectedVersion":1}"#)
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(
        stale.error_type.as_deref(),
        Some("VersionConflictException")
    );

    let deleted = api.call("DELETE", "/things/lamp-1", "").await;
    assert_eq!(deleted.status, 200);
    let gone = api.call("GET", "/things/lamp-1", "").await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.error_type.as_deref(),
        Some("ResourceNotFoundException")
    );
    assert_eq!(gone.body["message"], "Thing lamp-1 cannot be found.");
    // Deleting what is not there succeeds, as on AWS.
    assert_eq!(api.call("DELETE", "/things/lamp-1", "").await.status, 200);
}

#[tokio::test]
async fn list_things_pages_and_filters() {
    let api = api(false);
    for i in 0..7 {
        let body = format!(
            r#"{{"attributePayload":{{"attributes":{{"parity":"{}"}}}}}}"#,
            i % 2
        );
        assert_eq!(
            api.call("POST", &format!("/things/t{i}"), &body)
                .await
                .status,
            200
        );
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &token {
            Some(t) => format!("/things?maxResults=3&nextToken={t}"),
            None => "/things?maxResults=3".to_owned(),
        };
        let page = api.call("GET", &q, "").await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        pages += 1;
        for t in page.body["things"].as_array().unwrap() {
            names.push(t["thingName"].as_str().unwrap().to_owned());
        }
        match page.body.get("nextToken").and_then(|t| t.as_str()) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "7 things in pages of 3, and no empty last page");
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4", "t5", "t6"]);

    let odd = api
        .call("GET", "/things?attributeName=parity&attributeValue=1", "")
        .await;
    let odd: Vec<_> = odd.body["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thingName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(odd, ["t1", "t3", "t5"]);

    let bad = api.call("GET", "/things?nextToken=garbage", "").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_type.as_deref(), Some("InvalidRequestException"));
}

#[tokio::test]
async fn thing_types_gate_deletion_on_deprecation_and_use() {
    let api = api(false);
    let created = api
        .call(
            "POST",
            "/thing-types/sensor",
            r#"{"thingTypeProperties":{"searchableAttributes":["room"]}}"#,
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(
        api.call("POST", "/things/s1", r#"{"thingTypeName":"sensor"}"#)
            .await
            .status,
        200
    );
    let undeprecated = api.call("DELETE", "/thing-types/sensor", "").await;
    assert_eq!(
        undeprecated.error_type.as_deref(),
        Some("InvalidRequestException")
    );
    api.call("POST", "/thing-types/sensor/deprecate", "{}")
        .await;
    let in_use = api.call("DELETE", "/thing-types/sensor", "").await;
    assert_eq!(
        in_use.error_type.as_deref(),
        Some("InvalidRequestException")
    );
    // A deprecated type cannot be given to a new thing.
    let refused = api
        .call("POST", "/things/s2", r#"{"thingTypeName":"sensor"}"#)
        .await;
    assert_eq!(
        refused.error_type.as_deref(),
        Some("InvalidRequestException")
    );
    let described = api.call("GET", "/thing-types/sensor", "").await;
    assert_eq!(described.body["thingTypeMetadata"]["deprecated"], true);
    assert_eq!(api.call("DELETE", "/things/s1", "").await.status, 200);
    assert_eq!(
        api.call("DELETE", "/thing-types/sensor", "").await.status,
        200
    );
    assert_eq!(api.call("GET", "/thing-types/sensor", "").await.status, 404);
}

#[tokio::test]
async fn bad_input_gets_aws_errors_not_500s() {
    let api = api(false);
    let bad_name = api.call("POST", "/things/bad%20name!", "{}").await;
    assert_eq!(bad_name.status, 400);
    assert_eq!(
        bad_name.error_type.as_deref(),
        Some("InvalidRequestException")
    );
    assert!(
        bad_name.body["message"].as_str().unwrap().contains(
            "failed to satisfy constraint: Member must satisfy regular expression pattern"
        ),
        "{:?}",
        bad_name.body
    );
    let long = format!("/things/{}", "x".repeat(129));
    assert_eq!(api.call("POST", &long, "{}").await.status, 400);
    let malformed = api.call("POST", "/things/ok", "{not json").await;
    assert_eq!(
        (malformed.status, malformed.error_type.as_deref()),
        (400, Some("InvalidRequestException"))
    );
    let wrong_type = api
        .call(
            "POST",
            "/things/ok",
            r#"{"attributePayload":{"attributes":7}}"#,
        )
        .await;
    assert_eq!(
        (wrong_type.status, wrong_type.error_type.as_deref()),
        (400, Some("InvalidRequestException"))
    );
    let endpoint = api.call("GET", "/endpoint?endpointType=iot:Nope", "").await;
    assert_eq!(endpoint.status, 400);
    let ok = api
        .call("GET", "/endpoint?endpointType=iot:Data-ATS", "")
        .await;
    assert_eq!(ok.body, json!({"endpointAddress": "localhost"}));
}

#[tokio::test]
async fn authentication_failures_are_aws_shaped() {
    let api = api(false);
    let unsigned = http::Request::builder()
        .method("GET")
        .uri("/things")
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap();
    let r = api.send(unsigned).await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (403, Some("MissingAuthenticationTokenException"))
    );
    let r = api
        .call_as("iot", "wrong-secret", "GET", "/things", "")
        .await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (403, Some("InvalidSignatureException"))
    );
}

#[tokio::test]
async fn unimplemented_operations_name_themselves_and_the_reset_hook_is_off_by_default() {
    let api = api(false);
    let r = api.call("GET", "/otaUpdates", "").await;
    assert_eq!(
        (r.status, r.error_type.as_deref()),
        (501, Some("NotImplementedException"))
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("ListOTAUpdates"),
        "{:?}",
        r.body
    );
    let r = api.call("POST", "/_ferrite/reset", "").await;
    assert_eq!(r.status, 404);

    let api = self::api(true);
    api.call("POST", "/things/a", "{}").await;
    assert_eq!(api.call("POST", "/_ferrite/reset", "").await.status, 204);
    assert_eq!(api.call("GET", "/things/a", "").await.status, 404);
}
