//! A cluster node's view of the cluster and of its own footing, with in-process `ferrite
//! serve` nodes on a scratch PostgreSQL schema: `/health` and `/metrics` show the peers it
//! hears (joining and leaving without restarts), its NATS and its PostgreSQL; a node that
//! loses NATS (a `nats-server` the test starts and kills) or PostgreSQL (a TCP proxy the
//! test cuts; the machine's server is never disturbed) refuses new work — `/health` 503, API
//! calls 503 ServiceUnavailableException, MQTT CONNECT 0x88 / return code 3 — and takes it
//! again by itself when they are back. Skipped loudly when a server is absent.

mod cluster_support;

use cluster_support::{
    OwnNats, PgProxy, cluster_location, eventually, fresh_prefix, health, metric, nats_url, node,
    node_with, own_nats_location, until_routed,
};
use ferrite_mqtt_codec::{ProtocolVersion, QoS, ReasonCode};
use ferrite_storage::conformance::run_case;
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::{TestClient, TestServer, connect_packet, connect_v311};

fn peer_names(h: &serde_json::Value) -> Vec<String> {
    h["cluster"]["peers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["node"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The CONNACK code a new client gets from `srv`.
async fn connack(srv: &TestServer, protocol: ProtocolVersion, id: &str) -> ReasonCode {
    let mut c = TestClient::open(srv.mqtt_addr(), protocol).await;
    c.connect_with(connect_packet(protocol, id, true))
        .await
        .reason
}

/// What a control-plane call (ListThings) gets from `srv`: status and `message`.
async fn list_things(srv: &TestServer) -> (u16, String) {
    let reply = signed_call(srv.api_addr(), "iot", "GET", "/things", "").await;
    let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
    (
        reply.status,
        v["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Everything a degraded node refuses, refused, with `why` in the messages.
async fn assert_refuses_work(srv: &TestServer, why: &str) {
    let (status, h) = health(srv).await;
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["status"], "unavailable", "{h}");
    assert!(
        h["reason"].as_str().unwrap_or_default().contains(why),
        "{h}"
    );
    let reply = signed_call(srv.api_addr(), "iot", "GET", "/things", "").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    let (_, message) = list_things(srv).await;
    assert!(message.contains(why), "{message}");
    assert_eq!(
        connack(srv, ProtocolVersion::V311, "refused-3").await,
        ReasonCode::ServerUnavailable
    );
    assert_eq!(
        connack(srv, ProtocolVersion::V5, "refused-5").await,
        ReasonCode::ServerUnavailable
    );
}

async fn assert_takes_work(srv: &TestServer) {
    let (status, h) = health(srv).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(list_things(srv).await.0, 200);
    assert_eq!(
        connack(srv, ProtocolVersion::V311, "welcome").await,
        ReasonCode::Success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_show_the_peers_and_the_nodes_footing() {
    const TEST: &str = "health_and_metrics_show_the_peers_and_the_nodes_footing";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let (status, h) = health(&a).await;
        assert_eq!(status, 200, "{h}");
        assert_eq!(h["cluster"]["bus"], "connected", "{h}");
        assert_eq!(h["cluster"]["store"], "connected", "{h}");
        assert!(peer_names(&h).is_empty(), "{h}");

        // Nodes join without a restart of the others.
        let b = node(&url, &prefix, "node-b").await;
        let c = node(&url, &prefix, "node-c").await;
        eventually("node A hears B and C", || async {
            peer_names(&health(&a).await.1) == ["node-b", "node-c"]
        })
        .await;
        let h = health(&a).await.1;
        assert!(
            h["cluster"]["peers"][0]["started_at_ms"]
                .as_i64()
                .unwrap_or(0)
                > 0,
            "{h}"
        );
        assert_eq!(metric(&a, "ferrite_cluster_peers").await, Some(2.0));
        assert_eq!(metric(&a, "ferrite_cluster_bus_connected").await, Some(1.0));
        assert_eq!(
            metric(&a, "ferrite_cluster_store_connected").await,
            Some(1.0)
        );

        // Messages across nodes are counted on both ends.
        let (mut sub, _) = connect_v311(a.mqtt_addr(), "sub", true).await;
        sub.subscribe("m/#", QoS::AtLeastOnce).await;
        let (mut publisher, _) = connect_v311(b.mqtt_addr(), "pub", true).await;
        until_routed(&mut publisher, &mut sub, "m/x").await;
        assert!(metric(&b, "ferrite_cluster_messages_forwarded_total").await >= Some(1.0));
        assert!(metric(&a, "ferrite_cluster_batches_received_total").await >= Some(1.0));
        // No node wrote a session another held.
        assert_eq!(
            metric(&a, "ferrite_cluster_sessions_fenced_total").await,
            Some(0.0)
        );
        assert_eq!(h["cluster"]["sessions_fenced"], 0, "{h}");

        // A node that leaves is gone from the others' view without waiting for its silence.
        c.shutdown().await;
        eventually("node A forgets C", || async {
            peer_names(&health(&a).await.1) == ["node-b"]
        })
        .await;
        assert_eq!(metric(&a, "ferrite_cluster_peers").await, Some(1.0));
        b.shutdown().await;
        a.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_nats_refuses_new_work_and_recovers_by_itself() {
    const TEST: &str = "a_node_that_loses_nats_refuses_new_work_and_recovers_by_itself";
    let Some(location) = own_nats_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let mut nats = OwnNats::start();
        let a = node_with(&url, &nats.url(), &prefix, "node-a", |_| {}).await;
        let b = node_with(&url, &nats.url(), &prefix, "node-b", |_| {}).await;
        assert_takes_work(&a).await;
        let (mut sub, _) = connect_v311(a.mqtt_addr(), "sub", true).await;
        sub.subscribe("n/#", QoS::AtLeastOnce).await;

        nats.kill();
        eventually("node A notices NATS is gone", || async {
            health(&a).await.0 == 503
        })
        .await;
        assert_eq!(health(&a).await.1["cluster"]["bus"], "disconnected");
        assert_refuses_work(&a, "NATS").await;
        assert_eq!(metric(&a, "ferrite_cluster_bus_connected").await, Some(0.0));

        nats.restart();
        eventually("node A takes work again", || async {
            health(&a).await.0 == 200
        })
        .await;
        assert_takes_work(&a).await;
        // Routing between the nodes is back too: B's publish reaches A's old subscriber.
        eventually("node B reconnects", || async { health(&b).await.0 == 200 }).await;
        let (mut publisher, _) = connect_v311(b.mqtt_addr(), "pub", true).await;
        until_routed(&mut publisher, &mut sub, "n/x").await;
        b.shutdown().await;
        a.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_postgres_refuses_new_work_and_recovers_by_itself() {
    const TEST: &str = "a_node_that_loses_postgres_refuses_new_work_and_recovers_by_itself";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let options = location.schema.connect_options().expect("options");
        let (host, port) = (options.get_host().to_owned(), options.get_port());
        let needle = format!("@{host}:{port}/");
        if !url.contains(&needle) {
            eprintln!("!! {TEST} is SKIPPED: cannot put a proxy into the URL (no {needle})");
            return;
        }
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolve PostgreSQL")
            .next()
            .expect("an address");
        let proxy = PgProxy::start(upstream).await;
        let proxied = url.replace(&needle, &format!("@{}/", proxy.addr));
        let a = node_with(&proxied, &nats_url(), &fresh_prefix(), "node-a", |_| {}).await;
        assert_takes_work(&a).await;

        proxy.cut();
        eventually("node A notices PostgreSQL is gone", || async {
            health(&a).await.0 == 503
        })
        .await;
        assert_eq!(health(&a).await.1["cluster"]["store"], "disconnected");
        assert_refuses_work(&a, "PostgreSQL").await;
        assert_eq!(
            metric(&a, "ferrite_cluster_store_connected").await,
            Some(0.0)
        );

        proxy.mend();
        eventually("node A takes work again", || async {
            health(&a).await.0 == 200
        })
        .await;
        assert_takes_work(&a).await;
        a.shutdown().await;
    })
    .await;
}
