//! One client connection: the CONNECT handshake, then a single task that reads packets,
//! drains the session's queue into the socket and enforces keep-alive. Reads and writes
//! are interleaved in one task so a connection never needs a lock of its own.

mod connect;
mod inbound;
mod outbound;
mod throttle;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use ferrite_mqtt_codec::{
    Disconnect, Packet, Properties, ProtocolVersion, ReasonCode, decode, encode,
};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use ferrite_storage::BrokerOp;

use crate::lifecycle::{self, PendingWill};
use crate::persist::Writes;
use crate::presence::{ConnectionFacts, DisconnectReason, LifecycleEvent};
use crate::seams::DeliveryTicket;
use crate::session::{KickReason, SessionCell};
use crate::{BrokerInner, ConnInfo, Permissions};

/// A write that makes no progress for this long means the peer is gone or stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Flush to the socket once this much is buffered, so one busy connection stays responsive.
const WRITE_CHUNK: usize = 64 * 1024;
/// Read buffer bounds: an idle connection holds the smallest, a busy one grows towards the
/// largest so each read syscall carries many packets.
const READ_MIN: usize = 256;
const READ_MAX: usize = 64 * 1024;
/// How long a closing connection may take to send its last packet, and then to stop sending.
const LINGER: Duration = Duration::from_secs(1);
/// Most input discarded while waiting for a closing client to stop sending.
const LINGER_MAX_BYTES: usize = 1024 * 1024;
/// Writes smaller than this release the write buffer afterwards: idle connections then hold
/// no write memory, and busy ones, whose writes are large, keep theirs.
const WRITE_KEEP: usize = 1024;

/// The human-readable MQTT 5 reason string for a metric label ("keep_alive_timeout" →
/// "keep alive timeout"): one vocabulary for metrics, logs and clients.
pub(crate) fn reason_string(metric: &str) -> String {
    metric.replace('_', " ")
}

/// Why a connection ends, and what it owes the client and the will on the way out.
#[derive(Debug)]
pub(crate) struct Exit {
    /// Label for `ferrite_mqtt_disconnects_total`.
    pub metric: &'static str,
    /// MQTT 5 DISCONNECT reason to send before closing, if any.
    pub send: Option<ReasonCode>,
    pub publish_will: bool,
}

impl Exit {
    fn error(metric: &'static str, code: ReasonCode) -> Exit {
        Exit {
            metric,
            send: Some(code),
            publish_will: true,
        }
    }

    fn closed(metric: &'static str) -> Exit {
        Exit {
            metric,
            send: None,
            publish_will: true,
        }
    }
}

/// An acknowledgement waiting for its publish to be durable.
pub(crate) struct PendingAck {
    ticket: DeliveryTicket,
    packet: Packet,
    /// Sending it ends an inbound QoS 1/2 exchange (Receive Maximum).
    frees_slot: bool,
}

pub(crate) struct Conn<S> {
    inner: Arc<BrokerInner>,
    stream: S,
    rbuf: BytesMut,
    wbuf: BytesMut,
    protocol: ProtocolVersion,
    client_id: Arc<str>,
    /// Who this connection is, shared by every message it publishes.
    origin: Arc<ferrite_types::Origin>,
    session: Arc<SessionCell>,
    conn_id: u64,
    kick: CancellationToken,
    kick_reason: Arc<Mutex<Option<KickReason>>>,
    /// What the authorizer granted this connection.
    perms: Arc<dyn Permissions>,
    /// 1.5 × the effective keep-alive; `None` disables the check.
    keep_alive: Option<Duration>,
    client_receive_max: u16,
    client_max_packet: usize,
    client_alias_max: u16,
    aliases_in: HashMap<u16, Arc<str>>,
    aliases_out: HashMap<Arc<str>, u16>,
    /// Acknowledgements in the order their packets arrived, each with the persistence ticket
    /// that must be durable before it is sent.
    pending_acks: VecDeque<PendingAck>,
    /// QoS 1/2 publishes received and not yet fully acknowledged (Receive Maximum).
    inbound_unacked: usize,
    /// Boxed: most connections have no will, and a will is several hundred bytes.
    will: Option<Box<PendingWill>>,
    /// MQTT 5: the session expiry set at CONNECT; 0 forbids raising it at DISCONNECT.
    connect_expiry: u32,
    /// Spare read capacity to offer the next read, adapted to how much the last ones brought.
    read_hint: usize,
    /// Who this connection is in its lifecycle events; `None` when it has none (client ids
    /// with `#` or `+`).
    presence: Option<Arc<ConnectionFacts>>,
    /// The publish limits; `None` when none are configured.
    throttle: Option<Box<throttle::Throttle>>,
}

