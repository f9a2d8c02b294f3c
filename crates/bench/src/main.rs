//! ferrite-bench: an MQTT 3.1.1 load generator for Ferrite (and any other broker).
//!
//! Every scenario prints one JSON line of results on stdout and a human-readable summary on
//! stderr. Throughput counts what subscribers receive, never what the broker acknowledges.

// A load generator measures and drives the real world: real time, its own tasks.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod idle;
mod jobs;
mod load;
mod mqtt;
mod procfs;
mod rules;
mod shadow;

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ferrite-bench",
    version,
    about = "MQTT 3.1.1 load generator for Ferrite"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// P publishers -> 1 subscriber on bench/fanin/#.
    Fanin {
        #[arg(long, default_value_t = 50)]
        publishers: usize,
        #[command(flatten)]
        common: Common,
    },
    /// 1 publisher -> S subscribers on bench/fanout.
    Fanout {
        #[arg(long, default_value_t = 50)]
        subscribers: usize,
        #[command(flatten)]
        common: Common,
    },
    /// N pairs: publisher i -> subscriber i on bench/p2p/i.
    P2p {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        #[command(flatten)]
        common: Common,
    },
    /// N pairs through the rules engine (Ferrite only): publisher i -> bench/rin/i -> a topic
    /// rule that filters and republishes -> bench/rout/i -> subscriber i. The rule is created
    /// through the API before the run (signed with the given keys) and deleted after it.
    Rules {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        /// The API listener, host:port.
        #[arg(long)]
        api: String,
        #[arg(long, env = "AWS_ACCESS_KEY_ID")]
        access_key_id: String,
        #[arg(long, env = "AWS_SECRET_ACCESS_KEY")]
        secret_access_key: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[command(flatten)]
        common: Common,
    },
    /// N things in one group, each a device on MQTT; one job with an unlimited rollout on the
    /// group, every device takes it through start-next -> SUCCEEDED (Ferrite only). Reports
    /// executions/s and the notify-next latency. Things are created through the API first.
    Jobs {
        #[arg(long, default_value_t = 1000)]
        things: usize,
        /// The API listener, host:port.
        #[arg(long)]
        api: String,
        #[arg(long, env = "AWS_ACCESS_KEY_ID")]
        access_key_id: String,
        #[arg(long, env = "AWS_SECRET_ACCESS_KEY")]
        secret_access_key: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[command(flatten)]
        common: Common,
    },
    /// D devices update reported state, A apps update desired state of the devices' shadows,
    /// over the Device Shadow service's MQTT topics (Ferrite only: plain brokers have no
    /// shadow service); reports accepted updates/s and the update round trip.
    Shadow {
        #[arg(long, default_value_t = 500)]
        devices: usize,
        /// At least devices / 25: an app subscribes to 2 topics per shadow, 50 at most.
        #[arg(long, default_value_t = 20)]
        apps: usize,
        /// Unanswered updates per client (1..=10; AWS rejects more with 429).
        #[arg(long, default_value_t = 1)]
        outstanding: usize,
        #[command(flatten)]
        common: Common,
    },
    /// N idle connections (CONNECT + one SUBSCRIBE each); reports the broker's RSS per
    /// connection (needs --broker-pid).
    Idle {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Connections being opened at once.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 1883)]
    pub port: u16,
    /// Port the subscribers connect to on the same host, when not --port: another node of a
    /// cluster, so that every message crosses between nodes.
    #[arg(long)]
    pub sub_port: Option<u16>,
    /// QoS of publishes and subscriptions (QoS 1: subscribers send PUBACKs).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Payload bytes per message (at least 16: send timestamp + run nonce).
    #[arg(long, default_value_t = 64)]
    pub payload_size: usize,
    /// Measured seconds (for idle: how long the connections are held after settling).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring (for idle: settle time before the RSS sample).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Total publish rate in msgs/s across all publishers; unset = as fast as possible.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Unacknowledged QoS 1 publishes per publisher.
    #[arg(long, default_value_t = 100)]
    pub inflight: usize,
    /// Most messages per socket write.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Longest wait after the measured window for in-flight messages to arrive, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Broker process id: its CPU use and (idle) RSS growth are reported.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Name of the broker in the results (e.g. ferrite, mosquitto).
    #[arg(long, default_value = "broker")]
    pub label: String,
    /// Tokio worker threads per side (publishers, subscribers); 0 = one per CPU the process
    /// may run on (respects taskset).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl Common {
    fn validate(&self) -> Result<()> {
        if self.payload_size < mqtt::PAYLOAD_HEADER {
            bail!("--payload-size must be at least {}", mqtt::PAYLOAD_HEADER);
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let not_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !positive(self.duration) || !not_negative(self.warmup) || !not_negative(self.drain) {
            bail!("--duration must be positive, --warmup and --drain not negative");
        }
        if self.inflight == 0 || self.inflight > 10_000 || self.batch == 0 {
            bail!("--inflight must be 1..=10000 and --batch at least 1");
        }
        if let Some(rate) = self.rate
            && !positive(rate)
        {
            bail!("--rate must be positive");
        }
        Ok(())
    }

    async fn resolve(&self) -> Result<SocketAddr> {
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("resolve {}", self.host))?
            .next()
            .with_context(|| format!("{} has no address", self.host))
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let common = match &cli.scenario {
        Scenario::Fanin { common, .. }
        | Scenario::Fanout { common, .. }
        | Scenario::P2p { common, .. }
        | Scenario::Rules { common, .. }
        | Scenario::Jobs { common, .. }
        | Scenario::Shadow { common, .. }
        | Scenario::Idle { common, .. } => common.clone(),
    };
    common.validate()?;
    // Idle opens thousands of sockets: use the whole hard limit on open files.
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let threads = match common.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Publishers (and setup) run on one runtime, subscribers on another: on a single pinned
    // core the kernel then shares the CPU between the two sides, so a subscriber's reads and
    // PUBACKs are not queued behind dozens of busy publisher tasks on the same worker.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("bench-pub")
        .enable_all()
        .build()?;
    let sub_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("bench-sub")
        .enable_all()
        .build()?;
    let subs = sub_runtime.handle().clone();
    let result = runtime.block_on(async move {
        let addr = common.resolve().await?;
        let sub_addr = common
            .sub_port
            .map_or(addr, |port| SocketAddr::new(addr.ip(), port));
        let run_load = |plan, common| load::run(plan, common, addr, sub_addr, subs, threads);
        match cli.scenario {
            Scenario::Fanin { publishers, common } => {
                run_load(load::Plan::fanin(publishers), common).await
            }
            Scenario::Fanout {
                subscribers,
                common,
            } => run_load(load::Plan::fanout(subscribers), common).await,
            Scenario::P2p { pairs, common } => run_load(load::Plan::p2p(pairs), common).await,
            Scenario::Rules {
                pairs,
                api,
                access_key_id,
                secret_access_key,
                region,
                common,
            } => {
                let api = rules::Api {
                    addr: api,
                    access_key_id,
                    secret_access_key,
                    region,
                };
                rules::create(&api, common.qos)?;
                let result = run_load(load::Plan::rules(pairs), common).await;
                let _ = rules::delete(&api);
                result
            }
            Scenario::Jobs {
                things,
                api,
                access_key_id,
                secret_access_key,
                region,
                common,
            } => {
                let api = rules::Api {
                    addr: api,
                    access_key_id,
                    secret_access_key,
                    region,
                };
                jobs::run(things, api, common, addr).await
            }
            Scenario::Shadow {
                devices,
                apps,
                outstanding,
                common,
            } => {
                let plan = shadow::Plan {
                    devices,
                    apps,
                    outstanding,
                };
                shadow::run(plan, common, addr).await
            }
            Scenario::Idle {
                connections,
                concurrency,
                common,
            } => idle::run(connections, concurrency, nofile, common, addr, threads).await,
        }
    });
    sub_runtime.shutdown_background();
    runtime.shutdown_background();
    result
}

/// A nonce that tells this run's messages apart from anyone else's on the same broker.
pub fn run_nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32) | 1
}

/// Prints the JSON result line on stdout and the summary on stderr.
pub fn report(json: &serde_json::Value, human: &str) {
    println!("{json}");
    eprintln!("{human}");
}
