//! `SessionInbox` on PostgreSQL (migration 0008): messages another node stores for a session
//! whose node did not confirm them go only to client ids with a stored session, read back in
//! order, are deleted up to an id, and go with their session. Skipped loudly without
//! `FERRITE_TEST_POSTGRES_URL`.

use bytes::Bytes;
use ferrite_storage::conformance::run_case;
use ferrite_storage::{BrokerOp, BrokerStore, InboxAppend, SessionInbox, StoredSession};
use ferrite_storage_postgres::testing::ScratchLocation;

fn mail(client: &str, body: &'static str) -> InboxAppend {
    InboxAppend {
        client_id: client.into(),
        topic: "q/dev".into(),
        body: Bytes::from_static(body.as_bytes()),
    }
}

fn session(client: &str) -> BrokerOp {
    BrokerOp::PutSession(StoredSession {
        client_id: client.into(),
        expiry_interval_secs: 3600,
        disconnected_at_ms: Some(1),
        data: Bytes::new(),
    })
}

#[tokio::test]
async fn an_inbox_holds_mail_for_stored_sessions_in_order_until_moved_or_discarded() {
    let Some(location) = ScratchLocation::from_env("session inbox").await else {
        return;
    };
    run_case(location, |location| async move {
        let store = location.open_store().await.unwrap();
        store
            .commit(vec![session("dev"), session("other")])
            .await
            .unwrap();
        let written = store
            .append_inbox(vec![
                mail("dev", "one"),
                mail("ghost", "nobody resumes this"),
                mail("other", "x"),
                mail("dev", "two"),
            ])
            .await
            .unwrap();
        assert_eq!(written, ["dev", "other"], "no session, no mail");
        assert!(store.inbox("ghost").await.unwrap().is_empty());

        let dev = store.inbox("dev").await.unwrap();
        let bodies: Vec<&[u8]> = dev.iter().map(|e| &e.body[..]).collect();
        assert_eq!(bodies, [&b"one"[..], b"two"]);
        assert!(dev[0].id < dev[1].id);
        assert_eq!((&*dev[0].client_id, &*dev[0].topic), ("dev", "q/dev"));

        // The first moved into the queue: the second stays.
        store.delete_inbox("dev", &[dev[0].id]).await.unwrap();
        let left = store.inbox("dev").await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(&left[0].body[..], b"two");

        // A discarded session's mail goes with it.
        store
            .commit(vec![BrokerOp::DeleteSession {
                client_id: "dev".into(),
            }])
            .await
            .unwrap();
        assert!(store.inbox("dev").await.unwrap().is_empty());
        assert_eq!(store.inbox("other").await.unwrap().len(), 1);
        store.close().await.unwrap();
    })
    .await;
}
