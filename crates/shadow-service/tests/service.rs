//! The shadow service on a real broker and the embedded store: the per-client in-flight limit
//! (429), batches of queued requests stored together, and updates decided from the cache
//! when another writer changed the shadow underneath.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_broker::{Broker, ConnectContext, ConnectFuture, Message, Metrics};
use ferrite_mqtt_codec::{Properties, ProtocolVersion, QoS, ReasonCode};
use ferrite_shadow::{Operation, ShadowConfig, ShadowId};
use ferrite_shadow_service::{ServiceConfig, ShadowService, ShadowStore, Shadows};
use ferrite_storage::{Page, Record, RegistryStore, StoreFuture, Write, WriteOutcome};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore};
use ferrite_types::message::local_node;
use ferrite_types::{AwsException, Origin, Protocol};
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

/// No device connects in these tests: requests are published into the broker directly.
struct NoDevices;

impl ferrite_broker::Authorizer for NoDevices {
    fn connect<'a>(&'a self, _: ConnectContext<'a>) -> ConnectFuture<'a> {
        Box::pin(async { Err(ReasonCode::NotAuthorized) })
    }
}

/// The embedded store with a gate in front of writes: while it is shut, writes wait, so
/// requests pile up in the service as they would behind a slow disk.
struct GatedStore {
    inner: Arc<SqliteStore>,
    open: watch::Receiver<bool>,
}

impl RegistryStore for GatedStore {
    fn get<'a>(&'a self, kind: &'a str, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        self.inner.get(kind, key)
    }

    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        self.inner.list(kind, prefix, after, limit)
    }

    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome> {
        let mut open = self.open.clone();
        Box::pin(async move {
            let _ = open.wait_for(|o| *o).await;
            self.inner.write(batch).await
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.inner.clear()
    }

    fn next_sequence(&self) -> StoreFuture<'_, u64> {
        self.inner.next_sequence()
    }
}

