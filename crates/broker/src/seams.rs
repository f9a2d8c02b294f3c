//! Where a cluster plugs into the broker without the broker knowing about one: the
//! remote-forward hook at the end of the publish path, the interest hook on the
//! subscribe/unsubscribe path, the retained-store observer, the CONNECT admission gate, the
//! node id messages are stamped with, and the wall clock; besides them the lifecycle
//! observer the events service listens through.
//! One node wires the no-op implementations; the `cluster` crate will wire NATS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrite_types::Clock;
use tokio::sync::Notify;

use crate::message::Message;
use crate::presence::{LifecycleObserver, Unobserved};

/// Hands messages published on this node to the other nodes that want them. Called once per
/// message, after local fan-out, never for messages that came from another node or that an
/// exclusive tap took.
pub trait Forwarder: Send + Sync + 'static {
    /// Returns a receipt to wait on before acknowledging the publish when other nodes must
    /// first make the message durable; `None` when there is nothing to wait for.
    fn forward(&self, msg: &Arc<Message>) -> Option<RemoteReceipt>;
}

/// Told when this node's first local subscriber of a filter arrives and when its last one
/// leaves: what a cluster node subscribes to on the bus. Called with the subscription table
/// locked, so calls for one filter are in order: implementations must not block (queue the
/// change and act on it elsewhere).
pub trait Interest: Send + Sync + 'static {
    /// `filter` (shared ones as `$share/{group}/{filter}`) got its first local subscriber.
    fn first(&self, filter: &str);
    /// `filter` lost its last local subscriber.
    fn last(&self, filter: &str);
}

/// Told of every retained-store change this node accepted from a publisher (a RETAIN
/// publish; an empty payload deletes), with the message as the store keeps it, stamped: what
/// a cluster node broadcasts so that the other nodes' retained stores follow
/// ([`crate::Broker::apply_retained`]). Called with the retained store locked: must not block.
pub trait RetainedObserver: Send + Sync + 'static {
    fn retained(&self, msg: &Arc<Message>);
}

/// Asked at every CONNECT whether this node takes new work: a cluster node that lost its
/// bus or its store refuses connections (CONNACK 0x88 Server unavailable; MQTT 3.1.1 return
/// code 3) until they are back.
pub trait Admission: Send + Sync + 'static {
    /// `None` to admit; otherwise why not, a short label for the refusal metric and the
    /// MQTT 5 reason string.
    fn refusal(&self) -> Option<&'static str>;
}

/// One node: nothing to forward to.
pub struct SingleNode;

impl RetainedObserver for SingleNode {
    fn retained(&self, _msg: &Arc<Message>) {}
}

impl Admission for SingleNode {
    fn refusal(&self) -> Option<&'static str> {
        None
    }
}

impl Forwarder for SingleNode {
    fn forward(&self, _msg: &Arc<Message>) -> Option<RemoteReceipt> {
        None
    }
}

impl Interest for SingleNode {
    fn first(&self, _filter: &str) {}
    fn last(&self, _filter: &str) {}
}

/// The parts of a broker a cluster (or a test) replaces.
#[derive(Clone)]
pub struct Seams {
    pub forwarder: Arc<dyn Forwarder>,
    pub interest: Arc<dyn Interest>,
    /// Stamped on the origin of every message received on this node.
    pub node: Arc<str>,
    pub clock: Clock,
    /// Hears connections connect, subscribe, unsubscribe and disconnect (the lifecycle
    /// events); nobody by default.
    pub lifecycle: Arc<dyn LifecycleObserver>,
    /// Hears the retained-store changes publishers make on this node.
    pub retained: Arc<dyn RetainedObserver>,
    /// Decides whether a CONNECT is taken; always by default.
    pub admission: Arc<dyn Admission>,
}

impl Default for Seams {
    fn default() -> Self {
        Seams {
            forwarder: Arc::new(SingleNode),
            interest: Arc::new(SingleNode),
            node: ferrite_types::message::local_node(),
            clock: Clock::system(),
            lifecycle: Arc::new(Unobserved),
            retained: Arc::new(SingleNode),
            admission: Arc::new(SingleNode),
        }
    }
}

/// Other nodes' confirmation that a forwarded message is durable where it must be.
#[derive(Clone, Debug, Default)]
pub struct RemoteReceipt(Arc<ReceiptState>);

#[derive(Debug, Default)]
struct ReceiptState {
    done: AtomicBool,
    notify: Notify,
}

impl RemoteReceipt {
    /// A pending receipt; the forwarder calls [`RemoteReceipt::confirm`] on a clone.
    pub fn pending() -> RemoteReceipt {
        RemoteReceipt::default()
    }

    pub fn confirm(&self) {
        self.0.done.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    pub fn is_confirmed(&self) -> bool {
        self.0.done.load(Ordering::Acquire)
    }

    pub async fn confirmed(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_confirmed() {
                return;
            }
            notified.await;
        }
    }
}

/// What a publish must wait for before it is acknowledged: this node's group commit
/// (`local`, a persister ticket; 0 = nothing) and, in a cluster, other nodes' receipt.
#[derive(Clone, Debug, Default)]
pub struct DeliveryTicket {
    pub(crate) local: u64,
    pub(crate) remote: Option<RemoteReceipt>,
}

impl DeliveryTicket {
    pub(crate) fn local(local: u64) -> DeliveryTicket {
        DeliveryTicket {
            local,
            remote: None,
        }
    }

    /// The remote receipt still outstanding, if any.
    pub(crate) fn remote_pending(&self) -> Option<&RemoteReceipt> {
        self.remote.as_ref().filter(|r| !r.is_confirmed())
    }
}
