//! Sessions across nodes (ARCHITECTURE.md, "Sessions and take-over"): the broker's
//! [`SessionDirectory`] for a cluster node, and the node's answers to the other nodes'
//! take-over requests.
//!
//! At CONNECT a node claims the client id in the store (one conditional write, which names
//! the previous owner). When that was another node, it asks it on
//! `{prefix}.node.{owner}.takeover` to let go: the owner closes its connection as a local
//! take-over does, writes the session through its group commit and answers. Then the
//! claiming broker loads the session from the store. An owner that does not answer (no
//! responders: its NATS connection is gone; or no answer in time) is presumed dead: what it
//! acknowledged is already in the store, since acknowledgements wait for durability. Either
//! way the claimant then seals its claim (`SessionOwners::seal_claim`): the previous owner's
//! writes of the session, accepted while it flushed, are refused from then on (a node that
//! was only slow cannot overwrite the session later), and the session is loaded after that.
//!
//! iot-data DeleteConnection for a client connected elsewhere goes the same way, on
//! `{prefix}.node.{owner}.disconnect`: the owner closes it and answers whether it was there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ferrite_broker::{
    Broker, Claim, ClaimError, ClaimFuture, Claimed, ElsewhereFuture, Seams, SessionDirectory,
};
use ferrite_storage::SessionOwners;
use ferrite_types::Clock;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusError, Headers};

/// How long a claiming node waits for the previous owner's answer. Longer than the broker's
/// own take-over wait (5 s for the old connection to let go), so a live owner that is only
/// slow still answers; a dead one is known at once from NATS' "no responders".
pub const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(8);

/// The subject on which node `node` hears take-over requests (payload: the client id).
pub fn takeover_subject(prefix: &str, node: &str) -> String {
    format!("{prefix}.node.{node}.takeover")
}

/// The subject on which node `node` hears DeleteConnection requests for its connections
/// (payload: JSON `{"clientId", "cleanSession", "preventWillMessage"}`).
pub fn disconnect_subject(prefix: &str, node: &str) -> String {
    format!("{prefix}.node.{node}.disconnect")
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DisconnectRequest {
    client_id: String,
    clean_session: bool,
    prevent_will_message: bool,
}

const FOUND: &[u8] = b"found";

pub(crate) struct Inner {
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) owners: Arc<dyn SessionOwners>,
    pub(crate) node: Arc<str>,
    pub(crate) prefix: String,
    pub(crate) clock: Clock,
    pub(crate) timeout: Duration,
    /// Sessions adopted from gone nodes (and taken back after a restart) and loaded here.
    pub(crate) adopted: AtomicU64,
    /// Sessions whose writes from here the store refused (another node held them by then).
    fenced: AtomicU64,
    /// Sessions that ended here, `(client id, epoch)`, whose owner rows go (one task deletes
    /// them, off the broker's path); the receiver until `serve` takes it.
    releases: mpsc::UnboundedSender<(String, u64)>,
    released: Mutex<Option<mpsc::UnboundedReceiver<(String, u64)>>>,
    /// Releases handled (deleted or found taken by a later claim).
    forgotten: watch::Sender<u64>,
}

/// One node's side of sessions across nodes. Cheap to clone.
#[derive(Clone)]
pub struct ClusterSessions {
    pub(crate) inner: Arc<Inner>,
}

impl ClusterSessions {
    /// Node `node`'s sessions, owned through `owners` (the shared store) and handed over on
    /// `bus` below subject `prefix`.
    pub fn new(
        bus: Arc<dyn Bus>,
        owners: Arc<dyn SessionOwners>,
        node: Arc<str>,
        prefix: &str,
    ) -> ClusterSessions {
        let (releases, released) = mpsc::unbounded_channel();
        ClusterSessions {
            inner: Arc::new(Inner {
                bus,
                owners,
                node,
                prefix: prefix.to_owned(),
                clock: Clock::system(),
                timeout: TAKEOVER_TIMEOUT,
                adopted: AtomicU64::new(0),
                fenced: AtomicU64::new(0),
                releases,
                released: Mutex::new(Some(released)),
                forgotten: watch::Sender::new(0),
            }),
        }
    }

