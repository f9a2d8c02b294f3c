//! Two nodes' change feeds on one in-process bus: what one node's registry announces reaches
//! the other's subscribers once, never comes back to its own, and a bus gap or an unreadable
//! change makes subscribers treat everything as changed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_cluster::{Bus, BusFeed, Headers, InProcessBus};
use ferrite_types::{ChangeFeed, ChangeSubscription, InProcessFeed, Received, RegistryChange};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const PREFIX: &str = "ferrite";

fn revoked(id: &str) -> RegistryChange {
    RegistryChange::CertificateStatusChanged {
        certificate_id: id.into(),
        status: ferrite_types::CertStatus::Revoked,
    }
}

async fn feed(
    bus: &InProcessBus,
    node: &str,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
) -> BusFeed {
    let feed = BusFeed::new(
        InProcessFeed::default(),
        Arc::new(bus.clone()),
        Arc::from(node),
        PREFIX,
    );
    feed.run(tasks, cancel.clone()).await.expect("subscribed");
    feed
}

async fn next(sub: &mut ChangeSubscription) -> Received {
    tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("a change in time")
        .expect("the feed is open")
}

/// Nothing else is waiting: a marker published after arrives next.
async fn nothing_before(sub: &mut ChangeSubscription, marker: &RegistryChange) {
    match next(sub).await {
        Received::Change(c) => assert_eq!(&*c, marker, "expected nothing before the marker"),
        other => panic!("expected the marker, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_change_on_one_node_reaches_the_other_once_and_never_comes_back() {
    let (tasks, cancel, bus) = (
        TaskTracker::new(),
        CancellationToken::new(),
        InProcessBus::new(),
    );
    let a = feed(&bus, "node-a", &tasks, &cancel).await;
    let b = feed(&bus, "node-b", &tasks, &cancel).await;
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());

    a.publish(revoked("c1"));
    // A's own subscribers hear it at once, from A.
    assert!(matches!(on_a.try_recv(), Some(Received::Change(c)) if *c == revoked("c1")));
    assert!(!on_a.from_other_node());
    assert!(matches!(next(&mut on_b).await, Received::Change(c) if *c == revoked("c1")));
    // B keeps current with it but leaves act-once work (event messages) to A.
    assert!(on_b.from_other_node());

    // B's change reaches A, and A's own did not come back to it first (the bus delivers in
    // order); the same for B.
    b.publish(revoked("c2"));
    assert!(matches!(on_b.try_recv(), Some(Received::Change(c)) if *c == revoked("c2")));
    nothing_before(&mut on_a, &revoked("c2")).await;
    a.publish(revoked("c3"));
    assert!(matches!(on_a.try_recv(), Some(Received::Change(c)) if *c == revoked("c3")));
    nothing_before(&mut on_b, &revoked("c3")).await;

    cancel.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test(start_paused = true)]
async fn a_bus_gap_or_an_unreadable_change_means_everything_may_have_changed() {
    let (tasks, cancel, bus) = (
        TaskTracker::new(),
        CancellationToken::new(),
        InProcessBus::new(),
    );
    let a = feed(&bus, "node-a", &tasks, &cancel).await;
    let mut on_a = a.subscribe();

    bus.interrupt();
    assert!(matches!(next(&mut on_a).await, Received::Missed(n) if n >= 1));

    let mut headers = Headers::new();
    headers.push("Ferrite-Node", "node-new");
    bus.publish(
        format!("{PREFIX}.changes"),
        headers,
        Bytes::from_static(br#"{"change":"a_variant_from_the_future"}"#),
    )
    .await
    .unwrap();
    assert!(matches!(next(&mut on_a).await, Received::Missed(n) if n >= 1));

    // After a gap the feed goes on as before.
    let b = feed(&bus, "node-b", &tasks, &cancel).await;
    b.publish(revoked("c1"));
    nothing_before(&mut on_a, &revoked("c1")).await;

    cancel.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test(start_paused = true)]
async fn changes_queued_before_shutdown_are_still_published() {
    let (tasks, cancel, bus) = (
        TaskTracker::new(),
        CancellationToken::new(),
        InProcessBus::new(),
    );
    let mut listener = bus
        .subscribe(format!("{PREFIX}.changes"), None)
        .await
        .unwrap();
    let a = feed(&bus, "node-a", &tasks, &cancel).await;
    a.publish(revoked("c1"));
    a.publish(revoked("c2"));
    cancel.cancel();
    tasks.close();
    tasks.wait().await;
    for id in ["c1", "c2"] {
        let m = listener.next().await.expect("published");
        assert_eq!(m.headers.get("Ferrite-Node"), Some("node-a"));
        let change: RegistryChange = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(change, revoked(id));
    }
}