struct Harness {
    broker: Broker,
    shadows: Shadows,
    store: ShadowStore,
    gate: watch::Sender<bool>,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(0).await
    }

    /// With a per-thing quota of `per_sec` requests per second (0: none).
    async fn start_with(per_sec: u32) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = Arc::new(
            SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default())
                .expect("open store"),
        );
        let (gate, open) = watch::channel(true);
        let registry: Arc<dyn RegistryStore> = Arc::new(GatedStore {
            inner: sqlite.clone(),
            open,
        });
        let broker = Broker::start(
            Default::default(),
            sqlite,
            Arc::new(NoDevices),
            Arc::new(Metrics::default()),
        )
        .await
        .expect("broker");
        let service = ShadowService::new(
            broker.clone(),
            registry.clone(),
            ServiceConfig {
                shadow: ShadowConfig::default(),
                max_in_flight_per_client: 10,
                max_requests_per_thing_per_sec: per_sec,
            },
        )
        .expect("service");
        let shadows = service.shadows();
        let cancel = CancellationToken::new();
        tokio::spawn(service.run(cancel.clone()));
        Harness {
            broker,
            shadows,
            store: ShadowStore::new(registry),
            gate,
            cancel,
            _dir: dir,
        }
    }

    /// What the service publishes for `thing`'s classic shadow.
    fn responses(&self, thing: &str) -> Receiver<Arc<Message>> {
        self.broker
            .tap(&format!("$aws/things/{thing}/shadow/+/+"), 1024)
            .expect("tap")
    }

    async fn request(&self, client: &str, thing: &str, op: &str, payload: Value) {
        let msg = Message::new(
            Arc::from(format!("$aws/things/{thing}/shadow/{op}")),
            Bytes::from(payload.to_string()),
            QoS::AtLeastOnce,
            false,
            &Properties::default(),
            Arc::new(Origin {
                client_id: Some(Arc::from(client)),
                principal: None,
                source_ip: None,
                protocol: Protocol::Mqtt(ProtocolVersion::V5),
                node: local_node(),
            }),
            0,
        );
        self.broker.publish(msg).await.expect("publish");
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn next(rx: &mut Receiver<Arc<Message>>) -> (String, Value) {
    let msg = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a response in time")
        .expect("tap open");
    let doc = serde_json::from_slice(&msg.payload).expect("json response");
    (msg.topic.to_string(), doc)
}

fn update(token: &str, reported: Value) -> Value {
    json!({"state": {"reported": reported}, "clientToken": token})
}

#[tokio::test]
async fn an_eleventh_unanswered_request_of_one_client_is_rejected_with_429() {
    let h = Harness::start().await;
    let mut responses = h.responses("pump");
    h.gate.send_replace(false);
    for i in 0..10 {
        h.request(
            "dev",
            "pump",
            "update",
            update(&format!("t{i}"), json!({"i": i})),
        )
        .await;
    }
    // Ten wait behind the shut store; the eleventh is refused at once, with its token.
    h.request("dev", "pump", "update", update("t10", json!({"i": 10})))
        .await;
    let (topic, doc) = next(&mut responses).await;
    assert_eq!(topic, "$aws/things/pump/shadow/update/rejected");
    assert_eq!(doc["code"], 429);
    assert_eq!(doc["message"], "Rate limit exceeded");
    assert_eq!(doc["clientToken"], "t10");
    // Another client is not held to `dev`'s count.
    let mut other = h.responses("valve");
    h.request("ops", "valve", "update", update("o", json!({"on": true})))
        .await;

    h.gate.send_replace(true);
    let mut accepted = Vec::new();
    while accepted.len() < 10 {
        let (topic, doc) = next(&mut responses).await;
        if topic.ends_with("/update/accepted") {
            accepted.push((doc["clientToken"].clone(), doc["version"].clone()));
        }
    }
    let expected: Vec<_> = (0..10)
        .map(|i| (json!(format!("t{i}")), json!(i + 1)))
        .collect();
    assert_eq!(accepted, expected, "the ten are applied in order");
    let (topic, _) = next(&mut other).await;
    assert_eq!(topic, "$aws/things/valve/shadow/update/accepted");

    // Answered requests no longer count.
    h.request("dev", "pump", "update", update("t11", json!({"i": 11})))
        .await;
    loop {
        let (topic, doc) = next(&mut responses).await;
        if topic.ends_with("/update/accepted") {
            assert_eq!(doc["clientToken"], "t11");
            assert_eq!(doc["version"], 11);
            break;
        }
        assert!(!topic.ends_with("/rejected"), "{topic}: {doc}");
    }
}

#[tokio::test]
async fn requests_beyond_the_things_quota_are_rejected_with_429_on_both_apis() {
    let h = Harness::start_with(1).await;
    let mut responses = h.responses("hot");
    for i in 0..3 {
        h.request(
            "dev",
            "hot",
            "update",
            update(&format!("t{i}"), json!({"i": i})),
        )
        .await;
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let (topic, doc) = next(&mut responses).await;
        let kind = topic.rsplit('/').next().unwrap_or_default().to_owned();
        if kind == "accepted" || kind == "rejected" {
            seen.push((doc["clientToken"].clone(), kind, doc["code"].clone()));
        }
    }
    seen.sort_by_key(|(token, ..)| token.to_string());
    assert_eq!(
        seen,
        vec![
            (json!("t0"), "accepted".to_owned(), Value::Null),
            (json!("t1"), "rejected".to_owned(), json!(429)),
            (json!("t2"), "rejected".to_owned(), json!(429)),
        ]
    );
    // REST calls draw on the same quota (the second of this second).
    let err = h
        .shadows
        .rest(Operation::Get, "hot", Some("named"), b"")
        .await
        .expect_err("throttled");
    assert_eq!(
        (err.undeclared_status(), err.exception_name()),
        (429, "ThrottlingException")
    );
    // Another thing has its own.
    h.shadows
        .rest(
            Operation::Update,
            "cold",
            None,
            br#"{"state":{"reported":{"a":1}}}"#,
        )
        .await
        .expect("another thing's update");
}

#[tokio::test]
async fn requests_queued_behind_one_write_are_decided_in_order_and_stored_together() {
    let h = Harness::start().await;
    let things = ["a", "b", "c", "d"];
    let mut taps: Vec<_> = things.iter().map(|t| h.responses(t)).collect();
    h.gate.send_replace(false);
    // Per thing: create, a conflicting version (rejected), a good version, a delete of a key.
    for (n, thing) in things.iter().enumerate() {
        let client = format!("c{n}");
        h.request(
            &client,
            thing,
            "update",
            update("1", json!({"x": 1, "y": 1})),
        )
        .await;
        h.request(
            &client,
            thing,
            "update",
            json!({"state": {"reported": {"x": 2}}, "version": 7, "clientToken": "2"}),
        )
        .await;
        h.request(
            &client,
            thing,
            "update",
            json!({"state": {"reported": {"x": 3}}, "version": 1, "clientToken": "3"}),
        )
        .await;
        h.request(&client, thing, "update", update("4", json!({"y": null})))
            .await;
    }
    h.gate.send_replace(true);
    for (thing, tap) in things.iter().zip(taps.iter_mut()) {
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let (topic, doc) = next(tap).await;
            let kind = topic.rsplit('/').next().unwrap_or_default().to_owned();
            if kind == "accepted" || kind == "rejected" {
                seen.push((doc["clientToken"].clone(), kind, doc["version"].clone()));
            }
        }
        assert_eq!(
            seen,
            vec![
                (json!("1"), "accepted".to_owned(), json!(1)),
                (json!("2"), "rejected".to_owned(), Value::Null),
                (json!("3"), "accepted".to_owned(), json!(2)),
                (json!("4"), "accepted".to_owned(), json!(3)),
            ],
            "{thing}"
        );
        let stored = h
            .shadows
            .rest(Operation::Get, thing, None, b"")
            .await
            .expect("get");
        let doc: Value = serde_json::from_slice(&stored).expect("json");
        assert_eq!(doc["state"]["reported"], json!({"x": 3}), "{thing}");
        assert_eq!(doc["version"], 3, "{thing}");
    }
}