/// A future whose panic is caught and returned as `Err`. A connection whose task panicked
/// would otherwise keep its session attached (its client id could not connect again) and
/// never announce its disconnect; caught, it ends as SERVER_ERROR like any other exit.
struct CatchPanic<F>(F);

impl<F: Future + Unpin> Future for CatchPanic<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        // Unwind safety: after a panic only `finish` touches the connection, and what it
        // reads (socket, session cell behind non-poisoning locks, will) stays consistent.
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

impl<S> Drop for Conn<S> {
    /// Ends what was kept for this connection outside its task (the authorizer's timers
    /// wait on `Revoker::closed`).
    fn drop(&mut self) {
        self.kick.cancel();
    }
}

/// Serves a connection from its first byte to its close.
pub(crate) async fn run<S>(inner: Arc<BrokerInner>, mut stream: S, info: ConnInfo)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    inner.metrics.connections_total.inc();
    inner.metrics.connections.inc();
    // Boxed so the connection's task does not keep the handshake's state for its lifetime.
    let conn = match Box::pin(connect::handshake(&inner, &mut stream, &info)).await {
        Ok(setup) => setup.into_conn(inner.clone(), stream),
        Err(reason) => {
            inner.metrics.refused(reason);
            inner.metrics.connections.dec();
            return;
        }
    };
    let mut conn = conn;
    let served = {
        let serving = std::pin::pin!(conn.serve());
        CatchPanic(serving).await
    };
    let exit = served.unwrap_or_else(|()| {
        tracing::error!(client_id = %conn.client_id, "connection ended by an internal error");
        Exit::error("server_error", ReasonCode::UnspecifiedError)
    });
    Box::pin(conn.finish(exit)).await;
    inner.metrics.connections.dec();
}