    /// `base` with this node's session directory.
    pub fn seams(&self, base: Seams) -> Seams {
        Seams {
            sessions: Arc::new(self.clone()),
            ..base
        }
    }

    /// Answers the other nodes' take-over and DeleteConnection requests for `broker`
    /// (started with [`ClusterSessions::seams`]) until `cancel`. Returns once the
    /// subscriptions are in place on the bus, so that no request sent after it goes unheard.
    pub async fn serve(
        &self,
        broker: Broker,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<(), BusError> {
        let inner = &self.inner;
        let takeovers = inner
            .bus
            .subscribe(takeover_subject(&inner.prefix, &inner.node), None)
            .await?;
        let disconnects = inner
            .bus
            .subscribe(disconnect_subject(&inner.prefix, &inner.node), None)
            .await?;
        inner.bus.flush().await?;
        if let Some(released) = inner.released.lock().take() {
            tasks.spawn(forget_released(
                self.inner.clone(),
                released,
                cancel.clone(),
            ));
        }
        serve_requests(self.inner.bus.clone(), takeovers, tasks, cancel.clone(), {
            let broker = broker.clone();
            move |payload| {
                let broker = broker.clone();
                async move {
                    let client_id = String::from_utf8(payload.to_vec()).ok()?;
                    let held = broker.hand_over(&client_id).await;
                    tracing::debug!(client_id, held, "handed a session over to another node");
                    Some(if held { &b"held"[..] } else { &b"absent"[..] })
                }
            }
        });
        serve_requests(
            self.inner.bus.clone(),
            disconnects,
            tasks,
            cancel,
            move |payload| {
                let broker = broker.clone();
                async move {
                    let req: DisconnectRequest = serde_json::from_slice(&payload).ok()?;
                    let found = broker
                        .delete_local_connection(
                            &req.client_id,
                            req.clean_session,
                            req.prevent_will_message,
                        )
                        .await;
                    Some(if found { FOUND } else { &b"absent"[..] })
                }
            },
        );
        Ok(())
    }

    /// Sessions whose writes from this node the store refused because another node had
    /// claimed or adopted them since; this node let its copy go.
    pub fn fenced(&self) -> u64 {
        self.inner.fenced.load(Ordering::Relaxed)
    }

    /// Waits until `n` ended sessions' owner rows were handled (deleted, or kept for a later
    /// claim).
    pub async fn released(&self, n: u64) {
        let mut forgotten = self.inner.forgotten.subscribe();
        let _ = forgotten.wait_for(|f| *f >= n).await;
    }

    async fn disconnect_inner(
        &self,
        client_id: &str,
        clean_session: bool,
        prevent_will: bool,
    ) -> Result<bool, ClaimError> {
        let inner = &self.inner;
        let owner = inner
            .owners
            .session_owner(client_id)
            .await
            .map_err(|e| ClaimError(e.to_string()))?;
        let Some((owner, _)) = owner.filter(|(o, _)| *o != *inner.node) else {
            return Ok(false);
        };
        let request = DisconnectRequest {
            client_id: client_id.to_owned(),
            clean_session,
            prevent_will_message: prevent_will,
        };
        let payload = serde_json::to_vec(&request).map_err(|e| ClaimError(e.to_string()))?;
        match inner
            .bus
            .request(
                disconnect_subject(&inner.prefix, &owner),
                Headers::new(),
                Bytes::from(payload),
                inner.timeout,
            )
            .await
        {
            Ok(answer) => Ok(&answer.payload[..] == FOUND),
            // The owner is gone, and its connections with it.
            Err(BusError::NoResponders(_)) => Ok(false),
            Err(e) => Err(ClaimError(format!("asking node {owner}: {e}"))),
        }
    }

    async fn claim_inner(&self, client_id: &str) -> Result<Claim, ClaimError> {
        let inner = &self.inner;
        let claim = inner
            .owners
            .claim_session(client_id, &inner.node, inner.clock.now_ms())
            .await
            .map_err(|e| ClaimError(e.to_string()))?;
        let previous = match claim.previous {
            Some(p) if *p != *inner.node => p,
            _ => {
                return Ok(Claim {
                    was: Claimed::Here,
                    epoch: claim.epoch,
                });
            }
        };
        let asked = inner
            .bus
            .request(
                takeover_subject(&inner.prefix, &previous),
                Headers::new(),
                Bytes::copy_from_slice(client_id.as_bytes()),
                inner.timeout,
            )
            .await;
        match asked {
            Ok(_) => {
                tracing::debug!(client_id, from = %previous, epoch = claim.epoch, "session taken over from another node");
            }
            Err(BusError::NoResponders(_)) => {
                tracing::info!(client_id, from = %previous, "the session's node is gone: loading the session from the store");
            }
            Err(e) => {
                tracing::warn!(client_id, from = %previous, error = %e, "the session's node did not let go in time: loading the session from the store");
            }
        }
        // The previous owner has flushed what it wrote (or is taken for gone): from now on
        // its writes of the session are refused, and the store has what this node loads next.
        inner
            .owners
            .seal_claim(client_id, &inner.node, claim.epoch)
            .await
            .map_err(|e| ClaimError(e.to_string()))?;
        Ok(Claim {
            was: Claimed::Elsewhere,
            epoch: claim.epoch,
        })
    }
}

impl SessionDirectory for ClusterSessions {
    fn load_all_at_start(&self) -> bool {
        false
    }

