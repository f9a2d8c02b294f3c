//! Deliveries to the client: drains the session queue into the write buffer within the
//! client's Receive Maximum, applies topic aliases, message expiry and the client's
//! Maximum Packet Size, and re-sends in-flight messages after a reconnect.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferrite_mqtt_codec::{
    Packet, Properties, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, encode,
};
use ferrite_storage::BrokerOp;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Conn, Exit, WRITE_CHUNK};
use crate::session::{Inflight, Outgoing};

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Encodes queued deliveries into the write buffer. Returns true when more are waiting
    /// and the window is open, so the caller comes back without waiting for a wake-up.
    pub(super) fn fill_outbound(&mut self) -> Result<bool, Exit> {
        let now = self.inner.now_ms();
        let window = usize::from(
            self.client_receive_max
                .min(self.inner.cfg.max_inflight)
                .max(1),
        );
        let session = self.session.clone();
        let mut st = session.state.lock();
        let mut dequeued: Vec<BrokerOp> = Vec::new();

        // After a reconnect, unacknowledged messages go first, with their original ids.
        for i in 0..st.inflight.len() {
            let Some(f) = st.inflight.get_mut(i) else {
                break;
            };
            if !f.resend {
                continue;
            }
            f.resend = false;
            let id = NonZeroU16::new(f.packet_id);
            let (released, out) = (f.released, f.out.clone());
            match (released, id) {
                (true, Some(id)) => {
                    let rel = Packet::PubRel(PubAck {
                        packet_id: id,
                        reason: ReasonCode::Success,
                        properties: Properties::default(),
                    });
                    let _ = encode(&rel, self.protocol, &mut self.wbuf);
                }
                (false, Some(id)) => {
                    self.encode_publish(&out, Some(id), true, now);
                }
                _ => {}
            }
        }

        let mut popped = false;
        while let Some(front) = st.queue.front() {
            if front.qos != QoS::AtMostOnce && st.inflight.len() >= window {
                break;
            }
            let Some(out) = st.queue.pop_front() else {
                break;
            };
            popped = true;
            if out.msg.is_expired(now) {
                self.inner.metrics.dropped("expired");
                if let Some(seq) = out.seq {
                    dequeued.push(BrokerOp::Dequeue {
                        client_id: self.client_id.to_string(),
                        seq,
                    });
                }
                continue;
            }
            if !self.perms.receive(&out.msg.topic) {
                // iot:Receive is checked per delivery, so a policy change reaches existing
                // subscriptions; a denied message is dropped as if never routed here.
                self.inner.metrics.dropped("receive_not_authorized");
                if let Some(seq) = out.seq {
                    dequeued.push(BrokerOp::Dequeue {
                        client_id: self.client_id.to_string(),
                        seq,
                    });
                }
                continue;
            }
            let packet_id = if out.qos == QoS::AtMostOnce {
                None
            } else {
                NonZeroU16::new(st.alloc_packet_id())
            };
            if !self.encode_publish(&out, packet_id, false, now) {
                self.inner.metrics.dropped("packet_too_large_for_client");
                if let Some(seq) = out.seq {
                    dequeued.push(BrokerOp::Dequeue {
                        client_id: self.client_id.to_string(),
                        seq,
                    });
                }
                continue;
            }
            if let Some(id) = packet_id {
                st.inflight.push_back(Inflight {
                    packet_id: id.get(),
                    out,
                    released: false,
                    resend: false,
                });
            }
            if self.wbuf.len() >= WRITE_CHUNK {
                break;
            }
        }
        let more = st
            .queue
            .front()
            .is_some_and(|f| f.qos == QoS::AtMostOnce || st.inflight.len() < window);
        let half_empty = st.queue.len() <= self.inner.cfg.max_queued_messages / 2;
        drop(st);
        if popped {
            if half_empty {
                session.congested.store(false, Ordering::Relaxed);
            }
            session.space.notify_waiters();
        }
        self.submit_own(dequeued);
        Ok(more)
    }

    /// Appends one PUBLISH; false when it exceeds the client's Maximum Packet Size.
    fn encode_publish(
        &mut self,
        out: &Outgoing,
        packet_id: Option<NonZeroU16>,
        dup: bool,
        now: i64,
    ) -> bool {
        let msg = &out.msg;
        let mut topic = msg.topic.to_string();
        let mut properties = Properties::default();
        if self.protocol == ProtocolVersion::V5 {
            if !msg.properties.is_empty() {
                properties = msg.properties.clone();
            }
            properties.message_expiry_interval = msg.remaining_expiry_secs(now);
            properties.subscription_identifiers = out.sub_ids.clone();
            if self.client_alias_max > 0 {
                match self.aliases_out.get(&msg.topic) {
                    Some(&alias) => {
                        properties.topic_alias = Some(alias);
                        topic.clear();
                    }
                    None => {
                        let next = self.aliases_out.len() as u16 + 1;
                        if next <= self.client_alias_max {
                            self.aliases_out.insert(Arc::clone(&msg.topic), next);
                            properties.topic_alias = Some(next);
                        }
                    }
                }
            }
        }
        let packet = Packet::Publish(Publish {
            dup,
            qos: out.qos,
            retain: out.retain,
            topic,
            packet_id,
            payload: msg.payload.clone(),
            properties,
        });
        let start = self.wbuf.len();
        match encode(&packet, self.protocol, &mut self.wbuf) {
            Ok(size) if size <= self.client_max_packet => {
                self.inner.metrics.messages_sent.inc();
                true
            }
            _ => {
                self.wbuf.truncate(start);
                false
            }
        }
    }
}
