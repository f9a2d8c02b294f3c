//! A raw MQTT client for tests: sends any packet (or raw bytes) and awaits replies with a
//! timeout; a missing reply fails the test with a message instead of hanging it.

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrite_mqtt_codec::{
    ConnAck, Connect, Packet, Properties, ProtocolVersion, PubAck, Publish, QoS, ReasonCode,
    SubAck, Subscribe, SubscriptionOptions, decode, encode,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::WAIT;

/// Any byte stream a test client can talk over: a TCP socket, or one end of an in-memory
/// duplex pipe whose other end a broker serves.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientStream for T {}

pub struct TestClient {
    pub stream: Box<dyn ClientStream>,
    pub protocol: ProtocolVersion,
    rbuf: BytesMut,
    next_id: u16,
}

pub fn pid(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("packet id is non-zero")
}

impl TestClient {
    pub async fn open(addr: SocketAddr, protocol: ProtocolVersion) -> TestClient {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("tcp connect");
        stream.set_nodelay(true).ok();
        TestClient::over(Box::new(stream), protocol)
    }

    /// A client over an already open stream.
    pub fn over(stream: Box<dyn ClientStream>, protocol: ProtocolVersion) -> TestClient {
        TestClient {
            stream,
            protocol,
            rbuf: BytesMut::new(),
            next_id: 0,
        }
    }

    pub fn next_packet_id(&mut self) -> NonZeroU16 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        pid(self.next_id)
    }

    pub async fn send(&mut self, p: &Packet) {
        let mut buf = BytesMut::new();
        encode(p, self.protocol, &mut buf).expect("encode");
        self.stream.write_all(&buf).await.expect("write");
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next packet, or `None` if the server closed the connection.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Packet>, &'static str> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(p) = decode(&mut self.rbuf, self.protocol, usize::MAX)
                .expect("server sent a valid packet")
            {
                return Ok(Some(p));
            }
            self.rbuf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => return Err("timed out"),
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next packet; fails the test on timeout or close.
    pub async fn recv(&mut self) -> Packet {
        match self.recv_within(WAIT).await {
            Ok(Some(p)) => p,
            Ok(None) => panic!("connection closed while waiting for a packet"),
            Err(e) => panic!("no packet: {e}"),
        }
    }

    /// Asserts nothing arrives within `wait` (for "must not be delivered" checks).
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(Some(p)) = self.recv_within(wait).await {
            panic!("unexpected packet {p:?}");
        }
    }

    /// Waits for the server to close; returns the DISCONNECT it sent first, if any.
    pub async fn expect_closed(&mut self) -> Option<Packet> {
        let mut last = None;
        loop {
            match self.recv_within(WAIT).await {
                Ok(None) => return last,
                Ok(Some(p)) => last = Some(p),
                Err(e) => panic!("server did not close the connection: {e}"),
            }
        }
    }

    pub async fn connect_with(&mut self, c: Connect) -> ConnAck {
        self.send(&Packet::Connect(c)).await;
        match self.recv().await {
            Packet::ConnAck(a) => a,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub async fn subscribe_opts(
        &mut self,
        filter: &str,
        options: SubscriptionOptions,
        props: Properties,
    ) -> SubAck {
        let packet_id = self.next_packet_id();
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: vec![(filter.to_string(), options)],
            properties: props,
        }))
        .await;
        match self.recv().await {
            Packet::SubAck(a) => a,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> SubAck {
        let ack = self
            .subscribe_opts(
                filter,
                SubscriptionOptions {
                    qos,
                    ..Default::default()
                },
                Properties::default(),
            )
            .await;
        assert!(
            !ack.reasons[0].is_error(),
            "subscribe to {filter} refused: {:?}",
            ack.reasons
        );
        ack
    }

    /// Publishes and, for QoS 1/2, completes the acknowledgement exchange.
    pub async fn publish_with(&mut self, mut p: Publish) -> Option<PubAck> {
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            p.packet_id = Some(self.next_packet_id());
        }
        let qos = p.qos;
        self.send(&Packet::Publish(p)).await;
        match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => match self.recv().await {
                Packet::PubAck(a) => Some(a),
                other => panic!("expected PUBACK, got {other:?}"),
            },
            QoS::ExactlyOnce => {
                let rec = match self.recv().await {
                    Packet::PubRec(a) => a,
                    other => panic!("expected PUBREC, got {other:?}"),
                };
                self.send(&Packet::PubRel(PubAck {
                    packet_id: rec.packet_id,
                    reason: ReasonCode::Success,
                    properties: Properties::default(),
                }))
                .await;
                match self.recv().await {
                    Packet::PubComp(_) => Some(rec),
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
            }
        }
    }

    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &'static [u8],
        qos: QoS,
        retain: bool,
    ) -> Option<PubAck> {
        self.publish_with(publish(topic, payload, qos, retain))
            .await
    }

    /// Receives the next PUBLISH (acknowledging it at QoS 1/2).
    pub async fn recv_publish(&mut self) -> Publish {
        let p = match self.recv().await {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        };
        self.ack(&p).await;
        p
    }

    /// The JSON payload of the next message on `topic`, skipping (and acknowledging) others.
    pub async fn next_json_on(&mut self, topic: &str) -> serde_json::Value {
        loop {
            let p = self.recv_publish().await;
            if &*p.topic == topic {
                return serde_json::from_slice(&p.payload).expect("a JSON payload");
            }
        }
    }

    /// Sends the acknowledgement a receiver owes for `p`.
    pub async fn ack(&mut self, p: &Publish) {
        let Some(id) = p.packet_id else { return };
        let a = PubAck {
            packet_id: id,
            reason: ReasonCode::Success,
            properties: Properties::default(),
        };
        match p.qos {
            QoS::AtLeastOnce => self.send(&Packet::PubAck(a)).await,
            QoS::ExactlyOnce => {
                self.send(&Packet::PubRec(a)).await;
                match self.recv().await {
                    Packet::PubRel(r) => {
                        self.send(&Packet::PubComp(PubAck {
                            packet_id: r.packet_id,
                            ..a_default()
                        }))
                        .await
                    }
                    other => panic!("expected PUBREL, got {other:?}"),
                }
            }
            QoS::AtMostOnce => {}
        }
    }

    /// Sends DISCONNECT and returns once the server has closed the connection, so the
    /// session is released when this returns.
    pub async fn disconnect(mut self) {
        self.send(&Packet::Disconnect(ferrite_mqtt_codec::Disconnect {
            reason: ReasonCode::Success,
            properties: Properties::default(),
        }))
        .await;
        let _ = self.stream.shutdown().await;
        loop {
            match self.recv_within(WAIT).await {
                Ok(None) => return,
                Ok(Some(_)) => {}
                Err(e) => panic!("server did not close after DISCONNECT: {e}"),
            }
        }
    }
}

