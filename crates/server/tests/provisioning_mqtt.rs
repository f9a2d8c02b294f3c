//! Fleet provisioning in a real server: a device creates keys and a certificate over MQTT,
//! provisions it with a template (thing with type, group and attributes, the certificate
//! activated, a policy created from the template's document and attached, the certificate
//! attached to the thing), retries the same request, and is refused what AWS refuses; another
//! client subscribed to every provisioning topic receives nothing. The control plane's
//! RegisterThing and CreateProvisioningClaim run templates too.

// Tests sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use ferrite_mqtt_codec::{Publish, QoS};
use ferrite_test_support::aws::iot_call as call;
use ferrite_test_support::{TestClient, TestServer, connect_v311};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/provisioning";

async fn ok(srv: &TestServer, method: &str, path: &str, body: Value) -> Value {
    let (status, value) = call(srv, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {value}");
    value
}

async fn request(dev: &mut TestClient, topic: &str, payload: Value) {
    let mut p: Publish = ferrite_test_support::publish(topic, b"", QoS::AtLeastOnce, false);
    p.payload = if payload.is_null() {
        Default::default()
    } else {
        payload.to_string().into()
    };
    dev.publish_with(p).await;
}

/// The next message (topic, JSON payload).
async fn answer(dev: &mut TestClient) -> (String, Value) {
    let p = dev.recv_publish().await;
    dev.ack(&p).await;
    (
        p.topic.to_string(),
        serde_json::from_slice(&p.payload).unwrap(),
    )
}

fn template() -> String {
    json!({
        "Parameters": {"SerialNumber": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Join": ["", ["sensor-", {"Ref": "SerialNumber"}]]},
                "AttributePayload": {"serial": {"Ref": "SerialNumber"}},
                "ThingTypeName": "sensor",
                "ThingGroups": ["fleet"]}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "iot:Publish",
                     "Resource": {"Fn::Sub": "arn:aws:iot:*:*:topic/sensor-${SerialNumber}/*"}}]}}}
        },
        "DeviceConfiguration": {"interval": "60", "serial": {"Ref": "SerialNumber"}}
    })
    .to_string()
}

async fn setup(srv: &TestServer) {
    ok(srv, "POST", "/thing-types/sensor", json!({})).await;
    ok(srv, "POST", "/thing-groups/fleet", json!({})).await;
    ok(
        srv,
        "POST",
        "/provisioning-templates",
        json!({"templateName": "fleet", "templateBody": template(),
               "provisioningRoleArn": ROLE, "enabled": true}),
    )
    .await;
}

