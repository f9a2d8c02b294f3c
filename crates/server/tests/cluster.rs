//! Two `ferrite serve` nodes (in process) with `cluster.enabled`, sharing the PostgreSQL at
//! `FERRITE_TEST_POSTGRES_URL` (a scratch schema) and the NATS at `FERRITE_TEST_NATS_URL`
//! (default nats://127.0.0.1:4222) under a subject prefix of their own: MQTT messages cross
//! from one node to the other, and only where someone wants them; a registry change made
//! through one node's API takes effect on the other's connections. Skipped loudly when
//! either server is absent.

use std::sync::Arc;
use std::time::Duration;

use ferrite_mqtt_codec::{Packet, ProtocolVersion, Publish, QoS, ReasonCode};
use ferrite_storage::conformance::run_case;
use ferrite_test_support::aws::{iot_ok, signed_call};
use ferrite_test_support::{TestClient, TestServer, WAIT, connect_packet, connect_v311};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;

mod cluster_support;

use cluster_support::{cluster_location, fresh_prefix, node, until_routed};

/// The node's `/health` document.
async fn health(srv: &TestServer) -> serde_json::Value {
    cluster_support::health(srv).await.1
}

async fn messages_received(srv: &TestServer) -> u64 {
    health(srv).await["cluster"]["batches_received"]
        .as_u64()
        .expect("cluster.batches_received in /health")
}

