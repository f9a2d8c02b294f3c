//! Moving what other nodes stored in a session's inbox into its queue (ARCHITECTURE.md,
//! "Acknowledgement across nodes"), on this node, one session at a time.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferrite_broker::Broker;
use ferrite_storage::SessionInbox;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Inner;
use crate::envelope;
use crate::receipts::inbox_subject;
use crate::subject::topic_subject;

/// Moves into each session's queue what other nodes stored in its inbox: for the sessions
/// this node loads, and for those other nodes say got mail (`{prefix}.inbox`).
pub(super) async fn drain_task(
    inner: Arc<Inner>,
    broker: Broker,
    mut drains: mpsc::UnboundedReceiver<String>,
    tasks: TaskTracker,
    cancel: CancellationToken,
) {
    let mailed = match inner
        .bus
        .subscribe(inbox_subject(&inner.prefix), None)
        .await
    {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot hear which sessions got mail");
            None
        }
    };
    if let Some(mut mailed) = mailed {
        let (inner, cancel) = (inner.clone(), cancel.clone());
        tasks.spawn(async move {
            loop {
                let m = tokio::select! {
                    () = cancel.cancelled() => break,
                    m = mailed.next() => match m { Some(m) => m, None => break },
                };
                let clients: Vec<String> = serde_json::from_slice(&m.payload).unwrap_or_default();
                for c in clients {
                    inner.drains_queued.fetch_add(1, Ordering::AcqRel);
                    let _ = inner.drain_tx.send(c);
                }
            }
        });
    }
    loop {
        let client = tokio::select! {
            () = cancel.cancelled() => break,
            c = drains.recv() => match c { Some(c) => c, None => break },
        };
        if broker.holds_session(&client)
            && let Some(inbox) = inner.receipts.inbox()
        {
            drain(&inner, &broker, &**inbox, &client).await;
        }
        inner.drained.send_modify(|d| *d += 1);
    }
}

async fn drain(inner: &Inner, broker: &Broker, inbox: &dyn SessionInbox, client: &str) {
    let entries = match inbox.inbox(client).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(client_id = client, error = %e, "cannot read a session's inbox; its next load will");
            return;
        }
    };
    if entries.is_empty() {
        return;
    }
    let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
    for e in entries {
        let subject = topic_subject(&inner.prefix, &e.topic);
        match envelope::decode(&inner.prefix, &subject, e.body) {
            Ok(batch) => {
                for msg in batch.messages {
                    // Durable in the session's queue when this returns.
                    if let Err(err) = broker.deliver_to(client, msg).await {
                        tracing::warn!(client_id = client, error = %err, "cannot queue a message from a session's inbox");
                        return;
                    }
                }
            }
            Err(err) => {
                tracing::warn!(client_id = client, error = %err, "dropping a malformed inbox entry");
            }
        }
    }
    // A session that moved to another node meanwhile may have left before some of these
    // reached it: they stay for its new node, whose load reads them (the ones that did reach
    // it come twice: at least once).
    if !broker.holds_session(client) {
        tracing::debug!(node = %inner.node, client_id = client, "a session left while its inbox was moved: leaving the inbox to its new node");
        return;
    }
    if let Err(e) = inbox.delete_inbox(client, &ids).await {
        tracing::warn!(client_id = client, error = %e, "cannot empty a session's inbox: its messages may come again");
    }
    tracing::debug!(node = %inner.node, client_id = client, ?ids, "moved a session's inbox into its queue");
}
