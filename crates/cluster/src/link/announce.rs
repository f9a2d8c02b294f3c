//! The durable-interest side of the link (ARCHITECTURE.md, "Acknowledgement across nodes"):
//! this node's announcements, the other nodes' applied to the view, sync answers, and the
//! confirmations of this node's batches handed to the receipts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Inner, MAX_ANNOUNCED};
use crate::durable::{Announcement, Change as Durable, DURABLE};
use crate::receipts::{Ack, ack_subject};

/// Announces this node's durable-interest changes (after its bus subscriptions for them are
/// in place, so that a node waiting for this one's confirmation finds it subscribed), applies
/// the other nodes' announcements, answers sync requests with this node's whole part, asks
/// for everyone's at start and after a bus gap, and hands confirmations of this node's
/// batches to the receipts.
pub(super) async fn durable_task(
    inner: Arc<Inner>,
    mut changes: mpsc::UnboundedReceiver<Durable>,
    tasks: TaskTracker,
    cancel: CancellationToken,
) {
    let subject = format!("{}.{DURABLE}", inner.prefix);
    let sync_subject = format!("{subject}.sync");
    let subscribe = async {
        let announcements = inner.bus.subscribe(subject.clone(), None).await?;
        let syncs = inner.bus.subscribe(sync_subject.clone(), None).await?;
        let acks = inner
            .bus
            .subscribe(ack_subject(&inner.prefix, &inner.node), None)
            .await?;
        inner.bus.flush().await?;
        Ok::<_, crate::BusError>((announcements, syncs, acks))
    };
    let (mut announcements, mut syncs, mut acks) = match subscribe.await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot subscribe to the cluster's durable interest: receipts across nodes are off");
            return;
        }
    };
    // Confirmations on a task of their own: a publisher waits on them, not on announcements.
    {
        let (inner, cancel) = (inner.clone(), cancel.clone());
        let incarnation = inner.outbox.incarnation();
        tasks.spawn(async move {
            loop {
                let m = tokio::select! {
                    () = cancel.cancelled() => break,
                    m = acks.next() => match m { Some(m) => m, None => break },
                };
                if let Ok(ack) = serde_json::from_slice::<Ack>(&m.payload) {
                    inner.receipts.acked(incarnation, ack);
                }
            }
        });
    }
    let mut gaps = inner.bus.gaps();
    let mut gaps_open = true;
    let ask = |inner: Arc<Inner>, sync_subject: String| async move {
        let me = Bytes::from(inner.node.as_bytes().to_vec());
        if let Err(e) = inner
            .bus
            .publish(sync_subject, Default::default(), me)
            .await
        {
            tracing::warn!(error = %e, "cannot ask the other nodes for their durable interest");
        }
    };
    ask(inner.clone(), sync_subject.clone()).await;
    let mut batch: Vec<Durable> = Vec::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            c = changes.recv() => {
                let Some(c) = c else { break };
                batch.push(c);
                while batch.len() < MAX_ANNOUNCED {
                    match changes.try_recv() {
                        Ok(c) => batch.push(c),
                        Err(_) => break,
                    }
                }
                let n = batch.len() as u64;
                // The subscriptions these sessions hold are on the bus before anyone is
                // told to wait for this node.
                let target = inner.queued.load(Ordering::Acquire);
                let mut applied = inner.applied.subscribe();
                let _ = applied.wait_for(|a| *a >= target).await;
                tracing::debug!(node = %inner.node, changes = ?batch, "announcing durable interest");
                publish_announcement(&inner, &subject, std::mem::take(&mut batch)).await;
                inner.announced.send_modify(|a| *a += n);
            }
            m = announcements.next() => {
                let Some(m) = m else { break };
                match serde_json::from_slice::<Announcement>(&m.payload) {
                    Ok(a) if *a.node != *inner.node => {
                        tracing::debug!(node = %inner.node, from = %a.node, changes = a.changes.len(), "durable interest announced");
                        inner.view.apply(&a.node, &a.changes);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "dropping a malformed durable-interest announcement"),
                }
            }
            m = syncs.next() => {
                let Some(m) = m else { break };
                if m.payload[..] != *inner.node.as_bytes() {
                    let snapshot = inner.view.snapshot();
                    for chunk in snapshot.chunks(MAX_ANNOUNCED) {
                        publish_announcement(&inner, &subject, chunk.to_vec()).await;
                    }
                }
            }
            changed = gaps.changed(), if gaps_open => {
                if changed.is_err() {
                    // A bus that never loses anything.
                    gaps_open = false;
                    continue;
                }
                // What was announced meanwhile may be missed: ask again.
                tasks.spawn(ask(inner.clone(), sync_subject.clone()));
            }
        }
    }
}

async fn publish_announcement(inner: &Inner, subject: &str, changes: Vec<Durable>) {
    if changes.is_empty() {
        return;
    }
    let a = Announcement {
        node: inner.node.to_string(),
        changes,
    };
    let body = serde_json::to_vec(&a).unwrap_or_default();
    if let Err(e) = inner
        .bus
        .publish(subject.to_owned(), Default::default(), body.into())
        .await
    {
        tracing::warn!(error = %e, "cannot announce durable interest");
    }
}
