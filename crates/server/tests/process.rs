//! The `ferrite` binary as users run it: start-up on free ports, `kill -9` durability of
//! acknowledged QoS 1 messages, graceful SIGTERM, a taken port, health and metrics.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrite_mqtt_codec::{Packet, QoS};
use ferrite_test_support::connect_v311;

struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, extra: &[(&str, &str)]) -> Proc {
    let _ = std::fs::remove_file(dir.join("listeners.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrite"));
    cmd.arg("serve")
        .env_clear()
        .env("FERRITE_DATA_DIR", dir)
        .env("FERRITE_MQTT_PORT", "0")
        .env("FERRITE_MQTTS_PORT", "0")
        .env("FERRITE_WS_PORT", "0")
        .env("FERRITE_WSS_PORT", "0")
        .env("FERRITE_HTTPS_PORT", "0")
        .env("FERRITE_API_PORT", "0")
        .env("FERRITE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Proc {
        child: cmd.spawn().expect("spawn ferrite"),
    }
}

/// Waits for the server to publish its bound addresses.
fn listeners(dir: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("listeners.json")) {
            return serde_json::from_str(&text).expect("listeners.json is json");
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn addr(v: &serde_json::Value, name: &str) -> SocketAddr {
    v[name].as_str().expect("listener bound").parse().unwrap()
}

#[tokio::test]
async fn acknowledged_qos1_survives_kill_9_right_after_puback() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path(), &[]);
    let l = listeners(dir.path());
    let (mut sub, _) = connect_v311(addr(&l, "mqtt"), "durable-sub", false).await;
    sub.subscribe("d/#", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let (mut p, _) = connect_v311(addr(&l, "mqtt"), "pub", true).await;
    const N: usize = 200;
    for i in 0..N {
        let payload: &'static [u8] = Box::leak(format!("m{i}").into_bytes().into_boxed_slice());
        p.publish("d/x", payload, QoS::AtLeastOnce, i == N - 1)
            .await;
    }
    // The last PUBACK has been read: kill at once.
    let pid = server.child.id();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    drop(server);

    let _server = spawn(dir.path(), &[]);
    let l = listeners(dir.path());
    let (mut sub, ack) = connect_v311(addr(&l, "mqtt"), "durable-sub", false).await;
    assert!(ack.session_present);
    for i in 0..N {
        let got = sub.recv_publish().await;
        assert_eq!(String::from_utf8_lossy(&got.payload), format!("m{i}"));
    }
    let (mut fresh, _) = connect_v311(addr(&l, "mqtt"), "fresh", true).await;
    fresh.subscribe("d/x", QoS::AtLeastOnce).await;
    assert_eq!(
        &fresh.recv_publish().await.payload[..],
        format!("m{}", N - 1).as_bytes()
    );
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully_and_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(dir.path(), &[]);
    let l = listeners(dir.path());
    let (mut p, _) = connect_v311(addr(&l, "mqtt"), "p", true).await;
    p.publish("keep", b"v", QoS::AtMostOnce, true).await;
    p.send(&Packet::PingReq).await;
    assert_eq!(p.recv().await, Packet::PingResp);
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let s = server.child.wait();
        (s, server)
    })
    .await
    .unwrap()
    .0
    .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        p.expect_closed().await,
        None,
        "3.1.1 clients are simply closed"
    );

    let _server = spawn(dir.path(), &[]);
    let l = listeners(dir.path());
    let (mut s, _) = connect_v311(addr(&l, "mqtt"), "s", true).await;
    s.subscribe("keep", QoS::AtMostOnce).await;
    assert_eq!(&s.recv_publish().await.payload[..], b"v");
}

#[tokio::test]
async fn taken_port_gives_a_one_line_error_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("serve")
        .env_clear()
        .env("FERRITE_DATA_DIR", dir.path())
        .env("FERRITE_MQTT_PORT", &port)
        .env("FERRITE_MQTTS_PORT", "0")
        .env("FERRITE_WS_PORT", "0")
        .env("FERRITE_WSS_PORT", "0")
        .env("FERRITE_HTTPS_PORT", "0")
        .env("FERRITE_API_PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("ferrite:"))
        .expect("error line");
    assert!(
        line.contains("FERRITE_MQTT_PORT") && line.contains(&port),
        "{line}"
    );
}

#[tokio::test]
async fn starts_fast_and_serves_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let _server = spawn(dir.path(), &[]);
    let l = listeners(dir.path());
    let (mut c, _) = connect_v311(addr(&l, "mqtt"), "m", true).await;
    let startup = t.elapsed();
    // CA generation included; well under a second on an empty data directory.
    assert!(
        startup < Duration::from_secs(3),
        "start-up took {startup:?}"
    );
    c.publish("m", b"x", QoS::AtLeastOnce, false).await;
    let api = addr(&l, "api");
    let health = ferrite_test_support::http_get(api, "/health").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"ok\""),
        "{health}"
    );
    let metrics = ferrite_test_support::http_get(api, "/metrics").await;
    for name in [
        "ferrite_mqtt_connections ",
        "ferrite_mqtt_messages_received_total",
        "ferrite_mqtt_received_bytes_total",
        "ferrite_mqtt_sessions",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    assert!(dir.path().join("ca/ca.pem").exists());
}

#[tokio::test]
async fn connections_beyond_the_cap_get_server_busy() {
    let dir = tempfile::tempdir().unwrap();
    let _server = spawn(dir.path(), &[("FERRITE_MAX_CONNECTIONS", "2")]);
    let l = listeners(dir.path());
    let a = connect_v311(addr(&l, "mqtt"), "a", true).await;
    let b = connect_v311(addr(&l, "mqtt"), "b", true).await;
    let mut c = ferrite_test_support::TestClient::open(
        addr(&l, "mqtt"),
        ferrite_mqtt_codec::ProtocolVersion::V5,
    )
    .await;
    let ack = c
        .connect_with(ferrite_test_support::connect_packet(
            ferrite_mqtt_codec::ProtocolVersion::V5,
            "c",
            true,
        ))
        .await;
    assert_eq!(ack.reason, ferrite_mqtt_codec::ReasonCode::ServerBusy);
    assert_eq!(
        ack.properties.reason_string.as_deref(),
        Some("max connections")
    );
    drop((a, b));
}
