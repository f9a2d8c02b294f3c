//! The MQTT 3.1.1 / 5.0 broker: sessions, QoS 0/1/2 state machines, retained messages,
//! wills, keep-alive, take-over, MQTT 5 features and routing. Transport-agnostic: it serves
//! any byte stream the `transport` crate hands it. Hot state lives in memory; durable state
//! is streamed to a `BrokerStore` with group commit before the acknowledgements that promise it.

mod auth;
mod connection;
mod dispatch;
mod few;
mod lifecycle;
mod message;
mod metrics;
mod persist;
mod presence;
mod records;
mod router;
mod seams;
mod session;
mod taps;
mod tombstones;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ferrite_config::MqttConfig;
use ferrite_storage::{BrokerStore, StorageError};
use ferrite_topic::{MatchOptions, TopicLimits};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use auth::{
    AllowAll, Authorizer, ConnectContext, ConnectFuture, HttpRequestHead, Permissions, Revoker,
    TransportIdentity, allow_all,
};
pub use dispatch::Dispatched;
pub use message::Message;
pub use metrics::Metrics;
pub use presence::{
    ConnectionFacts, DisconnectReason, LifecycleEvent, LifecycleObserver, Unobserved,
};
pub use seams::{
    Admission, Claim, ClaimError, ClaimFuture, Claimed, DeliveryTicket, ElsewhereFuture, Forwarder,
    Interest, RemoteReceipt, RetainedObserver, Seams, SessionDirectory, SingleNode,
};
pub use taps::{Overflow, TapHandle, TapOptions};

use persist::Persister;
use router::{Backpressure, Router};
use session::SessionCell;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("invalid topic: {0}")]
    Topic(#[from] ferrite_topic::TopicError),
    #[error("broker is shutting down")]
    ShuttingDown,
    #[error("the payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("a tap cannot be a shared subscription")]
    SharedTap,
    #[error("no connection of client id {client_id}")]
    NotConnected { client_id: String },
    /// Another node of the cluster could not be asked.
    #[error("cluster: {0}")]
    Cluster(String),
}

/// What an iot-data caller (Publish, DeleteConnection) sees when the broker refuses.
impl ferrite_types::AwsException for BrokerError {
    fn exception_name(&self) -> &'static str {
        match self {
            BrokerError::Topic(_) | BrokerError::PayloadTooLarge { .. } => {
                "InvalidRequestException"
            }
            BrokerError::NotConnected { .. } => "ResourceNotFoundException",
            _ => "InternalFailureException",
        }
    }

    fn exception_message(&self) -> String {
        match self {
            // The broker's text says which limit the topic or payload breaks.
            BrokerError::Topic(_) | BrokerError::PayloadTooLarge { .. } => self.to_string(),
            BrokerError::NotConnected { client_id } => {
                format!("No connection found for client ID {client_id}.")
            }
            _ => "An internal error occurred.".to_owned(),
        }
    }

    fn undeclared_status(&self) -> u16 {
        match self {
            BrokerError::Topic(_) | BrokerError::PayloadTooLarge { .. } => 400,
            BrokerError::NotConnected { .. } => 404,
            _ => 500,
        }
    }
}

/// Facts about an accepted connection that the broker cannot learn from MQTT itself.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub local_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    /// What TLS / WebSocket revealed about the client; boxed and dropped after CONNECT.
    pub transport: Option<Box<TransportIdentity>>,
    /// Time allowed until CONNECT has arrived.
    pub connect_timeout: Duration,
    /// The server is at its connection cap: answer CONNECT with "server busy" and close.
    pub over_capacity: bool,
}

