//! The idle scenario: N connections that CONNECT, SUBSCRIBE once and then only keep alive.
//! Reports the broker's resident memory growth per connection (VmRSS of `--broker-pid`
//! after the connections settled, minus before any was opened, divided by N).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::BytesMut;
use ferrite_mqtt_codec::Packet;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::mqtt::{self, Conn, PING_EVERY};
use crate::procfs::{round1, vm_rss_kb};
use crate::{Common, report};

/// Most connections the tool opens: the machine allows 20,000 open files per process, and
/// the broker needs a few for itself.
const MAX_CONNECTIONS: usize = 19_000;
/// Descriptors the tool keeps for itself (runtime, stdio, /proc reads).
const RESERVED_FDS: u64 = 64;

pub async fn run(
    requested: usize,
    concurrency: usize,
    nofile: u64,
    common: Common,
    addr: SocketAddr,
    threads: usize,
) -> Result<()> {
    if requested == 0 {
        bail!("--connections must be at least 1");
    }
    let by_fds = usize::try_from(nofile.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    let target = requested.min(MAX_CONNECTIONS).min(by_fds);
    if target < requested {
        eprintln!(
            "idle: capping {requested} connections at {target} (open-file limit {nofile}, tool maximum {MAX_CONNECTIONS})"
        );
    }
    let qos = mqtt::qos_of(common.qos);
    let rss = |pid: Option<u32>| pid.and_then(vm_rss_kb);
    let rss_before = rss(common.broker_pid);
    if common.broker_pid.is_some() && rss_before.is_none() {
        bail!("cannot read VmRSS of broker pid {:?}", common.broker_pid);
    }

    let alive = Arc::new(AtomicUsize::new(0));
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut holders = JoinSet::new();
    let mut opening = JoinSet::new();
    let started = Instant::now();
    let pid = std::process::id();
    let mut first_error = None;
    let mut opened = 0usize;
    let mut next = 0usize;
    // Open connections `concurrency` at a time; stop at the first failure (e.g. the broker's
    // or the kernel's limit), keeping those already open.
    while opened < target {
        while next < target && opening.len() < concurrency.max(1) && first_error.is_none() {
            let limit = limit.clone();
            let i = next;
            next += 1;
            opening.spawn(async move {
                let _permit = limit.acquire_owned().await?;
                let mut conn = Conn::connect(addr, &format!("fb-{pid}-idle-{i}"), 256).await?;
                conn.subscribe(&format!("bench/idle/{i}"), qos).await?;
                anyhow::Ok(conn)
            });
        }
        let Some(joined) = opening.join_next().await else {
            break;
        };
        match joined? {
            Ok(conn) => {
                opened += 1;
                alive.fetch_add(1, Ordering::Relaxed);
                holders.spawn(hold(conn, alive.clone()));
            }
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(format!("{e:#}"));
                }
            }
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    if let Some(e) = &first_error {
        eprintln!("idle: stopped opening connections after {opened}: {e}");
    }

    // Let the broker settle, then hold the connections for the duration; the last sample is
    // the one reported, the peak alongside it.
    tokio::time::sleep(Duration::from_secs_f64(common.warmup)).await;
    let mut rss_settled = rss(common.broker_pid);
    let mut rss_peak = rss_settled;
    let hold_until = Instant::now() + Duration::from_secs_f64(common.duration);
    while Instant::now() < hold_until {
        let left = hold_until - Instant::now();
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        let sample = rss(common.broker_pid);
        rss_peak = rss_peak.max(sample);
        rss_settled = sample.or(rss_settled);
    }
    let still_alive = alive.load(Ordering::Relaxed);
    holders.shutdown().await;

    let per_conn = match (rss_before, rss_settled) {
        (Some(b), Some(a)) if opened > 0 => {
            Some(round1(a.saturating_sub(b) as f64 / opened as f64))
        }
        _ => None,
    };
    let result = json!({
        "scenario": "idle",
        "label": common.label,
        "qos": common.qos,
        "connections_requested": requested,
        "connections": opened,
        "connections_alive": still_alive,
        "connect_s": round1(connect_secs),
        "connects_per_s": round1(opened as f64 / connect_secs.max(1e-9)),
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_settled,
        "rss_peak_kb": rss_peak,
        "kb_per_conn": per_conn,
        "tool_threads": threads,
        "errors": first_error.into_iter().collect::<Vec<_>>(),
    });
    let human = format!(
        "idle qos{} [{}]: {} connections ({} alive at the end) opened in {:.1} s; broker RSS {} -> {} KiB = {} KiB/connection",
        common.qos,
        common.label,
        opened,
        still_alive,
        connect_secs,
        rss_before.map_or("?".into(), |v| v.to_string()),
        rss_settled.map_or("?".into(), |v| v.to_string()),
        per_conn.map_or("? (no --broker-pid)".into(), |v| v.to_string()),
    );
    report(&result, &human);
    Ok(())
}

/// Keeps one connection open: answers nothing, sends PINGREQ every `PING_EVERY`, and counts
/// itself out of `alive` if the broker closes it.
async fn hold(conn: Conn, alive: Arc<AtomicUsize>) {
    let Conn {
        mut stream,
        mut rbuf,
    } = conn;
    let mut ping = BytesMut::new();
    if mqtt::encode(&Packet::PingReq, &mut ping).is_err() {
        return;
    }
    let mut tick = tokio::time::interval(PING_EVERY);
    tick.tick().await;
    loop {
        mqtt::reserve_read(&mut rbuf, 256);
        tokio::select! {
            r = stream.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while let Ok(Some(_)) = mqtt::decode(&mut rbuf) {}
                    rbuf.clear();
                }
            },
            _ = tick.tick() => {
                if stream.write_all(&ping).await.is_err() {
                    break;
                }
            }
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}
