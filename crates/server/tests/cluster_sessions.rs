//! Sessions across the nodes of a cluster, end to end against the PostgreSQL at
//! `FERRITE_TEST_POSTGRES_URL` (a scratch schema) and the NATS at `FERRITE_TEST_NATS_URL`
//! (default nats://127.0.0.1:4222); skipped loudly when either is absent. Take-over between
//! two in-process nodes, and a persistent session resuming on node B after node A — a real
//! `ferrite serve` process — is killed with `kill -9`: node B adopts it when it notices node A
//! is gone, so messages published meanwhile are queued for it too.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrite_mqtt_codec::{Packet, ProtocolVersion, QoS, ReasonCode};
use ferrite_storage::conformance::run_case;
use ferrite_test_support::{
    TestClient, connect_packet, connect_v311, http_get, publish, with_will,
};

mod cluster_support;

use cluster_support::{cluster_location, eventually, fresh_prefix, nats_url, node, until_routed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_connecting_on_another_node_takes_its_session_over() {
    const TEST: &str = "a_client_connecting_on_another_node_takes_its_session_over";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let b = node(&url, &prefix, "node-b").await;

        let (mut watcher, _) = connect_v311(b.mqtt_addr(), "watcher", true).await;
        watcher.subscribe("will/dev", QoS::AtLeastOnce).await;

        let mut old = TestClient::open(a.mqtt_addr(), ProtocolVersion::V5).await;
        let mut connect = connect_packet(ProtocolVersion::V5, "dev", true);
        connect.properties.session_expiry_interval = Some(600);
        let ack = old.connect_with(with_will(connect, "will/dev", None)).await;
        assert_eq!(ack.reason, ReasonCode::Success);
        old.subscribe("cmd/dev", QoS::AtLeastOnce).await;
        // The watcher's interest has reached node a (the will must cross to it).
        let (mut probe, _) = connect_v311(a.mqtt_addr(), "prober", true).await;
        until_routed(&mut probe, &mut watcher, "will/dev").await;

        let mut new = TestClient::open(b.mqtt_addr(), ProtocolVersion::V5).await;
        let mut connect = connect_packet(ProtocolVersion::V5, "dev", false);
        connect.properties.session_expiry_interval = Some(600);
        let ack = new.connect_with(connect).await;
        assert_eq!(ack.reason, ReasonCode::Success);
        assert!(ack.session_present, "the session came over from node a");
        match old.expect_closed().await {
            Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::SessionTakenOver),
            other => panic!("expected DISCONNECT 0x8E from node a, got {other:?}"),
        }
        let will = watcher.recv_publish().await;
        assert_eq!(
            (&*will.topic, &will.payload[..]),
            ("will/dev", &b"gone"[..])
        );

        // The subscription moved with it: node a's publishers reach the client on node b.
        until_routed(&mut probe, &mut new, "cmd/dev").await;
        probe
            .publish("cmd/dev", b"after", QoS::AtLeastOnce, false)
            .await;
        let got = new.recv_publish().await;
        assert_eq!(&got.payload[..], b"after");
    })
    .await;
}

/// A `ferrite serve` process, killed when dropped.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_node(dir: &Path, storage_url: &str, prefix: &str, id: &str) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrite"));
    cmd.arg("serve")
        .env_clear()
        .env("FERRITE_DATA_DIR", dir)
        .env("FERRITE_MQTT_PORT", "0")
        .env("FERRITE_API_PORT", "0")
        .env("FERRITE_MQTTS_PORT", "off")
        .env("FERRITE_WS_PORT", "off")
        .env("FERRITE_WSS_PORT", "off")
        .env("FERRITE_HTTPS_PORT", "off")
        // TEST_NODE_LOG=info,ferrite_cluster=debug shows what the nodes did.
        .env(
            "FERRITE_LOG_LEVEL",
            std::env::var("TEST_NODE_LOG").unwrap_or("warn".into()),
        )
        .env("FERRITE_STORAGE_URL", storage_url)
        .env("FERRITE_CLUSTER_ENABLED", "true")
        .env("FERRITE_CLUSTER_NODE_ID", id)
        // A dead node is noticed within three beats.
        .env("FERRITE_CLUSTER_HEARTBEAT_INTERVAL_MS", "200")
        .env("FERRITE_CLUSTER_NATS_URLS", nats_url())
        .env("FERRITE_CLUSTER_SUBJECT_PREFIX", prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Proc {
        child: cmd.spawn().expect("spawn ferrite"),
    }
}

