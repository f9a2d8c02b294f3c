//! The jobs scenario (Ferrite only): N things in one thing group, each a simulated device on
//! its own MQTT connection subscribed to its jobs topics; one job with an unlimited rollout
//! targets the group, and every device takes its execution through start-next → SUCCEEDED.
//! Reports executions completed per second (from CreateJob to the last SUCCEEDED accepted)
//! and the latency of `notify-next` (from CreateJob's answer to each device's notification).
//! Things, group and job are created through the API (signed with the given keys) and the job
//! and group are deleted after the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use ferrite_mqtt_codec::{Packet, Publish, QoS};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::mqtt::Conn;
use crate::procfs::{cpu_percent, cpu_seconds, round1};
use crate::rules::Api;
use crate::{Common, report};

/// Threads creating things through the API at once.
const SETUP_THREADS: usize = 8;
/// Longest a device waits for its next step.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

fn ok(api: &Api, method: &str, path: &str, body: Value) -> Result<Value> {
    let (status, text) = api.call(method, path, &body.to_string())?;
    if status != 200 {
        bail!("{method} {path} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates `things` and puts them in `group`, on a few threads.
fn setup(api: &Api, group: &str, things: &[String]) -> Result<()> {
    ok(api, "POST", &format!("/thing-groups/{group}"), json!({}))?;
    std::thread::scope(|s| {
        let chunks: Vec<&[String]> = things
            .chunks(things.len().div_ceil(SETUP_THREADS).max(1))
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || -> Result<()> {
                    for t in chunk {
                        ok(api, "POST", &format!("/things/{t}"), json!({}))?;
                        ok(
                            api,
                            "PUT",
                            "/thing-groups/addThingToThingGroup",
                            json!({"thingGroupName": group, "thingName": t}),
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| anyhow::anyhow!("setup thread panicked"))?
        })
    })
}

fn publish(topic: String, payload: Value) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic,
        packet_id: None,
        payload: Bytes::from(payload.to_string()),
        properties: Default::default(),
    })
}

/// One device: waits for its execution, starts it, reports SUCCEEDED. Returns when it was
/// notified and when its SUCCEEDED was accepted.
async fn device(mut conn: Conn, thing: String, job: String) -> Result<(Instant, Instant)> {
    let base = format!("$aws/things/{thing}/jobs");
    let (notify_next, started, updated) = (
        format!("{base}/notify-next"),
        format!("{base}/start-next/accepted"),
        format!("{base}/{job}/update/accepted"),
    );
    let mut notified = None;
    loop {
        let packet = tokio::time::timeout(STEP_TIMEOUT, conn.recv())
            .await
            .with_context(|| format!("{thing}: no jobs message within {STEP_TIMEOUT:?}"))??;
        let Packet::Publish(p) = packet else { continue };
        let at = Instant::now();
        if p.topic == notify_next && notified.is_none() {
            let body: Value = serde_json::from_slice(&p.payload)?;
            if body["execution"]["jobId"] == job.as_str() {
                notified = Some(at);
                conn.send(&publish(format!("{base}/start-next"), json!({})))
                    .await?;
            }
        } else if p.topic == started {
            conn.send(&publish(
                format!("{base}/{job}/update"),
                json!({"status": "SUCCEEDED"}),
            ))
            .await?;
        } else if p.topic == updated {
            return Ok((notified.unwrap_or(at), at));
        } else if p.topic.ends_with("/rejected") {
            bail!("{thing}: {} {:?}", p.topic, p.payload);
        }
    }
}

