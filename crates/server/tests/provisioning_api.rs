//! Provisioning templates through the signed API of a real server: create, describe, versions,
//! list, delete, AWS's errors for bad bodies and missing templates, and templates surviving a
//! restart on the embedded store.

// Tests sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use ferrite_test_support::TestServer;
use ferrite_test_support::aws::iot_call as call;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/provisioning";

async fn ok(srv: &TestServer, method: &str, path: &str, body: Value) -> Value {
    let (status, value) = call(srv, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {value}");
    value
}

fn template_body(prefix: &str) -> String {
    json!({
        "Parameters": {"SerialNumber": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Sub": format!("{prefix}${{SerialNumber}}")}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "DevicePolicy"}}
        }
    })
    .to_string()
}

#[tokio::test]
async fn templates_and_versions_over_the_api_survive_a_restart() {
    let srv = TestServer::start().await;
    let created = ok(
        &srv,
        "POST",
        "/provisioning-templates",
        json!({"templateName": "fleet", "templateBody": template_body("dev_"),
               "provisioningRoleArn": ROLE, "enabled": true}),
    )
    .await;
    assert_eq!(created["defaultVersionId"], json!(1));
    assert!(
        created["templateArn"]
            .as_str()
            .unwrap()
            .ends_with(":provisioningtemplate/fleet")
    );

    let v2 = ok(
        &srv,
        "POST",
        "/provisioning-templates/fleet/versions?setAsDefault=true",
        json!({"templateBody": template_body("v2_")}),
    )
    .await;
    assert_eq!(
        (v2["versionId"].clone(), v2["isDefaultVersion"].clone()),
        (json!(2), json!(true))
    );

    let (status, refused) = call(
        &srv,
        "DELETE",
        "/provisioning-templates/fleet/versions/2",
        Value::Null,
    )
    .await;
    assert_eq!(status, 409, "{refused}");

    let (status, bad) = call(
        &srv,
        "POST",
        "/provisioning-templates",
        json!({"templateName": "bad", "templateBody": "{\"Resources\": {\"t\": {\"Type\": \"AWS::S3::Bucket\"}}}",
               "provisioningRoleArn": ROLE}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        bad["message"].as_str().unwrap().contains("AWS::S3::Bucket"),
        "{bad}"
    );

    let srv = srv.restart().await;
    let described = ok(&srv, "GET", "/provisioning-templates/fleet", Value::Null).await;
    assert_eq!(described["defaultVersionId"], json!(2));
    assert_eq!(described["enabled"], json!(true));
    assert_eq!(described["templateBody"], json!(template_body("v2_")));
    let versions = ok(
        &srv,
        "GET",
        "/provisioning-templates/fleet/versions",
        Value::Null,
    )
    .await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    let listed = ok(&srv, "GET", "/provisioning-templates", Value::Null).await;
    assert_eq!(listed["templates"][0]["templateName"], json!("fleet"));

    ok(&srv, "DELETE", "/provisioning-templates/fleet", Value::Null).await;
    let (status, missing) = call(&srv, "GET", "/provisioning-templates/fleet", Value::Null).await;
    assert_eq!(status, 404, "{missing}");
}