/// The next PUBLISH that is not a readiness probe (acknowledged).
async fn next_data(c: &mut TestClient) -> Publish {
    loop {
        let p = c.recv_publish().await;
        if !p.topic.ends_with("/probe") {
            return p;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_one_node_receives_what_a_publisher_on_another_sends() {
    const TEST: &str = "a_subscriber_on_one_node_receives_what_a_publisher_on_another_sends";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let b = node(&url, &prefix, "node-b").await;
        let h = health(&a).await;
        assert_eq!(h["cluster"]["node"], "node-a", "{h}");
        assert_eq!(h["cluster"]["bus"], "connected", "{h}");

        // On A: one subscriber that wants cl/data/#, another that wants only cl/other.
        let (mut other, _) = connect_v311(a.mqtt_addr(), "other-sub", true).await;
        other.subscribe("cl/other", QoS::AtLeastOnce).await;
        let (mut sub, _) = connect_v311(a.mqtt_addr(), "data-sub", true).await;
        sub.subscribe("cl/data/#", QoS::AtLeastOnce).await;

        // A's interest reaches NATS asynchronously, in the order it arose: once a probe
        // published on B arrives, both subscriptions are in place.
        let (mut publisher, _) = connect_v311(b.mqtt_addr(), "publisher", true).await;
        until_routed(&mut publisher, &mut sub, "cl/data/probe").await;

        publisher
            .publish("cl/data/zero", b"at most once", QoS::AtMostOnce, false)
            .await;
        let p = next_data(&mut sub).await;
        assert_eq!(
            (&*p.topic, &p.payload[..], p.qos),
            ("cl/data/zero", &b"at most once"[..], QoS::AtMostOnce)
        );

        let ack = publisher
            .publish("cl/data/one", b"at least once", QoS::AtLeastOnce, false)
            .await;
        assert!(ack.is_some(), "PUBACK on node B");
        let p = next_data(&mut sub).await;
        assert_eq!(
            (&*p.topic, &p.payload[..], p.qos),
            ("cl/data/one", &b"at least once"[..], QoS::AtLeastOnce)
        );

        // Everything B sent so far has reached A (NATS keeps one publisher's order), so the
        // count is settled. A topic nobody on A wants does not cross to A at all: the next
        // message that A wants is the only one A receives.
        let before = messages_received(&a).await;
        publisher
            .publish("cl/nobody", b"unwanted", QoS::AtLeastOnce, false)
            .await;
        publisher
            .publish("cl/other", b"marker", QoS::AtLeastOnce, false)
            .await;
        let p = other.recv_publish().await;
        assert_eq!((&*p.topic, &p.payload[..]), ("cl/other", &b"marker"[..]));
        assert_eq!(
            messages_received(&a).await,
            before + 1,
            "only the wanted message crossed to node A"
        );
        // And none of A's subscribers saw the unwanted one: a ping round trip each.
        for c in [&mut sub, &mut other] {
            c.send(&Packet::PingReq).await;
            loop {
                match c.recv().await {
                    Packet::PingResp => break,
                    Packet::Publish(p) if p.topic.ends_with("/probe") => {}
                    other => panic!("expected PINGRESP, got {other:?}"),
                }
            }
        }

        // A message published on A by a service (iot-data Publish here) comes back to A from
        // the bus, since A wants its topic; A knows it by its node id and routes it once.
        let before = messages_received(&a).await;
        let reply = signed_call(
            a.api_addr(),
            "iotdata",
            "POST",
            "/topics/cl%2Fother?qos=1",
            "{\"via\":\"http\"}",
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let p = other.recv_publish().await;
        assert_eq!(&p.payload[..], b"{\"via\":\"http\"}");
        let deadline = tokio::time::Instant::now() + WAIT;
        while messages_received(&a).await == before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the message never came back from the bus"
            );
            tokio::task::yield_now().await;
        }
        other.send(&Packet::PingReq).await;
        let next = other.recv().await;
        assert!(
            matches!(next, Packet::PingResp),
            "a message published on this node is delivered once, got {next:?}"
        );

        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

/// An MQTT 5 client on `srv`'s MQTTS port, authenticated by the certificate `created` by
/// CreateKeysAndCertificate.
async fn device(srv: &TestServer, created: &serde_json::Value, client_id: &str) -> TestClient {
    let pem = |v: &serde_json::Value| v.as_str().expect("a PEM").as_bytes().to_vec();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&std::fs::read(srv.ca_file()).unwrap()).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from_pem_slice(&pem(&created["certificatePem"])).unwrap()],
        PrivateKeyDer::from_pem_slice(&pem(&created["keyPair"]["PrivateKey"])).unwrap(),
    )
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(srv.addrs().mqtts.expect("an mqtts listener"))
        .await
        .unwrap();
    let stream = tokio::time::timeout(
        WAIT,
        tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(ServerName::try_from("localhost").unwrap(), tcp),
    )
    .await
    .expect("TLS in time")
    .expect("TLS handshake");
    let mut c = TestClient::over(Box::new(stream), ProtocolVersion::V5);
    let ack = c
        .connect_with(connect_packet(ProtocolVersion::V5, client_id, true))
        .await;
    assert_eq!(ack.reason, ReasonCode::Success, "{ack:?}");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_revoked_through_one_node_disconnects_its_device_on_another() {
    const TEST: &str = "a_certificate_revoked_through_one_node_disconnects_its_device_on_another";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let b = node(&url, &prefix, "node-b").await;

        let created = iot_ok(
            &a,
            "POST",
            "/keys-and-certificate?setAsActive=true",
            json!({}),
        )
        .await;
        let document = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
        });
        iot_ok(
            &a,
            "POST",
            "/policies/everything",
            json!({ "policyDocument": document.to_string() }),
        )
        .await;
        iot_ok(
            &a,
            "PUT",
            "/target-policies/everything",
            json!({ "target": created["certificateArn"] }),
        )
        .await;

        // The device on B works under the policy attached through A.
        let mut dev = device(&b, &created, "revoked-device").await;
        let ack = dev
            .publish("cl/revoke/before", b"hello", QoS::AtLeastOnce, false)
            .await
            .expect("a PUBACK");
        // Allowed (nobody subscribes, which MQTT 5 says), not NotAuthorized.
        assert_eq!(ack.reason, ReasonCode::NoMatchingSubscribers, "{ack:?}");

        let id = created["certificateId"].as_str().expect("a certificate id");
        iot_ok(
            &a,
            "PUT",
            &format!("/certificates/{id}?newStatus=REVOKED"),
            json!({}),
        )
        .await;
        let started = tokio::time::Instant::now();
        dev.expect_closed().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "node B took {:?} to act on the revocation",
            started.elapsed()
        );

        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_event_is_announced_once_in_the_cluster() {
    const TEST: &str = "a_registry_event_is_announced_once_in_the_cluster";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let b = node(&url, &prefix, "node-b").await;
        iot_ok(
            &a,
            "PATCH",
            "/event-configurations",
            json!({"eventConfigurations": {"THING": {"Enabled": true}}}),
        )
        .await;

        // A watcher on B; once a probe from A reaches it, A sees its interest too.
        let (mut w, _) = connect_v311(b.mqtt_addr(), "watcher", true).await;
        w.subscribe("$aws/events/thing/#", QoS::AtLeastOnce).await;
        w.subscribe("cl/ev/probe", QoS::AtLeastOnce).await;
        let (mut prober, _) = connect_v311(a.mqtt_addr(), "prober", true).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            prober
                .publish("cl/ev/probe", b"probe", QoS::AtMostOnce, false)
                .await;
            match w.recv_within(Duration::from_millis(200)).await {
                Ok(Some(Packet::Publish(p))) if &*p.topic == "cl/ev/probe" => break,
                Ok(other) => panic!("expected a probe, got {other:?}"),
                Err(_) => assert!(
                    tokio::time::Instant::now() < deadline,
                    "node B's subscription never became visible to node A"
                ),
            }
        }

        // Both nodes hear each change; only A, which made it, announces it.
        for thing in ["lamp", "fan", "marker"] {
            iot_ok(&a, "POST", &format!("/things/{thing}"), json!({})).await;
        }
        let mut topics = Vec::new();
        while topics
            .last()
            .is_none_or(|t| t != "$aws/events/thing/marker/created")
        {
            topics.push(next_data(&mut w).await.topic.to_string());
        }
        assert_eq!(
            topics,
            [
                "$aws/events/thing/lamp/created",
                "$aws/events/thing/fan/created",
                "$aws/events/thing/marker/created"
            ],
            "each event once, in order"
        );

        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_nats_stops_the_start_naming_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ferrite_test_support::test_config(dir.path());
    cfg.storage.url = "postgres://127.0.0.1:1/never-opened".into();
    cfg.cluster.enabled = true;
    cfg.cluster.nats_urls = vec!["nats://127.0.0.1:1".into()];
    let err = match ferrite_server::Server::start(cfg).await {
        Ok(_) => panic!("a cluster node started without NATS"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("nats://127.0.0.1:1"), "{err}");
    assert!(err.contains("cluster.nats_urls"), "{err}");
}

#[tokio::test]
async fn a_single_node_reports_no_cluster_in_health() {
    let srv = TestServer::start().await;
    let h = health(&srv).await;
    assert_eq!(h, serde_json::json!({"status": "ok"}));
    srv.shutdown().await;
}
