//! The shadow scenario: devices report state and apps set desired state through the Device
//! Shadow service's MQTT API, each as a closed loop (send an update, wait for its own
//! `/update/accepted` or `/update/rejected`, matched by `clientToken`, send the next), with
//! up to `--outstanding` updates in flight per client (AWS allows 10).
//!
//! Device `i` updates `state.reported` of thing `bench-{run}-{i}`; app `j` updates
//! `state.desired` of the devices `i` with `i % apps == j`, round robin (at most 25 each: a
//! connection may hold 50 subscriptions). Every client
//! subscribes to the accepted/rejected topics of the shadows it updates, so each accepted
//! update reaches both the device and its app, as in a real fleet. Only what clients
//! receive counts: updates/s is accepted responses received in the measured window; the
//! round trip is from sending the update to receiving its answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use ferrite_mqtt_codec::{Packet, Publish, QoS};
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::mqtt::{self, Conn};
use crate::procfs::{cpu_percent, cpu_seconds, round1};
use crate::{Common, report};

/// AWS's limit of unanswered shadow requests per connection.
const MAX_OUTSTANDING: usize = 10;
/// AWS's (and Ferrite's default) limit of subscriptions per connection is 50: two per shadow.
const MAX_SHADOWS_PER_APP: usize = 25;

pub struct Plan {
    pub devices: usize,
    pub apps: usize,
    pub outstanding: usize,
}

/// One client's share of the run.
struct Role {
    client_id: String,
    /// The things whose shadows it updates, in round-robin order.
    things: Vec<String>,
    /// `reported` (device) or `desired` (app).
    section: &'static str,
}

#[derive(Default)]
struct Outcome {
    accepted: u64,
    rejected: u64,
    /// Rejection codes seen (e.g. 429, 409), with counts.
    codes: HashMap<u64, u64>,
    hist: Option<Histogram<u64>>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(rename = "clientToken")]
    client_token: Option<String>,
    code: Option<u64>,
}

