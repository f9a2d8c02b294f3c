//! The http, lambda, cloudwatchMetric and cloudwatchLogs actions end to end in a real server:
//! rules created through the signed API, messages from MQTT clients, deliveries to a local
//! HTTP endpoint on a free port (an HTTP action only once its topic rule destination is
//! confirmed through the enableUrl, the error action until then), Lambda functions mapped by
//! `[aws.functions]`, metrics on `/metrics` and log lines in `{data_dir}/logs`.

// Test code spawns its endpoint on the test's runtime.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use ferrite_mqtt_codec::QoS;
use ferrite_test_support::rules::{
    RULE_ROLE, create_rule, json_of, publish_until_received, republish,
};
use ferrite_test_support::{TestServer, WAIT, connect_v311, http_get};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const QUIET: Duration = Duration::from_millis(300);

/// A request the test endpoint received.
struct Hit {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// An HTTP endpoint on a free port answering 200 to everything; returns its base URL.
async fn endpoint() -> (String, mpsc::UnboundedReceiver<Hit>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Hit { uri, headers, body });
            "{\"answer\": \"ignored\"}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, rx)
}

async fn next_hit(rx: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a request within the wait")
        .expect("endpoint running")
}

#[tokio::test]
async fn http_actions_deliver_once_their_destination_is_enabled() {
    let (base, mut hits) = endpoint().await;
    let srv = TestServer::start().await;
    let hook = format!("{base}/hook");
    create_rule(
        &srv,
        "to_http",
        json!({
            "sql": "SELECT temp, topic(2) AS id FROM 'sensors/+/data'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"http": {
                "url": format!("{hook}/${{topic(2)}}"),
                "confirmationUrl": hook,
                "headers": [{"key": "x-source", "value": "${topic(1)}"}],
            }}],
            "errorAction": republish("errors/to_http"),
        }),
    )
    .await;

    // CreateTopicRule made the destination and sent its confirmation request.
    let confirmation = next_hit(&mut hits).await;
    assert_eq!(
        confirmation.headers["x-amz-rules-engine-message-type"],
        "DestinationConfirmation"
    );
    let enable_url = json_of(&confirmation.body)["enableUrl"]
        .as_str()
        .expect("enableUrl")
        .to_owned();

    // Unconfirmed: nothing is delivered, and the error action says why.
    let (mut ops, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    ops.subscribe("errors/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "dev1", true).await;
    let error =
        publish_until_received(&mut dev, &mut ops, "sensors/d1/data", br#"{"temp": 20}"#).await;
    let error = json_of(&error.payload);
    assert_eq!(error["ruleName"], "to_http");
    assert_eq!(error["failures"][0]["failedAction"], "HttpAction");
    assert_eq!(
        error["failures"][0]["failedResource"],
        format!("{hook}/${{topic(2)}}")
    );
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(message.contains("IN_PROGRESS"), "{message}");
    assert!(hits.try_recv().is_err(), "nothing reached the endpoint");

    // Enabled through the enableUrl, as the endpoint's owner would: deliveries arrive.
    let path = enable_url
        .split_once("/confirmdestination/")
        .map(|(_, token)| format!("/confirmdestination/{token}"))
        .expect("an enableUrl on the API");
    let answer = http_get(srv.api_addr(), &path).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let deadline = tokio::time::Instant::now() + WAIT;
    let hit = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery after enabling"
        );
        dev.publish(
            "sensors/d1/data",
            br#"{"temp": 31}"#,
            QoS::AtLeastOnce,
            false,
        )
        .await;
        if let Ok(Some(hit)) = tokio::time::timeout(QUIET, hits.recv()).await {
            break hit;
        }
    };
    assert_eq!(hit.uri.path(), "/hook/d1");
    assert_eq!(hit.headers["x-source"], "sensors");
    assert_eq!(hit.headers["content-type"], "application/json");
    assert_eq!(json_of(&hit.body), json!({"temp": 31, "id": "d1"}));
}

