//! Jobs that run over time in a real server, with a jobs minute shortened by
//! `jobs.timer_minute_ms`: an in-progress timeout and its retry reach the device over MQTT, and
//! a rate-limited rollout goes on across a restart on the embedded store with no thing lost
//! or given two executions.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrite_mqtt_codec::{Publish, QoS};
use ferrite_test_support::aws::iot_ok as call;
use ferrite_test_support::{TestClient, TestServer, connect_v311};
use serde_json::{Value, json};

/// How long a test waits for anything.
const WAIT: Duration = Duration::from_secs(20);

async fn start(minute_ms: u64) -> TestServer {
    TestServer::start_with(|c| c.jobs.timer_minute_ms = minute_ms).await
}

async fn request(dev: &mut TestClient, topic: &str, payload: Value) {
    let mut p: Publish = ferrite_test_support::publish(topic, b"", QoS::AtMostOnce, false);
    p.payload = payload.to_string().into();
    dev.publish_with(p).await;
}

/// thing → executions (number, status) of `job`.
async fn executions(srv: &TestServer, job: &str) -> BTreeMap<String, Vec<(u64, String)>> {
    let out = call(
        srv,
        "GET",
        &format!("/jobs/{job}/things?maxResults=250"),
        Value::Null,
    )
    .await;
    let mut by_thing: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for s in out["executionSummaries"].as_array().unwrap() {
        let thing = s["thingArn"].as_str().unwrap().rsplit('/').next().unwrap();
        let e = &s["jobExecutionSummary"];
        by_thing.entry(thing.to_owned()).or_default().push((
            e["executionNumber"].as_u64().unwrap(),
            e["status"].as_str().unwrap().to_owned(),
        ));
    }
    by_thing
}

#[tokio::test]
async fn an_in_progress_timeout_reaches_the_device_and_the_retry_follows() {
    let srv = start(200).await;
    call(&srv, "POST", "/things/lamp", json!({})).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "lamp", true).await;
    dev.subscribe("$aws/things/lamp/jobs/#", QoS::AtLeastOnce)
        .await;
    let base = "$aws/things/lamp/jobs";
    call(
        &srv,
        "PUT",
        "/jobs/fw",
        json!({"targets": [srv.arn("thing/lamp")], "document": "{}",
               "timeoutConfig": {"inProgressTimeoutInMinutes": 1},
               "jobExecutionsRetryConfig": {"criteriaList": [
                   {"failureType": "TIMED_OUT", "numberOfRetries": 1}]}}),
    )
    .await;
    let next = dev.next_json_on(&format!("{base}/notify-next")).await;
    assert_eq!(next["execution"]["executionNumber"], 1);
    request(&mut dev, &format!("{base}/start-next"), json!({})).await;
    let started = dev
        .next_json_on(&format!("{base}/start-next/accepted"))
        .await;
    assert_eq!(started["execution"]["status"], "IN_PROGRESS");
    // The timeout ends execution 1; its retry, execution 2, becomes the next.
    let next = dev.next_json_on(&format!("{base}/notify-next")).await;
    assert_eq!(next["execution"]["executionNumber"], 2, "{next}");
    assert_eq!(next["execution"]["status"], "QUEUED");
    let all = executions(&srv, "fw").await;
    assert_eq!(
        all["lamp"],
        [(1, "TIMED_OUT".to_owned()), (2, "QUEUED".to_owned())]
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn a_rollout_goes_on_across_a_restart() {
    // Long enough a minute that the restart falls inside the rollout.
    let srv = start(1_500).await;
    call(&srv, "POST", "/thing-groups/fleet", json!({})).await;
    let things: Vec<String> = (0..8).map(|i| format!("dev{i}")).collect();
    for t in &things {
        call(&srv, "POST", &format!("/things/{t}"), json!({})).await;
        call(
            &srv,
            "PUT",
            "/thing-groups/addThingToThingGroup",
            json!({"thingGroupName": "fleet", "thingName": t}),
        )
        .await;
    }
    let (mut watcher, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    watcher
        .subscribe("$aws/things/+/jobs/notify-next", QoS::AtLeastOnce)
        .await;
    call(
        &srv,
        "PUT",
        "/jobs/fw",
        json!({"targets": [srv.arn("thinggroup/fleet")], "document": "{}",
               "jobExecutionsRolloutConfig": {"maximumPerMinute": 3}}),
    )
    .await;
    // The first batch: three things told, the rest not yet.
    for _ in 0..3 {
        tokio::time::timeout(WAIT, watcher.recv_publish())
            .await
            .expect("a rolled-out thing is told");
    }
    let before = executions(&srv, "fw").await;
    assert!(before.len() < things.len(), "{before:?}");
    let srv = srv.restart().await;
    let (mut watcher, _) = connect_v311(srv.mqtt_addr(), "watcher", true).await;
    watcher
        .subscribe("$aws/things/+/jobs/notify-next", QoS::AtLeastOnce)
        .await;
    let all = tokio::time::timeout(WAIT, async {
        loop {
            let all = executions(&srv, "fw").await;
            if all.len() == things.len() {
                return all;
            }
            watcher.recv_publish().await;
        }
    })
    .await
    .expect("the rollout reaches every thing after the restart");
    for t in &things {
        assert_eq!(all[t], [(1, "QUEUED".to_owned())], "{t}");
    }
    let job = call(&srv, "GET", "/jobs/fw", Value::Null).await;
    assert_eq!(job["job"]["status"], "IN_PROGRESS");
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfQueuedThings"], 8);
    srv.shutdown().await;
}
