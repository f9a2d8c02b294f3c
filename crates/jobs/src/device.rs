//! The device side's wire forms, without I/O: the MQTT topics under
//! `$aws/things/{thing}/jobs/`, the request payloads of `get`, `start-next`, `{jobId}/get` and
//! `{jobId}/update`, and the documents devices receive (`JobExecution`,
//! `JobExecutionSummary`, `JobExecutionState`, the `/rejected` error). Over MQTT timestamps are
//! seconds since the epoch and `jobDocument` is a JSON object.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::details::StatusDetails;
use crate::execution::{DeviceUpdate, JobExecution};
use crate::{ExecutionStatus, JobError, check_job_id};

/// The job id that names the head of a thing's pending list in `{jobId}/get`.
pub const NEXT: &str = "$next";

/// What a device asks on a request topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRequestKind {
    /// `jobs/get`: GetPendingJobExecutions.
    GetPending,
    /// `jobs/start-next`: StartNextPendingJobExecution.
    StartNext,
    /// `jobs/{jobId}/get`: DescribeJobExecution (`$next` for the head of the pending list).
    Describe { job_id: String },
    /// `jobs/{jobId}/update`: UpdateJobExecution.
    Update { job_id: String },
}

/// A topic under `$aws/things/{thing}/jobs/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobsTopic<'a> {
    Request {
        thing: &'a str,
        kind: DeviceRequestKind,
    },
    /// A topic the service publishes (responses, `notify`, `notify-next`): not a request.
    ServiceOwned,
    /// A topic that maps to no operation: answered with `InvalidTopic` on `{topic}/rejected`.
    Invalid { thing: &'a str },
}

/// The jobs topic `topic` is, or `None` for a topic outside `$aws/things/{thing}/jobs/`.
pub fn parse_topic(topic: &str) -> Option<JobsTopic<'_>> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("jobs")?;
    if thing.is_empty() {
        return None;
    }
    let rest = match rest {
        "" => return Some(JobsTopic::Invalid { thing }),
        r => r.strip_prefix('/')?,
    };
    let levels: Vec<&str> = rest.split('/').collect();
    if matches!(levels.last(), Some(&"accepted") | Some(&"rejected"))
        || matches!(levels[..], ["notify"] | ["notify-next"])
    {
        return Some(JobsTopic::ServiceOwned);
    }
    let kind = match levels[..] {
        ["get"] => DeviceRequestKind::GetPending,
        ["start-next"] => DeviceRequestKind::StartNext,
        [job, "get"] if job == NEXT || check_job_id(job).is_ok() => DeviceRequestKind::Describe {
            job_id: job.to_owned(),
        },
        [job, "update"] if check_job_id(job).is_ok() => DeviceRequestKind::Update {
            job_id: job.to_owned(),
        },
        _ => return Some(JobsTopic::Invalid { thing }),
    };
    Some(JobsTopic::Request { thing, kind })
}

/// `{request topic}/accepted` or `/rejected`.
pub fn response_topic(request_topic: &str, accepted: bool) -> String {
    format!(
        "{request_topic}/{}",
        if accepted { "accepted" } else { "rejected" }
    )
}

/// `$aws/things/{thing}/jobs/notify`.
pub fn notify_topic(thing: &str) -> String {
    format!("$aws/things/{thing}/jobs/notify")
}

/// `$aws/things/{thing}/jobs/notify-next`.
pub fn notify_next_topic(thing: &str) -> String {
    format!("$aws/things/{thing}/jobs/notify-next")
}

/// A request payload, parsed. `client_token` is echoed in the response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceRequest {
    pub client_token: Option<String>,
    /// `start-next` and `update`.
    pub status_details: Option<StatusDetails>,
    pub step_timeout_minutes: Option<i64>,
    /// `{jobId}/get` and `update`.
    pub execution_number: Option<u64>,
    /// `{jobId}/get` (default true) and `update` (default false).
    pub include_job_document: Option<bool>,
    /// `update`.
    pub update: DeviceUpdate,
    pub include_job_execution_state: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    client_token: Option<String>,
    status: Option<String>,
    status_details: Option<StatusDetails>,
    expected_version: Option<u64>,
    execution_number: Option<u64>,
    include_job_execution_state: Option<bool>,
    include_job_document: Option<bool>,
    step_timeout_in_minutes: Option<i64>,
}