fn a_default() -> PubAck {
    PubAck {
        packet_id: pid(1),
        reason: ReasonCode::Success,
        properties: Properties::default(),
    }
}

/// `c` with a QoS 1 will on `topic` (payload `gone`), delayed by `delay` seconds if given.
pub fn with_will(mut c: Connect, topic: &str, delay: Option<u32>) -> Connect {
    c.will = Some(ferrite_mqtt_codec::Will {
        topic: topic.into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties {
            will_delay_interval: delay,
            ..Properties::default()
        },
    });
    c
}

pub fn publish(topic: &str, payload: &'static [u8], qos: QoS, retain: bool) -> Publish {
    Publish {
        dup: false,
        qos,
        retain,
        topic: topic.to_string(),
        packet_id: None,
        payload: Bytes::from_static(payload),
        properties: Properties::default(),
    }
}

pub fn connect_packet(protocol: ProtocolVersion, client_id: &str, clean_start: bool) -> Connect {
    Connect {
        protocol,
        clean_start,
        keep_alive: 60,
        client_id: client_id.to_string(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

/// Opens and CONNECTs an MQTT 3.1.1 client; asserts the CONNACK is a success.
pub async fn connect_v311(addr: SocketAddr, client_id: &str, clean: bool) -> (TestClient, ConnAck) {
    let mut c = TestClient::open(addr, ProtocolVersion::V311).await;
    let ack = c
        .connect_with(connect_packet(ProtocolVersion::V311, client_id, clean))
        .await;
    assert_eq!(ack.reason, ReasonCode::Success, "connect refused");
    (c, ack)
}

/// Opens and CONNECTs an MQTT 5 client with the given CONNECT properties.
pub async fn connect_v5(
    addr: SocketAddr,
    client_id: &str,
    clean: bool,
    props: Properties,
) -> (TestClient, ConnAck) {
    let mut c = TestClient::open(addr, ProtocolVersion::V5).await;
    let mut p = connect_packet(ProtocolVersion::V5, client_id, clean);
    p.properties = props;
    let ack = c.connect_with(p).await;
    assert_eq!(ack.reason, ReasonCode::Success, "connect refused");
    (c, ack)
}
