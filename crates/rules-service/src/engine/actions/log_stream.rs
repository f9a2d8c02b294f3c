//! A forwarded `cloudwatchLogs` action's log stream: CloudWatch Logs' `PutLogEvents`
//! (JSON 1.1, `Logs_20140328`) into the rule's log group.
//!
//! PutLogEvents needs a log stream, and the action names only the group. AWS documents that
//! its action's role needs `logs:CreateLogStream`, `logs:DescribeLogStreams` and
//! `logs:PutLogEvents` (and not `logs:CreateLogGroup`): AWS IoT writes into a stream it creates
//! itself, in a group that must already exist; the stream's name is not documented. So does
//! Ferrite: each action (on each node) creates a stream of its own, named by a random id as
//! AWS's opaque names are, in every group it writes to, on first use (`CreateLogStream`, an
//! existing one taken as it is). A stream of its own means no two writers ever share one, so no
//! sequence tokens and no DescribeLogStreams are needed. A missing group fails the action
//! (permanently: only its owner can create it); a stream deleted meanwhile is created again
//! by the retry.

use std::collections::HashSet;

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::ActionError;
use super::forward::Forward;

const JSON_VERSION: &str = "1.1";
const TARGET_PREFIX: &str = "Logs_20140328";
/// Groups whose stream is known to exist, at most; past it the set starts again (a group
/// template may name any number of groups, a create costs only one more call).
const MAX_KNOWN_GROUPS: usize = 1024;

pub(crate) struct LogStream {
    forward: Forward,
    name: String,
    /// Groups the stream exists in.
    ready: Mutex<HashSet<String>>,
}

impl LogStream {
    pub fn new(forward: Forward) -> LogStream {
        LogStream {
            forward,
            name: uuid::Uuid::new_v4().simple().to_string(),
            ready: Mutex::new(HashSet::new()),
        }
    }

    /// Puts `events` (milliseconds, text) into `group`, in time order as PutLogEvents wants
    /// them.
    pub async fn put(
        &self,
        group: &str,
        mut events: Vec<(i64, String)>,
    ) -> Result<(), ActionError> {
        self.create(group).await?;
        events.sort_by_key(|(timestamp, _)| *timestamp);
        let input = put_log_events(group, &self.name, &events);
        let target = format!("{TARGET_PREFIX}.PutLogEvents");
        match self
            .forward
            .try_json_call("logs", JSON_VERSION, &target, &input)
            .await
        {
            Ok(output) => rejected(&output),
            Err(e) if e.code.as_deref() == Some("ResourceNotFoundException") => {
                // The stream (or its group) was deleted: the retry creates it again, or finds
                // the group missing.
                self.ready.lock().remove(group);
                Err(ActionError::transient(e.error.message))
            }
            Err(e) => Err(e.error),
        }
    }

    /// Creates the stream in `group` unless it is known to exist.
    async fn create(&self, group: &str) -> Result<(), ActionError> {
        if self.ready.lock().contains(group) {
            return Ok(());
        }
        let input = json!({"logGroupName": group, "logStreamName": self.name});
        let target = format!("{TARGET_PREFIX}.CreateLogStream");
        match self
            .forward
            .try_json_call("logs", JSON_VERSION, &target, &input)
            .await
        {
            Ok(_) => {}
            Err(e) if e.code.as_deref() == Some("ResourceAlreadyExistsException") => {}
            Err(e) if e.code.as_deref() == Some("ResourceNotFoundException") => {
                return Err(ActionError::permanent(format!(
                    "the log group {group} does not exist: {}",
                    e.error.message
                )));
            }
            Err(e) => return Err(e.error),
        }
        let mut ready = self.ready.lock();
        if ready.len() >= MAX_KNOWN_GROUPS {
            ready.clear();
        }
        ready.insert(group.to_owned());
        Ok(())
    }
}

/// PutLogEvents' input.
fn put_log_events(group: &str, stream: &str, events: &[(i64, String)]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|(timestamp, message)| json!({"timestamp": timestamp, "message": message}))
        .collect();
    json!({"logGroupName": group, "logStreamName": stream, "logEvents": events})
}