pub(crate) struct BrokerInner {
    pub cfg: MqttConfig,
    pub limits: TopicLimits,
    pub router: Router,
    pub sessions: Mutex<HashMap<Arc<str>, Arc<SessionCell>>>,
    pub persister: Arc<Persister>,
    /// Read when a session is loaded per client at CONNECT (a cluster); written only
    /// through `persister`.
    pub store: Arc<dyn BrokerStore>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<dyn Authorizer>,
    /// The cluster's hooks (no-ops on one node), the node id and the wall clock.
    pub seams: Seams,
    /// Cancelled at shutdown: every connection and timer watches it.
    pub cancel: CancellationToken,
    /// Set just before `cancel` is: what per-message paths read instead of
    /// `CancellationToken::is_cancelled`, which takes a lock.
    stopping: AtomicBool,
    /// Connections and timers.
    pub tasks: TaskTracker,
    /// The persister's commit task, drained last.
    pub persist_task: TaskTracker,
    next_uid: AtomicU64,
    next_conn: AtomicU64,
    /// Lifecycle events' version numbers.
    pub versions: presence::Versions,
}

impl BrokerInner {
    /// Whether the broker is shutting down (cheap: no lock).
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub fn uid(&self) -> u64 {
        self.next_uid.fetch_add(1, Ordering::Relaxed)
    }

    pub fn conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Wall-clock milliseconds, from the broker's (injectable) clock.
    pub fn now_ms(&self) -> i64 {
        self.seams.clock.now_ms()
    }

    pub fn backpressure(&self) -> Backpressure {
        Backpressure {
            qos0: Duration::from_millis(self.cfg.qos0_backpressure_ms),
            qos12: Duration::from_millis(self.cfg.backpressure_timeout_ms),
        }
    }
}

/// The broker. Cheap to clone; all clones are one broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

impl Broker {
    /// Loads the durable state from `store` and returns a running single-node broker.
    pub async fn start(
        cfg: MqttConfig,
        store: Arc<dyn BrokerStore>,
        auth: Arc<dyn Authorizer>,
        metrics: Arc<Metrics>,
    ) -> Result<Broker, BrokerError> {
        Broker::start_with(cfg, store, auth, metrics, Seams::default()).await
    }

    /// Like [`Broker::start`], with the cluster's hooks, node id and clock in `seams`.
    pub async fn start_with(
        cfg: MqttConfig,
        store: Arc<dyn BrokerStore>,
        auth: Arc<dyn Authorizer>,
        metrics: Arc<Metrics>,
        seams: Seams,
    ) -> Result<Broker, BrokerError> {
        let sessions_at_start = seams.sessions.load_all_at_start();
        // A cluster node loads each session when it is claimed: its start-up reads the
        // retained messages only, not every node's sessions and queues.
        let snapshot = if sessions_at_start {
            store.load().await?
        } else {
            store.load_retained().await?
        };
        let match_options = MatchOptions {
            multilevel_matches_parent: cfg.multilevel_wildcard_matches_parent,
        };
        let persist_task = TaskTracker::new();
        let (persister, fenced) = Persister::start(store.clone(), &persist_task);
        let inner = Arc::new(BrokerInner {
            limits: TopicLimits {
                max_bytes: cfg.max_topic_bytes,
                max_levels: cfg.max_topic_levels,
            },
            router: Router::new(
                match_options,
                cfg.retained_for_wildcard_subscriptions,
                seams.interest.clone(),
                seams.retained.shared(),
            ),
            cfg,
            sessions: Mutex::new(HashMap::new()),
            persister,
            store,
            metrics,
            auth,
            seams,
            cancel: CancellationToken::new(),
            stopping: AtomicBool::new(false),
            tasks: TaskTracker::new(),
            persist_task,
            next_uid: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
            versions: presence::Versions::default(),
        });
        lifecycle::restore(&inner, snapshot, sessions_at_start);
        inner
            .tasks
            .spawn(lifecycle::let_go_fenced(inner.clone(), fenced));
        Ok(Broker { inner })
    }

