//! `ferrite-bench`: an MQTT load generator that counts what subscribers receive.
//! Scenarios: fan-in (many publishers, one subscriber), fan-out (one publisher, many
//! subscribers), point-to-point pairs, and idle connections (broker memory per connection).
//! Prints one JSON line per run for `scripts/bench.sh` to tabulate.

mod client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use ferrite_mqtt_codec::QoS;
use hdrhistogram::Histogram;

use client::Run;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    Fanin,
    Fanout,
    P2p,
    Idle,
}

#[derive(Parser, Debug)]
#[command(about = "MQTT load generator for Ferrite and other brokers")]
struct Args {
    #[arg(value_enum)]
    scenario: Scenario,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 1883)]
    port: u16,
    #[arg(long, default_value_t = 0)]
    qos: u8,
    #[arg(long, default_value_t = 64)]
    payload_size: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Publishers (fan-in) / subscribers (fan-out) / pairs (p2p) / connections (idle).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Broker process id, for the idle scenario's memory reading.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Label printed with the results.
    #[arg(long, default_value = "broker")]
    label: String,
}

fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr: SocketAddr = format!("{}:{}", args.host, args.port).parse()?;
    let qos = if args.qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    };
    if let Scenario::Idle = args.scenario {
        return idle(&args, addr).await;
    }
    let run = Arc::new(Run::default());
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(1024);
    let mut subs = Vec::new();
    let mut pubs = Vec::new();
    let n = args.clients;
    let (sub_specs, pub_specs): (Vec<(String, String)>, Vec<(String, String)>) = match args.scenario
    {
        Scenario::Fanin => (
            vec![("sub-0".into(), "bench/fanin/#".into())],
            (0..n)
                .map(|i| (format!("pub-{i}"), format!("bench/fanin/{i}")))
                .collect(),
        ),
        Scenario::Fanout => (
            (0..n)
                .map(|i| (format!("sub-{i}"), "bench/fanout".into()))
                .collect(),
            vec![("pub-0".into(), "bench/fanout".into())],
        ),
        Scenario::P2p => (
            (0..n)
                .map(|i| (format!("sub-{i}"), format!("bench/p2p/{i}")))
                .collect(),
            (0..n)
                .map(|i| (format!("pub-{i}"), format!("bench/p2p/{i}")))
                .collect(),
        ),
        Scenario::Idle => unreachable!(),
    };
    let n_subs = sub_specs.len();
    for (id, filter) in sub_specs {
        subs.push(tokio::spawn(client::subscriber(
            addr,
            id,
            filter,
            qos,
            run.clone(),
            ready_tx.clone(),
        )));
    }
    for _ in 0..n_subs {
        tokio::time::timeout(Duration::from_secs(30), ready_rx.recv())
            .await
            .context("subscribers not ready")?;
    }
    for (id, topic) in pub_specs {
        pubs.push(tokio::spawn(client::publisher(
            addr,
            id,
            topic,
            qos,
            args.payload_size,
            run.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    run.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    run.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    run.stop.store(true, Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for s in subs {
        match s.await? {
            Ok(h) => hist.add(h)?,
            Err(e) => eprintln!("subscriber failed: {e:#}"),
        }
    }
    for p in pubs {
        if let Err(e) = p.await? {
            eprintln!("publisher failed: {e:#}");
        }
    }
    let received = run.received.load(Ordering::Relaxed);
    let sent = run.sent.load(Ordering::Relaxed);
    let expected = match args.scenario {
        Scenario::Fanout => sent * n as u64,
        _ => sent,
    };
    let result = serde_json::json!({
        "label": args.label,
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "qos": args.qos,
        "clients": n,
        "payload_size": args.payload_size,
        "seconds": elapsed,
        "sent": sent,
        "received": received,
        "received_per_sec": received as f64 / elapsed,
        "delivery_ratio": if expected > 0 { received as f64 / expected as f64 } else { 0.0 },
        "p50_us": hist.value_at_quantile(0.5),
        "p99_us": hist.value_at_quantile(0.99),
        "max_us": hist.max(),
    });
    println!("{result}");
    Ok(())
}

/// Opens `clients` connections that each subscribe once and then stay idle, and reports the
/// broker's resident memory growth per connection.
async fn idle(args: &Args, addr: SocketAddr) -> anyhow::Result<()> {
    let pid = args
        .broker_pid
        .context("--broker-pid is required for the idle scenario")?;
    let before = rss_kb(pid)?;
    let mut conns = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let (mut rd, mut wr, mut buf) = client::connect(addr, &format!("idle-{i}")).await?;
        client::subscribe(
            &mut rd,
            &mut wr,
            &mut buf,
            &format!("bench/idle/{i}"),
            QoS::AtLeastOnce,
        )
        .await?;
        conns.push((rd, wr));
    }
    let after = rss_kb(pid)?;
    let per = (after.saturating_sub(before)) as f64 / args.clients as f64;
    let result = serde_json::json!({
        "label": args.label,
        "scenario": "idle",
        "clients": args.clients,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_connection": per,
    });
    println!("{result}");
    drop(conns);
    Ok(())
}
