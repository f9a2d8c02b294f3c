//! The one publish path. Every message — a client's PUBLISH, a will, an iot-data Publish, a
//! service's response — goes through [`dispatch`]: validate → retain → taps → local fan-out →
//! remote forward → the ticket its acknowledgement waits on. Messages another node forwarded
//! take the short path [`deliver_remote`]: local fan-out only, because the node that received
//! them already retained, tapped and forwarded them. A service's answer meant for one client
//! (it carries a secret) takes [`deliver_to`]: that client's session only.

use std::sync::Arc;

use crate::message::Message;
use crate::persist::Writes;
use crate::seams::DeliveryTicket;
use crate::{BrokerError, BrokerInner};

/// What became of a dispatched message.
#[derive(Debug, Clone, Default)]
pub struct Dispatched {
    /// Local subscriber queues the message went to (taps not counted).
    pub delivered: usize,
    /// A retained message was refused because the retained-message quota is reached.
    pub retain_quota_exceeded: bool,
    /// An exclusive tap took the message: no subscriber saw it.
    pub taken_by_tap: bool,
    /// What the publish must wait for before it is acknowledged.
    pub ticket: DeliveryTicket,
}

/// The limits every message must meet, whoever publishes it. The connection calls this before
/// authorizing (its refusal codes depend on which check failed); other publishers through
/// `Broker::dispatch`.
pub(crate) fn validate(
    inner: &BrokerInner,
    topic: &str,
    payload_len: usize,
) -> Result<(), BrokerError> {
    ferrite_topic::validate_topic_name(topic, &inner.limits)?;
    if payload_len > inner.cfg.max_payload_size {
        return Err(BrokerError::PayloadTooLarge {
            size: payload_len,
            limit: inner.cfg.max_payload_size,
        });
    }
    Ok(())
}

/// Routes a validated message published on this node.
pub(crate) async fn dispatch(inner: &Arc<BrokerInner>, msg: Arc<Message>) -> Dispatched {
    let taps = inner.router.taps.matching(&msg.topic);
    if taps.exclusive {
        taps.feed(&msg, &inner.metrics, inner.backpressure().qos0)
            .await;
        return Dispatched {
            taken_by_tap: true,
            ..Dispatched::default()
        };
    }
    let mut ops = Writes::default();
    let mut retain_quota_exceeded = false;
    if msg.retain {
        retain_quota_exceeded = !inner.router.retain(
            &msg,
            inner.cfg.max_retained_messages,
            &inner.metrics,
            &*inner.seams.retained,
            &mut ops,
        );
    }
    if !taps.is_empty() {
        taps.feed(&msg, &inner.metrics, inner.backpressure().qos0)
            .await;
    }
    let delivered = inner.router.fan_out(inner, &msg, &mut ops).await;
    let local = inner.persister.submit(ops);
    let remote = inner.seams.forwarder.forward(&msg);
    Dispatched {
        delivered,
        retain_quota_exceeded,
        taken_by_tap: false,
        ticket: DeliveryTicket { local, remote },
    }
}

/// Routes a message another node received to this node's subscribers.
pub(crate) async fn deliver_remote(inner: &Arc<BrokerInner>, msg: Arc<Message>) -> Dispatched {
    let mut ops = Writes::default();
    let delivered = inner.router.fan_out(inner, &msg, &mut ops).await;
    Dispatched {
        delivered,
        ticket: DeliveryTicket::local(inner.persister.submit(ops)),
        ..Dispatched::default()
    }
}

/// Routes a message to the session of `client_id` alone, through its matching subscriptions:
/// no tap, retained store, other subscriber or other node sees it.
pub(crate) async fn deliver_to(
    inner: &Arc<BrokerInner>,
    client_id: &str,
    msg: Arc<Message>,
) -> Dispatched {
    let mut ops = Writes::default();
    let delivered = inner
        .router
        .fan_out_to(inner, &msg, Some(client_id), &mut ops)
        .await;
    Dispatched {
        delivered,
        ticket: DeliveryTicket::local(inner.persister.submit(ops)),
        ..Dispatched::default()
    }
}

/// Waits until `ticket` is durable here and, if forwarded, confirmed by the other nodes.
pub(crate) async fn wait(inner: &BrokerInner, ticket: &DeliveryTicket) {
    inner.persister.wait(ticket.local).await;
    if let Some(remote) = &ticket.remote {
        remote.confirmed().await;
    }
}
