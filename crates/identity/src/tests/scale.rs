//! What a change costs with 10,000 connected certificate devices: UpdateThing on one thing
//! and AttachPolicy on one certificate cost the store reads of the one connection each
//! affects, not of all of them, and revoking one certificate closes its connection within
//! 100 ms.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::fixture::{Conn, Device, Fixture, allow, attach_policy, connect, register, req};

const DEVICES: usize = 10_000;

/// Setup calls in flight at once (the embedded store commits what is queued together).
const PARALLEL: usize = 64;

/// The store reads a change affecting one connection may cost: the operation's own reads
/// plus one re-resolution. Resolving every connection again costs about 50,000.
const MAX_READS: usize = 25;

const ROOM_POLICY: &str =
    "arn:aws:iot:eu-west-1:123456789012:topic/room/${iot:Connection.Thing.Attributes[room]}";

/// Runs `task` over `items`, [`PARALLEL`] at a time, returning the outputs in order.
async fn each<I, T, F, Fut>(items: Vec<I>, task: F) -> Vec<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut out: Vec<Option<T>> = (0..items.len()).map(|_| None).collect();
    let mut running = JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        if running.len() >= PARALLEL
            && let Some(done) = running.join_next().await
        {
            let (j, t) = done.unwrap();
            out[j] = Some(t);
        }
        let fut = task(item);
        running.spawn(async move { (i, fut.await) });
    }
    while let Some(done) = running.join_next().await {
        let (j, t) = done.unwrap();
        out[j] = Some(t);
    }
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ten_thousand_devices_a_change_costs_what_it_affects() {
    let started = Instant::now();
    let f = Fixture::new();
    f.create_policy("device", &allow(&["iot:Publish"], ROOM_POLICY))
        .await;
    let certificates: Vec<(Device, String)> = (0..DEVICES)
        .map(|i| f.certificate(&format!("dev-{i}")))
        .collect();
    let devices = each(certificates, |(device, pem)| {
        let (r, scope) = (f.registry.clone(), f.scope.clone());
        async move {
            register(&r, &scope, &pem).await.unwrap();
            attach_policy(&r, &scope, "device", &device.arn(&scope))
                .await
                .unwrap();
            device
        }
    })
    .await;
    f.thing_of("dev-42", json!({"room": "kitchen"}), &devices[42])
        .await;
    let conns: Vec<Conn> = each(devices.iter().cloned().enumerate().collect(), |(i, d)| {
        let auth = f.auth.clone();
        async move { connect(&auth, &d, &format!("dev-{i}")).await.unwrap() }
    })
    .await;
    let set_up = started.elapsed();
    assert!(conns[42].perms.publish("room/kitchen", false));

    // UpdateThing on one thing: its device's connection is resolved again, no other.
    let mut changes = f.changes();
    let before = f.store.reads();
    f.registry
        .update_thing(req(
            json!({"thingName": "dev-42", "attributePayload": {"attributes": {"room": "hall"}}}),
        ))
        .await
        .unwrap();
    f.apply(&mut changes).await;
    let update_thing_reads = f.store.reads() - before;
    assert!(conns[42].perms.publish("room/hall", false));
    assert!(
        update_thing_reads <= MAX_READS,
        "UpdateThing cost {update_thing_reads} reads"
    );

    // AttachPolicy on one certificate: the same.
    f.create_policy(
        "extra",
        &allow(
            &["iot:Publish"],
            "arn:aws:iot:eu-west-1:123456789012:topic/extra",
        ),
    )
    .await;
    f.apply(&mut changes).await;
    let before = f.store.reads();
    f.attach_policy("extra", &devices[7].arn(&f.scope)).await;
    f.apply(&mut changes).await;
    let attach_policy_reads = f.store.reads() - before;
    assert!(conns[7].perms.publish("extra", false));
    assert!(!conns[8].perms.publish("extra", false));
    assert!(
        attach_policy_reads <= MAX_READS,
        "AttachPolicy cost {attach_policy_reads} reads"
    );

    // Revoking one certificate closes its connection, through the running refresher.
    let cancel = tokio_util::sync::CancellationToken::new();
    let refresher = tokio::spawn(f.auth.clone().run(changes, cancel.clone()));
    let revoking = Instant::now();
    f.registry
        .update_certificate(req(
            json!({"certificateId": devices[9].id, "newStatus": "REVOKED"}),
        ))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), conns[9].revoker.closed())
        .await
        .expect("the revoked certificate's connection is closed");
    let revoked_in = revoking.elapsed();
    assert!(
        revoked_in < Duration::from_millis(100),
        "revocation took {revoked_in:?}"
    );
    assert!(
        conns
            .iter()
            .enumerate()
            .all(|(i, c)| c.revoker.is_closed() == (i == 9))
    );
    cancel.cancel();
    refresher.await.unwrap();
    eprintln!(
        "{DEVICES} devices set up and connected in {set_up:?}; UpdateThing: \
         {update_thing_reads} store reads; AttachPolicy: {attach_policy_reads} store reads; \
         revocation closed the connection in {revoked_in:?}"
    );
}