/// The node's MQTT address, once it has written its listeners file.
async fn mqtt_addr(dir: &Path) -> SocketAddr {
    listener(dir, "mqtt").await
}

/// The address the node's listener `name` bound, once it has written its listeners file.
async fn listener(dir: &Path, name: &str) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("listeners.json")) {
            let v: serde_json::Value = serde_json::from_str(&text).expect("listeners.json");
            return v[name].as_str().expect("listener bound").parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the node did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_resumes_on_node_b_after_node_a_is_killed() {
    const TEST: &str = "a_persistent_session_resumes_on_node_b_after_node_a_is_killed";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let node_a = spawn_node(dir_a.path(), &url, &prefix, "node-a");
        let _node_b = spawn_node(dir_b.path(), &url, &prefix, "node-b");
        let (a, b) = (mqtt_addr(dir_a.path()).await, mqtt_addr(dir_b.path()).await);

        let (mut dev, _) = connect_v311(a, "durable-dev", false).await;
        dev.subscribe("q/dev", QoS::AtLeastOnce).await;
        dev.disconnect().await;

        // Acknowledged by node a, which holds the session: durable in PostgreSQL. All sent
        // at once (one group commit or a few); each PUBACK waits for a PostgreSQL commit, which
        // a loaded machine's fsync can hold up for seconds, so the wait is generous.
        let (mut publisher, _) = connect_v311(a, "publisher", true).await;
        const N: usize = 50;
        for i in 0..N {
            let payload: &'static [u8] = Box::leak(format!("m{i}").into_bytes().into_boxed_slice());
            let mut p = publish("q/dev", payload, QoS::AtLeastOnce, false);
            p.packet_id = Some(publisher.next_packet_id());
            publisher.send(&Packet::Publish(p)).await;
        }
        for _ in 0..N {
            match publisher.recv_within(Duration::from_secs(60)).await {
                Ok(Some(Packet::PubAck(ack))) => assert_eq!(ack.reason, ReasonCode::Success),
                other => panic!("expected a PUBACK, got {other:?}"),
            }
        }
        // The last PUBACK has been read: kill at once.
        Command::new("kill")
            .args(["-9", &node_a.child.id().to_string()])
            .status()
            .unwrap();
        drop(node_a);

        // Node b notices node a is gone and adopts the session parked there, which queues
        // again: a message published now waits for the client too.
        let b_api = listener(dir_b.path(), "api").await;
        eventually("node b adopts node a's parked session", || async {
            let health = http_get(b_api, "/health").await;
            let body = health.split("\r\n\r\n").nth(1).unwrap_or("{}");
            let doc: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            doc["cluster"]["sessions_adopted"].as_u64() >= Some(1)
        })
        .await;
        let (mut late, _) = connect_v311(b, "late-publisher", true).await;
        late.publish("q/dev", b"late", QoS::AtLeastOnce, false)
            .await;

        let (mut dev, ack) = connect_v311(b, "durable-dev", false).await;
        assert!(
            ack.session_present,
            "node b resumed the session from the store"
        );
        for i in 0..N {
            let got = dev.recv_publish().await;
            assert_eq!(String::from_utf8_lossy(&got.payload), format!("m{i}"));
        }
        assert_eq!(&dev.recv_publish().await.payload[..], b"late");
        dev.expect_silence(Duration::from_millis(300)).await;
    })
    .await;
}

