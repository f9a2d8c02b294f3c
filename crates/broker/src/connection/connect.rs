//! The CONNECT handshake: read CONNECT within the connect timeout, validate it, authorize,
//! attach the session (taking over an older connection) and answer with CONNACK.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ferrite_mqtt_codec::{
    ConnAck, Connect, DecodeError, Packet, Properties, ProtocolVersion, ReasonCode, decode, encode,
};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::{Conn, READ_MIN};
use crate::auth::{ConnectContext, Revoker};
use crate::lifecycle::{self, PendingWill};
use crate::message::Message;
use crate::presence::{self, ConnectionFacts, LifecycleEvent};
use crate::session::{LiveConn, SessionCell};
use crate::{BrokerInner, ConnInfo, Permissions};
use ferrite_types::{Origin, Protocol};

pub(crate) struct Setup {
    rbuf: BytesMut,
    protocol: ProtocolVersion,
    client_id: Arc<str>,
    origin: Arc<Origin>,
    session: Arc<SessionCell>,
    conn_id: u64,
    kick: CancellationToken,
    kick_reason: Arc<Mutex<Option<crate::session::KickReason>>>,
    perms: Arc<dyn Permissions>,
    keep_alive: Option<Duration>,
    client_receive_max: u16,
    client_max_packet: usize,
    client_alias_max: u16,
    will: Option<PendingWill>,
    connect_expiry: u32,
    presence: Option<Arc<ConnectionFacts>>,
}

impl Setup {
    pub fn into_conn<S>(self, inner: Arc<BrokerInner>, stream: S) -> Conn<S> {
        let throttle = super::throttle::Throttle::new(&inner.cfg);
        Conn {
            throttle,
            inner,
            stream,
            rbuf: self.rbuf,
            wbuf: BytesMut::new(),
            protocol: self.protocol,
            client_id: self.client_id,
            origin: self.origin,
            session: self.session,
            conn_id: self.conn_id,
            kick: self.kick,
            kick_reason: self.kick_reason,
            perms: self.perms,
            keep_alive: self.keep_alive,
            client_receive_max: self.client_receive_max,
            client_max_packet: self.client_max_packet,
            client_alias_max: self.client_alias_max,
            aliases_in: HashMap::new(),
            aliases_out: HashMap::new(),
            pending_acks: VecDeque::new(),
            inbound_unacked: 0,
            will: self.will.map(Box::new),
            connect_expiry: self.connect_expiry,
            read_hint: READ_MIN,
            presence: self.presence,
        }
    }
}

async fn read_connect<S: AsyncRead + Unpin>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<Packet, Option<DecodeError>> {
    loop {
        match decode(rbuf, ProtocolVersion::V311, max_packet) {
            Ok(Some(p)) => return Ok(p),
            Ok(None) => {}
            Err(e) => return Err(Some(e)),
        }
        rbuf.reserve(1024);
        match stream.read_buf(rbuf).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(_) => {}
        }
    }
}

/// Answers a refused CONNECT (with the reason string in MQTT 5) and returns the metric label.
async fn refuse<S: AsyncWrite + Unpin>(
    stream: &mut S,
    protocol: ProtocolVersion,
    reason: ReasonCode,
    why: &'static str,
) -> &'static str {
    let mut buf = BytesMut::new();
    let properties = Properties {
        reason_string: Some(super::reason_string(why)),
        ..Properties::default()
    };
    let ack = Packet::ConnAck(ConnAck {
        session_present: false,
        reason,
        properties,
    });
    if encode(&ack, protocol, &mut buf).is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(&buf).await;
            let _ = stream.flush().await;
            let _ = stream.shutdown().await;
        })
        .await;
    }
    why
}

/// Refuses a client the authorizer turned down. AWS IoT answers MQTT 3.1.1 clients by
/// closing the connection without a CONNACK (clients report "connection lost"); MQTT 5
/// clients get a CONNACK with the reason code.
async fn refuse_unauthorized<S: AsyncWrite + Unpin>(
    stream: &mut S,
    protocol: ProtocolVersion,
    reason: ReasonCode,
) -> &'static str {
    if protocol == ProtocolVersion::V5 {
        return refuse(stream, protocol, reason, "not_authorized").await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    "not_authorized"
}