impl<S> Conn<S> {
    /// Queues writes of this connection's session, fenced by the claim it holds it by.
    fn submit_own(&self, ops: Vec<BrokerOp>) -> u64 {
        if ops.is_empty() {
            return 0;
        }
        let epoch = self.session.owner_epoch();
        self.inner
            .persister
            .submit(Writes::of_session(&self.client_id, epoch, ops))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn serve(&mut self) -> Exit {
        let keep_alive = self
            .keep_alive
            .unwrap_or(Duration::from_secs(365 * 24 * 3600));
        let sleep = tokio::time::sleep(keep_alive);
        tokio::pin!(sleep);
        let mut durable = self.inner.persister.durable();
        // `kick` is a child of the broker's token: it also fires at shutdown, with no reason.
        let kick = self.kick.clone();
        loop {
            let more = match self.fill_outbound() {
                Ok(more) => more,
                Err(exit) => return exit,
            };
            self.flush_ready_acks();
            if let Err(exit) = self.write_out().await {
                return exit;
            }
            if more {
                self.session.wake.notify_one();
            }
            let front = self.pending_acks.front().map(|a| &a.ticket);
            let awaiting_durable = front.is_some_and(|t| !self.inner.persister.is_durable(t.local));
            let awaiting_remote = front.and_then(|t| t.remote_pending()).cloned();
            let spare = self.prepare_read();
            tokio::select! {
                biased;
                _ = kick.cancelled() => {
                    let reason = *self.kick_reason.lock();
                    return match reason {
                        Some(KickReason::TakenOver) => Exit::error("taken_over", ReasonCode::SessionTakenOver),
                        Some(KickReason::NotAuthorized) => Exit::error("not_authorized", ReasonCode::NotAuthorized),
                        Some(KickReason::CredentialsExpired) => Exit::error("credentials_expired", ReasonCode::NotAuthorized),
                        Some(KickReason::WebSocketTtl) => Exit::error("websocket_ttl_expired", ReasonCode::MaximumConnectTime),
                        Some(KickReason::Api { discard_session, publish_will }) => {
                            if discard_session {
                                // As an MQTT 5 DISCONNECT with expiry 0: the session ends
                                // with the connection, and a delayed will goes out now.
                                self.session.state.lock().expiry_secs = 0;
                            }
                            Exit { metric: "api_disconnect", send: Some(ReasonCode::AdministrativeAction), publish_will }
                        }
                        None => Exit { metric: "shutdown", send: Some(ReasonCode::ServerShuttingDown), publish_will: false },
                    };
                }
                read = self.stream.read_buf(&mut self.rbuf) => {
                    match read {
                        Ok(0) => return Exit::closed("closed_by_client"),
                        Ok(n) => {
                            self.adapt_read(n, spare);
                            self.inner.metrics.bytes_received.inc_by(n as u64);
                            if let Some(ka) = self.keep_alive {
                                sleep.as_mut().reset(tokio::time::Instant::now() + ka);
                            }
                            // Boxed: publish handling is the deepest future of the connection,
                            // and an idle connection should not carry its space.
                            if let Err(exit) = Box::pin(self.process_input()).await {
                                return exit;
                            }
                        }
                        Err(_) => return Exit::closed("io_error"),
                    }
                }
                _ = durable.changed(), if awaiting_durable => {}
                _ = async { if let Some(r) = &awaiting_remote { r.confirmed().await } }, if awaiting_remote.is_some() => {}
                _ = self.session.wake.notified() => {}
                _ = &mut sleep => return Exit::error("keep_alive_timeout", ReasonCode::KeepAliveTimeout),
            }
        }
    }

    /// Makes room for the next read; returns the spare capacity offered.
    fn prepare_read(&mut self) -> usize {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 2 * self.read_hint {
            self.rbuf = BytesMut::new();
        }
        if self.rbuf.capacity() - self.rbuf.len() < self.read_hint / 2 {
            self.rbuf.reserve(self.read_hint);
        }
        self.rbuf.capacity() - self.rbuf.len()
    }

    /// Grows the read hint when a read filled what was offered, shrinks it when reads are small.
    fn adapt_read(&mut self, n: usize, offered: usize) {
        if n >= offered {
            self.read_hint = (self.read_hint * 2).min(READ_MAX);
        } else if n < self.read_hint / 4 {
            self.read_hint = (self.read_hint / 2).max(READ_MIN);
        }
    }

    /// Decodes and handles every complete packet in the read buffer.
    async fn process_input(&mut self) -> Result<(), Exit> {
        loop {
            let packet = match decode(
                &mut self.rbuf,
                self.protocol,
                self.inner.cfg.max_packet_size,
            ) {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::debug!(client_id = %self.client_id, error = %e, "bad packet");
                    let code = e.reason_code();
                    let metric = if code == ReasonCode::PacketTooLarge {
                        "packet_too_large"
                    } else {
                        "malformed_packet"
                    };
                    return Err(Exit::error(metric, code));
                }
            };
            self.handle(packet).await?;
            // One unit of the task's cooperative budget per packet: a read can hold thousands
            // of packets, and without this a fast publisher handles them all in one turn while
            // the tasks that consume its messages (subscribers' writers, the rules engine and
            // its actions) wait for theirs.
            tokio::task::consume_budget().await;
            if self.wbuf.len() >= WRITE_CHUNK {
                self.write_out().await?;
            }
        }
    }

