//! The message scenarios (fan-in, fan-out, point-to-point): connect every subscriber, then
//! every publisher, publish for `warmup + duration` seconds, drain, and report.
//!
//! Counting rules:
//! - `recv_per_s`: messages subscribers received during the measured window (by receive
//!   time), divided by its length: the broker's delivered throughput.
//! - `sent_per_s`: messages publishers wrote to their sockets during the window (the publish
//!   rate attempted).
//! - `loss_pct`: of the messages sent during the window (by send timestamp), the share a
//!   subscriber that should have received them had not received once drained (every
//!   expected message arrived, nothing arrived for a second, or `--drain` passed; in the last
//!   case `still_delivering` is set: part of the "loss" may only be late).
//! - latency: receive time minus the send timestamp in the payload, for every message
//!   received during the window (the same messages `recv_per_s` counts).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use ferrite_mqtt_codec::{Disconnect, Packet, QoS, ReasonCode};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, timeout_at};

use crate::mqtt::{self, Conn, PING_EVERY, PublishTemplate};
use crate::procfs::{cpu_percent, cpu_seconds, round1};
use crate::{Common, report, run_nonce};

/// Who publishes where and who subscribes to what.
pub struct Plan {
    scenario: &'static str,
    /// Topic of each publisher.
    publishers: Vec<String>,
    /// Filter of each subscriber and the publishers whose messages it should receive.
    subscribers: Vec<(String, Vec<usize>)>,
}

impl Plan {
    pub fn fanin(publishers: usize) -> Plan {
        Plan {
            scenario: "fanin",
            publishers: (0..publishers)
                .map(|i| format!("bench/fanin/{i}"))
                .collect(),
            subscribers: vec![("bench/fanin/#".into(), (0..publishers).collect())],
        }
    }

    pub fn fanout(subscribers: usize) -> Plan {
        Plan {
            scenario: "fanout",
            publishers: vec!["bench/fanout".into()],
            subscribers: (0..subscribers)
                .map(|_| ("bench/fanout".into(), vec![0]))
                .collect(),
        }
    }

    /// p2p through the rules engine: publishers on `bench/rin/{i}`, subscribers on the rule's
    /// republish topics `bench/rout/{i}`.
    pub fn rules(pairs: usize) -> Plan {
        Plan {
            scenario: "rules",
            publishers: (0..pairs).map(|i| format!("bench/rin/{i}")).collect(),
            subscribers: (0..pairs)
                .map(|i| (format!("bench/rout/{i}"), vec![i]))
                .collect(),
        }
    }

    pub fn p2p(pairs: usize) -> Plan {
        Plan {
            scenario: "p2p",
            publishers: (0..pairs).map(|i| format!("bench/p2p/{i}")).collect(),
            subscribers: (0..pairs)
                .map(|i| (format!("bench/p2p/{i}"), vec![i]))
                .collect(),
        }
    }
}

/// The run's clock: timestamps are nanoseconds since `base`, shared by every client of this
/// process, so latency needs no clock synchronisation.
struct Clock {
    base: Instant,
    warm_end_ns: u64,
    meas_end_ns: u64,
}

impl Clock {
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn at(&self, ns: u64) -> tokio::time::Instant {
        (self.base + Duration::from_nanos(ns)).into()
    }

    fn in_window(&self, ns: u64) -> bool {
        ns >= self.warm_end_ns && ns < self.meas_end_ns
    }
}

struct Settings {
    qos: QoS,
    batch: usize,
    inflight: usize,
    /// Messages per second per publisher; `None` = as fast as possible.
    rate_each: Option<f64>,
    nonce: u64,
    drain: Duration,
}