pub async fn run(plan: Plan, common: Common, addr: SocketAddr) -> Result<()> {
    if plan.devices == 0 {
        bail!("--devices must be at least 1");
    }
    if plan.outstanding == 0 || plan.outstanding > MAX_OUTSTANDING {
        bail!("--outstanding must be 1..={MAX_OUTSTANDING} (AWS rejects more with 429)");
    }
    if plan.apps > 0 && plan.devices.div_ceil(plan.apps) > MAX_SHADOWS_PER_APP {
        bail!(
            "an app subscribes to 2 topics per shadow and a connection may hold 50 subscriptions: \
             use at least {} apps for {} devices",
            plan.devices.div_ceil(MAX_SHADOWS_PER_APP),
            plan.devices
        );
    }
    let run = format!("{:x}", crate::run_nonce() & 0xffff_ffff);
    let thing = |i: usize| format!("bench-{run}-{i}");
    let mut roles: Vec<Role> = (0..plan.devices)
        .map(|i| Role {
            client_id: format!("bench-dev-{run}-{i}"),
            things: vec![thing(i)],
            section: "reported",
        })
        .collect();
    for j in 0..plan.apps {
        roles.push(Role {
            client_id: format!("bench-app-{run}-{j}"),
            things: (j..plan.devices).step_by(plan.apps).map(thing).collect(),
            section: "desired",
        });
    }
    roles.retain(|r| !r.things.is_empty());

    let qos = mqtt::qos_of(common.qos);
    let limit = Arc::new(Semaphore::new(200));
    let mut connecting = JoinSet::new();
    for role in roles {
        let limit = limit.clone();
        connecting.spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let mut conn = Conn::connect(addr, &role.client_id, 16 * 1024).await?;
            for t in &role.things {
                for result in ["accepted", "rejected"] {
                    conn.subscribe(&format!("$aws/things/{t}/shadow/update/{result}"), qos)
                        .await?;
                }
            }
            anyhow::Ok((conn, role))
        });
    }
    let mut clients = Vec::new();
    while let Some(joined) = connecting.join_next().await {
        clients.push(joined.context("connect task")??);
    }

    let warmup = Duration::from_secs_f64(common.warmup);
    let duration = Duration::from_secs_f64(common.duration);
    let start = Instant::now();
    let window = (start + warmup, start + warmup + duration);
    let cpu_before = Arc::new(std::sync::Mutex::new(None::<f64>));
    let mut tasks = JoinSet::new();
    for (conn, role) in clients {
        tasks.spawn(client(conn, role, qos, plan.outstanding, window));
    }
    // The broker's CPU over the measured window.
    tokio::time::sleep_until(window.0.into()).await;
    *cpu_before.lock().unwrap_or_else(|p| p.into_inner()) = cpu_seconds(common.broker_pid);
    tokio::time::sleep_until(window.1.into()).await;
    let cpu_after = cpu_seconds(common.broker_pid);

    let mut total = Outcome {
        hist: Some(new_histogram()),
        ..Outcome::default()
    };
    let mut by_section = HashMap::<&str, u64>::new();
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.context("client task")? {
            Ok((section, done)) => {
                *by_section.entry(section).or_default() += done.accepted;
                total.accepted += done.accepted;
                total.rejected += done.rejected;
                for (code, n) in done.codes {
                    *total.codes.entry(code).or_default() += n;
                }
                if let (Some(t), Some(h)) = (total.hist.as_mut(), done.hist.as_ref()) {
                    t.add(h).context("merging histograms")?;
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let hist = total.hist.take().unwrap_or_else(new_histogram);
    let ms = |q: f64| round1(hist.value_at_quantile(q) as f64 / 1e6 * 10.0) / 10.0;
    let secs = duration.as_secs_f64();
    let rate = total.accepted as f64 / secs;
    let cpu = cpu_percent(
        *cpu_before.lock().unwrap_or_else(|p| p.into_inner()),
        cpu_after,
        secs,
    );
    let mut codes: Vec<_> = total.codes.iter().collect();
    codes.sort();
    let result = json!({
        "scenario": "shadow",
        "label": common.label,
        "devices": plan.devices,
        "apps": plan.apps,
        "outstanding": plan.outstanding,
        "qos": common.qos,
        "duration_s": secs,
        "accepted": total.accepted,
        "accepted_reported": by_section.get("reported").copied().unwrap_or(0),
        "accepted_desired": by_section.get("desired").copied().unwrap_or(0),
        "rejected": total.rejected,
        "rejected_codes": codes.iter().map(|(c, n)| json!({"code": c, "count": n})).collect::<Vec<_>>(),
        "updates_per_s": rate.round(),
        "rtt_ms": {
            "p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "p999": ms(0.999),
            "max": round1(hist.max() as f64 / 1e6 * 10.0) / 10.0,
        },
        "broker_cpu_percent": cpu,
        "errors": errors,
    });
    let human = format!(
        "shadow [{}]: {} devices + {} apps, {} outstanding each: {:.0} accepted updates/s \
         ({} reported, {} desired), {} rejected {:?}; round trip p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         broker CPU {}{}",
        common.label,
        plan.devices,
        plan.apps,
        plan.outstanding,
        rate,
        by_section.get("reported").copied().unwrap_or(0),
        by_section.get("desired").copied().unwrap_or(0),
        total.rejected,
        codes,
        ms(0.5),
        ms(0.99),
        round1(hist.max() as f64 / 1e6 * 10.0) / 10.0,
        cpu.map_or("n/a".into(), |c| format!("{c}%")),
        if errors.is_empty() {
            String::new()
        } else {
            format!("; {} client error(s): {}", errors.len(), errors[0])
        },
    );
    report(&result, &human);
    if total.accepted == 0 {
        bail!("no update was accepted");
    }
    Ok(())
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// One client's closed loop until the window ends, then it waits (up to 5 s) for the answers
/// still owed and stops.
async fn client(
    conn: Conn,
    role: Role,
    qos: QoS,
    outstanding: usize,
    (from, until): (Instant, Instant),
) -> Result<(&'static str, Outcome)> {
    let Conn {
        mut stream,
        mut rbuf,
    } = conn;
    let mut out = Outcome {
        hist: Some(new_histogram()),
        ..Outcome::default()
    };
    let topics: Vec<String> = role
        .things
        .iter()
        .map(|t| format!("$aws/things/{t}/shadow/update"))
        .collect();
    let mut pending: HashMap<String, Instant> = HashMap::new();
    let mut seq: u64 = 0;
    let mut packet_id: u16 = 0;
    let mut wbuf = BytesMut::with_capacity(4096);
    let give_up = until + Duration::from_secs(5);
    loop {
        let now = Instant::now();
        if now < until {
            while pending.len() < outstanding {
                seq += 1;
                let token = seq.to_string();
                let topic = &topics[(seq as usize) % topics.len()];
                let payload = json!({
                    "state": { role.section: { "value": seq % 100, "seq": seq } },
                    "clientToken": token,
                });
                let publish = Publish {
                    dup: false,
                    qos,
                    retain: false,
                    topic: topic.clone(),
                    packet_id: (qos != QoS::AtMostOnce).then(|| {
                        std::num::NonZeroU16::new(mqtt::next_packet_id(&mut packet_id))
                            .unwrap_or(std::num::NonZeroU16::MIN)
                    }),
                    payload: Bytes::from(payload.to_string()),
                    properties: Default::default(),
                };
                mqtt::encode(&Packet::Publish(publish), &mut wbuf)?;
                pending.insert(token, Instant::now());
            }
        } else if pending.is_empty() || now >= give_up {
            break;
        }
        if !wbuf.is_empty() {
            stream.write_all(&wbuf).await?;
            wbuf.clear();
        }
        mqtt::reserve_read(&mut rbuf, 16 * 1024);
        let read = tokio::time::timeout_at(give_up.into(), stream.read_buf(&mut rbuf)).await;
        match read {
            Err(_) => break,
            Ok(Ok(0)) => bail!("{}: connection closed by the broker", role.client_id),
            Ok(r) => {
                r?;
            }
        }
        let received = Instant::now();
        while let Some(packet) = mqtt::decode(&mut rbuf)? {
            let Packet::Publish(p) = packet else {
                continue;
            };
            if let Some(id) = p.packet_id
                && p.qos == QoS::AtLeastOnce
            {
                mqtt::encode_puback(id, &mut wbuf)?;
            }
            let Ok(resp) = serde_json::from_slice::<Response>(&p.payload) else {
                continue;
            };
            // Answers to the other party's updates of the same shadow carry its tokens.
            let Some(sent) = resp.client_token.and_then(|t| pending.remove(&t)) else {
                continue;
            };
            if received < from || received > until {
                continue;
            }
            if p.topic.ends_with("/accepted") {
                out.accepted += 1;
                if let Some(h) = out.hist.as_mut() {
                    h.saturating_record((received - sent).as_nanos().max(1) as u64);
                }
            } else {
                out.rejected += 1;
                *out.codes.entry(resp.code.unwrap_or(0)).or_default() += 1;
            }
        }
    }
    if !wbuf.is_empty() {
        let _ = stream.write_all(&wbuf).await;
    }
    Ok((role.section, out))
}
