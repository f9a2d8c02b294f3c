//! `cloudwatchLogs`: log events appended as JSON lines, one file per log group:
//! `{dir}/{group}.log`, `dir` being `[targets.cloudwatch_logs].dir` or `{data_dir}/logs`
//! (created when missing). Each line is a CloudWatch log event, `{"timestamp": ms, "message":
//! text}`: without `batchMode` the message is the SELECT output as text with the time the
//! message arrived; with `batchMode` the output must be a JSON array of such events (AWS's
//! format for device-side logs), each becoming a line with its own timestamp.
//!
//! A group name may hold `/` and `#` (`/aws/iot/rules`); in the file name every byte but
//! ASCII letters, digits, `.`, `-` and `_` is written `%XX`, so names map one-to-one to files
//! inside `dir`, and a name too long for a file name is shortened with a digest.
//!
//! With `[targets.cloudwatch_logs].forward_endpoint` the events go to CloudWatch Logs'
//! `PutLogEvents` at that endpoint instead (`log_stream` says into which stream).

use std::path::{Path, PathBuf};

use ferrite_rules::{CompiledSql, Template};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::forward::Forward;
use super::log_stream::LogStream;
use super::{Action, ActionError, BoxFuture, Deps, Job};

/// File names longer than this are shortened (file systems allow 255 bytes).
const MAX_FILE_NAME: usize = 200;

pub(crate) struct CloudwatchLogs {
    group: Template,
    group_text: String,
    batch: bool,
    delivery: Delivery,
}

/// Where events go.
enum Delivery {
    /// A file per group in this directory.
    Files(PathBuf),
    Forward(LogStream),
}

impl From<PathBuf> for Delivery {
    fn from(dir: PathBuf) -> Delivery {
        Delivery::Files(dir)
    }
}

/// One log event: milliseconds since the epoch, and the text.
type Event = (i64, String);

impl CloudwatchLogs {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<CloudwatchLogs, String> {
        let targets = &deps.config.targets;
        let forward =
            Forward::for_section(&targets.cloudwatch_logs.forward_endpoint, &targets.forward);
        if let Some(forward) = forward {
            return CloudwatchLogs::new(config, sql, Delivery::Forward(LogStream::new(forward)));
        }
        let configured = &targets.cloudwatch_logs.dir;
        let dir = if configured.as_os_str().is_empty() {
            deps.config.data_dir.join("logs")
        } else {
            configured.clone()
        };
        CloudwatchLogs::new(config, sql, dir)
    }

    fn new(
        config: &Value,
        sql: &CompiledSql,
        delivery: impl Into<Delivery>,
    ) -> Result<CloudwatchLogs, String> {
        let group_text = config["logGroupName"]
            .as_str()
            .ok_or("cloudwatchLogs needs a logGroupName")?
            .to_owned();
        Ok(CloudwatchLogs {
            group: sql.template(&group_text).map_err(|e| e.to_string())?,
            group_text,
            batch: config["batchMode"].as_bool().unwrap_or(false),
            delivery: delivery.into(),
        })
    }

    /// The events one message makes.
    fn events(&self, job: &Job) -> Result<Vec<Event>, ActionError> {
        if !self.batch {
            let message = std::str::from_utf8(&job.payload).map_err(|_| {
                ActionError::permanent("the message is not UTF-8 text, which log events must be")
            })?;
            return Ok(vec![(job.ctx().timestamp_ms(), message.to_owned())]);
        }
        let not_batch = || {
            ActionError::permanent(
                "with batchMode the message must be a JSON array of {\"timestamp\": ms, \
                 \"message\": text} objects",
            )
        };
        let events: Vec<Value> = serde_json::from_slice(&job.payload).map_err(|_| not_batch())?;
        events
            .iter()
            .map(|event| {
                let timestamp = event.get("timestamp").and_then(Value::as_i64);
                let message = match event.get("message") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => return Err(not_batch()),
                };
                Ok((timestamp.ok_or_else(not_batch)?, message))
            })
            .collect()
    }
}

/// Events as the file's JSON lines.
fn lines(events: &[Event]) -> String {
    let mut out = String::new();
    for (timestamp, message) in events {
        out.push_str(&json!({"timestamp": timestamp, "message": message}).to_string());
        out.push('\n');
    }
    out
}

/// Appends `events` to the file of `group` in `dir`.
async fn append(dir: &Path, group: &str, events: &[Event]) -> Result<(), ActionError> {
    let lines = lines(events);
    let path = group_file(dir, group);
    let failed =
        |e: std::io::Error| ActionError::transient(format!("cannot write {}: {e}", path.display()));
    tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await
        .map_err(failed)?;
    // One write per message, so lines from rules writing the same group never mix.
    file.write_all(lines.as_bytes()).await.map_err(failed)?;
    file.flush().await.map_err(failed)
}

