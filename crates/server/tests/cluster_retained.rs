//! Retained messages in a cluster of in-process `ferrite serve` nodes on the machine's
//! PostgreSQL (a scratch schema) and NATS: what one node retains is delivered at once by
//! every node — to subscribers that arrive later, to iot-data's GetRetainedMessage and
//! ListRetainedMessages — deletes follow, a node started later has them, and nodes writing
//! one topic concurrently end with the same message in every node and in PostgreSQL.
//! Skipped loudly when either server is absent.

mod cluster_support;

use cluster_support::{
    cluster_location, eventually, fresh_prefix, get_retained, list_retained, node,
};
use ferrite_mqtt_codec::QoS;
use ferrite_storage::conformance::run_case;
use ferrite_test_support::connect_v311;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_from_one_node_is_delivered_by_every_node() {
    const TEST: &str = "a_retained_message_from_one_node_is_delivered_by_every_node";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let b = node(&url, &prefix, "node-b").await;

        let (mut publisher, _) = connect_v311(a.mqtt_addr(), "lamp", true).await;
        publisher
            .publish("home/lamp/state", b"on", QoS::AtLeastOnce, true)
            .await;
        eventually("node B's retained store has the message", || async {
            get_retained(&b, "home/lamp/state").await.as_deref() == Some(&b"on"[..])
        })
        .await;
        assert_eq!(list_retained(&b).await, ["home/lamp/state"]);

        // A subscriber arriving on B gets it at once, flagged retained.
        let (mut late, _) = connect_v311(b.mqtt_addr(), "late", true).await;
        late.subscribe("home/#", QoS::AtLeastOnce).await;
        let got = late.recv_publish().await;
        assert_eq!(
            (&*got.topic, &got.payload[..]),
            ("home/lamp/state", &b"on"[..])
        );
        assert!(got.retain);

        // A node started now loads it from PostgreSQL.
        let c = node(&url, &prefix, "node-c").await;
        assert_eq!(
            get_retained(&c, "home/lamp/state").await.as_deref(),
            Some(&b"on"[..])
        );

        // A delete through B reaches A and C.
        let (mut deleter, _) = connect_v311(b.mqtt_addr(), "deleter", true).await;
        deleter
            .publish("home/lamp/state", b"", QoS::AtLeastOnce, true)
            .await;
        for (name, srv) in [("A", &a), ("C", &c)] {
            eventually(
                &format!("node {name} forgets the deleted message"),
                || async { get_retained(srv, "home/lamp/state").await.is_none() },
            )
            .await;
        }
        assert!(list_retained(&a).await.is_empty());
        let (mut fresh, _) = connect_v311(a.mqtt_addr(), "fresh", true).await;
        fresh.subscribe("home/#", QoS::AtLeastOnce).await;
        fresh
            .expect_silence(std::time::Duration::from_millis(300))
            .await;

        c.shutdown().await;
        b.shutdown().await;
        a.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retained_writers_converge_in_every_node_and_in_postgres() {
    const TEST: &str = "concurrent_retained_writers_converge_in_every_node_and_in_postgres";
    let Some(location) = cluster_location(TEST).await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let prefix = fresh_prefix();
        let a = node(&url, &prefix, "node-a").await;
        let b = node(&url, &prefix, "node-b").await;
        const TOPICS: usize = 50;
        const ROUNDS: usize = 5;
        let (mut pa, _) = connect_v311(a.mqtt_addr(), "writer-a", true).await;
        let (mut pb, _) = connect_v311(b.mqtt_addr(), "writer-b", true).await;
        let run_a = async {
            for round in 0..ROUNDS {
                for t in 0..TOPICS {
                    let payload = format!("a{round}").into_bytes().leak();
                    pa.publish(&format!("race/{t}"), payload, QoS::AtLeastOnce, true)
                        .await;
                }
            }
        };
        let run_b = async {
            for round in 0..ROUNDS {
                for t in 0..TOPICS {
                    let payload = format!("b{round}").into_bytes().leak();
                    pb.publish(&format!("race/{t}"), payload, QoS::AtLeastOnce, true)
                        .await;
                }
            }
        };
        tokio::join!(run_a, run_b);

        // Every node ends with the same message per topic, the last round of someone...
        for t in 0..TOPICS {
            let topic = format!("race/{t}");
            eventually(&format!("nodes agree on {topic}"), || async {
                let (on_a, on_b) = (
                    get_retained(&a, &topic).await,
                    get_retained(&b, &topic).await,
                );
                on_a.is_some() && on_a == on_b
            })
            .await;
        }
        // ...and PostgreSQL holds that same one: a node started now loads it.
        let c = node(&url, &prefix, "node-c").await;
        for t in 0..TOPICS {
            let topic = format!("race/{t}");
            let on_a = get_retained(&a, &topic).await;
            assert_eq!(
                on_a.as_deref()
                    .map(|p| p.ends_with(format!("{}", ROUNDS - 1).as_bytes())),
                Some(true),
                "{topic}: {on_a:?}"
            );
            assert_eq!(
                get_retained(&c, &topic).await,
                on_a,
                "{topic} in PostgreSQL"
            );
        }
        c.shutdown().await;
        b.shutdown().await;
        a.shutdown().await;
    })
    .await;
}
