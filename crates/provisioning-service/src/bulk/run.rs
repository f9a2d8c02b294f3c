//! Running one thing registration task under its lease: each line of the input file through
//! RegisterThing, its outcome written with the task's counts, the lease renewed alongside;
//! the reports written to the input bucket at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrite_registry::{RegistryError, encode};
use ferrite_storage::{Expect, Write};
use ferrite_types::AwsException;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::lease::RENEW_MS;
use super::{BulkRegistration, LINE_KIND, TASK_KIND, TaskDoc, TaskStatus, report_key};
use crate::ProvisioningError;

/// Why a run stopped short.
#[derive(Debug)]
enum Halt {
    /// Another runner holds the task now: this one must write nothing more.
    Lost,
    Error(ProvisioningError),
}

impl From<ProvisioningError> for Halt {
    fn from(e: ProvisioningError) -> Halt {
        Halt::Error(e)
    }
}

impl From<RegistryError> for Halt {
    fn from(e: RegistryError) -> Halt {
        Halt::Error(e.into())
    }
}

/// How a run ended.
enum Ended {
    /// The task reached its end state.
    Finished,
    /// This node is shutting down: the task is left running for another runner.
    Interrupted,
}

/// One processed line: its entry in the RESULTS or ERRORS report.
#[derive(Debug, Serialize, Deserialize)]
struct LineDoc {
    report: String,
    entry: Value,
}

fn line_key(task_id: &str, line_number: usize) -> String {
    format!("{task_id}/{line_number:010}")
}