/// The file of log group `group` in `dir`.
fn group_file(dir: &Path, group: &str) -> PathBuf {
    let mut name = String::with_capacity(group.len() + 4);
    for b in group.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > MAX_FILE_NAME {
        let digest = ring::digest::digest(&ring::digest::SHA256, group.as_bytes());
        let hex: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The escaped name is ASCII, so any byte index is a character boundary.
        name.truncate(MAX_FILE_NAME - hex.len() - 1);
        name.push('~');
        name.push_str(&hex);
    }
    name.push_str(".log");
    dir.join(name)
}

impl Action for CloudwatchLogs {
    fn name(&self) -> &'static str {
        "CloudwatchLogsAction"
    }

    fn resource(&self) -> String {
        self.group_text.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let group = self
                .group
                .render(job.selected(), job.raw(), job.ctx())
                .map_err(|e| ActionError::permanent(e.to_string()))?;
            if group.is_empty() {
                return Err(ActionError::permanent("the log group name is empty"));
            }
            let events = self.events(job)?;
            if events.is_empty() {
                return Ok(());
            }
            match &self.delivery {
                Delivery::Files(dir) => append(dir, &group, &events).await,
                Delivery::Forward(stream) => stream.put(&group, events).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::engine::actions::test_job::{NOW_MS, job};

    fn read_lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn group_names_map_to_safe_distinct_file_names() {
        let dir = Path::new("/logs");
        assert_eq!(group_file(dir, "app"), Path::new("/logs/app.log"));
        assert_eq!(
            group_file(dir, "/aws/iot/rules"),
            Path::new("/logs/%2Faws%2Fiot%2Frules.log")
        );
        assert_eq!(group_file(dir, ".."), Path::new("/logs/...log"));
        assert_ne!(group_file(dir, "a/b"), group_file(dir, "a_b"));
        assert_ne!(group_file(dir, "a/b"), group_file(dir, "a%2Fb"));
        let long = "g".repeat(512);
        let file = group_file(dir, &long);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= MAX_FILE_NAME + 4, "{name}");
        assert_ne!(file, group_file(dir, &format!("{long}x")));
        assert_eq!(file.parent(), Some(dir));
    }

    #[tokio::test]
    async fn each_message_is_a_json_line_in_its_groups_file() {
        let tmp = tempfile_dir();
        let dir = tmp.join("nested/logs");
        let (sql, j) = job(
            "SELECT temp FROM 'dev/+/log'",
            "dev/d1/log",
            br#"{"temp": 5}"#,
        );
        let a = CloudwatchLogs::new(
            &json!({"roleArn": "r", "logGroupName": "/iot/${topic(2)}"}),
            &sql,
            dir.clone(),
        )
        .unwrap();
        a.execute(&j).await.unwrap();
        a.execute(&j).await.unwrap();
        let lines = read_lines(&dir.join("%2Fiot%2Fd1.log"));
        assert_eq!(
            lines,
            vec![json!({"timestamp": NOW_MS, "message": "{\"temp\":5}"}); 2]
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[tokio::test]
    async fn batch_mode_writes_each_event_with_its_own_time() {
        let tmp = tempfile_dir();
        let payload = br#"[{"timestamp": 1673520691093, "message": "one"},
                           {"timestamp": 1673520692879, "message": {"n": 2}}]"#;
        // What a rule forwarding device logs as they are gives the action.
        let batch = |payload: &[u8]| {
            let (sql, mut j) = job("SELECT * FROM 'logs'", "logs", b"{}");
            j.payload = Bytes::copy_from_slice(payload);
            (sql, j)
        };
        let (sql, j) = batch(payload);
        let config = json!({"logGroupName": "batch", "batchMode": true});
        let a = CloudwatchLogs::new(&config, &sql, tmp.clone()).unwrap();
        a.execute(&j).await.unwrap();
        assert_eq!(
            read_lines(&tmp.join("batch.log")),
            vec![
                json!({"timestamp": 1673520691093_i64, "message": "one"}),
                json!({"timestamp": 1673520692879_i64, "message": "{\"n\":2}"}),
            ]
        );
        for bad in [
            &br#"{"timestamp": 1, "message": "x"}"#[..],
            br#"[{"message": "x"}]"#,
        ] {
            let (sql, j) = batch(bad);
            let a = CloudwatchLogs::new(&config, &sql, tmp.clone()).unwrap();
            let e = a.execute(&j).await.unwrap_err();
            assert!(!e.retry && e.message.contains("batchMode"), "{}", e.message);
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_a_transient_failure() {
        let tmp = tempfile_dir();
        let blocker = tmp.join("file");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let (sql, j) = job("SELECT * FROM 'a'", "a", b"{}");
        let a =
            CloudwatchLogs::new(&json!({"logGroupName": "g"}), &sql, blocker.join("logs")).unwrap();
        let e = a.execute(&j).await.unwrap_err();
        assert!(
            e.retry && e.message.contains("cannot write"),
            "{}",
            e.message
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// A fresh directory under the system's temporary directory.
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrite-logs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