/// Runs a scenario; publishers connect to `addr`, subscribers to `sub_addr` and run on `subs`,
/// a runtime of their own.
pub async fn run(
    plan: Plan,
    common: Common,
    addr: SocketAddr,
    sub_addr: SocketAddr,
    subs: Handle,
    threads: usize,
) -> Result<()> {
    if plan.publishers.is_empty() || plan.subscribers.is_empty() {
        bail!("a scenario needs at least one publisher and one subscriber");
    }
    let qos = mqtt::qos_of(common.qos);
    let settings = Arc::new(Settings {
        qos,
        batch: common.batch,
        inflight: common.inflight,
        rate_each: common.rate.map(|r| r / plan.publishers.len() as f64),
        nonce: run_nonce(),
        drain: Duration::from_secs_f64(common.drain),
    });
    let pid = std::process::id();

    // Subscribers first, so that nothing published is missed.
    let sub_ids: Vec<(String, String)> = plan
        .subscribers
        .iter()
        .enumerate()
        .map(|(i, (filter, _))| (format!("fb-{pid}-sub-{i}"), filter.clone()))
        .collect();
    let sub_conns = connect_all(&subs, sub_addr, sub_ids, Some(qos), 256 * 1024)
        .await
        .context("connecting subscribers")?;
    let pub_ids: Vec<(String, String)> = (0..plan.publishers.len())
        .map(|i| (format!("fb-{pid}-pub-{i}"), String::new()))
        .collect();
    let pubs = connect_all(&Handle::current(), addr, pub_ids, None, 4096)
        .await
        .context("connecting publishers")?;

    let templates = plan
        .publishers
        .iter()
        .map(|topic| PublishTemplate::new(topic, qos, common.payload_size, settings.nonce))
        .collect::<Result<Vec<_>>>()?;

    let warm_ns = (common.warmup * 1e9) as u64;
    let clock = Arc::new(Clock {
        base: Instant::now(),
        warm_end_ns: warm_ns,
        meas_end_ns: warm_ns + (common.duration * 1e9) as u64,
    });

    let expected: Vec<Arc<AtomicU64>> = plan
        .subscribers
        .iter()
        .map(|_| Arc::new(AtomicU64::new(u64::MAX)))
        .collect();
    let mut sub_tasks = Vec::new();
    for (conn, exp) in sub_conns.into_iter().zip(&expected) {
        sub_tasks.push(subs.spawn(subscriber(
            conn,
            clock.clone(),
            settings.clone(),
            exp.clone(),
        )));
    }
    let mut pub_tasks = Vec::new();
    for (conn, template) in pubs.into_iter().zip(templates) {
        pub_tasks.push(tokio::spawn(publisher(
            conn,
            template,
            clock.clone(),
            settings.clone(),
        )));
    }

    // CPU use of the broker and of this tool over the measured window.
    sleep_until(clock.at(clock.warm_end_ns)).await;
    let (broker_cpu0, tool_cpu0) = (
        common.broker_pid.and_then(|p| cpu_seconds(Some(p))),
        cpu_seconds(None),
    );
    sleep_until(clock.at(clock.meas_end_ns)).await;
    let (broker_cpu1, tool_cpu1) = (
        common.broker_pid.and_then(|p| cpu_seconds(Some(p))),
        cpu_seconds(None),
    );

    let mut errors = Vec::new();
    let mut sent_window = Vec::new();
    let mut publishers_done = Vec::new();
    for task in pub_tasks {
        match task.await? {
            Ok(done) => {
                sent_window.push(done.sent_window);
                publishers_done.push(done);
            }
            Err(e) => {
                errors.push(format!("publisher: {e:#}"));
                sent_window.push(0);
            }
        }
    }
    for ((_, from), exp) in plan.subscribers.iter().zip(&expected) {
        let total: u64 = from.iter().map(|&i| sent_window[i]).sum();
        exp.store(total, Ordering::Release);
    }

    let mut hist = new_histogram();
    let (mut received, mut recv_in_window, mut foreign) = (0u64, 0u64, 0u64);
    let (mut still_delivering, mut drain_s) = (false, 0f64);
    for task in sub_tasks {
        match task.await? {
            Ok(s) => {
                hist.add(&s.hist).ok();
                received += s.received;
                recv_in_window += s.recv_in_window;
                foreign += s.foreign;
                still_delivering |= s.still_delivering;
                drain_s = drain_s.max(s.drain_s);
            }
            Err(e) => errors.push(format!("subscriber: {e:#}")),
        }
    }
    // Publishers stay connected until every subscriber is done: closing a socket with unread
    // PUBACKs makes the kernel reset it, and the broker could lose what it had not yet read.
    for done in publishers_done {
        done.close().await;
    }

    let duration = common.duration;
    let sent: u64 = sent_window.iter().sum();
    let expected_total: u64 = expected.iter().map(|e| e.load(Ordering::Acquire)).sum();
    let loss_pct = if expected_total == 0 {
        0.0
    } else {
        (expected_total.saturating_sub(received)) as f64 * 100.0 / expected_total as f64
    };
    let us = |ns: u64| round1(ns as f64 / 1000.0);
    let latency = if hist.is_empty() {
        json!(null)
    } else {
        json!({
            "p50": us(hist.value_at_quantile(0.50)),
            "p90": us(hist.value_at_quantile(0.90)),
            "p99": us(hist.value_at_quantile(0.99)),
            "p999": us(hist.value_at_quantile(0.999)),
            "max": us(hist.max()),
            "mean": us(hist.mean() as u64),
        })
    };
    let recv_per_s = recv_in_window as f64 / duration;
    let sent_per_s = sent as f64 / duration;
    let broker_cpu = cpu_percent(broker_cpu0, broker_cpu1, duration);
    let tool_cpu = cpu_percent(tool_cpu0, tool_cpu1, duration);
    let result = json!({
        "scenario": plan.scenario,
        "label": common.label,
        "qos": common.qos,
        "publishers": plan.publishers.len(),
        "subscribers": plan.subscribers.len(),
        "payload_size": common.payload_size,
        "warmup_s": common.warmup,
        "duration_s": duration,
        "target_rate": common.rate,
        "inflight": common.inflight,
        "sent": sent,
        "sent_per_s": round1(sent_per_s),
        "expected": expected_total,
        "received": received,
        "recv_per_s": round1(recv_per_s),
        "loss_pct": (loss_pct * 1000.0).round() / 1000.0,
        "foreign": foreign,
        "drain_s": round1(drain_s),
        "still_delivering": still_delivering,
        "latency_us": latency,
        "broker_cpu_pct": broker_cpu,
        "tool_cpu_pct": tool_cpu,
        "tool_threads": threads,
        "errors": errors,
    });
    let lat = if hist.is_empty() {
        "no latency samples".to_owned()
    } else {
        format!(
            "latency p50 {} us, p99 {} us, max {} us",
            us(hist.value_at_quantile(0.5)),
            us(hist.value_at_quantile(0.99)),
            us(hist.max())
        )
    };
    let cpu = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v}%"));
    let human = format!(
        "{} qos{} [{}] {} pub -> {} sub, {} B: received {:.0} msg/s (sent {:.0} msg/s), loss {:.3}%{}, {}; cpu broker {} tool {}{}",
        plan.scenario,
        common.qos,
        common.label,
        plan.publishers.len(),
        plan.subscribers.len(),
        common.payload_size,
        recv_per_s,
        sent_per_s,
        loss_pct,
        if still_delivering {
            " (broker still delivering at the end of the drain)"
        } else {
            ""
        },
        lat,
        cpu(broker_cpu),
        cpu(tool_cpu),
        if errors.is_empty() {
            String::new()
        } else {
            format!("; {} client error(s): {}", errors.len(), errors[0])
        },
    );
    report(&result, &human);
    Ok(())
}

