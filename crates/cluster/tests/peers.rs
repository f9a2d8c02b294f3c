//! Nodes hear each other's heartbeats (in-process bus, paused clock): they join and leave
//! without a restart, and a node that goes silent is forgotten after three intervals.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_cluster::{Bus, Headers, InProcessBus, Peers};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const INTERVAL: Duration = Duration::from_millis(500);
const WAIT: Duration = Duration::from_secs(30);

async fn start(bus: &InProcessBus, node: &str, tasks: &TaskTracker) -> (Peers, CancellationToken) {
    let peers = Peers::new(
        Arc::new(bus.clone()),
        node.into(),
        1_000,
        "ferrite",
        INTERVAL,
    );
    let cancel = CancellationToken::new();
    peers.run(tasks, cancel.clone()).await.expect("run");
    (peers, cancel)
}

async fn within(what: &str, f: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen in time"));
}

fn names(peers: &Peers) -> Vec<String> {
    peers.peers().into_iter().map(|p| p.node).collect()
}

#[tokio::test(start_paused = true)]
async fn nodes_see_each_other_join_and_leave() {
    let bus = InProcessBus::new();
    let tasks = TaskTracker::new();
    let (a, stop_a) = start(&bus, "a", &tasks).await;
    let (b, stop_b) = start(&bus, "b", &tasks).await;
    within("a hears b", a.wait_for(1)).await;
    within("b hears a", b.wait_for(1)).await;
    assert_eq!(names(&a), ["b"]);
    assert_eq!(a.peers()[0].started_at_ms, 1_000);

    // A third node joins; nobody restarts.
    let (c, stop_c) = start(&bus, "c", &tasks).await;
    within("a hears c", a.wait_for(2)).await;
    within("c hears both", c.wait_for(2)).await;
    assert_eq!(names(&a), ["b", "c"]);

    // A node that stops says goodbye: forgotten at once, not after three intervals, and
    // told once as a departure.
    let mut departures = a.departures();
    stop_c.cancel();
    let before = tokio::time::Instant::now();
    within("a forgets c", a.wait_for(1)).await;
    assert!(before.elapsed() < INTERVAL, "took {:?}", before.elapsed());
    assert_eq!(names(&b), ["a"]);
    assert_eq!(departures.recv().await.unwrap(), "c");
    assert!(departures.try_recv().is_err(), "once");

    stop_a.cancel();
    stop_b.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_node_is_gone_after_three_intervals() {
    let bus = InProcessBus::new();
    let tasks = TaskTracker::new();
    let (a, stop_a) = start(&bus, "a", &tasks).await;
    let mut departures = a.departures();
    // A node that announced itself once and then died without a word (kill -9).
    let beat = br#"{"node":"ghost","started_at_ms":5}"#;
    bus.publish(
        "ferrite.nodes".into(),
        Headers::new(),
        Bytes::from_static(beat),
    )
    .await
    .expect("publish");
    within("a hears the ghost", a.wait_for(1)).await;
    let heard = tokio::time::Instant::now();
    within("a forgets the ghost", a.wait_for(0)).await;
    let silent = heard.elapsed();
    assert!(
        silent >= INTERVAL * 3 && silent <= INTERVAL * 5,
        "forgotten after {silent:?}"
    );
    assert!(a.peers().is_empty());
    assert_eq!(departures.recv().await.unwrap(), "ghost");
    stop_a.cancel();
    tasks.close();
    tasks.wait().await;
}