#[tokio::test]
async fn lambda_actions_post_the_event_to_the_mapped_endpoint() {
    let (base, mut hits) = endpoint().await;
    let function = "arn:aws:lambda:us-east-1:123456789012:function:ingest";
    let srv = TestServer::start_with(|c| {
        c.aws
            .functions
            .insert(function.into(), format!("{base}/functions/ingest"));
    })
    .await;
    create_rule(
        &srv,
        "to_lambda",
        json!({
            "sql": "SELECT *, clientid() AS device FROM 'lambda/in'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"lambda": {"functionArn": function}}],
        }),
    )
    .await;
    let unmapped = "arn:aws:lambda:us-east-1:123456789012:function:nowhere";
    create_rule(
        &srv,
        "to_nowhere",
        json!({
            "sql": "SELECT * FROM 'lambda/in'",
            "actions": [{"lambda": {"functionArn": unmapped}}],
            "errorAction": republish("errors/to_nowhere"),
        }),
    )
    .await;
    let (mut ops, _) = connect_v311(srv.mqtt_addr(), "ops", true).await;
    ops.subscribe("errors/#", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "pump7", true).await;

    let error = publish_until_received(&mut dev, &mut ops, "lambda/in", br#"{"rpm": 1200}"#).await;
    let error = json_of(&error.payload);
    assert_eq!(error["failures"][0]["failedAction"], "LambdaAction");
    assert_eq!(error["failures"][0]["failedResource"], unmapped);
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains(unmapped) && message.contains("[aws.functions]"),
        "{message}"
    );

    let deadline = tokio::time::Instant::now() + WAIT;
    let hit = loop {
        assert!(tokio::time::Instant::now() < deadline, "no invocation");
        if let Ok(Some(hit)) = tokio::time::timeout(QUIET, hits.recv()).await {
            break hit;
        }
        dev.publish("lambda/in", br#"{"rpm": 1200}"#, QoS::AtLeastOnce, false)
            .await;
    };
    assert_eq!(hit.uri.path(), "/functions/ingest");
    assert_eq!(hit.headers["x-amz-invocation-type"], "Event");
    assert_eq!(json_of(&hit.body), json!({"rpm": 1200, "device": "pump7"}));
}

/// The value of the series `series` (name and labels) in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn cloudwatch_metrics_reach_prometheus_and_logs_reach_their_file() {
    let srv = TestServer::start().await;
    create_rule(
        &srv,
        "observe",
        json!({
            "sql": "SELECT temp FROM 'plant/+/temp'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [
                {"cloudwatchMetric": {"roleArn": RULE_ROLE, "metricNamespace": "Plant/${topic(2)}",
                    "metricName": "Temperature", "metricValue": "${temp}",
                    "metricUnit": "None"}},
                {"cloudwatchLogs": {"roleArn": RULE_ROLE, "logGroupName": "/iot/plant"}},
                republish("observed"),
            ],
        }),
    )
    .await;
    let (mut sub, _) = connect_v311(srv.mqtt_addr(), "watch", true).await;
    sub.subscribe("observed", QoS::AtLeastOnce).await;
    let (mut dev, _) = connect_v311(srv.mqtt_addr(), "p1", true).await;
    let succeeded = |action: &str| {
        format!("ferrite_rules_actions_succeeded_total{{rule=\"observe\",action=\"{action}\"}}")
    };
    // The actions run side by side: publish until both report a success.
    let deadline = tokio::time::Instant::now() + WAIT;
    let page = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "actions did not run"
        );
        publish_until_received(&mut dev, &mut sub, "plant/p1/temp", br#"{"temp": 21.5}"#).await;
        let page = http_get(srv.api_addr(), "/metrics").await;
        let logged = sample(&page, &succeeded("CloudwatchLogsAction")).unwrap_or(0.0);
        if sample(&page, &succeeded("CloudwatchMetricAction")).is_some() && logged >= 1.0 {
            break page;
        }
    };
    let labels = r#"{namespace="Plant/p1",name="Temperature",unit="None"}"#;
    assert_eq!(
        sample(&page, &format!("ferrite_rules_cloudwatch_metric{labels}")),
        Some(21.5),
        "{page}"
    );
    assert!(
        sample(
            &page,
            &format!("ferrite_rules_cloudwatch_datapoints_total{labels}")
        )
        .is_some_and(|n| n >= 1.0),
        "{page}"
    );

    let file = srv.data_dir().join("logs").join("%2Fiot%2Fplant.log");
    let text = std::fs::read_to_string(&file).expect("the log group's file");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(!lines.is_empty());
    for line in lines {
        assert!(line["timestamp"].as_i64().is_some_and(|t| t > 0), "{line}");
        assert_eq!(
            json_of(line["message"].as_str().unwrap().as_bytes()),
            json!({"temp": 21.5})
        );
    }
}
