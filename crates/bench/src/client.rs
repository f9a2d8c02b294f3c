//! Minimal MQTT 3.1.1 load clients on Ferrite's codec: a publisher that pipelines PUBLISH
//! packets (QoS 1 within a bounded window of unacknowledged messages), and a subscriber that
//! counts what it receives and records end-to-end latency from a timestamp in the payload.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use ferrite_mqtt_codec::{
    Connect, Packet, PacketId, Properties, ProtocolVersion, PubAck, Publish, QoS, ReasonCode,
    Subscribe, SubscriptionOptions, decode, encode,
};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const V: ProtocolVersion = ProtocolVersion::V311;
/// Unacknowledged QoS 1 publishes per publisher (the common broker default window).
const WINDOW: u64 = 100;

pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Shared run state: phase flags and counters that every client updates.
#[derive(Default)]
pub struct Run {
    pub measuring: AtomicBool,
    pub stop: AtomicBool,
    pub sent: AtomicU64,
    pub received: AtomicU64,
}

async fn read_packet(rd: &mut OwnedReadHalf, buf: &mut BytesMut) -> anyhow::Result<Packet> {
    loop {
        if let Some(p) = decode(buf, V, usize::MAX)? {
            return Ok(p);
        }
        buf.reserve(64 * 1024);
        if rd.read_buf(buf).await? == 0 {
            bail!("broker closed the connection");
        }
    }
}

pub async fn connect(
    addr: SocketAddr,
    client_id: &str,
) -> anyhow::Result<(OwnedReadHalf, OwnedWriteHalf, BytesMut)> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.into_split();
    let mut out = BytesMut::new();
    let c = Connect {
        protocol: V,
        clean_start: true,
        keep_alive: 600,
        client_id: client_id.into(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    };
    encode(&Packet::Connect(c), V, &mut out)?;
    wr.write_all(&out).await?;
    let mut buf = BytesMut::new();
    match read_packet(&mut rd, &mut buf).await? {
        Packet::ConnAck(a) if a.reason == ReasonCode::Success => Ok((rd, wr, buf)),
        other => bail!("connect refused: {other:?}"),
    }
}

pub async fn subscribe(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    buf: &mut BytesMut,
    filter: &str,
    qos: QoS,
) -> anyhow::Result<()> {
    let mut out = BytesMut::new();
    let s = Subscribe {
        packet_id: PacketId::new(1).expect("non-zero"),
        filters: vec![(
            filter.into(),
            SubscriptionOptions {
                qos,
                ..Default::default()
            },
        )],
        properties: Properties::default(),
    };
    encode(&Packet::Subscribe(s), V, &mut out)?;
    wr.write_all(&out).await?;
    loop {
        if let Packet::SubAck(_) = read_packet(rd, buf).await? {
            return Ok(());
        }
    }
}

/// Receives until `run.stop`, acknowledging QoS 1, counting and timing during measurement.
pub async fn subscriber(
    addr: SocketAddr,
    id: String,
    filter: String,
    qos: QoS,
    run: Arc<Run>,
    ready: tokio::sync::mpsc::Sender<()>,
) -> anyhow::Result<Histogram<u64>> {
    let (mut rd, mut wr, mut buf) = connect(addr, &id).await?;
    subscribe(&mut rd, &mut wr, &mut buf, &filter, qos).await?;
    ready.send(()).await.ok();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut acks = BytesMut::new();
    loop {
        if run.stop.load(Ordering::Relaxed) {
            return Ok(hist);
        }
        // Decode everything buffered, then acknowledge in one write.
        while let Some(p) = decode(&mut buf, V, usize::MAX)? {
            if let Packet::Publish(p) = p {
                if run.measuring.load(Ordering::Relaxed) {
                    run.received.fetch_add(1, Ordering::Relaxed);
                    if p.payload.len() >= 8 {
                        let sent = u64::from_be_bytes(p.payload[..8].try_into().unwrap_or([0; 8]));
                        let us = now_nanos().saturating_sub(sent) / 1000;
                        hist.saturating_record(us.max(1));
                    }
                }
                if let Some(packet_id) = p.packet_id {
                    let a = PubAck {
                        packet_id,
                        reason: ReasonCode::Success,
                        properties: Properties::default(),
                    };
                    encode(&Packet::PubAck(a), V, &mut acks)?;
                }
            }
        }
        if !acks.is_empty() {
            wr.write_all(&acks).await?;
            acks.clear();
        }
        buf.reserve(64 * 1024);
        match tokio::time::timeout(Duration::from_millis(200), rd.read_buf(&mut buf)).await {
            Ok(Ok(0)) => bail!("broker closed subscriber {id}"),
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => return Err(e.into()),
        }
    }
}

/// Publishes `topic` at full speed (QoS 1: within `WINDOW` unacknowledged) until `run.stop`.
pub async fn publisher(
    addr: SocketAddr,
    id: String,
    topic: String,
    qos: QoS,
    payload_size: usize,
    run: Arc<Run>,
) -> anyhow::Result<()> {
    let (mut rd, mut wr, mut buf) = connect(addr, &id).await?;
    let acked = Arc::new(AtomicU64::new(0));
    let ack_wake = Arc::new(tokio::sync::Notify::new());
    let reader = {
        let acked = acked.clone();
        let ack_wake = ack_wake.clone();
        let run = run.clone();
        tokio::spawn(async move {
            while !run.stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(
                    Duration::from_millis(200),
                    read_packet(&mut rd, &mut buf),
                )
                .await
                {
                    Ok(Ok(Packet::PubAck(_))) => {
                        acked.fetch_add(1, Ordering::Release);
                        ack_wake.notify_one();
                    }
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(_)) => return,
                }
            }
        })
    };
    let filler = Bytes::from(vec![b'x'; payload_size.saturating_sub(8)]);
    let mut out = BytesMut::new();
    let mut next_id: u16 = 0;
    let mut sent: u64 = 0;
    while !run.stop.load(Ordering::Relaxed) {
        // A small batch per write keeps syscalls down without hiding latency.
        for _ in 0..16 {
            if qos == QoS::AtLeastOnce && sent - acked.load(Ordering::Acquire) >= WINDOW {
                break;
            }
            let mut payload = BytesMut::with_capacity(payload_size.max(8));
            payload.put_u64(now_nanos());
            payload.put_slice(&filler);
            let packet_id = if qos == QoS::AtMostOnce {
                None
            } else {
                next_id = next_id.wrapping_add(1).max(1);
                PacketId::new(next_id)
            };
            let p = Publish {
                dup: false,
                qos,
                retain: false,
                topic: topic.clone(),
                packet_id,
                payload: payload.freeze(),
                properties: Properties::default(),
            };
            encode(&Packet::Publish(p), V, &mut out)?;
            sent += 1;
            if run.measuring.load(Ordering::Relaxed) {
                run.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        if out.is_empty() {
            // Window full: wait for the next PUBACK (bounded, so `stop` is seen).
            let _ = tokio::time::timeout(Duration::from_millis(100), ack_wake.notified()).await;
            continue;
        }
        wr.write_all(&out).await?;
        out.clear();
    }
    reader.abort();
    Ok(())
}