/// A line's parameters: a JSON object whose values are strings (numbers and booleans are
/// taken as their text, as a template's parameters are strings).
fn parameters(line: &str) -> Result<BTreeMap<String, String>, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("The line is not JSON: {e}"))?;
    let Value::Object(map) = v else {
        return Err("The line is not a JSON object of parameters.".into());
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(_) | Value::Bool(_) => Ok((k, v.to_string())),
            _ => Err(format!("The parameter {k} is not a string.")),
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl BulkRegistration {
    /// Runs task `id`, whose lease this runner holds.
    pub(super) async fn execute(self, id: String, cancel: CancellationToken) {
        let outcome = tokio::select! {
            ended = self.process(&id, &cancel) => ended,
            lost = self.keep_lease(&id) => Err(lost),
        };
        match outcome {
            Ok(Ended::Finished) => self.drop_lines(&id).await,
            Ok(Ended::Interrupted) => {
                let _ = self.owned_update(&id, |t| t.lease = None).await;
            }
            Err(Halt::Lost) => {
                tracing::warn!(task = %id, "another runner took over this thing registration task");
            }
            Err(Halt::Error(e)) => {
                tracing::error!(task = %id, error = %e, "thing registration task failed");
                let message = e.to_string();
                // If even this fails, the lease lapses and another runner tries again.
                if self.finish_failed(&id, &message).await.is_ok() {
                    self.drop_lines(&id).await;
                }
            }
        }
        self.running.lock().remove(&id);
        self.ended.send_modify(|n| *n += 1);
    }

    /// Renews the lease until it is lost (then says so); store errors are retried, since
    /// the lease lasts a few renewals.
    async fn keep_lease(&self, id: &str) -> Halt {
        loop {
            tokio::time::sleep(Duration::from_millis(RENEW_MS as u64)).await;
            let until = self.clock.now_ms() + super::lease::LEASE_MS;
            match self
                .owned_update(id, |t| {
                    if let Some(l) = &mut t.lease {
                        l.until_ms = until;
                    }
                })
                .await
            {
                Ok(_) => {}
                Err(Halt::Lost) => return Halt::Lost,
                Err(Halt::Error(e)) => {
                    tracing::warn!(task = %id, error = %e, "cannot renew a thing registration task's lease");
                }
            }
        }
    }

    /// Applies `change` to the stored task in one write conditional on its version, if this
    /// runner still holds its lease.
    async fn owned_update(&self, id: &str, change: impl Fn(&mut TaskDoc)) -> Result<TaskDoc, Halt> {
        let (task, _) = self
            .docs
            .retry_wrote(|| async {
                let (mut t, version) = self
                    .docs
                    .get::<TaskDoc>(TASK_KIND, id)
                    .await?
                    .ok_or(Halt::Lost)?;
                if !self.owner.holds(t.lease.as_ref()) {
                    return Err(Halt::Lost);
                }
                change(&mut t);
                let w = Write::put(TASK_KIND, id, Expect::Version(version), encode(&t));
                Ok((vec![w], t))
            })
            .await?;
        Ok(task)
    }

    async fn finish_failed(&self, id: &str, message: &str) -> Result<TaskDoc, Halt> {
        let now = self.clock.now_ms();
        self.owned_update(id, |t| {
            if t.status.is_running() {
                t.status = TaskStatus::Failed;
                t.message = Some(message.to_owned());
            }
            t.lease = None;
            t.modified_ms = now;
        })
        .await
    }

    async fn process(&self, id: &str, cancel: &CancellationToken) -> Result<Ended, Halt> {
        let task = self.task(id).await?;
        if !task.status.is_running() {
            return Ok(Ended::Finished);
        }
        let input = match self
            .buckets
            .read(
                &task.input_file_bucket,
                &task.input_file_key,
                self.max_input_bytes,
            )
            .await
        {
            Ok(bytes) => bytes,
            Err(message) => {
                self.finish_failed(id, &message).await?;
                return Ok(Ended::Finished);
            }
        };
        let digest = sha256_hex(&input);
        match &task.input_sha256 {
            Some(read) if *read != digest => {
                let message = format!(
                    "s3://{}/{} changed while the task was interrupted; it cannot be resumed.",
                    task.input_file_bucket, task.input_file_key
                );
                self.finish_failed(id, &message).await?;
                return Ok(Ended::Finished);
            }
            Some(_) => {}
            None => {
                self.owned_update(id, |t| t.input_sha256 = Some(digest.clone()))
                    .await?;
            }
        }
        let Ok(input) = String::from_utf8(input) else {
            let message = format!(
                "s3://{}/{} is not UTF-8 text.",
                task.input_file_bucket, task.input_file_key
            );
            self.finish_failed(id, &message).await?;
            return Ok(Ended::Finished);
        };
        let lines: Vec<(usize, &str)> = input
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        let scope = task.scope();
        // Lines counted before are done: their outcomes were written with the counts.
        let resume_at =
            usize::try_from(task.success_count + task.failure_count).unwrap_or(usize::MAX);
        for (done, (index, line)) in lines.iter().enumerate().skip(resume_at) {
            if cancel.is_cancelled() {
                if self.shutdown.is_cancelled() {
                    return Ok(Ended::Interrupted);
                }
                break;
            }
            #[cfg(test)]
            if let Some(gate) = &self.gate {
                gate.pass(done).await;
            }
            let line_number = index + 1;
            let outcome = match parameters(line) {
                Ok(p) => self
                    .fleet
                    .register_thing_api(&scope, &task.template_body, p)
                    .await
                    .map_err(|e| (e.exception_name().to_owned(), e.exception_message())),
                Err(m) => Err(("InvalidRequestException".to_owned(), m)),
            };
            // [VERIFY: the shape of AWS's report lines.]
            let line_doc = match outcome {
                Ok(response) => LineDoc {
                    report: "RESULTS".into(),
                    entry: json!({"lineNumber": line_number, "response": response}),
                },
                Err((code, message)) => LineDoc {
                    report: "ERRORS".into(),
                    entry: json!({"lineNumber": line_number, "errorCode": code,
                        "errorMessage": message}),
                },
            };
            let progress = ((done + 1) * 100 / lines.len()) as u64;
            let now = self
                .record_line(id, done as u64, line_number, &line_doc, progress)
                .await?;
            // A Stop from another node shows only in the stored status.
            if now.status != TaskStatus::InProgress {
                break;
            }
        }
        self.finish(&task, id).await?;
        Ok(Ended::Finished)
    }

    /// Writes a line's outcome and the task's counts in one batch, so either both are
    /// stored or neither: a resumed task redoes exactly the lines not counted.
    async fn record_line(
        &self,
        id: &str,
        done: u64,
        line_number: usize,
        line: &LineDoc,
        progress: u64,
    ) -> Result<TaskDoc, Halt> {
        let now = self.clock.now_ms();
        let key = line_key(id, line_number);
        let (task, _) = self
            .docs
            .retry_wrote(|| async {
                let (mut t, version) = self
                    .docs
                    .get::<TaskDoc>(TASK_KIND, id)
                    .await?
                    .ok_or(Halt::Lost)?;
                // Counts other than ours mean another runner worked on it.
                if !self.owner.holds(t.lease.as_ref()) || t.success_count + t.failure_count != done
                {
                    return Err(Halt::Lost);
                }
                if line.report == "RESULTS" {
                    t.success_count += 1;
                } else {
                    t.failure_count += 1;
                }
                t.percentage_progress = progress;
                t.modified_ms = now;
                let writes = vec![
                    Write::put(TASK_KIND, id, Expect::Version(version), encode(&t)),
                    Write::put(LINE_KIND, &key, Expect::Absent, encode(line)),
                ];
                Ok((writes, t))
            })
            .await?;
        Ok(task)
    }

    /// Writes the reports from the recorded lines and ends the task.
    async fn finish(&self, task: &TaskDoc, id: &str) -> Result<(), Halt> {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        self.docs
            .scan_until(LINE_KIND, &format!("{id}/"), None, |r| {
                let line: LineDoc = ferrite_registry::decode(r)?;
                let report = if line.report == "RESULTS" {
                    &mut results
                } else {
                    &mut errors
                };
                report.extend_from_slice(line.entry.to_string().as_bytes());
                report.push(b'\n');
                Ok(std::ops::ControlFlow::Continue(()))
            })
            .await?;
        let mut written = Vec::new();
        for (kind, report_type, body) in [
            ("results", "RESULTS", results),
            ("errors", "ERRORS", errors),
        ] {
            if body.is_empty() {
                continue;
            }
            match self
                .buckets
                .write(&task.input_file_bucket, &report_key(id, kind), body)
                .await
            {
                Ok(()) => written.push(report_type.to_owned()),
                Err(e) => tracing::error!(task = %id, report = kind, error = %e,
                    "cannot write a thing registration report"),
            }
        }
        let now = self.clock.now_ms();
        self.owned_update(id, |t| {
            t.reports = written.clone();
            if t.status == TaskStatus::InProgress {
                // An input without lines is done as soon as it is read.
                t.percentage_progress = 100;
            }
            t.status = match t.status {
                TaskStatus::Cancelling => TaskStatus::Cancelled,
                TaskStatus::InProgress => TaskStatus::Completed,
                other => other,
            };
            t.lease = None;
            t.modified_ms = now;
        })
        .await?;
        Ok(())
    }

    /// Deletes an ended task's line records (best effort: they only cost space).
    async fn drop_lines(&self, id: &str) {
        let store = self.docs.store();
        loop {
            let page = match store.list(LINE_KIND, &format!("{id}/"), None, 100).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(task = %id, error = %e, "cannot delete a task's line records");
                    return;
                }
            };
            if page.records.is_empty() {
                return;
            }
            let deletes = page
                .records
                .iter()
                .map(|r| Write::delete(LINE_KIND, &r.key, Expect::Any))
                .collect();
            if let Err(e) = store.write(deletes).await {
                tracing::warn!(task = %id, error = %e, "cannot delete a task's line records");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parameters;

    #[test]
    fn a_line_is_an_object_of_string_parameters() {
        let p = parameters(r#"{"ThingName": "a", "Serial": 7, "On": true}"#).unwrap();
        assert_eq!(p["ThingName"], "a");
        assert_eq!(p["Serial"], "7");
        assert_eq!(p["On"], "true");
        assert!(parameters("[1]").is_err());
        assert!(parameters("{nope").is_err());
        assert!(parameters(r#"{"a": {"b": 1}}"#).is_err());
    }
}
