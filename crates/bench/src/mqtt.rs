//! A minimal MQTT 3.1.1 client on `ferrite-mqtt-codec`: CONNECT, SUBSCRIBE, and a PUBLISH
//! template that is encoded once by the codec and then patched in place (timestamp, packet
//! id) for every message, so the publishing hot path neither allocates nor re-encodes.

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Bytes, BytesMut};
use ferrite_mqtt_codec::{
    self as codec, Connect, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Subscribe,
    SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const PROTOCOL: ProtocolVersion = ProtocolVersion::V311;
/// Largest packet the tool accepts from a broker.
pub const MAX_PACKET: usize = 16 * 1024 * 1024;
/// Keep-alive announced in CONNECT; long-lived clients send PINGREQ every `PING_EVERY`.
pub const KEEP_ALIVE_SECS: u16 = 60;
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// Bytes at the start of every payload: send timestamp (u64 BE, ns) and run nonce (u64 BE).
pub const PAYLOAD_HEADER: usize = 16;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Appends `packet`, encoded for MQTT 3.1.1, to `buf`.
pub fn encode(packet: &Packet, buf: &mut BytesMut) -> Result<()> {
    codec::encode(packet, PROTOCOL, buf).map_err(|e| anyhow!("encode {packet:?}: {e}"))?;
    Ok(())
}

/// Appends a PUBACK for `id` to `buf`.
pub fn encode_puback(id: NonZeroU16, buf: &mut BytesMut) -> Result<()> {
    encode(
        &Packet::PubAck(PubAck {
            packet_id: id,
            reason: ReasonCode::Success,
            properties: Default::default(),
        }),
        buf,
    )
}

/// Takes one packet off the front of `buf`, if complete.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Packet>> {
    codec::decode(buf, PROTOCOL, MAX_PACKET).map_err(|e| anyhow!("decode: {e}"))
}

/// Makes sure `buf` has room for a socket read of at least `min` bytes.
pub fn reserve_read(buf: &mut BytesMut, min: usize) {
    if buf.capacity() - buf.len() < min {
        buf.reserve(min);
    }
}

pub fn qos_of(level: u8) -> QoS {
    if level == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// A connected client: the socket and the bytes read but not yet decoded.
pub struct Conn {
    pub stream: TcpStream,
    pub rbuf: BytesMut,
}

impl Conn {
    /// Opens a TCP connection (TCP_NODELAY) and completes CONNECT / CONNACK.
    pub async fn connect(addr: SocketAddr, client_id: &str, rbuf_capacity: usize) -> Result<Conn> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            let stream = TcpStream::connect(addr)
                .await
                .with_context(|| format!("connect to {addr}"))?;
            stream.set_nodelay(true)?;
            let mut conn = Conn {
                stream,
                rbuf: BytesMut::with_capacity(rbuf_capacity),
            };
            conn.send(&Packet::Connect(Connect {
                protocol: PROTOCOL,
                clean_start: true,
                keep_alive: KEEP_ALIVE_SECS,
                client_id: client_id.to_owned(),
                will: None,
                username: None,
                password: None,
                properties: Default::default(),
            }))
            .await?;
            match conn.recv().await? {
                Packet::ConnAck(ack) if !ack.reason.is_error() => Ok(conn),
                Packet::ConnAck(ack) => bail!("{client_id}: connection refused: {:?}", ack.reason),
                other => bail!("{client_id}: expected CONNACK, got {other:?}"),
            }
        })
        .await
        .map_err(|_| anyhow!("{client_id}: no CONNACK within {HANDSHAKE_TIMEOUT:?}"))?
    }

    /// Subscribes to one filter and waits for its SUBACK.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<()> {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: NonZeroU16::MIN,
            filters: vec![(
                filter.to_owned(),
                SubscriptionOptions {
                    qos,
                    ..Default::default()
                },
            )],
            properties: Default::default(),
        }))
        .await?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            loop {
                match self.recv().await? {
                    Packet::SubAck(ack) => {
                        return match ack.reasons.first() {
                            Some(r) if !r.is_error() => Ok(()),
                            r => Err(anyhow!("subscription to {filter} refused: {r:?}")),
                        };
                    }
                    // Nothing else is expected before the SUBACK of a fresh session.
                    Packet::PingResp | Packet::Publish(_) => {}
                    other => bail!("expected SUBACK, got {other:?}"),
                }
            }
        })
        .await
        .map_err(|_| anyhow!("no SUBACK for {filter} within {HANDSHAKE_TIMEOUT:?}"))?
    }

    pub async fn send(&mut self, packet: &Packet) -> Result<()> {
        let mut buf = BytesMut::new();
        encode(packet, &mut buf)?;
        self.stream.write_all(&buf).await?;
        Ok(())
    }

    pub async fn recv(&mut self) -> Result<Packet> {
        loop {
            if let Some(packet) = decode(&mut self.rbuf)? {
                return Ok(packet);
            }
            reserve_read(&mut self.rbuf, 4096);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                bail!("connection closed by the broker");
            }
        }
    }
}

