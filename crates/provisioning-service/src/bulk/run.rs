//! Running one thing registration task: each line of the input file through RegisterThing,
//! progress written as it goes, the reports written to the input bucket at the end.

use std::collections::BTreeMap;

use ferrite_types::AwsException;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{BulkRegistration, TaskDoc, TaskStatus, report_key, write_whole};

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

impl BulkRegistration {
    pub(super) async fn execute(self, task: TaskDoc, cancel: CancellationToken) {
        let id = task.task_id.clone();
        if let Err(e) = self.process(&task, &cancel).await {
            tracing::error!(task = %id, error = %e, "thing registration task failed");
            let message = e.to_string();
            let _ = self
                .update(&id, |t| {
                    if t.status.is_running() {
                        t.status = TaskStatus::Failed;
                        t.message = Some(message.clone());
                    }
                })
                .await;
        }
        self.running.lock().remove(&id);
    }

    async fn process(
        &self,
        task: &TaskDoc,
        cancel: &CancellationToken,
    ) -> Result<(), crate::ProvisioningError> {
        let id = &task.task_id;
        let input = match self
            .buckets
            .object(&task.input_file_bucket, &task.input_file_key)
        {
            Ok(path) => match tokio::fs::metadata(&path).await {
                Ok(meta) if meta.len() > self.max_input_bytes => Err(format!(
                    "s3://{}/{} is {} bytes; input files are limited to {} bytes",
                    task.input_file_bucket,
                    task.input_file_key,
                    meta.len(),
                    self.max_input_bytes
                )),
                _ => tokio::fs::read_to_string(&path).await.map_err(|e| {
                    format!(
                        "Cannot read s3://{}/{}: {e}",
                        task.input_file_bucket, task.input_file_key
                    )
                }),
            },
            Err(e) => Err(e),
        };
        let input = match input {
            Ok(text) => text,
            Err(message) => {
                self.update(id, |t| {
                    t.status = TaskStatus::Failed;
                    t.message = Some(message.clone());
                })
                .await?;
                return Ok(());
            }
        };
        let lines: Vec<(usize, &str)> = input
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        let scope = task.scope();
        let (mut results, mut errors) = (String::new(), String::new());
        let (mut ok, mut failed) = (0u64, 0u64);
        let mut stopped = false;
        for (done, (index, line)) in lines.iter().enumerate() {
            if cancel.is_cancelled() {
                stopped = true;
                break;
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
            match outcome {
                Ok(response) => {
                    ok += 1;
                    results.push_str(
                        &json!({"lineNumber": line_number, "response": response}).to_string(),
                    );
                    results.push('\n');
                }
                Err((code, message)) => {
                    failed += 1;
                    errors.push_str(
                        &json!({"lineNumber": line_number, "errorCode": code,
                            "errorMessage": message})
                        .to_string(),
                    );
                    errors.push('\n');
                }
            }
            let progress = ((done + 1) * 100 / lines.len()) as u64;
            let now = self
                .update(id, |t| {
                    t.success_count = ok;
                    t.failure_count = failed;
                    t.percentage_progress = progress;
                })
                .await?;
            // A Stop from another node shows only in the stored status.
            if now.status != TaskStatus::InProgress {
                stopped = true;
                break;
            }
        }
        let mut written = Vec::new();
        for (kind, report_type, body) in [
            ("results", "RESULTS", &results),
            ("errors", "ERRORS", &errors),
        ] {
            if body.is_empty() {
                continue;
            }
            let path = self
                .buckets
                .object(&task.input_file_bucket, &report_key(id, kind))
                .map_err(crate::ProvisioningError::InvalidRequest)?;
            match write_whole(&path, body.as_bytes()).await {
                Ok(()) => written.push(report_type.to_owned()),
                Err(e) => tracing::error!(task = %id, report = kind, error = %e,
                    "cannot write a thing registration report"),
            }
        }
        let shutting_down = stopped && self.shutdown.is_cancelled();
        self.update(id, |t| {
            t.reports = written.clone();
            if shutting_down && t.status == TaskStatus::InProgress {
                // Left InProgress: the next start marks it failed as interrupted.
                return;
            }
            if t.status == TaskStatus::InProgress {
                // An input without lines is done as soon as it is read.
                t.percentage_progress = 100;
            }
            t.status = match t.status {
                TaskStatus::Cancelling => TaskStatus::Cancelled,
                TaskStatus::InProgress => TaskStatus::Completed,
                other => other,
            };
        })
        .await?;
        Ok(())
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