/// AWS's limit on a `clientToken`.
const MAX_CLIENT_TOKEN_CHARS: usize = 64;

/// The client token of a payload that may not parse as a whole, so that a `/rejected`
/// response can still echo it.
pub fn client_token_of(payload: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    v.get("clientToken")?.as_str().map(str::to_owned)
}

/// Parses a request payload: JSON (an empty payload counts as `{}`), members of the right
/// types, a known `status`. Malformed JSON is `InvalidJson`; the rest `InvalidRequest`.
pub fn parse_request(payload: &[u8]) -> Result<DeviceRequest, JobError> {
    let value: Value = if payload.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(payload)
            .map_err(|e| JobError::InvalidJson(format!("The payload is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(JobError::InvalidJson(
            "The payload must be a JSON object.".into(),
        ));
    }
    let p: Payload = serde_json::from_value(value)
        .map_err(|e| JobError::InvalidRequest(format!("Invalid request: {e}")))?;
    if let Some(t) = &p.client_token
        && (t.is_empty() || t.chars().count() > MAX_CLIENT_TOKEN_CHARS)
    {
        return Err(JobError::InvalidRequest(format!(
            "clientToken must be 1 to {MAX_CLIENT_TOKEN_CHARS} characters."
        )));
    }
    let status = match &p.status {
        None => None,
        Some(s) => Some(ExecutionStatus::parse(s).ok_or_else(|| {
            JobError::InvalidRequest(format!("Unknown job execution status {s}."))
        })?),
    };
    Ok(DeviceRequest {
        client_token: p.client_token,
        status_details: p.status_details.clone(),
        step_timeout_minutes: p.step_timeout_in_minutes,
        execution_number: p.execution_number,
        include_job_document: p.include_job_document,
        update: DeviceUpdate {
            status,
            status_details: p.status_details,
            expected_version: p.expected_version,
            step_timeout_minutes: p.step_timeout_in_minutes,
        },
        include_job_execution_state: p.include_job_execution_state.unwrap_or(false),
    })
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// A device's `JobExecution` over MQTT, with the job's document (parsed, as AWS sends an
/// object) when given.
pub fn execution_mqtt(e: &JobExecution, document: Option<&str>, now_ms: i64) -> Value {
    let mut out = json!({
        "jobId": e.job_id,
        "thingName": e.thing_name,
        "status": e.status,
        "statusDetails": e.status_details,
        "queuedAt": secs(e.queued_at_ms),
        "lastUpdatedAt": secs(e.last_updated_at_ms),
        "versionNumber": e.version_number,
        "executionNumber": e.execution_number,
    });
    if let Some(t) = e.started_at_ms {
        out["startedAt"] = json!(secs(t));
    }
    if let Some(s) = e.seconds_before_timeout(now_ms) {
        out["approximateSecondsBeforeTimedOut"] = json!(s);
    }
    if let Some(d) = document {
        out["jobDocument"] = serde_json::from_str(d).unwrap_or_else(|_| json!(d));
    }
    out
}

/// A `JobExecutionSummary` over MQTT.
pub fn summary_mqtt(e: &JobExecution) -> Value {
    let mut out = json!({
        "jobId": e.job_id,
        "queuedAt": secs(e.queued_at_ms),
        "lastUpdatedAt": secs(e.last_updated_at_ms),
        "versionNumber": e.version_number,
        "executionNumber": e.execution_number,
    });
    if let Some(t) = e.started_at_ms {
        out["startedAt"] = json!(secs(t));
    }
    out
}

/// Adds `timestamp` (seconds) and the echoed `clientToken` to a response.
pub fn stamp(mut response: Value, client_token: Option<&str>, now_ms: i64) -> Value {
    response["timestamp"] = json!(secs(now_ms));
    if let Some(t) = client_token {
        response["clientToken"] = json!(t);
    }
    response
}

/// A `/rejected` payload: `code`, `message`, `timestamp`, `clientToken`, and the execution
/// state for state and version refusals.
pub fn rejected(error: &JobError, client_token: Option<&str>, now_ms: i64) -> Value {
    let mut out = Map::new();
    out.insert("code".into(), json!(error.mqtt_code()));
    out.insert("message".into(), json!(error.to_string()));
    if let Some(state) = error.execution_state() {
        out.insert(
            "executionState".into(),
            serde_json::to_value(state).expect("states serialise"),
        );
    }
    stamp(Value::Object(out), client_token, now_ms)
}

/// The `get/accepted` lists: IN_PROGRESS and QUEUED summaries, each oldest first.
pub fn pending_lists(mut pending: Vec<&JobExecution>) -> Value {
    pending.sort_by(|a, b| a.pending_rank().cmp(&b.pending_rank()));
    let of = |s: ExecutionStatus| -> Vec<Value> {
        pending
            .iter()
            .filter(|e| e.status == s)
            .map(|e| summary_mqtt(e))
            .collect()
    };
    json!({"inProgressJobs": of(ExecutionStatus::InProgress), "queuedJobs": of(ExecutionStatus::Queued)})
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_123;

    fn request(thing: &str, kind: DeviceRequestKind) -> Option<JobsTopic<'_>> {
        Some(JobsTopic::Request { thing, kind })
    }

    #[test]
    fn request_topics_map_to_operations() {
        assert_eq!(
            parse_topic("$aws/things/lamp/jobs/get"),
            request("lamp", DeviceRequestKind::GetPending)
        );
        assert_eq!(
            parse_topic("$aws/things/lamp/jobs/start-next"),
            request("lamp", DeviceRequestKind::StartNext)
        );
        assert_eq!(
            parse_topic("$aws/things/lamp/jobs/fw-1/get"),
            request(
                "lamp",
                DeviceRequestKind::Describe {
                    job_id: "fw-1".into()
                }
            )
        );
        assert_eq!(
            parse_topic("$aws/things/lamp/jobs/$next/get"),
            request(
                "lamp",
                DeviceRequestKind::Describe {
                    job_id: "$next".into()
                }
            )
        );
        assert_eq!(
            parse_topic("$aws/things/lamp/jobs/fw-1/update"),
            request(
                "lamp",
                DeviceRequestKind::Update {
                    job_id: "fw-1".into()
                }
            )
        );
    }

    #[test]
    fn the_services_own_topics_are_not_requests() {
        for t in [
            "$aws/things/lamp/jobs/get/accepted",
            "$aws/things/lamp/jobs/get/rejected",
            "$aws/things/lamp/jobs/start-next/accepted",
            "$aws/things/lamp/jobs/fw-1/update/rejected",
            "$aws/things/lamp/jobs/notify",
            "$aws/things/lamp/jobs/notify-next",
            "$aws/things/lamp/jobs/bogus/rejected",
        ] {
            assert_eq!(parse_topic(t), Some(JobsTopic::ServiceOwned), "{t}");
        }
    }

    #[test]
    fn other_jobs_topics_are_invalid_and_others_are_not_ours() {
        for t in [
            "$aws/things/lamp/jobs",
            "$aws/things/lamp/jobs/",
            "$aws/things/lamp/jobs/fw-1",
            "$aws/things/lamp/jobs/fw-1/delete",
            "$aws/things/lamp/jobs/$next/update",
            "$aws/things/lamp/jobs/bad.id/get",
            "$aws/things/lamp/jobs/a/b/c",
        ] {
            assert_eq!(
                parse_topic(t),
                Some(JobsTopic::Invalid { thing: "lamp" }),
                "{t}"
            );
        }
        for t in [
            "$aws/things/lamp/shadow/get",
            "$aws/things//jobs/get",
            "$aws/things/lamp/jobsx/get",
            "things/lamp/jobs/get",
        ] {
            assert_eq!(parse_topic(t), None, "{t}");
        }
    }

    #[test]
    fn response_and_notification_topics() {
        assert_eq!(
            response_topic("$aws/things/lamp/jobs/get", true),
            "$aws/things/lamp/jobs/get/accepted"
        );
        assert_eq!(
            response_topic("$aws/things/lamp/jobs/x/update", false),
            "$aws/things/lamp/jobs/x/update/rejected"
        );
        assert_eq!(notify_topic("lamp"), "$aws/things/lamp/jobs/notify");
        assert_eq!(
            notify_next_topic("lamp"),
            "$aws/things/lamp/jobs/notify-next"
        );
    }

    #[test]
    fn update_payloads_parse_with_their_defaults() {
        let r = parse_request(
            br#"{"status":"IN_PROGRESS","statusDetails":{"step":"1"},"expectedVersion":2,
                 "executionNumber":1,"includeJobExecutionState":true,"stepTimeoutInMinutes":5,
                 "clientToken":"tok"}"#,
        )
        .unwrap();
        assert_eq!(r.client_token.as_deref(), Some("tok"));
        assert_eq!(r.update.status, Some(ExecutionStatus::InProgress));
        assert_eq!(r.update.expected_version, Some(2));
        assert_eq!(r.update.step_timeout_minutes, Some(5));
        assert_eq!(r.execution_number, Some(1));
        assert!(r.include_job_execution_state);
        assert_eq!(r.include_job_document, None);
        let empty = parse_request(b"").unwrap();
        assert_eq!(empty, DeviceRequest::default());
        assert_eq!(parse_request(b"  {}  ").unwrap(), DeviceRequest::default());
    }

    #[test]
    fn bad_payloads_are_refused_with_their_codes() {
        assert_eq!(
            parse_request(b"{nope").unwrap_err().mqtt_code(),
            "InvalidJson"
        );
        assert_eq!(
            parse_request(b"[1]").unwrap_err().mqtt_code(),
            "InvalidJson"
        );
        for bad in [
            br#"{"status":"DONE"}"#.as_slice(),
            br#"{"expectedVersion":"one"}"#,
            br#"{"statusDetails":{"k":1}}"#,
            br#"{"clientToken":""}"#,
        ] {
            assert_eq!(
                parse_request(bad).unwrap_err().mqtt_code(),
                "InvalidRequest",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            client_token_of(br#"{"clientToken":"t","status":"DONE"}"#).as_deref(),
            Some("t")
        );
        assert_eq!(client_token_of(b"{nope"), None);
    }

    #[test]
    fn executions_go_out_in_seconds_with_the_document_as_an_object() {
        let mut e = JobExecution::queued("fw-1", "lamp", 1, T0);
        let v = execution_mqtt(&e, Some(r#"{"op":"reboot"}"#), T0);
        assert_eq!(
            v,
            json!({"jobId": "fw-1", "thingName": "lamp", "status": "QUEUED",
                   "statusDetails": {}, "queuedAt": 1_700_000_000, "lastUpdatedAt": 1_700_000_000,
                   "versionNumber": 1, "executionNumber": 1, "jobDocument": {"op": "reboot"}})
        );
        e.apply_device_update(
            &DeviceUpdate {
                status: Some(ExecutionStatus::InProgress),
                ..DeviceUpdate::default()
            },
            Some(1),
            T0 + 2000,
        )
        .unwrap();
        let v = execution_mqtt(&e, None, T0 + 32_000);
        assert_eq!(v["startedAt"], 1_700_000_002);
        assert_eq!(v["approximateSecondsBeforeTimedOut"], 30);
        assert!(v.get("jobDocument").is_none());
        assert_eq!(summary_mqtt(&e)["startedAt"], 1_700_000_002);
    }

    #[test]
    fn rejections_carry_code_state_token_and_time() {
        let mut e = JobExecution::queued("fw-1", "lamp", 1, T0);
        let err = e
            .apply_device_update(
                &DeviceUpdate {
                    status: Some(ExecutionStatus::Succeeded),
                    expected_version: Some(5),
                    ..DeviceUpdate::default()
                },
                None,
                T0,
            )
            .unwrap_err();
        let v = rejected(&err, Some("tok"), T0);
        assert_eq!(v["code"], "VersionMismatch");
        assert_eq!(v["clientToken"], "tok");
        assert_eq!(v["timestamp"], 1_700_000_000);
        assert_eq!(
            v["executionState"],
            json!({"status": "QUEUED", "statusDetails": {}, "versionNumber": 1})
        );
        let plain = rejected(&JobError::InvalidRequest("bad".into()), None, T0);
        assert_eq!(
            plain,
            json!({"code": "InvalidRequest", "message": "bad", "timestamp": 1_700_000_000})
        );
    }

    #[test]
    fn pending_lists_split_running_from_queued_oldest_first() {
        let a = JobExecution::queued("a", "lamp", 1, T0 + 2000);
        let b = JobExecution::queued("b", "lamp", 1, T0 + 1000);
        let mut c = JobExecution::queued("c", "lamp", 1, T0 + 3000);
        c.status = ExecutionStatus::InProgress;
        let v = pending_lists(vec![&a, &b, &c]);
        let ids = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s["jobId"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids("inProgressJobs"), ["c"]);
        assert_eq!(ids("queuedJobs"), ["b", "a"]);
    }
}