fn new_histogram() -> Histogram<u64> {
    // Nanoseconds, 1 ns to 1 hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// Opens the connections `ids` (client id, filter) on `runtime`, at most 200 at a time;
/// subscribes each to its filter when `subscribe` gives a QoS.
async fn connect_all(
    runtime: &Handle,
    addr: SocketAddr,
    ids: Vec<(String, String)>,
    subscribe: Option<QoS>,
    rbuf_capacity: usize,
) -> Result<Vec<Conn>> {
    let limit = Arc::new(Semaphore::new(200));
    let mut set = JoinSet::new();
    for (i, (id, filter)) in ids.into_iter().enumerate() {
        let limit = limit.clone();
        set.spawn_on(
            async move {
                let _permit = limit.acquire_owned().await?;
                let mut conn = Conn::connect(addr, &id, rbuf_capacity).await?;
                if let Some(qos) = subscribe {
                    conn.subscribe(&filter, qos).await?;
                }
                anyhow::Ok((i, conn))
            },
            runtime,
        );
    }
    let mut conns = Vec::new();
    while let Some(joined) = set.join_next().await {
        conns.push(joined??);
    }
    conns.sort_by_key(|(i, _)| *i);
    Ok(conns.into_iter().map(|(_, c)| c).collect())
}

struct PublisherDone {
    sent_window: u64,
    writer: OwnedWriteHalf,
    reader: tokio::task::JoinHandle<()>,
}

impl PublisherDone {
    async fn close(mut self) {
        let mut buf = BytesMut::new();
        let disconnect = Packet::Disconnect(Disconnect {
            reason: ReasonCode::Success,
            properties: Default::default(),
        });
        if mqtt::encode(&disconnect, &mut buf).is_ok() {
            let _ = timeout(Duration::from_secs(1), self.writer.write_all(&buf)).await;
        }
        let _ = self.writer.shutdown().await;
        self.reader.abort();
    }
}

/// Publishes from the start of the run to the end of the measured window, `batch` messages per
/// write at most; QoS 1 keeps at most `inflight` publishes unacknowledged.
async fn publisher(
    conn: Conn,
    template: PublishTemplate,
    clock: Arc<Clock>,
    settings: Arc<Settings>,
) -> Result<PublisherDone> {
    let Conn { stream, rbuf } = conn;
    let (reader_half, mut writer) = stream.into_split();
    let window = Arc::new(Semaphore::new(settings.inflight));
    let reader = tokio::spawn(publisher_reader(reader_half, rbuf, window.clone()));
    let qos1 = settings.qos != QoS::AtMostOnce;
    let end = clock.at(clock.meas_end_ns);
    let mut out = BytesMut::with_capacity(settings.batch * template.len());
    let mut packet_id = 0u16;
    let (mut sent_total, mut sent_window) = (0u64, 0u64);
    let mut last_write = Instant::now();
    let mut ping = BytesMut::new();
    mqtt::encode(&Packet::PingReq, &mut ping)?;
    loop {
        let now = clock.now_ns();
        if now >= clock.meas_end_ns {
            break;
        }
        let mut n = settings.batch;
        if let Some(rate) = settings.rate_each {
            let due = (rate * now as f64 / 1e9) as u64;
            let owed = due.saturating_sub(sent_total);
            if owed == 0 {
                // Sleep until the next message is due (a PINGREQ now and then keeps a very
                // slow publisher's session alive).
                if last_write.elapsed() >= PING_EVERY {
                    writer.write_all(&ping).await?;
                    last_write = Instant::now();
                }
                let next_ns = ((sent_total + 1) as f64 / rate * 1e9) as u64;
                let wake = clock
                    .at(next_ns.min(clock.meas_end_ns))
                    .min(tokio::time::Instant::now() + PING_EVERY);
                sleep_until(wake).await;
                continue;
            }
            n = n.min(owed as usize);
        }
        if qos1 {
            // Wait until a quarter of the window (or a batch, or what is owed) is free rather
            // than writing one message per PUBACK: fewer, larger writes, same pipelining.
            let refill = n.min(settings.inflight.div_ceil(4)).max(1);
            if window.available_permits() < refill {
                // The permits go straight back once there are enough.
                match timeout_at(end, window.acquire_many(refill as u32)).await {
                    Ok(Ok(_permit)) => continue,
                    Ok(Err(_)) => bail!("the PUBACK reader stopped: connection lost"),
                    Err(_) => break,
                }
            }
            n = n.min(window.available_permits());
            window
                .try_acquire_many(n as u32)
                .expect("only this task takes permits")
                .forget();
        }
        for _ in 0..n {
            template.append(&mut out, now, mqtt::next_packet_id(&mut packet_id));
        }
        match timeout_at(end + Duration::from_secs(2), writer.write_all(&out)).await {
            Ok(r) => r.context("publishing")?,
            // The broker stopped reading: what this batch held was not sent.
            Err(_) => break,
        }
        out.clear();
        last_write = Instant::now();
        sent_total += n as u64;
        if now >= clock.warm_end_ns {
            sent_window += n as u64;
        }
    }
    Ok(PublisherDone {
        sent_window,
        writer,
        reader,
    })
}

/// Reads a publisher's PUBACKs, each returning one slot of the in-flight window.
async fn publisher_reader(mut rd: OwnedReadHalf, mut buf: BytesMut, window: Arc<Semaphore>) {
    loop {
        let mut acks = 0;
        loop {
            match mqtt::decode(&mut buf) {
                Ok(Some(Packet::PubAck(_))) => acks += 1,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    window.close();
                    return;
                }
            }
        }
        if acks > 0 {
            window.add_permits(acks);
        }
        mqtt::reserve_read(&mut buf, 4096);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                window.close();
                return;
            }
            Ok(_) => {}
        }
    }
}

