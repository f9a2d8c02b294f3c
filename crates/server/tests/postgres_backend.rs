//! The whole server on the PostgreSQL store: `storage.url` selects it, acknowledged state is
//! in PostgreSQL (not in the data directory), and it is all there again after a restart.
//! Runs in a scratch schema of `FERRITE_TEST_POSTGRES_URL`, dropped afterwards; skipped
//! loudly when that variable is unset.

use ferrite_mqtt_codec::QoS;
use ferrite_storage::BrokerStore;
use ferrite_storage::conformance::run_case;
use ferrite_storage_postgres::testing::ScratchLocation;
use ferrite_test_support::{TestServer, connect_v311};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_message_and_session_survive_a_restart_on_postgres() {
    let Some(location) = ScratchLocation::from_env("the server-on-PostgreSQL test").await else {
        return;
    };
    run_case(location, |location| async move {
        let url = location.schema.url();
        let srv = TestServer::start_with(|c| c.storage.url = url).await;

        let (mut s, _) = connect_v311(srv.mqtt_addr(), "dev", false).await;
        s.subscribe("pg/#", QoS::AtLeastOnce).await;
        s.disconnect().await;
        let (mut p, _) = connect_v311(srv.mqtt_addr(), "pub", true).await;
        p.publish("pg/retained", b"kept in postgres", QoS::AtLeastOnce, true)
            .await;
        p.publish("pg/queued", b"queued for dev", QoS::AtLeastOnce, false)
            .await;
        p.disconnect().await;

        // PUBACK promised durability: another store on the same schema (another node of a
        // cluster, say) already sees the retained message.
        let other = location.open_store().await.expect("open a second store");
        let snapshot = other.load().await.expect("load");
        assert!(
            snapshot
                .retained
                .iter()
                .any(|m| m.topic == "pg/retained" && &m.payload[..] == b"kept in postgres"),
            "{:?}",
            snapshot.retained
        );
        other.close().await.expect("close the second store");
        assert!(
            !srv.data_dir().join("ferrite.db").exists(),
            "the embedded store must not be used when storage.url is set"
        );

        let srv = srv.restart().await;
        let (mut s, ack) = connect_v311(srv.mqtt_addr(), "dev", false).await;
        assert!(ack.session_present, "the persistent session was restored");
        let mut got = [s.recv_publish().await, s.recv_publish().await];
        got.sort_by(|a, b| a.topic.cmp(&b.topic));
        assert_eq!(
            (got[0].topic.as_str(), &got[0].payload[..]),
            ("pg/queued", &b"queued for dev"[..])
        );
        assert_eq!(
            (got[1].topic.as_str(), &got[1].payload[..]),
            ("pg/retained", &b"kept in postgres"[..])
        );

        let (mut fresh, _) = connect_v311(srv.mqtt_addr(), "fresh", true).await;
        fresh.subscribe("pg/retained", QoS::AtLeastOnce).await;
        let retained = fresh.recv_publish().await;
        assert!(retained.retain, "delivered as a retained message");
        assert_eq!(&retained.payload[..], b"kept in postgres");
        srv.shutdown().await;
    })
    .await;
}
