//! Packets from the client: PUBLISH and its acknowledgements in both directions,
//! SUBSCRIBE, UNSUBSCRIBE and DISCONNECT.

use std::num::NonZeroU16;
use std::sync::Arc;

use ferrite_mqtt_codec::{
    Disconnect, Packet, Properties, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, SubAck,
    Subscribe, UnsubAck, Unsubscribe,
};
use ferrite_storage::{BrokerOp, QueueState, StoredSubscription};
use tokio::io::{AsyncRead, AsyncWrite};

use super::throttle::Verdict;
use super::{Conn, Exit, PendingAck};
use crate::message::Message;
use crate::persist::Writes;
use crate::presence::LifecycleEvent;
use crate::records;
use crate::router::NewSubscription;
use crate::seams::DeliveryTicket;
use crate::session::Subscription;
use crate::{BrokerError, dispatch};

fn ack(packet_id: NonZeroU16, reason: ReasonCode) -> PubAck {
    PubAck {
        packet_id,
        reason,
        properties: Properties::default(),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// A refused publish: MQTT 5 QoS 1/2 gets a negative acknowledgement; otherwise AWS IoT
    /// closes the connection (3.1.1 has no negative PUBACK).
    fn refuse_publish(
        &mut self,
        p: &Publish,
        code: ReasonCode,
        metric: &'static str,
    ) -> Result<(), Exit> {
        self.inner.metrics.dropped(metric);
        match (self.protocol, p.qos, p.packet_id) {
            (ProtocolVersion::V5, QoS::AtLeastOnce, Some(id)) => {
                self.inbound_unacked += 1;
                self.queue_ack(
                    DeliveryTicket::default(),
                    Packet::PubAck(ack(id, code)),
                    true,
                );
                Ok(())
            }
            // A failing PUBREC ends the exchange: it never took a slot of the window.
            (ProtocolVersion::V5, QoS::ExactlyOnce, Some(id)) => {
                self.queue_ack(
                    DeliveryTicket::default(),
                    Packet::PubRec(ack(id, code)),
                    false,
                );
                Ok(())
            }
            (ProtocolVersion::V5, _, _) => Err(Exit::error(metric, code)),
            _ => Err(Exit::closed(metric)),
        }
    }

    /// A publish over the connection's limits is not routed. MQTT 5 QoS 1/2 publishers learn
    /// it from the acknowledgement (0x97 Quota exceeded); MQTT 3.1.1 has no negative
    /// acknowledgement, so there they are acknowledged and dropped like QoS 0.
    fn throttled(&mut self, p: &Publish) {
        self.inner.metrics.dropped("throttled");
        let code = if self.protocol == ProtocolVersion::V5 {
            ReasonCode::QuotaExceeded
        } else {
            ReasonCode::Success
        };
        match (p.qos, p.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                self.inbound_unacked += 1;
                self.queue_ack(
                    DeliveryTicket::default(),
                    Packet::PubAck(ack(id, code)),
                    true,
                );
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // Not routed, so a later publish reusing the id is a new message.
                self.session.state.lock().incoming_qos2.remove(&id.get());
                self.queue_ack(
                    DeliveryTicket::default(),
                    Packet::PubRec(ack(id, code)),
                    false,
                );
            }
            _ => {}
        }
    }

    pub(super) async fn on_publish(&mut self, mut p: Publish) -> Result<(), Exit> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        inner.metrics.messages_received.inc();
        if (p.qos as u8) > cfg.max_qos {
            return Err(Exit::error(
                "qos_not_supported",
                ReasonCode::QoSNotSupported,
            ));
        }
        if p.qos != QoS::AtMostOnce
            && self.inbound_unacked >= usize::from(cfg.receive_maximum)
            && self.protocol == ProtocolVersion::V5
        {
            return Err(Exit::error(
                "receive_maximum_exceeded",
                ReasonCode::ReceiveMaximumExceeded,
            ));
        }
        let topic: Arc<str> = match p.properties.topic_alias.take() {
            Some(alias) => {
                if alias == 0 || alias > cfg.topic_alias_maximum {
                    return Err(Exit::error(
                        "topic_alias_invalid",
                        ReasonCode::TopicAliasInvalid,
                    ));
                }
                if p.topic.is_empty() {
                    match self.aliases_in.get(&alias) {
                        Some(t) => t.clone(),
                        None => {
                            return Err(Exit::error("protocol_error", ReasonCode::ProtocolError));
                        }
                    }
                } else {
                    let t: Arc<str> = Arc::from(p.topic.as_str());
                    self.aliases_in.insert(alias, t.clone());
                    t
                }
            }
            None => Arc::from(p.topic.as_str()),
        };
        match dispatch::validate(&inner, &topic, p.payload.len()) {
            Ok(()) => {}
            Err(BrokerError::PayloadTooLarge { .. }) => {
                return Err(Exit::error("payload_too_large", ReasonCode::PacketTooLarge));
            }
            Err(_) => return Err(Exit::error("topic_invalid", ReasonCode::TopicNameInvalid)),
        }
        if !ferrite_topic::client_may_publish(&topic) || !self.perms.publish(&topic, p.retain) {
            return self.refuse_publish(&p, ReasonCode::NotAuthorized, "publish_not_authorized");
        }
        if p.qos == QoS::ExactlyOnce
            && let Some(id) = p.packet_id
            && !self.session.state.lock().incoming_qos2.insert(id.get())
        {
            // Already routed: acknowledge again without delivering twice. Its slot of the
            // window is still held from the first time, until PUBCOMP.
            self.queue_ack(
                DeliveryTicket::default(),
                Packet::PubRec(ack(id, ReasonCode::Success)),
                false,
            );
            return Ok(());
        }

        if let Some(throttle) = &mut self.throttle {
            match throttle.check(topic.len() + p.payload.len()) {
                Verdict::Pass => {}
                Verdict::Refuse => {
                    self.throttled(&p);
                    return Ok(());
                }
                Verdict::Disconnect => {
                    return Err(Exit::error("throttled", ReasonCode::MessageRateTooHigh));
                }
            }
        }
        let msg = Arc::new(Message::new(
            topic,
            p.payload,
            p.qos,
            p.retain,
            &p.properties,
            self.origin.clone(),
            inner.now_ms(),
        ));
        let d = dispatch::dispatch(&inner, msg).await;
        let reason = if d.retain_quota_exceeded {
            ReasonCode::QuotaExceeded
        } else if d.delivered == 0 && !d.taken_by_tap && self.protocol == ProtocolVersion::V5 {
            ReasonCode::NoMatchingSubscribers
        } else {
            ReasonCode::Success
        };
        match (p.qos, p.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                self.inbound_unacked += 1;
                self.queue_ack(d.ticket, Packet::PubAck(ack(id, reason)), true);
            }
            // The slot is freed by the PUBCOMP that answers the client's PUBREL.
            (QoS::ExactlyOnce, Some(id)) => {
                self.inbound_unacked += 1;
                self.queue_ack(d.ticket, Packet::PubRec(ack(id, reason)), false);
            }
            _ => {}
        }
        Ok(())
    }

    /// Queues an acknowledgement behind the earlier ones. `frees_slot`: sending it ends an
    /// exchange that counts against the Receive Maximum window.
    fn queue_ack(&mut self, ticket: DeliveryTicket, packet: Packet, frees_slot: bool) {
        self.pending_acks.push_back(PendingAck {
            ticket,
            packet,
            frees_slot,
        });
    }

    /// Moves acknowledgements whose data is durable into the write buffer, in arrival order.
    pub(super) fn flush_ready_acks(&mut self) {
        while let Some(front) = self.pending_acks.front() {
            if !self.inner.persister.is_durable(front.ticket.local)
                || front.ticket.remote_pending().is_some()
            {
                break;
            }
            let Some(done) = self.pending_acks.pop_front() else {
                break;
            };
            if done.frees_slot {
                self.inbound_unacked = self.inbound_unacked.saturating_sub(1);
            }
            self.send(&done.packet);
        }
    }

    /// PUBREL for an inbound QoS 2 message: answer PUBCOMP.
    pub(super) fn on_pubrel(&mut self, id: NonZeroU16) {
        let known = self.session.state.lock().incoming_qos2.remove(&id.get());
        let reason = if known || self.protocol == ProtocolVersion::V311 {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        // Only the release of a publish this connection counted frees a slot of the window.
        self.queue_ack(
            DeliveryTicket::default(),
            Packet::PubComp(ack(id, reason)),
            known,
        );
    }

    /// PUBACK for an outbound QoS 1 delivery.
    pub(super) fn on_puback(&mut self, id: u16) {
        self.complete_outbound(id, QoS::AtLeastOnce);
    }

    pub(super) fn on_pubcomp(&mut self, id: u16) {
        self.complete_outbound(id, QoS::ExactlyOnce);
    }

    fn complete_outbound(&mut self, id: u16, qos: QoS) {
        let mut st = self.session.state.lock();
        let Some(pos) = st
            .inflight
            .iter()
            .position(|f| f.packet_id == id && f.out.qos == qos)
        else {
            return;
        };
        if let Some(done) = st.inflight.remove(pos)
            && let Some(seq) = done.out.seq
        {
            drop(st);
            self.submit_own(vec![BrokerOp::Dequeue {
                client_id: self.client_id.to_string(),
                seq,
            }]);
        }
    }

    /// PUBREC for an outbound QoS 2 delivery: release it with PUBREL.
    pub(super) fn on_pubrec(&mut self, id: NonZeroU16, reason: ReasonCode) {
        let mut st = self.session.state.lock();
        let Some(pos) = st
            .inflight
            .iter()
            .position(|f| f.packet_id == id.get() && f.out.qos == QoS::ExactlyOnce)
        else {
            drop(st);
            self.send(&Packet::PubRel(ack(
                id,
                ReasonCode::PacketIdentifierNotFound,
            )));
            return;
        };
        if reason.is_error() {
            // The client refused the message: the exchange ends here (spec 4.3.3).
            let done = st.inflight.remove(pos);
            drop(st);
            if let Some(seq) = done.and_then(|d| d.out.seq) {
                self.submit_own(vec![BrokerOp::Dequeue {
                    client_id: self.client_id.to_string(),
                    seq,
                }]);
            }
            return;
        }
        let mut op = None;
        if let Some(f) = st.inflight.get_mut(pos) {
            f.released = true;
            if let Some(seq) = f.out.seq {
                op = Some(BrokerOp::SetQueueState {
                    client_id: self.client_id.to_string(),
                    seq,
                    state: QueueState::Released,
                });
            }
        }
        drop(st);
        if let Some(op) = op {
            self.submit_own(vec![op]);
        }
        self.send(&Packet::PubRel(ack(id, ReasonCode::Success)));
    }

    pub(super) fn on_subscribe(&mut self, s: Subscribe) -> Result<(), Exit> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        let sub_id = s.properties.subscription_identifiers.first().copied();
        let v5 = self.protocol == ProtocolVersion::V5;
        let mut reasons = Vec::with_capacity(s.filters.len());
        let mut ops = Vec::new();
        let mut retained_jobs = Vec::new();
        let mut granted = Vec::new();
        for (i, (filter, mut options)) in s.filters.into_iter().enumerate() {
            let shared = ferrite_topic::parse_shared(&filter).is_some();
            if shared && options.no_local && v5 {
                return Err(Exit::error("protocol_error", ReasonCode::ProtocolError));
            }
            if i >= cfg.max_filters_per_subscribe {
                reasons.push(ReasonCode::QuotaExceeded);
                continue;
            }
            if ferrite_topic::validate_topic_filter(&filter, &inner.limits).is_err() {
                reasons.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            if !ferrite_topic::client_may_subscribe(&filter) || !self.perms.subscribe(&filter) {
                reasons.push(ReasonCode::NotAuthorized);
                continue;
            }
            options.qos = options
                .qos
                .min(QoS::from_u8(cfg.max_qos).unwrap_or(QoS::AtLeastOnce));
            let mut st = self.session.state.lock();
            let is_new = !st.subscriptions.contains_key(&filter);
            if is_new && st.subscriptions.len() >= cfg.max_subscriptions_per_session {
                reasons.push(ReasonCode::QuotaExceeded);
                continue;
            }
            st.subscriptions.insert(
                filter.clone(),
                Subscription {
                    options,
                    id: sub_id,
                },
            );
            let persistent = st.expiry_secs > 0;
            drop(st);
            inner
                .router
                .subscribe(&self.session, &filter, options, sub_id, &inner.metrics);
            if persistent {
                inner
                    .seams
                    .interest
                    .durable(&self.client_id, &filter, options.qos);
                ops.push(BrokerOp::PutSubscription(StoredSubscription {
                    client_id: self.client_id.to_string(),
                    filter: filter.clone(),
                    options: records::encode_subscription(&options, sub_id),
                }));
            }
            if self.presence.is_some() {
                granted.push(filter.clone());
            }
            if !shared {
                retained_jobs.push(NewSubscription {
                    filter,
                    options,
                    id: sub_id,
                    is_new,
                });
            }
            reasons.push(ReasonCode::granted(options.qos));
        }
        self.submit_own(ops);
        self.send(&Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            reasons,
            properties: Properties::default(),
        }));
        if let Some(conn) = &self.presence
            && !granted.is_empty()
        {
            inner.seams.lifecycle.observe(LifecycleEvent::Subscribed {
                conn: conn.clone(),
                at_ms: inner.now_ms(),
                topics: granted,
            });
        }
        let mut ops = Writes::default();
        for sub in &retained_jobs {
            inner.router.deliver_retained(
                &self.session,
                sub,
                cfg.max_queued_messages,
                inner.now_ms(),
                &inner.metrics,
                &mut ops,
            );
        }
        inner.persister.submit(ops);
        Ok(())
    }

    pub(super) fn on_unsubscribe(&mut self, u: Unsubscribe) {
        let mut reasons = Vec::with_capacity(u.filters.len());
        let mut ops = Vec::new();
        if let Some(conn) = &self.presence {
            self.inner
                .seams
                .lifecycle
                .observe(LifecycleEvent::Unsubscribed {
                    conn: conn.clone(),
                    at_ms: self.inner.now_ms(),
                    topics: u.filters.clone(),
                });
        }
        for filter in u.filters {
            let mut st = self.session.state.lock();
            let existed = st.subscriptions.remove(&filter).is_some();
            let persistent = st.expiry_secs > 0;
            drop(st);
            if existed {
                self.inner.router.unsubscribe(
                    self.session.uid,
                    [filter.as_str()],
                    &self.inner.metrics,
                );
                if persistent {
                    self.inner
                        .seams
                        .interest
                        .durable_removed(&self.client_id, &filter);
                    ops.push(BrokerOp::DeleteSubscription {
                        client_id: self.client_id.to_string(),
                        filter,
                    });
                }
            }
            reasons.push(if existed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        self.submit_own(ops);
        if self.protocol == ProtocolVersion::V311 {
            reasons.clear();
        }
        self.send(&Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            reasons,
            properties: Properties::default(),
        }));
    }

    pub(super) fn on_disconnect(&mut self, d: Disconnect) -> Exit {
        if let Some(expiry) = d.properties.session_expiry_interval {
            if self.connect_expiry == 0 && expiry != 0 {
                return Exit::error("protocol_error", ReasonCode::ProtocolError);
            }
            let granted = expiry.min(self.inner.cfg.max_session_expiry_secs);
            self.session.state.lock().expiry_secs = granted;
        }
        if d.reason == ReasonCode::DisconnectWithWill {
            return Exit {
                metric: "client_disconnect_with_will",
                send: None,
                publish_will: true,
            };
        }
        Exit {
            metric: "client_disconnect",
            send: None,
            publish_will: false,
        }
    }
}
