//! The jobs device API over MQTT in a real server: a device is told of a job created through
//! the signed API (`notify`, `notify-next`), starts it (`start-next`), reports progress and
//! success (`{jobId}/update`), and is refused what AWS refuses (`/rejected` codes).

use ferrite_mqtt_codec::{Publish, QoS};
use ferrite_test_support::aws::iot_ok as call;
use ferrite_test_support::{TestClient, TestServer, connect_v311};
use serde_json::{Value, json};

async fn request(dev: &mut TestClient, topic: &str, payload: Value) {
    let mut p: Publish = ferrite_test_support::publish(topic, b"", QoS::AtMostOnce, false);
    p.payload = payload.to_string().into();
    dev.publish_with(p).await;
}

#[tokio::test]
async fn a_device_runs_a_job_over_mqtt() {
    let srv = TestServer::start().await;
    call(&srv, "POST", "/things/lamp", json!({})).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "lamp", true).await;
    dev.subscribe("$aws/things/lamp/jobs/#", QoS::AtLeastOnce)
        .await;
    let base = "$aws/things/lamp/jobs";

    call(
        &srv,
        "PUT",
        "/jobs/fw-1",
        json!({"targets": [srv.arn("thing/lamp")], "document": "{\"url\":\"https://x/fw\"}",
               "timeoutConfig": {"inProgressTimeoutInMinutes": 10}}),
    )
    .await;
    let next = dev.next_json_on(&format!("{base}/notify-next")).await;
    assert_eq!(next["execution"]["jobId"], "fw-1");
    assert_eq!(next["execution"]["status"], "QUEUED");
    assert_eq!(
        next["execution"]["jobDocument"],
        json!({"url": "https://x/fw"})
    );
    assert!(next["timestamp"].as_i64().unwrap() > 1_600_000_000);

    request(
        &mut dev,
        &format!("{base}/get"),
        json!({"clientToken": "g1"}),
    )
    .await;
    let pending = dev.next_json_on(&format!("{base}/get/accepted")).await;
    assert_eq!(pending["clientToken"], "g1");
    assert_eq!(pending["queuedJobs"][0]["jobId"], "fw-1");
    assert_eq!(pending["inProgressJobs"], json!([]));

    request(
        &mut dev,
        &format!("{base}/start-next"),
        json!({"clientToken": "s1", "statusDetails": {"step": "download"}}),
    )
    .await;
    let started = dev
        .next_json_on(&format!("{base}/start-next/accepted"))
        .await;
    assert_eq!(started["clientToken"], "s1");
    let e = &started["execution"];
    assert_eq!(e["status"], "IN_PROGRESS");
    assert_eq!(e["versionNumber"], 2);
    assert_eq!(e["statusDetails"], json!({"step": "download"}));
    assert_eq!(e["jobDocument"], json!({"url": "https://x/fw"}));
    assert!(e["approximateSecondsBeforeTimedOut"].as_i64().unwrap() > 500);

    // A stale version is refused with the current state.
    request(
        &mut dev,
        &format!("{base}/fw-1/update"),
        json!({"status": "SUCCEEDED", "expectedVersion": 1, "clientToken": "u0"}),
    )
    .await;
    let refused = dev
        .next_json_on(&format!("{base}/fw-1/update/rejected"))
        .await;
    assert_eq!(refused["code"], "VersionMismatch");
    assert_eq!(refused["clientToken"], "u0");
    assert_eq!(refused["executionState"]["versionNumber"], 2);

    request(
        &mut dev,
        &format!("{base}/fw-1/update"),
        json!({"status": "SUCCEEDED", "expectedVersion": 2, "includeJobExecutionState": true,
               "includeJobDocument": true, "clientToken": "u1"}),
    )
    .await;
    let updated = dev
        .next_json_on(&format!("{base}/fw-1/update/accepted"))
        .await;
    assert_eq!(updated["clientToken"], "u1");
    assert_eq!(updated["executionState"]["status"], "SUCCEEDED");
    assert_eq!(updated["executionState"]["versionNumber"], 3);
    assert_eq!(updated["jobDocument"], json!({"url": "https://x/fw"}));
    let empty = dev.next_json_on(&format!("{base}/notify-next")).await;
    assert!(empty.get("execution").is_none(), "{empty}");

    let job = call(&srv, "GET", "/jobs/fw-1", Value::Null).await;
    assert_eq!(job["job"]["status"], "COMPLETED");

    request(&mut dev, &format!("{base}/$next/get"), json!({})).await;
    let none = dev
        .next_json_on(&format!("{base}/$next/get/accepted"))
        .await;
    assert!(none.get("execution").is_none(), "{none}");
    request(
        &mut dev,
        &format!("{base}/fw-1/get"),
        json!({"includeJobDocument": false}),
    )
    .await;
    let done = dev.next_json_on(&format!("{base}/fw-1/get/accepted")).await;
    assert_eq!(done["execution"]["status"], "SUCCEEDED");
    assert!(done["execution"].get("jobDocument").is_none());

    request(
        &mut dev,
        &format!("{base}/fw-1/update"),
        json!({"status": "FAILED"}),
    )
    .await;
    let terminal = dev
        .next_json_on(&format!("{base}/fw-1/update/rejected"))
        .await;
    assert_eq!(terminal["code"], "InvalidStateTransition");
    request(
        &mut dev,
        &format!("{base}/nope/update"),
        json!({"status": "FAILED"}),
    )
    .await;
    let missing = dev
        .next_json_on(&format!("{base}/nope/update/rejected"))
        .await;
    assert_eq!(missing["code"], "ResourceNotFound");
    let mut bad: Publish = ferrite_test_support::publish(
        &format!("{base}/start-next"),
        b"{nope",
        QoS::AtMostOnce,
        false,
    );
    bad.payload = "{nope".into();
    dev.publish_with(bad).await;
    let invalid = dev
        .next_json_on(&format!("{base}/start-next/rejected"))
        .await;
    assert_eq!(invalid["code"], "InvalidJson");
}