    async fn handle(&mut self, packet: Packet) -> Result<(), Exit> {
        match packet {
            Packet::Publish(p) => self.on_publish(p).await,
            Packet::PubAck(a) => {
                self.on_puback(a.packet_id.get());
                Ok(())
            }
            Packet::PubRec(a) => {
                self.on_pubrec(a.packet_id, a.reason);
                Ok(())
            }
            Packet::PubComp(a) => {
                self.on_pubcomp(a.packet_id.get());
                Ok(())
            }
            Packet::PubRel(a) => {
                self.on_pubrel(a.packet_id);
                Ok(())
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
                self.on_unsubscribe(u);
                Ok(())
            }
            Packet::PingReq => {
                self.send(&Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(d) => Err(self.on_disconnect(d)),
            Packet::Connect(_) => Err(Exit::error("protocol_error", ReasonCode::ProtocolError)),
            Packet::Auth(_) => Err(Exit::error("protocol_error", ReasonCode::ProtocolError)),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Err(Exit::error("protocol_error", ReasonCode::ProtocolError))
            }
        }
    }

    /// Appends a packet to the write buffer.
    fn send(&mut self, packet: &Packet) {
        if let Err(e) = encode(packet, self.protocol, &mut self.wbuf) {
            tracing::warn!(client_id = %self.client_id, error = %e, "cannot encode packet");
        }
    }

    async fn write_out(&mut self) -> Result<(), Exit> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let n = self.wbuf.len();
        let write = async {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => {
                self.inner.metrics.bytes_sent.inc_by(n as u64);
                self.wbuf.clear();
                if n < WRITE_KEEP || self.wbuf.capacity() > 4 * WRITE_CHUNK {
                    self.wbuf = BytesMut::new();
                }
                Ok(())
            }
            Ok(Err(_)) => Err(Exit::closed("io_error")),
            Err(_) => Err(Exit::closed("write_timeout")),
        }
    }

    /// Reads and discards what the client still sends, until it closes or `LINGER` passes.
    /// Closing a socket with unread input makes the kernel answer with a reset, and a reset
    /// can destroy the DISCONNECT just sent before the client reads it.
    async fn linger(&mut self) {
        self.rbuf = BytesMut::with_capacity(READ_MIN);
        let mut budget = LINGER_MAX_BYTES;
        let _ = tokio::time::timeout(LINGER, async {
            loop {
                self.rbuf.clear();
                match self.stream.read_buf(&mut self.rbuf).await {
                    Ok(n) if n > 0 && n < budget => budget -= n,
                    _ => return,
                }
            }
        })
        .await;
    }

    /// Sends the final DISCONNECT (MQTT 5), closes the socket and releases the session.
    async fn finish(&mut self, exit: Exit) {
        self.inner.metrics.disconnected(exit.metric);
        tracing::debug!(client_id = %self.client_id, reason = exit.metric, "connection closed");
        self.wbuf.clear();
        if let (Some(code), ProtocolVersion::V5) = (exit.send, self.protocol) {
            let properties = Properties {
                reason_string: Some(reason_string(exit.metric)),
                ..Properties::default()
            };
            self.send(&Packet::Disconnect(Disconnect {
                reason: code,
                properties,
            }));
        }
        let told = !self.wbuf.is_empty();
        let _ = tokio::time::timeout(LINGER, async {
            let _ = self.stream.write_all(&self.wbuf).await;
            let _ = self.stream.flush().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
        if let Some(conn) = &self.presence {
            self.inner
                .seams
                .lifecycle
                .observe(LifecycleEvent::Disconnected {
                    conn: conn.clone(),
                    at_ms: self.inner.now_ms(),
                    reason: DisconnectReason::from_exit(exit.metric),
                });
        }
        let will = if exit.publish_will {
            self.will.take().map(|w| *w)
        } else {
            None
        };
        lifecycle::detach(&self.inner, &self.session, self.conn_id, will);
        // After the session is released, so a take-over never waits for this.
        if told && !self.inner.cancel.is_cancelled() {
            self.linger().await;
        }
    }
}