    fn claim<'a>(&'a self, client_id: &'a str) -> ClaimFuture<'a> {
        Box::pin(self.claim_inner(client_id))
    }

    fn disconnect_elsewhere<'a>(
        &'a self,
        client_id: &'a str,
        clean_session: bool,
        prevent_will: bool,
    ) -> ElsewhereFuture<'a> {
        Box::pin(self.disconnect_inner(client_id, clean_session, prevent_will))
    }

    fn released(&self, client_id: &str, epoch: u64) {
        let _ = self.inner.releases.send((client_id.to_owned(), epoch));
    }

    fn fenced(&self, client_id: &str, epoch: u64) {
        self.inner.fenced.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            client_id,
            epoch,
            "another node holds this session now: this node's writes of it were refused and it let the session go"
        );
    }
}

/// Deletes the owner rows of sessions that ended here, each only while its claim is still the
/// latest (a reconnect's claim keeps its row), until `cancel`. A row left behind (the store
/// was down, or the node stopped first) costs nothing but space: adoption skips clients
/// without a stored session, and the next claim of the client id overwrites it.
async fn forget_released(
    inner: Arc<Inner>,
    mut released: mpsc::UnboundedReceiver<(String, u64)>,
    cancel: CancellationToken,
) {
    loop {
        let (client_id, epoch) = tokio::select! {
            () = cancel.cancelled() => return,
            r = released.recv() => match r { Some(r) => r, None => return },
        };
        if let Err(e) = inner
            .owners
            .release_session(&client_id, &inner.node, epoch)
            .await
        {
            tracing::debug!(client_id, error = %e, "cannot forget an ended session's owner");
        }
        inner.forgotten.send_modify(|n| *n += 1);
    }
}

/// Runs `handle` on each request of `requests` in a task of its own (one slow connection
/// must not hold up the others) and answers with what it returns; `None` (a malformed
/// request) gets no answer.
fn serve_requests<H, F>(
    bus: Arc<dyn Bus>,
    mut requests: crate::bus::Subscription,
    tasks: &TaskTracker,
    cancel: CancellationToken,
    handle: H,
) where
    H: Fn(Bytes) -> F + Send + 'static,
    F: std::future::Future<Output = Option<&'static [u8]>> + Send + 'static,
{
    let handlers = tasks.clone();
    tasks.spawn(async move {
        loop {
            let m = tokio::select! {
                () = cancel.cancelled() => break,
                m = requests.next() => match m { Some(m) => m, None => break },
            };
            let answer = handle(m.payload);
            let (bus, subject, reply) = (bus.clone(), m.subject, m.reply);
            handlers.spawn(async move {
                let Some(answer) = answer.await else {
                    tracing::warn!(%subject, "dropping a malformed request from another node");
                    return;
                };
                if let Some(reply) = reply
                    && let Err(e) = bus
                        .publish(reply, Headers::new(), Bytes::from_static(answer))
                        .await
                {
                    tracing::warn!(%subject, error = %e, "cannot answer another node's request");
                }
            });
        }
    });
}
