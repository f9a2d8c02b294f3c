//! Where a cluster plugs into the broker without the broker knowing about one: the
//! remote-forward hook at the end of the publish path, the interest hook on the
//! subscribe/unsubscribe path, the retained-store observer, the CONNECT admission gate, the
//! session directory asked at CONNECT, the node id messages are stamped with, and the wall
//! clock; besides them the lifecycle observer the events service listens through.
//! One node wires the no-op implementations; the `cluster` crate will wire NATS.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrite_mqtt_codec::QoS;
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

    /// The persistent session of `client_id` held here subscribes to `filter` with `qos`
    /// (made, replaced, or loaded from the store): what a cluster node announces so that a
    /// node publishing a QoS >= 1 message on a matching topic waits for this one to store it.
    /// Not called when a session moves to another node (the new holder announces it then).
    /// Must not block. One node: nothing to announce.
    fn durable(&self, _client_id: &str, _filter: &str, _qos: QoS) {}

    /// The persistent session of `client_id` unsubscribed from `filter`. Must not block.
    fn durable_removed(&self, _client_id: &str, _filter: &str) {}

    /// The persistent session of `client_id` ended here (expired, discarded): all its
    /// subscriptions go. Must not block.
    fn durable_ended(&self, _client_id: &str) {}

    /// The session of `client_id` was loaded from the store into this node's memory (a
    /// claim of a session another node held, an adoption), its subscriptions reported through
    /// [`Interest::durable`] just before: a cluster then moves into its queue what other
    /// nodes stored for it meanwhile. Must not block.
    fn durable_loaded(&self, _client_id: &str) {}

    /// The session of `client_id` left this node for another one (a take-over): it is no
    /// longer this node's to announce, though it stays subscribed where it went. Must not
    /// block.
    fn durable_moved(&self, _client_id: &str) {}
}

/// Told of every retained-store change this node accepted from a publisher (a RETAIN
/// publish; an empty payload deletes), with the message as the store keeps it, stamped: what
/// a cluster node broadcasts so that the other nodes' retained stores follow
/// ([`crate::Broker::apply_retained`]). Called with the retained store locked: must not block.
pub trait RetainedObserver: Send + Sync + 'static {
    fn retained(&self, msg: &Arc<Message>);

    /// Whether other nodes write the same retained messages (a cluster): a delete then leaves
    /// a stamped tombstone, kept for a while in memory and in the store, so that an older put
    /// arriving after it stays deleted.
    fn shared(&self) -> bool {
        false
    }
}

/// Asked at every CONNECT whether this node takes new work: a cluster node that lost its
/// bus or its store refuses connections (CONNACK 0x88 Server unavailable; MQTT 3.1.1 return
/// code 3) until they are back.
pub trait Admission: Send + Sync + 'static {
    /// `None` to admit; otherwise why not, a short label for the refusal metric and the
    /// MQTT 5 reason string.
    fn refusal(&self) -> Option<&'static str>;
}

/// Where a client id's session is held, asked at every CONNECT (after authorization, before
/// the session is attached). One node holds every session and rebuilds them all at start-up;
/// in a cluster a session lives on the node its client last connected to and moves with it.
pub trait SessionDirectory: Send + Sync + 'static {
    /// `true`: start-up rebuilds every stored session (one node). `false`: start-up rebuilds
    /// none, and a session is loaded from the store (`BrokerStore::load_session`) when its
    /// client connects here, so a starting node does not adopt the other nodes' sessions.
    fn load_all_at_start(&self) -> bool;

    /// Makes this node the holder of `client_id`'s session. When another node held it, the
    /// future resolves once that node has let go of it (closed its connection as a take-over
    /// does and written the session to the store) or is presumed dead; the answer then says
    /// that a copy of the session in this node's memory is stale. An error refuses the
    /// CONNECT (server unavailable).
    fn claim<'a>(&'a self, client_id: &'a str) -> ClaimFuture<'a>;

    /// Closes the connection of `client_id` on the other node that holds it, as iot-data
    /// DeleteConnection does (see [`crate::Broker::delete_connection`]); `Ok(true)` once that
    /// node has closed it, `Ok(false)` when no other node has a connection of that client id.
    /// One node: nobody else, `Ok(false)`.
    fn disconnect_elsewhere<'a>(
        &'a self,
        _client_id: &'a str,
        _clean_session: bool,
        _prevent_will: bool,
    ) -> ElsewhereFuture<'a> {
        Box::pin(std::future::ready(Ok(false)))
    }

    /// The session of `client_id`, last claimed here with `epoch` (see [`Claim`]), ended on
    /// this node (a clean session closed, an expiry, a clean start) rather than moving to
    /// another: a cluster forgets that it held it, unless a later claim took it meanwhile.
    /// Must not block. One node: nothing to forget.
    fn released(&self, _client_id: &str, _epoch: u64) {}

    /// The store refused this node's writes of the session of `client_id`, held here by the
    /// claim `epoch`: another node claimed or adopted it since, and this node has let its copy
    /// go (closed its connection as a take-over does, dropped it without writing). Once per
    /// copy let go. Must not block. One node: never called (it has no claims to check).
    fn fenced(&self, _client_id: &str, _epoch: u64) {}
}

/// What [`SessionDirectory::disconnect_elsewhere`] returns.
pub type ElsewhereFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, ClaimError>> + Send + 'a>>;

/// What [`SessionDirectory::claim`] returns.
pub type ClaimFuture<'a> = Pin<Box<dyn Future<Output = Result<Claim, ClaimError>> + Send + 'a>>;

/// What a claim found, and its number in the directory (a cluster's owner epoch, which grows
/// with every claim of the client id; 0 on one node, which numbers nothing). The session keeps
/// the number of the claim its connection made, and hands it back in
/// [`SessionDirectory::released`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub was: Claimed,
    pub epoch: u64,
}

/// Where the session was before a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// On this node already, or nowhere.
    Here,
    /// On another node, which has let go of it (or died): the store has its latest state.
    Elsewhere,
}

/// The directory could not claim the session (its store or bus is unreachable).
#[derive(Debug, thiserror::Error)]
#[error("cannot claim the session: {0}")]
pub struct ClaimError(pub String);

/// One node: nothing to forward to, every session is here.
pub struct SingleNode;

impl RetainedObserver for SingleNode {
    fn retained(&self, _msg: &Arc<Message>) {}
}

impl Admission for SingleNode {
    fn refusal(&self) -> Option<&'static str> {
        None
    }
}

impl SessionDirectory for SingleNode {
    fn load_all_at_start(&self) -> bool {
        true
    }

    fn claim<'a>(&'a self, _client_id: &'a str) -> ClaimFuture<'a> {
        Box::pin(std::future::ready(Ok(Claim {
            was: Claimed::Here,
            epoch: 0,
        })))
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
    /// Where sessions are held: all here on one node, moving between nodes in a cluster.
    pub sessions: Arc<dyn SessionDirectory>,
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
            sessions: Arc::new(SingleNode),
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

    /// Nothing to wait for: nothing was written here and no other node must confirm.
    pub(crate) fn is_settled(&self) -> bool {
        self.local == 0 && self.remote.is_none()
    }

    /// The remote receipt still outstanding, if any.
    pub(crate) fn remote_pending(&self) -> Option<&RemoteReceipt> {
        self.remote.as_ref().filter(|r| !r.is_confirmed())
    }
}