/// Runs the handshake; `Err` carries the refusal reason for metrics.
pub(crate) async fn handshake<S>(
    inner: &Arc<BrokerInner>,
    stream: &mut S,
    info: &ConnInfo,
) -> Result<Setup, &'static str>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cfg = &inner.cfg;
    let mut rbuf = BytesMut::with_capacity(1024);
    let first = tokio::select! {
        r = tokio::time::timeout(info.connect_timeout, read_connect(stream, &mut rbuf, cfg.max_packet_size)) => r,
        _ = inner.cancel.cancelled() => return Err("shutdown"),
    };
    let connect = match first {
        Err(_) => return Err("connect_timeout"),
        Ok(Err(None)) => return Err("closed_before_connect"),
        Ok(Err(Some(DecodeError::UnsupportedProtocolVersion(_)))) => {
            // The 3.1.1 encoding of this CONNACK (return code 1) is what old clients parse.
            return Err(refuse(
                stream,
                ProtocolVersion::V311,
                ReasonCode::UnsupportedProtocolVersion,
                "unsupported_protocol_version",
            )
            .await);
        }
        Ok(Err(Some(e))) => {
            tracing::debug!(peer = %info.peer_addr, error = %e, "malformed CONNECT");
            return Err("malformed_connect");
        }
        Ok(Ok(Packet::Connect(c))) => c,
        Ok(Ok(_)) => return Err("packet_before_connect"),
    };
    let protocol = connect.protocol;
    let Connect {
        clean_start,
        keep_alive,
        mut client_id,
        will,
        username,
        password,
        properties,
        ..
    } = connect;

    let mut ack_props = Properties::default();
    // 3.1.1 lets the server assign an id only to clean sessions; AWS forbids a leading '$'.
    let unassignable = client_id.is_empty() && protocol == ProtocolVersion::V311 && !clean_start;
    if unassignable || client_id.len() > cfg.max_client_id_len || client_id.starts_with('$') {
        return Err(refuse(
            stream,
            protocol,
            ReasonCode::ClientIdentifierNotValid,
            "client_id_invalid",
        )
        .await);
    }
    if client_id.is_empty() {
        client_id = format!("ferrite-{:016x}", rand_id(inner.uid()));
        if protocol == ProtocolVersion::V5 {
            ack_props.assigned_client_identifier = Some(client_id.clone());
        }
    }
    if info.over_capacity {
        return Err(refuse(stream, protocol, ReasonCode::ServerBusy, "max_connections").await);
    }
    // A cluster node without its bus or store cannot serve a session (MQTT 3.1.1: return
    // code 3, Server unavailable).
    if let Some(why) = inner.seams.admission.refusal() {
        return Err(refuse(stream, protocol, ReasonCode::ServerUnavailable, why).await);
    }

    let client_id: Arc<str> = Arc::from(client_id);
    let mut pending_will = match will {
        None => None,
        Some(w) => {
            if ferrite_topic::validate_topic_name(&w.topic, &inner.limits).is_err()
                || !ferrite_topic::client_may_publish(&w.topic)
            {
                return Err(refuse(
                    stream,
                    protocol,
                    ReasonCode::TopicNameInvalid,
                    "will_invalid",
                )
                .await);
            }
            if (w.qos as u8) > cfg.max_qos {
                return Err(refuse(
                    stream,
                    protocol,
                    ReasonCode::QoSNotSupported,
                    "will_invalid",
                )
                .await);
            }
            if w.payload.len() > cfg.max_payload_size {
                return Err(
                    refuse(stream, protocol, ReasonCode::PacketTooLarge, "will_invalid").await,
                );
            }
            let delay_secs = w.properties.will_delay_interval.unwrap_or(0);
            // The origin is known once the client is authorized; the will takes it then.
            let msg = Message::new(
                Arc::from(w.topic.as_str()),
                w.payload,
                w.qos,
                w.retain,
                &w.properties,
                ferrite_types::message::unknown_origin(),
                inner.now_ms(),
            );
            Some(PendingWill { msg, delay_secs })
        }
    };

    // Keep-alive: 0 and values above the maximum become the maximum, as AWS IoT does.
    let effective_ka = if keep_alive == 0 || keep_alive > cfg.max_keep_alive_secs {
        cfg.max_keep_alive_secs
    } else {
        keep_alive.max(cfg.min_keep_alive_secs)
    };
    if protocol == ProtocolVersion::V5 && effective_ka != keep_alive {
        ack_props.server_keep_alive = Some(effective_ka);
    }
    let keep_alive =
        (effective_ka > 0).then(|| Duration::from_millis(u64::from(effective_ka) * 1500));

    let expiry = match protocol {
        ProtocolVersion::V311 => {
            if clean_start {
                0
            } else {
                cfg.max_session_expiry_secs
            }
        }
        ProtocolVersion::V5 => {
            let requested = properties.session_expiry_interval.unwrap_or(0);
            let granted = requested.min(cfg.max_session_expiry_secs);
            if granted != requested {
                ack_props.session_expiry_interval = Some(granted);
            }
            granted
        }
    };

    let conn_id = inner.conn_id();
    let kick = inner.cancel.child_token();
    // A refused or abandoned handshake ends what the authorizer started for the connection
    // (`Revoker::closed`); once served, the connection does that when it is dropped.
    let abandoned = kick.clone().drop_guard();
    let kick_reason = Arc::new(Mutex::new(None));

    let ctx = ConnectContext {
        protocol,
        client_id: &client_id,
        username: username.as_deref(),
        password: password.as_deref(),
        local_addr: info.local_addr,
        peer_addr: info.peer_addr,
        transport: info.transport.as_deref(),
        clean_start,
        session_expiry_secs: expiry,
        will_topic: pending_will.as_ref().map(|w| &*w.msg.topic),
        will_retain: pending_will.as_ref().is_some_and(|w| w.msg.retain),
        revoker: Revoker {
            kick: kick.clone(),
            reason: kick_reason.clone(),
        },
    };
    let authorized = tokio::select! {
        a = inner.auth.connect(ctx) => a,
        _ = inner.cancel.cancelled() => return Err("shutdown"),
    };
    let perms = match authorized {
        Ok(perms) => perms,
        Err(code) => return Err(refuse_unauthorized(stream, protocol, code).await),
    };
    if let Some(w) = &pending_will
        && !perms.publish(&w.msg.topic, w.msg.retain)
    {
        return Err(refuse_unauthorized(stream, protocol, ReasonCode::NotAuthorized).await);
    }
    let origin = Arc::new(Origin {
        client_id: Some(client_id.clone()),
        principal: perms.principal(),
        source_ip: Some(info.peer_addr.ip()),
        protocol: Protocol::Mqtt(protocol),
        node: inner.seams.node.clone(),
    });
    if let Some(w) = &mut pending_will {
        w.msg.origin = origin.clone();
    }
    let live = LiveConn {
        id: conn_id,
        kick: kick.clone(),
        kick_reason: kick_reason.clone(),
    };
    // In a cluster the session may be on another node: it lets go of it first.
    let claimed = tokio::select! {
        c = lifecycle::claim(inner, &client_id) => c,
        _ = inner.cancel.cancelled() => return Err("shutdown"),
    };
    let epoch = match claimed {
        Ok(epoch) => epoch,
        Err(e) => {
            tracing::warn!(client_id = %client_id, error = %e, "refusing a connection whose session cannot be claimed");
            return Err(refuse(
                stream,
                protocol,
                ReasonCode::ServerUnavailable,
                "session_unavailable",
            )
            .await);
        }
    };
    let attached = tokio::select! {
        a = lifecycle::attach(inner, &client_id, clean_start, expiry, protocol, live, epoch) => a,
        _ = inner.cancel.cancelled() => None,
    };
    let Some(attached) = attached else {
        return Err(refuse(stream, protocol, ReasonCode::ServerBusy, "takeover_timeout").await);
    };

    if protocol == ProtocolVersion::V5 {
        if cfg.receive_maximum != u16::MAX {
            ack_props.receive_maximum = Some(cfg.receive_maximum);
        }
        if cfg.max_qos < 2 {
            ack_props.maximum_qos = Some(cfg.max_qos);
        }
        ack_props.maximum_packet_size = Some(cfg.max_packet_size as u32);
        ack_props.topic_alias_maximum = Some(cfg.topic_alias_maximum);
    }
    let ack = Packet::ConnAck(ConnAck {
        session_present: attached.present,
        reason: ReasonCode::Success,
        properties: ack_props,
    });
    let mut out = BytesMut::new();
    let written = match encode(&ack, protocol, &mut out) {
        Ok(_) => {
            // Flushing matters beyond TCP: the WebSocket stream sends its frame on flush.
            tokio::time::timeout(Duration::from_secs(10), async {
                stream.write_all(&out).await?;
                stream.flush().await
            })
            .await
        }
        Err(_) => Ok(Err(std::io::ErrorKind::InvalidData.into())),
    };
    if !matches!(written, Ok(Ok(()))) {
        lifecycle::detach(inner, &attached.session, conn_id, pending_will);
        return Err("io_error");
    }
    inner.metrics.bytes_sent.inc_by(out.len() as u64);
    tracing::debug!(client_id = %client_id, ?protocol, present = attached.present, "client connected");
    let presence = presence::has_events(&client_id).then(|| {
        let now = inner.now_ms();
        let facts = Arc::new(ConnectionFacts {
            client_id: client_id.clone(),
            session: presence::new_session(),
            principal: origin.principal.clone(),
            ip_address: origin.source_ip,
            version: inner.versions.next(now),
        });
        inner.seams.lifecycle.observe(LifecycleEvent::Connected {
            conn: facts.clone(),
            at_ms: now,
        });
        facts
    });

    abandoned.disarm();
    Ok(Setup {
        rbuf,
        protocol,
        client_id,
        origin,
        session: attached.session,
        conn_id,
        kick,
        kick_reason,
        perms,
        keep_alive,
        client_receive_max: properties.receive_maximum.unwrap_or(u16::MAX),
        client_max_packet: properties
            .maximum_packet_size
            .map(|m| m as usize)
            .unwrap_or(usize::MAX),
        client_alias_max: properties.topic_alias_maximum.unwrap_or(0),
        will: pending_will,
        connect_expiry: expiry,
        presence,
    })
}

/// A random id for clients that connect without one: the connection's unique number hashed
/// with the process's random hash keys, so ids differ across connections and restarts.
fn rand_id(conn_id: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(conn_id);
    h.finish()
}