pub async fn run(things: usize, api: Api, common: Common, addr: SocketAddr) -> Result<()> {
    if things == 0 {
        bail!("--things must be at least 1");
    }
    let run = format!("{:x}", crate::run_nonce() & 0xffff_ffff);
    let group = format!("bench-jobs-{run}");
    let job = format!("bench-job-{run}");
    let names: Vec<String> = (0..things).map(|i| format!("bench-{run}-{i}")).collect();
    let setup_started = Instant::now();
    {
        let (api, group, names) = (api.clone(), group.clone(), names.clone());
        tokio::task::spawn_blocking(move || setup(&api, &group, &names)).await??;
    }
    eprintln!(
        "created {things} things in {:.1}s",
        setup_started.elapsed().as_secs_f64()
    );

    let limit = Arc::new(Semaphore::new(200));
    let mut connecting = JoinSet::new();
    for t in names {
        let limit = limit.clone();
        connecting.spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let mut conn = Conn::connect(addr, &t, 4 * 1024).await?;
            conn.subscribe(&format!("$aws/things/{t}/jobs/#"), QoS::AtMostOnce)
                .await?;
            anyhow::Ok((conn, t))
        });
    }
    let mut devices = JoinSet::new();
    while let Some(joined) = connecting.join_next().await {
        let (conn, thing) = joined.context("connect task")??;
        devices.spawn(device(conn, thing, job.clone()));
    }

    let cpu_before = cpu_seconds(common.broker_pid);
    let created_at = Instant::now();
    {
        let (api, group, job) = (api.clone(), group.clone(), job.clone());
        tokio::task::spawn_blocking(move || {
            let arn =
                ok(&api, "GET", &format!("/thing-groups/{group}"), Value::Null)?["thingGroupArn"]
                    .as_str()
                    .context("the group's ARN")?
                    .to_owned();
            ok(
                &api,
                "PUT",
                &format!("/jobs/{job}"),
                json!({"targets": [arn], "document": "{\"op\":\"bench\"}"}),
            )
        })
        .await??;
    }
    let answered_at = Instant::now();
    let mut notify = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)?;
    let mut last_done = answered_at;
    let mut failed = 0usize;
    while let Some(joined) = devices.join_next().await {
        match joined.context("device task")? {
            Ok((notified, done)) => {
                let ns = notified.saturating_duration_since(answered_at).as_nanos() as u64;
                notify.record(ns.max(1))?;
                last_done = last_done.max(done);
            }
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("device failed: {e:#}");
                }
            }
        }
    }
    let cpu_after = cpu_seconds(common.broker_pid);
    let elapsed = last_done.duration_since(created_at).as_secs_f64();
    let completed = things - failed;
    let rate = completed as f64 / elapsed.max(1e-9);
    let ms = |ns: u64| round1(ns as f64 / 1e6);
    let cpu = cpu_percent(cpu_before, cpu_after, elapsed);
    {
        let (api, group, job) = (api.clone(), group.clone(), job.clone());
        tokio::task::spawn_blocking(move || {
            let _ = api.call("DELETE", &format!("/jobs/{job}?force=true"), "");
            let _ = api.call("DELETE", &format!("/thing-groups/{group}"), "");
        })
        .await?;
    }
    let json = json!({
        "scenario": "jobs",
        "label": common.label,
        "things": things,
        "completed": completed,
        "failed": failed,
        "seconds": round1(elapsed),
        "executions_per_sec": round1(rate),
        "create_job_ms": ms(answered_at.duration_since(created_at).as_nanos() as u64),
        "notify_ms": {
            "p50": ms(notify.value_at_quantile(0.5)),
            "p99": ms(notify.value_at_quantile(0.99)),
            "max": ms(notify.max()),
        },
        "broker_cpu_percent": cpu,
    });
    let human = format!(
        "jobs [{}]: {completed}/{things} executions SUCCEEDED in {:.1}s = {:.1}/s; notify-next \
         p50 {} ms, p99 {} ms, max {} ms after CreateJob answered ({} ms){}",
        common.label,
        elapsed,
        rate,
        ms(notify.value_at_quantile(0.5)),
        ms(notify.value_at_quantile(0.99)),
        ms(notify.max()),
        ms(answered_at.duration_since(created_at).as_nanos() as u64),
        cpu.map_or(String::new(), |c| format!("; broker CPU {c}%")),
    );
    report(&json, &human);
    if failed > 0 {
        bail!("{failed} devices did not finish");
    }
    Ok(())
}