/// A PUBLISH encoded once by the codec; `append` copies it and patches the send timestamp and
/// (QoS 1) the packet identifier.
pub struct PublishTemplate {
    bytes: Vec<u8>,
    payload_offset: usize,
    packet_id_offset: Option<usize>,
}

impl PublishTemplate {
    pub fn new(topic: &str, qos: QoS, payload_size: usize, nonce: u64) -> Result<Self> {
        if payload_size < PAYLOAD_HEADER {
            bail!("payload size must be at least {PAYLOAD_HEADER} bytes");
        }
        let mut payload = vec![b'x'; payload_size];
        payload[8..16].copy_from_slice(&nonce.to_be_bytes());
        let packet = Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.to_owned(),
            packet_id: (qos != QoS::AtMostOnce).then_some(NonZeroU16::MIN),
            payload: Bytes::from(payload),
            properties: Default::default(),
        });
        let mut buf = BytesMut::new();
        encode(&packet, &mut buf)?;
        // MQTT 3.1.1 PUBLISH: fixed header, topic, [packet id], payload (no properties).
        let payload_offset = buf.len() - payload_size;
        let packet_id_offset = (qos != QoS::AtMostOnce).then_some(payload_offset - 2);
        Ok(PublishTemplate {
            bytes: buf.to_vec(),
            payload_offset,
            packet_id_offset,
        })
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn append(&self, out: &mut BytesMut, sent_ns: u64, packet_id: u16) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let ts = start + self.payload_offset;
        out[ts..ts + 8].copy_from_slice(&sent_ns.to_be_bytes());
        if let Some(off) = self.packet_id_offset {
            out[start + off..start + off + 2].copy_from_slice(&packet_id.to_be_bytes());
        }
    }
}

/// The send timestamp of a payload made by this run (`nonce`), or `None` for a foreign one.
pub fn payload_timestamp(payload: &[u8], nonce: u64) -> Option<u64> {
    if payload.len() < PAYLOAD_HEADER || payload[8..16] != nonce.to_be_bytes() {
        return None;
    }
    Some(u64::from_be_bytes(payload[..8].try_into().ok()?))
}

/// Packet identifiers 1..=65535, wrapping. With an in-flight window far below 65535 an
/// identifier is never reused while still unacknowledged.
pub fn next_packet_id(id: &mut u16) -> u16 {
    *id = id.wrapping_add(1);
    if *id == 0 {
        *id = 1;
    }
    *id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_patches_decode_back() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let t = PublishTemplate::new("bench/p2p/17", qos, 64, 0xABCD).unwrap();
            let mut buf = BytesMut::new();
            t.append(&mut buf, 123_456_789, 300);
            t.append(&mut buf, 42, 301);
            for (ts, id) in [(123_456_789, 300), (42, 301)] {
                let Some(Packet::Publish(p)) = decode(&mut buf).unwrap() else {
                    panic!("not a publish")
                };
                assert_eq!(p.topic, "bench/p2p/17");
                assert_eq!(p.qos, qos);
                assert_eq!(p.payload.len(), 64);
                assert_eq!(payload_timestamp(&p.payload, 0xABCD), Some(ts));
                assert_eq!(payload_timestamp(&p.payload, 0xABCE), None);
                assert_eq!(
                    p.packet_id.map(|id| id.get()),
                    (qos != QoS::AtMostOnce).then_some(id)
                );
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn packet_ids_skip_zero() {
        let mut id = u16::MAX - 1;
        assert_eq!(next_packet_id(&mut id), u16::MAX);
        assert_eq!(next_packet_id(&mut id), 1);
    }
}