struct SubscriberDone {
    /// Latency of the messages received during the window.
    hist: Histogram<u64>,
    /// Messages sent during the window that this subscriber received (any time).
    received: u64,
    /// Messages this subscriber received during the window (whenever sent).
    recv_in_window: u64,
    foreign: u64,
    /// The drain time ran out while messages were still arriving.
    still_delivering: bool,
    /// Seconds from the end of the window until this subscriber stopped.
    drain_s: f64,
}

/// Receives until the window has ended and either all `expected` messages arrived, nothing
/// arrived for a second, or the drain time passed. QoS 1 publishes are acknowledged, all the
/// PUBACKs of one socket read in one write.
async fn subscriber(
    conn: Conn,
    clock: Arc<Clock>,
    settings: Arc<Settings>,
    expected: Arc<AtomicU64>,
) -> Result<SubscriberDone> {
    let Conn {
        mut stream,
        mut rbuf,
    } = conn;
    let mut done = SubscriberDone {
        hist: new_histogram(),
        received: 0,
        recv_in_window: 0,
        foreign: 0,
        still_delivering: false,
        drain_s: 0.0,
    };
    let mut acks = BytesMut::with_capacity(4096);
    let window_end = sleep_until(clock.at(clock.meas_end_ns));
    tokio::pin!(window_end);
    let mut ended = false;
    let drain_deadline = clock.base + Duration::from_nanos(clock.meas_end_ns) + settings.drain;
    let quiet = Duration::from_secs(1);
    let mut last_rx = Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        if ended {
            let exp = expected.load(Ordering::Acquire);
            let now = Instant::now();
            let quiet_now = now - last_rx >= quiet;
            if (exp != u64::MAX && (done.received >= exp || quiet_now)) || now >= drain_deadline {
                done.still_delivering = now >= drain_deadline && !quiet_now;
                done.drain_s = now
                    .saturating_duration_since(clock.base + Duration::from_nanos(clock.meas_end_ns))
                    .as_secs_f64();
                break;
            }
        }
        mqtt::reserve_read(&mut rbuf, 64 * 1024);
        let n = if ended {
            match timeout(Duration::from_millis(100), stream.read_buf(&mut rbuf)).await {
                Ok(r) => r?,
                Err(_) => continue,
            }
        } else {
            tokio::select! {
                r = stream.read_buf(&mut rbuf) => r?,
                _ = &mut window_end => {
                    ended = true;
                    continue;
                }
                _ = ping.tick() => {
                    mqtt::encode(&Packet::PingReq, &mut acks)?;
                    stream.write_all(&acks).await?;
                    acks.clear();
                    continue;
                }
            }
        };
        if n == 0 {
            bail!("connection closed by the broker");
        }
        let rx_ns = clock.now_ns();
        last_rx = Instant::now();
        let rx_in_window = clock.in_window(rx_ns);
        while let Some(packet) = mqtt::decode(&mut rbuf)? {
            let Packet::Publish(publish) = packet else {
                continue;
            };
            if let Some(id) = publish.packet_id
                && publish.qos == QoS::AtLeastOnce
            {
                mqtt::encode_puback(id, &mut acks)?;
            }
            let Some(sent_ns) = mqtt::payload_timestamp(&publish.payload, settings.nonce) else {
                done.foreign += 1;
                continue;
            };
            if rx_in_window {
                done.recv_in_window += 1;
                done.hist
                    .saturating_record(rx_ns.saturating_sub(sent_ns).max(1));
            }
            if clock.in_window(sent_ns) {
                done.received += 1;
            }
        }
        if !acks.is_empty() {
            stream.write_all(&acks).await?;
            acks.clear();
        }
    }
    Ok(done)
}