    /// Serves one client connection until it closes. The caller owns the task.
    pub async fn serve<S>(&self, stream: S, info: ConnInfo)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.inner.is_stopping() {
            return;
        }
        let token = self.inner.tasks.token();
        connection::run(self.inner.clone(), stream, info).await;
        drop(token);
    }

    /// Routes a message published on this node by anyone but a connected client (iot-data
    /// Publish, the services): the same path a client's PUBLISH takes. Returns what became of
    /// it; [`Broker::wait`] on its ticket before promising it is durable. The message's
    /// origin is stamped with this node's id (publishers build it without knowing the node).
    pub async fn dispatch(&self, msg: Message) -> Result<Dispatched, BrokerError> {
        self.dispatch_shared(Arc::new(msg)).await
    }

    /// [`Broker::dispatch`] for a message already shared: a publisher that builds one per
    /// message (the rules engine's republish) hands it over without moving the message
    /// through this future's state first.
    pub async fn dispatch_shared(&self, mut msg: Arc<Message>) -> Result<Dispatched, BrokerError> {
        dispatch::validate(&self.inner, &msg.topic, msg.payload.len())?;
        if self.inner.is_stopping() {
            return Err(BrokerError::ShuttingDown);
        }
        // In a cluster the node id tells a node its own messages back from the bus.
        if msg.origin.node != self.inner.seams.node {
            let mut origin = (*msg.origin).clone();
            origin.node = self.inner.seams.node.clone();
            Arc::make_mut(&mut msg).origin = Arc::new(origin);
        }
        Ok(dispatch::dispatch(&self.inner, msg).await)
    }

    /// Waits until a dispatched message is durable for every persistent subscriber (and, in a
    /// cluster, confirmed by the other nodes).
    pub async fn wait(&self, ticket: &DeliveryTicket) {
        dispatch::wait(&self.inner, ticket).await;
    }

    /// Dispatches `msg` and waits until it is durable. Returns the local deliveries queued.
    pub async fn publish(&self, msg: Message) -> Result<usize, BrokerError> {
        self.publish_shared(Arc::new(msg)).await
    }

    /// [`Broker::publish`] for a message already shared (see [`Broker::dispatch_shared`]).
    pub async fn publish_shared(&self, msg: Arc<Message>) -> Result<usize, BrokerError> {
        let d = self.dispatch_shared(msg).await?;
        if !d.ticket.is_settled() {
            self.wait(&d.ticket).await;
        }
        Ok(d.delivered)
    }

    /// Delivers a service's message to the session of `client_id` alone, through that
    /// session's subscriptions matching the topic (and its `iot:Receive` check at delivery):
    /// no tap, retained store, other subscriber or other node sees it. For answers that belong
    /// to the connection that asked, such as fleet provisioning's private keys. Returns the
    /// deliveries queued (0 when the client is not subscribed), once durable. A client
    /// connected to another node of a cluster is not reached.
    pub async fn deliver_to(&self, client_id: &str, msg: Message) -> Result<usize, BrokerError> {
        dispatch::validate(&self.inner, &msg.topic, msg.payload.len())?;
        if self.inner.is_stopping() {
            return Err(BrokerError::ShuttingDown);
        }
        let d = dispatch::deliver_to(&self.inner, client_id, Arc::new(msg)).await;
        self.wait(&d.ticket).await;
        Ok(d.delivered)
    }

    /// Disconnects the client `client_id` connected to this node, as iot-data DeleteConnection
    /// does: lifecycle reason API_INITIATED_DISCONNECT, MQTT 5 DISCONNECT 0x98 (Administrative
    /// action), the will published unless `prevent_will`, and with `clean_session` its session
    /// discarded (persistent or not). Returns once the connection has released the session.
    /// In a cluster, a client connected to another node is disconnected there (see
    /// ARCHITECTURE.md, "Sessions and take-over").
    pub async fn delete_connection(
        &self,
        client_id: &str,
        clean_session: bool,
        prevent_will: bool,
    ) -> Result<(), BrokerError> {
        if self
            .delete_local_connection(client_id, clean_session, prevent_will)
            .await
        {
            return Ok(());
        }
        let elsewhere = self
            .inner
            .seams
            .sessions
            .disconnect_elsewhere(client_id, clean_session, prevent_will)
            .await
            .map_err(|e| BrokerError::Cluster(e.to_string()))?;
        if elsewhere {
            Ok(())
        } else {
            Err(BrokerError::NotConnected {
                client_id: client_id.to_owned(),
            })
        }
    }

    /// [`Broker::delete_connection`] on this node alone: whether a connection of `client_id`
    /// was here (and is closed now). What a cluster node runs for another node's request.
    pub async fn delete_local_connection(
        &self,
        client_id: &str,
        clean_session: bool,
        prevent_will: bool,
    ) -> bool {
        lifecycle::delete_connection(&self.inner, client_id, clean_session, !prevent_will).await
    }

    /// Lets go of the session of `client_id` because another node of a cluster claimed it
    /// (ARCHITECTURE.md, "Sessions and take-over"): its connection here, if any, is closed as
    /// a take-over closes it (MQTT 5 DISCONNECT 0x8E, the will per the MQTT rules), the
    /// session leaves this node's memory (not the store), and everything written for it is
    /// durable when this returns, for the new node to load. Returns whether it was here.
    pub async fn hand_over(&self, client_id: &str) -> bool {
        lifecycle::hand_over(&self.inner, client_id).await
    }

    /// Takes the stored session of `client_id` into this node (memory and trie, so messages
    /// for it are queued here) without a connection: what a cluster node does for the
    /// sessions of a node that is gone, which it has claimed in the store first. Returns
    /// whether a stored session was loaded (`false`: none stored, or held here already).
    /// `epoch` is the directory's number for that claim (see [`Claim`]).
    pub async fn adopt(&self, client_id: &str, epoch: u64) -> Result<bool, ClaimError> {
        lifecycle::load_stored(&self.inner, &Arc::from(client_id), epoch).await
    }

    /// Routes a message that another node received to this node's subscribers only (it was
    /// retained, tapped and forwarded where it arrived).
    pub async fn deliver_remote(&self, msg: Arc<Message>) -> Result<Dispatched, BrokerError> {
        if self.inner.is_stopping() {
            return Err(BrokerError::ShuttingDown);
        }
        Ok(dispatch::deliver_remote(&self.inner, msg).await)
    }

    /// Feeds every message published on a topic matching `filter` to the returned receiver,
    /// besides the topic's subscribers; when full, the publisher waits (nothing is lost). The
    /// tap ends when the receiver is dropped. See [`Broker::tap_with`] for other policies.
    pub fn tap(
        &self,
        filter: &str,
        capacity: usize,
    ) -> Result<tokio::sync::mpsc::Receiver<Arc<Message>>, BrokerError> {
        self.tap_with(filter, TapOptions::hold("service", capacity))
    }

    /// A tap on any topic filter (wildcards included, shared subscriptions not) with the
    /// overflow policy and exclusivity its owner chooses.
    pub fn tap_with(
        &self,
        filter: &str,
        opts: TapOptions,
    ) -> Result<tokio::sync::mpsc::Receiver<Arc<Message>>, BrokerError> {
        ferrite_topic::validate_topic_filter(filter, &self.inner.limits)?;
        if ferrite_topic::parse_shared(filter).is_some() {
            return Err(BrokerError::SharedTap);
        }
        Ok(self.inner.router.taps.add(filter, opts))
    }

    /// One tap on several topic filters, whose set its owner changes with
    /// [`Broker::retap`]; a message matching several filters reaches it once. Lets a service
    /// hear exactly the topics it serves (the rules engine: its rules' FROM filters) rather than
    /// tap `#` and sort.
    pub fn tap_filters(
        &self,
        filters: &[&str],
        opts: TapOptions,
    ) -> Result<(TapHandle, tokio::sync::mpsc::Receiver<Arc<Message>>), BrokerError> {
        self.check_tap_filters(filters)?;
        Ok(self.inner.router.taps.add_set(filters, opts))
    }

    /// Replaces the filters of a tap made by [`Broker::tap_filters`], atomically: a message on
    /// a topic that both the old and the new filters match is neither missed nor seen twice.
    pub fn retap(&self, handle: &TapHandle, filters: &[&str]) -> Result<(), BrokerError> {
        self.check_tap_filters(filters)?;
        self.inner.router.taps.retap(handle, filters);
        Ok(())
    }

    fn check_tap_filters(&self, filters: &[&str]) -> Result<(), BrokerError> {
        filters.iter().try_for_each(|f| self.check_tap_filter(f))
    }

    /// Whether `filter` can be tapped: a valid topic filter within this broker's limits, not
    /// a shared subscription. Lets a service leave out one bad filter rather than fail a set.
    pub fn check_tap_filter(&self, filter: &str) -> Result<(), BrokerError> {
        ferrite_topic::validate_topic_filter(filter, &self.inner.limits)?;
        if ferrite_topic::parse_shared(filter).is_some() {
            return Err(BrokerError::SharedTap);
        }
        Ok(())
    }

    /// Whether a publish on `topic` would reach anyone now: a subscription or a tap matches.
    /// Lets a server-side publisher skip building messages nobody would receive.
    pub fn has_receivers(&self, topic: &str) -> bool {
        self.inner.router.has_receivers(topic)
    }

    /// The retained message on `topic`, unless there is none or it has expired.
    pub fn retained(&self, topic: &str) -> Option<Arc<Message>> {
        let now = self.inner.now_ms();
        self.inner
            .router
            .retained
            .read()
            .get(topic)
            .filter(|m| !m.is_expired(now))
            .cloned()
    }

    /// Retained messages in topic order after `after`, at most `limit`, and whether more
    /// follow. Sorts all retained topics per call: meant for listing by hand, not for a hot
    /// path.
    pub fn retained_page(&self, after: Option<&str>, limit: usize) -> (Vec<Arc<Message>>, bool) {
        let now = self.inner.now_ms();
        let mut all: Vec<Arc<Message>> = self
            .inner
            .router
            .retained
            .read()
            .iter()
            .filter(|(topic, m)| after.is_none_or(|a| *topic > a) && !m.is_expired(now))
            .map(|(_, m)| m.clone())
            .collect();
        all.sort_unstable_by(|a, b| a.topic.cmp(&b.topic));
        let more = all.len() > limit;
        all.truncate(limit);
        (all, more)
    }

    /// Applies a retained-message change another node accepted (an empty payload deletes):
    /// kept unless this store holds a newer one by stamp (receipt time, then node id), so
    /// that every node ends with the same message whatever order changes arrive in. Not
    /// stored (the accepting node did) and not forwarded. True when the store changed.
    pub fn apply_retained(&self, msg: Arc<Message>) -> bool {
        self.inner.router.apply_retained(msg, &self.inner.metrics)
    }

    /// Catches the retained store up with `stored` (what the shared store holds) after this
    /// node may have missed other nodes' changes (its bus connection was lost): a stored
    /// message replaces the entry here when it was received later, and a stored tombstone (a
    /// delete, kept for a horizon) removes it. Entries simply missing from `stored` stay: they
    /// cannot be told from messages this node has not committed yet. Returns how many entries
    /// changed.
    pub fn refresh_retained(&self, stored: Vec<ferrite_storage::StoredMessage>) -> usize {
        let now = self.inner.now_ms();
        let mut changed = 0;
        for s in stored {
            match session::message_from_stored(s) {
                // A tombstone (a cluster's delete) applies whatever its expiry.
                Ok(m) if m.payload.is_empty() || !m.is_expired(now) => {
                    if self
                        .inner
                        .router
                        .refresh_retained(Arc::new(m), &self.inner.metrics)
                    {
                        changed += 1;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipping corrupt retained message"),
            }
        }
        changed
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Whether this node holds the session of `client_id` (connected or not).
    pub fn holds_session(&self, client_id: &str) -> bool {
        self.inner.sessions.lock().contains_key(client_id)
    }

    /// Number of sessions held, connected or not.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.lock().len()
    }

    /// Disconnects every client (MQTT 5: reason 0x8B) and writes the final session state.
    /// Waits at most `timeout` for connections to finish. The store stays open: its owner
    /// (the server) closes it after everything else that writes to it has stopped.
    pub async fn shutdown(&self, timeout: Duration) {
        let inner = &self.inner;
        inner.stopping.store(true, Ordering::Release);
        inner.cancel.cancel();
        inner.tasks.close();
        if tokio::time::timeout(timeout, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after shutdown timeout");
        }
        let last = inner.persister.close();
        inner.persist_task.close();
        if tokio::time::timeout(timeout, inner.persist_task.wait())
            .await
            .is_err()
            || !inner.persister.is_durable(last)
        {
            tracing::error!("store did not confirm the last writes before shutdown");
        }
    }
}