/// The `cluster` block of node `api`'s `/health`.
async fn cluster_health(api: SocketAddr) -> serde_json::Value {
    let health = http_get(api, "/health").await;
    let body = health.split("\r\n\r\n").nth(1).unwrap_or("{}");
    let doc: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    doc["cluster"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_acknowledged_on_node_c_while_node_a_is_killed_reaches_the_session_on_node_b()
{
    const TEST: &str =
        "every_message_acknowledged_on_node_c_while_node_a_is_killed_reaches_the_session_on_node_b";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
        let node_a = spawn_node(dirs[0].path(), &url, &prefix, "node-a");
        let _node_b = spawn_node(dirs[1].path(), &url, &prefix, "node-b");
        let _node_c = spawn_node(dirs[2].path(), &url, &prefix, "node-c");
        let a = mqtt_addr(dirs[0].path()).await;
        let b = mqtt_addr(dirs[1].path()).await;
        let c = mqtt_addr(dirs[2].path()).await;
        let c_api = listener(dirs[2].path(), "api").await;

        let (mut dev, _) = connect_v311(a, "durable-dev", false).await;
        dev.subscribe("q/dev", QoS::AtLeastOnce).await;
        dev.disconnect().await;
        // Node c knows that node a holds a persistent session subscribed to q/dev.
        eventually("node c hears node a's durable interest", || async {
            cluster_health(c_api).await["durable_remote_subscriptions"].as_u64() >= Some(1)
        })
        .await;

        // Published on node c, up to 8 at a time; node a is killed after the first 20
        // PUBACKs, with messages in flight. Every PUBACK is a promise: stored on node a (which
        // confirmed it), or stored by node c itself for the session when node a did not
        // confirm in time, or by node b once it adopted the session.
        let (mut publisher, _) = connect_v311(c, "publisher", true).await;
        const N: usize = 80;
        const WINDOW: usize = 8;
        let mut in_flight = std::collections::HashMap::new();
        let mut acked = std::collections::BTreeSet::new();
        let mut next = 0;
        let mut killed = Some(node_a);
        while acked.len() < N {
            while next < N && in_flight.len() < WINDOW {
                let payload: &'static [u8] =
                    Box::leak(format!("m{next}").into_bytes().into_boxed_slice());
                let mut p = publish("q/dev", payload, QoS::AtLeastOnce, false);
                let id = publisher.next_packet_id();
                p.packet_id = Some(id);
                publisher.send(&Packet::Publish(p)).await;
                in_flight.insert(id, next);
                next += 1;
            }
            match publisher.recv_within(Duration::from_secs(60)).await {
                Ok(Some(Packet::PubAck(ack))) => {
                    assert_eq!(ack.reason, ReasonCode::Success);
                    let i = in_flight
                        .remove(&ack.packet_id)
                        .expect("a PUBACK of a message sent");
                    acked.insert(i);
                }
                other => panic!("expected a PUBACK, got {other:?}"),
            }
            if acked.len() == 20
                && let Some(node_a) = killed.take()
            {
                Command::new("kill")
                    .args(["-9", &node_a.child.id().to_string()])
                    .status()
                    .unwrap();
                drop(node_a);
            }
        }
        assert!(killed.is_none());

        // The client resumes on node b: every acknowledged message is there (at least once).
        let (mut dev, ack) = connect_v311(b, "durable-dev", false).await;
        assert!(ack.session_present);
        let mut got = std::collections::BTreeSet::new();
        while got.len() < N {
            match dev.recv_within(Duration::from_secs(30)).await {
                Ok(Some(Packet::Publish(p))) => {
                    dev.ack(&p).await;
                    let text = String::from_utf8_lossy(&p.payload).into_owned();
                    got.insert(text[1..].parse::<usize>().expect("mN"));
                }
                other => panic!(
                    "{} of {N} acknowledged messages arrived, then {other:?}; missing {:?}",
                    got.len(),
                    acked.difference(&got).collect::<Vec<_>>()
                ),
            }
        }
        assert_eq!(got, acked);
        let c_health = cluster_health(c_api).await;
        assert!(
            c_health["receipts_confirmed"].as_u64() >= Some(20),
            "node a confirmed the first ones: {c_health}"
        );
        assert!(
            c_health["receipts_fallback_stored"].as_u64() >= Some(1),
            "node c stored what node a did not confirm: {c_health}"
        );
        let metrics = http_get(c_api, "/metrics").await;
        for series in [
            "ferrite_cluster_receipts_confirmed_total",
            "ferrite_cluster_receipts_timed_out_total",
            "ferrite_cluster_receipts_fallback_stored_total",
        ] {
            assert!(metrics.contains(series), "/metrics has {series}");
        }
    })
    .await;
}