/// Events CloudWatch Logs took no part of as a failure: too old, too new or past the group's
/// retention. It will not take them later either.
fn rejected(output: &Value) -> Result<(), ActionError> {
    let info = &output["rejectedLogEventsInfo"];
    if !info.is_object() {
        return Ok(());
    }
    let mut why = Vec::new();
    for (field, text) in [
        ("tooNewLogEventStartIndex", "too new from index"),
        ("tooOldLogEventEndIndex", "too old up to index"),
        ("expiredLogEventEndIndex", "expired up to index"),
    ] {
        if let Some(i) = info[field].as_u64() {
            why.push(format!("{text} {i}"));
        }
    }
    if why.is_empty() {
        return Ok(());
    }
    Err(ActionError::permanent(format!(
        "CloudWatch Logs rejected log events: {}",
        why.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::actions::test_endpoint::{endpoint, keys, next};

    #[tokio::test]
    async fn the_stream_is_created_once_then_events_go_in_time_order() {
        let (url, mut rx, answer) = endpoint().await;
        let stream = LogStream::new(Forward::for_section(&url, &keys()).unwrap());
        *answer.lock() = (200, "application/x-amz-json-1.1", "{}".into());
        let events = vec![(20, "second".to_owned()), (10, "first".to_owned())];
        stream.put("/iot/g", events.clone()).await.unwrap();
        let create = next(&mut rx).await;
        assert_eq!(create.verified.unwrap().service, "logs");
        assert_eq!(
            create.headers["x-amz-target"],
            "Logs_20140328.CreateLogStream"
        );
        let body: Value = serde_json::from_slice(&create.body).unwrap();
        assert_eq!(
            body,
            json!({"logGroupName": "/iot/g", "logStreamName": stream.name})
        );
        let put = next(&mut rx).await;
        assert_eq!(put.headers["x-amz-target"], "Logs_20140328.PutLogEvents");
        assert_eq!(put.headers["content-type"], "application/x-amz-json-1.1");
        let body: Value = serde_json::from_slice(&put.body).unwrap();
        assert_eq!(
            body,
            json!({"logGroupName": "/iot/g", "logStreamName": stream.name, "logEvents": [
                {"timestamp": 10, "message": "first"}, {"timestamp": 20, "message": "second"}]})
        );
        // Known now: only PutLogEvents.
        stream.put("/iot/g", events).await.unwrap();
        let put = next(&mut rx).await;
        assert_eq!(put.headers["x-amz-target"], "Logs_20140328.PutLogEvents");
    }

    #[tokio::test]
    async fn an_existing_stream_is_used_and_a_missing_group_fails() {
        let (url, mut rx, answer) = endpoint().await;
        let stream = LogStream::new(Forward::for_section(&url, &keys()).unwrap());
        *answer.lock() = (
            400,
            "application/x-amz-json-1.1",
            r#"{"__type":"ResourceAlreadyExistsException","message":"exists"}"#.into(),
        );
        stream.create("g").await.unwrap();
        next(&mut rx).await;
        assert!(stream.ready.lock().contains("g"));

        *answer.lock() = (
            400,
            "application/x-amz-json-1.1",
            r#"{"__type":"ResourceNotFoundException","message":"no group"}"#.into(),
        );
        let e = stream.create("missing").await.unwrap_err();
        next(&mut rx).await;
        assert!(!e.retry);
        assert!(e.message.contains("log group missing"), "{}", e.message);

        // A stream deleted since: forgotten, and worth a retry.
        let e = stream.put("g", vec![(1, "x".into())]).await.unwrap_err();
        next(&mut rx).await;
        assert!(e.retry, "{}", e.message);
        assert!(!stream.ready.lock().contains("g"));
    }

    #[test]
    fn rejected_events_are_a_failure() {
        assert!(rejected(&json!({"nextSequenceToken": "1"})).is_ok());
        let e =
            rejected(&json!({"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 2}})).unwrap_err();
        assert!(!e.retry);
        assert!(e.message.contains("too old up to index 2"), "{}", e.message);
    }
}
