//! What the cluster tests beyond `cluster.rs` share: nodes on a scratch PostgreSQL schema
//! and a NATS (the machine's, or one a test starts and kills itself), `/health`, iot-data's
//! retained messages, and a TCP proxy in front of PostgreSQL that a test can cut and mend.

// Each test binary uses a different part of this module; the proxy's tasks end with its
// connections (test code, exempt from the spawn rule like the other tests' helpers).
#![allow(dead_code, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrite_config::Config;
use ferrite_mqtt_codec::{Packet, QoS};
use ferrite_storage_postgres::testing::ScratchLocation;
use ferrite_test_support::aws::signed_call;
use ferrite_test_support::{TestClient, TestServer, WAIT, http_get};
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub fn nats_url() -> String {
    std::env::var("FERRITE_TEST_NATS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

/// The scratch PostgreSQL schema for `test` when NATS is there too; `None` (the test skips,
/// saying why) when either is missing.
pub async fn cluster_location(test: &str) -> Option<ScratchLocation> {
    let url = nats_url();
    match tokio::time::timeout(Duration::from_secs(5), async_nats::connect(url.as_str())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            eprintln!(
                "!! no NATS at {url} ({e}): {test} is SKIPPED. Start nats-server or set FERRITE_TEST_NATS_URL."
            );
            return None;
        }
        Err(_) => {
            eprintln!("!! NATS at {url} does not answer: {test} is SKIPPED.");
            return None;
        }
    }
    ScratchLocation::from_env(test).await
}

/// The scratch schema for `test` when PostgreSQL is there and `nats-server` can be started;
/// `None` (skipped loudly) otherwise.
pub async fn own_nats_location(test: &str) -> Option<ScratchLocation> {
    if Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("!! no nats-server binary on PATH: {test} is SKIPPED.");
        return None;
    }
    ScratchLocation::from_env(test).await
}

/// A subject prefix of this run alone, so concurrent runs on one NATS never cross.
pub fn fresh_prefix() -> String {
    format!("ferrite-test-{}", uuid::Uuid::new_v4().simple())
}

/// A cluster node on `storage_url` and `nats`, heartbeating every 200 ms, with `f` applied.
pub async fn node_with(
    storage_url: &str,
    nats: &str,
    prefix: &str,
    id: &str,
    f: impl FnOnce(&mut Config),
) -> TestServer {
    TestServer::start_with(|c| {
        c.storage.url = storage_url.to_owned();
        c.cluster.enabled = true;
        c.cluster.node_id = id.to_owned();
        c.cluster.nats_urls = vec![nats.to_owned()];
        c.cluster.subject_prefix = prefix.to_owned();
        c.cluster.heartbeat_interval_ms = 200;
        f(c);
    })
    .await
}

pub async fn node(storage_url: &str, prefix: &str, id: &str) -> TestServer {
    node_with(storage_url, &nats_url(), prefix, id, |_| {}).await
}

/// Publishes probes on `topic` through `publisher` until `subscriber` (on another node)
/// receives one: interest reaches NATS asynchronously (and again after a NATS restart).
pub async fn until_routed(publisher: &mut TestClient, subscriber: &mut TestClient, topic: &str) {
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        publisher
            .publish(topic, b"probe", QoS::AtMostOnce, false)
            .await;
        match subscriber.recv_within(Duration::from_millis(200)).await {
            Ok(Some(Packet::Publish(p))) if &p.payload[..] == b"probe" => {
                assert_eq!(&*p.topic, topic);
                return;
            }
            Ok(Some(other)) => panic!("expected a probe on {topic}, got {other:?}"),
            Ok(None) => panic!("the subscriber's connection closed"),
            Err(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "nothing published on {topic} arrived on the subscriber's node"
            ),
        }
    }
}

/// The node's `/health`: status code and document.
pub async fn health(srv: &TestServer) -> (u16, serde_json::Value) {
    let response = http_get(srv.api_addr(), "/health").await;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    let doc = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    (status, doc)
}

/// The node's `/metrics` text.
pub async fn metrics(srv: &TestServer) -> String {
    http_get(srv.api_addr(), "/metrics").await
}

/// The value of the series `name` (no labels) in `/metrics`.
pub async fn metric(srv: &TestServer, name: &str) -> Option<f64> {
    let text = metrics(srv).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Polls `check` until it holds, panicking with `what` after [`WAIT`]. For state that other
/// nodes change over the network, where there is no event to wait on in this process.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// iot-data GetRetainedMessage on `srv`: the payload, or `None` on 404.
pub async fn get_retained(srv: &TestServer, topic: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let reply = signed_call(
        srv.api_addr(),
        "iotdata",
        "GET",
        &format!("/retainedMessage/{}", topic.replace('/', "%2F")),
        "",
    )
    .await;
    match reply.status {
        404 if reply.body.contains("No retained message exists") => None,
        200 => {
            let v: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
            let p = v["payload"].as_str().unwrap_or_default();
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .expect("base64 payload"),
            )
        }
        other => panic!("GetRetainedMessage {topic}: {other} {}", reply.body),
    }
}

/// iot-data ListRetainedMessages on `srv`: the topics.
pub async fn list_retained(srv: &TestServer) -> Vec<String> {
    let reply = signed_call(srv.api_addr(), "iotdata", "GET", "/retainedMessage", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
    v["retainedTopics"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["topic"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A port free now (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `nats-server` of the test's own on a fixed port, so that it can be killed and started
/// again where the nodes look for it. Killed when dropped.
pub struct OwnNats {
    pub port: u16,
    child: Option<Child>,
}

impl OwnNats {
    pub fn start() -> OwnNats {
        let mut nats = OwnNats {
            port: free_port(),
            child: None,
        };
        nats.restart();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of PostgreSQL: cutting it closes every connection through it and
/// refuses new ones (what a node sees when the database goes away), mending lets them through
/// again. The machine's shared PostgreSQL is never disturbed.
pub struct PgProxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    /// Cancelled on each cut, ending the connections in flight.
    cut: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl PgProxy {
    pub async fn start(upstream: SocketAddr) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let open = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Mutex::new(CancellationToken::new()));
        let stop = CancellationToken::new();
        let (o, c, s) = (open.clone(), cut.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    () = s.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                if !o.load(Ordering::Acquire) {
                    drop(inbound);
                    continue;
                }
                let token = c.lock().clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        PgProxy {
            addr,
            open,
            cut,
            stop,
        }
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::Release);
        let old = std::mem::take(&mut *self.cut.lock());
        old.cancel();
    }

    pub fn mend(&self) {
        self.open.store(true, Ordering::Release);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.cut();
        self.stop.cancel();
    }
}