#[tokio::test]
async fn a_device_provisions_itself_and_nobody_else_sees_its_key() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let (mut snoop, _) = connect_v311(srv.mqtt_addr(), "snoop", true).await;
    snoop
        .subscribe("$aws/certificates/#", QoS::AtLeastOnce)
        .await;
    snoop
        .subscribe("$aws/provisioning-templates/#", QoS::AtLeastOnce)
        .await;
    snoop.subscribe("marker", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev-1", true).await;
    dev.subscribe("$aws/certificates/create/json/+", QoS::AtLeastOnce)
        .await;
    dev.subscribe(
        "$aws/provisioning-templates/fleet/provision/json/+",
        QoS::AtLeastOnce,
    )
    .await;

    request(&mut dev, "$aws/certificates/create/json", Value::Null).await;
    let (topic, created) = answer(&mut dev).await;
    assert_eq!(topic, "$aws/certificates/create/json/accepted", "{created}");
    let cert_id = created["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(cert_id.len(), 64);
    assert!(
        created["privateKey"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(
        created["certificatePem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let token = created["certificateOwnershipToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let cert = ok(
        &srv,
        "GET",
        &format!("/certificates/{cert_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        cert["certificateDescription"]["status"],
        "PENDING_ACTIVATION"
    );

    let provision = "$aws/provisioning-templates/fleet/provision/json";
    let register = json!({"certificateOwnershipToken": token,
                          "parameters": {"SerialNumber": "0042"}});
    request(&mut dev, provision, register.clone()).await;
    let (topic, done) = answer(&mut dev).await;
    assert_eq!(topic, format!("{provision}/accepted"), "{done}");
    assert_eq!(
        done,
        json!({"thingName": "sensor-0042",
               "deviceConfiguration": {"interval": "60", "serial": "0042"}})
    );
    let cert = ok(
        &srv,
        "GET",
        &format!("/certificates/{cert_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(cert["certificateDescription"]["status"], "ACTIVE");
    let thing = ok(&srv, "GET", "/things/sensor-0042", Value::Null).await;
    assert_eq!(thing["thingTypeName"], "sensor");
    assert_eq!(thing["attributes"], json!({"serial": "0042"}));
    let groups = ok(&srv, "GET", "/things/sensor-0042/thing-groups", Value::Null).await;
    assert_eq!(groups["thingGroups"][0]["groupName"], "fleet");
    let principals = ok(&srv, "GET", "/things/sensor-0042/principals", Value::Null).await;
    assert!(
        principals["principals"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!("cert/{cert_id}"))
    );
    let cert_arn = cert["certificateDescription"]["certificateArn"]
        .as_str()
        .unwrap();
    let target: String = cert_arn
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let policies = ok(
        &srv,
        "POST",
        &format!("/attached-policies/{target}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        policies["policies"].as_array().unwrap().len(),
        1,
        "{policies}"
    );

    // The same request again: the same answer, nothing duplicated.
    request(&mut dev, provision, register).await;
    let (topic, again) = answer(&mut dev).await;
    assert_eq!(topic, format!("{provision}/accepted"), "{again}");
    assert_eq!(again, done);

    // Refusals.
    request(
        &mut dev,
        provision,
        json!({"certificateOwnershipToken": "forged", "parameters": {"SerialNumber": "1"}}),
    )
    .await;
    let (topic, refused) = answer(&mut dev).await;
    assert_eq!(topic, format!("{provision}/rejected"));
    assert_eq!(refused["statusCode"], 400);
    assert_eq!(refused["errorCode"], "InvalidCertificateOwnershipToken");
    request(
        &mut dev,
        provision,
        json!({"certificateOwnershipToken": token}),
    )
    .await;
    let (topic, refused) = answer(&mut dev).await;
    assert_eq!(topic, format!("{provision}/rejected"));
    assert_eq!(refused["errorCode"], "InvalidParameters", "{refused}");
    dev.subscribe(
        "$aws/provisioning-templates/nope/provision/json/rejected",
        QoS::AtLeastOnce,
    )
    .await;
    request(
        &mut dev,
        "$aws/provisioning-templates/nope/provision/json",
        json!({"certificateOwnershipToken": token}),
    )
    .await;
    let (_, refused) = answer(&mut dev).await;
    assert_eq!(refused["statusCode"], 404);
    assert_eq!(refused["errorCode"], "ResourceNotFound");
    request(&mut dev, provision, json!("not an object")).await;
    let (_, refused) = answer(&mut dev).await;
    assert_eq!(refused["errorCode"], "InvalidPayload");

    // The snooper got nothing of all this: its next message is the marker published last.
    request(&mut dev, "marker", json!({"last": true})).await;
    let (topic, _) = answer(&mut snoop).await;
    assert_eq!(topic, "marker");
}

#[tokio::test]
async fn register_thing_and_provisioning_claims_over_the_api() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    // RegisterThing with a certificate named by id.
    let created = ok(&srv, "POST", "/keys-and-certificate", json!({})).await;
    let cert_id = created["certificateId"].as_str().unwrap();
    let body = json!({
        "Parameters": {"ThingName": {"Type": "String"}, "CertificateId": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "ThingName"}, "AttributePayload": {"v": "1"}},
                "OverrideSettings": {"AttributePayload": "FAIL"}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "CertificateId"}}}
        }
    })
    .to_string();
    let out = ok(
        &srv,
        "POST",
        "/things",
        json!({"templateBody": body, "parameters": {"ThingName": "t1", "CertificateId": cert_id}}),
    )
    .await;
    assert_eq!(
        out["resourceArns"]["thing"],
        format!(
            "arn:aws:iot:us-east-1:{}:thing/t1",
            srv.config.aws.account_id
        )
    );
    assert!(
        out["resourceArns"]["certificate"]
            .as_str()
            .unwrap()
            .ends_with(cert_id)
    );
    assert_eq!(out["certificatePem"], created["certificatePem"]);
    let cert = ok(
        &srv,
        "GET",
        &format!("/certificates/{cert_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(cert["certificateDescription"]["status"], "ACTIVE");
    // FAIL: the thing exists with other attributes, nothing changes.
    ok(
        &srv,
        "PATCH",
        "/things/t1",
        json!({"attributePayload": {"attributes": {"v": "2"}}}),
    )
    .await;
    let (status, err) = call(
        &srv,
        "POST",
        "/things",
        json!({"templateBody": body, "parameters": {"ThingName": "t1", "CertificateId": cert_id}}),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    let thing = ok(&srv, "GET", "/things/t1", Value::Null).await;
    assert_eq!(thing["attributes"], json!({"v": "2"}));
    // A missing parameter is the caller's error.
    let (status, _) = call(&srv, "POST", "/things", json!({"templateBody": body})).await;
    assert_eq!(status, 400);

    // A claim for the template, and none for a template that does not exist.
    let claim = ok(
        &srv,
        "POST",
        "/provisioning-templates/fleet/provisioning-claim",
        Value::Null,
    )
    .await;
    assert!(
        claim["keyPair"]["PrivateKey"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(claim["expiration"].as_f64().is_some(), "{claim}");
    let claim_id = claim["certificateId"].as_str().unwrap();
    let cert = ok(
        &srv,
        "GET",
        &format!("/certificates/{claim_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(cert["certificateDescription"]["status"], "ACTIVE");
    let (status, _) = call(
        &srv,
        "POST",
        "/provisioning-templates/nope/provisioning-claim",
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
}