#[tokio::test]
async fn documents_are_published_when_someone_receives_them() {
    let h = Harness::start().await;
    let topic = "$aws/things/pump/shadow/update/documents";
    assert!(!h.broker.has_receivers(topic));
    let mut responses = h
        .broker
        .tap("$aws/things/pump/shadow/update/accepted", 16)
        .expect("tap");
    assert!(!h.broker.has_receivers(topic));
    h.request("dev", "pump", "update", update("1", json!({"a": 1})))
        .await;
    let (first, _) = next(&mut responses).await;
    assert!(first.ends_with("/update/accepted"), "{first}");
    let mut documents = h.broker.tap(topic, 16).expect("tap");
    assert!(h.broker.has_receivers(topic));
    h.request("dev", "pump", "update", update("2", json!({"a": 2})))
        .await;
    let msg = tokio::time::timeout(WAIT, documents.recv())
        .await
        .expect("documents in time")
        .expect("tap open");
    let doc: Value = serde_json::from_slice(&msg.payload).expect("json");
    assert_eq!(doc["previous"]["state"]["reported"], json!({"a": 1}));
    assert_eq!(doc["current"]["state"]["reported"], json!({"a": 2}));
    assert_eq!(doc["current"]["version"], 2);
    let (topic, _) = next(&mut responses).await;
    assert!(topic.ends_with("/update/accepted"), "{topic}");
}

#[tokio::test]
async fn an_update_made_elsewhere_after_the_cache_was_filled_is_kept() {
    let h = Harness::start().await;
    h.shadows
        .rest(
            Operation::Update,
            "pump",
            None,
            update("1", json!({"mine": 1})).to_string().as_bytes(),
        )
        .await
        .expect("first update");
    // Another node (same store) updates the shadow behind this service's back.
    let id = ShadowId::parse("pump", None).expect("id");
    let (current, version) = h.store.load(&id).await.expect("load").expect("stored");
    let theirs = ferrite_shadow::handle(
        Operation::Update,
        &id,
        Some(&current),
        br#"{"state":{"reported":{"theirs":1}}}"#,
        1,
        &ShadowConfig::default(),
    )
    .expect("their update");
    let record = theirs.record().expect("a record");
    assert!(
        h.store
            .save(&id, &record, Some(version))
            .await
            .expect("save")
    );

    let body = h
        .shadows
        .rest(
            Operation::Update,
            "pump",
            None,
            update("3", json!({"mine": 2})).to_string().as_bytes(),
        )
        .await
        .expect("second update");
    let doc: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(doc["version"], 3, "decided again on the newer version");
    let got = h
        .shadows
        .rest(Operation::Get, "pump", None, b"")
        .await
        .expect("get");
    let doc: Value = serde_json::from_slice(&got).expect("json");
    assert_eq!(doc["state"]["reported"], json!({"mine": 2, "theirs": 1}));
}

#[tokio::test]
async fn deletes_for_thing_name_its_classic_and_named_shadows_only() {
    let h = Harness::start().await;
    for (thing, shadow) in [
        ("lamp", None),
        ("lamp", Some("cfg")),
        ("lamp", Some("fw")),
        ("lamp2", None),
        ("lamp2", Some("cfg")),
    ] {
        h.shadows
            .rest(
                Operation::Update,
                thing,
                shadow,
                br#"{"state":{"reported":{"on":true}}}"#,
            )
            .await
            .expect("update");
    }
    // A deleted (tombstoned) named shadow goes too.
    h.shadows
        .rest(Operation::Delete, "lamp", Some("fw"), b"")
        .await
        .expect("delete");
    let writes = h.store.deletes_for_thing("lamp").await.expect("deletes");
    let mut keys: Vec<_> = writes.iter().map(|w| w.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, ["lamp", "lamp/cfg", "lamp/fw"]);
}
