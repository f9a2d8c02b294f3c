//! `kinesis` and `firehose`: records appended to NATS JetStream streams at
//! `[targets.kinesis|firehose].nats_url`. The AWS stream name maps through the section's
//! `streams`, or else becomes the JetStream stream of the same name with every character
//! JetStream does not allow in names (anything but letters, digits, `_` and `-`) replaced by
//! `_`. Records are published on the subject `kinesis.{stream}` / `firehose.{stream}`; a
//! missing stream is created on first use with that subject (file storage, limits retention),
//! and a stream that exists must already take it.
//!
//! A record is the action's payload. Kinesis' partition key (the `partitionKey` template, a
//! new UUID when absent, as Kinesis needs one) travels in the `Kinesis-Partition-Key`
//! header. Firehose appends the `separator` to each record; with `batchMode` the payload
//! must be a JSON array and each element becomes a record (AWS's PutRecordBatch, at most 500).
//! A record counts as delivered when JetStream acknowledges it (it is stored); no
//! acknowledgement is a transient failure.
//!
//! With the section's `forward_endpoint` the records go to the service's API at that endpoint
//! instead, with the same partition key, separator and batching: Kinesis `PutRecord`
//! (`StreamName`, `Data`, `PartitionKey`), Firehose `PutRecord` or, with `batchMode`,
//! `PutRecordBatch` (`DeliveryStreamName`, `Record(s)` of `Data`). A batch Firehose stored only
//! in part fails with the records' error codes; its retry sends the whole batch again (at
//! least once, as for every action).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, stream};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ferrite_config::StreamTargets;
use ferrite_rules::{CompiledSql, Template};
use serde_json::{Value, json};

use super::forward::Forward;
use super::{Action, ActionError, BoxFuture, Deps, Job};
use crate::engine::clients::Clients;

/// The header carrying a Kinesis record's partition key.
pub(crate) const PARTITION_KEY_HEADER: &str = "Kinesis-Partition-Key";
/// How long a record may wait for JetStream's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// AWS's PutRecordBatch limit.
const MAX_BATCH: usize = 500;
/// Kinesis' partition key limit.
const MAX_PARTITION_KEY: usize = 256;

/// The JetStream stream for an AWS stream name: its mapping, or the name made valid.
pub(crate) fn stream_name(aws: &str, targets: &StreamTargets) -> Result<String, String> {
    if let Some(mapped) = targets.streams.get(aws) {
        return if valid_stream_name(mapped) {
            Ok(mapped.clone())
        } else {
            Err(format!(
                "the JetStream stream {mapped:?} mapped from {aws} is not a valid stream name"
            ))
        };
    }
    let name: String = aws
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        return Err("an empty stream name".into());
    }
    Ok(name)
}

/// JetStream's rule: no whitespace, `.`, `*`, `>`, path separators or control characters.
fn valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c))
}

/// Whether a subject filter (`*` one token, `>` the rest) covers `subject`.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in filter.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (t, Some(s)) if t == s => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

/// A JetStream stream the action appends to, created on first use.
struct Sink {
    nats_url: String,
    /// The JetStream stream (or why the name cannot be one).
    stream: Result<String, String>,
    clients: Arc<Clients>,
    /// The stream exists and takes the subject; cleared when JetStream says it does not.
    ready: AtomicBool,
}

impl Sink {
    fn new(aws_name: &str, targets: &StreamTargets, clients: &Arc<Clients>) -> Sink {
        Sink {
            nats_url: targets.nats_url.clone(),
            stream: stream_name(aws_name, targets),
            clients: clients.clone(),
            ready: AtomicBool::new(false),
        }
    }

    fn stream(&self) -> Result<&str, ActionError> {
        self.stream
            .as_deref()
            .map_err(|e| ActionError::permanent(e.clone()))
    }

    async fn context(&self) -> Result<jetstream::Context, ActionError> {
        let client = self
            .clients
            .nats(&self.nats_url)
            .await
            .map_err(ActionError::transient)?;
        Ok(jetstream::new(client))
    }

    /// Creates the stream unless it exists; an existing stream must take `subject`.
    async fn prepare(
        &self,
        js: &jetstream::Context,
        stream: &str,
        subject: &str,
    ) -> Result<(), ActionError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let config = stream::Config {
            name: stream.to_owned(),
            subjects: vec![subject.to_owned()],
            ..Default::default()
        };
        let created = tokio::time::timeout(ACK_TIMEOUT, js.get_or_create_stream(config))
            .await
            .map_err(|_| ActionError::transient("JetStream did not answer in time"))?
            .map_err(|e| ActionError::transient(format!("cannot create stream {stream}: {e}")))?;
        let subjects = &created.cached_info().config.subjects;
        if !subjects.iter().any(|s| subject_matches(s, subject)) {
            return Err(ActionError::permanent(format!(
                "the JetStream stream {stream} exists but does not take the subject {subject} \
                 (its subjects: {})",
                subjects.join(", ")
            )));
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Appends `records` on `subject`, each acknowledged by JetStream before the next.
    async fn append(
        &self,
        prefix: &str,
        records: Vec<(HeaderMap, Bytes)>,
    ) -> Result<(), ActionError> {
        let stream = self.stream()?;
        let subject = format!("{prefix}.{stream}");
        let js = self.context().await?;
        self.prepare(&js, stream, &subject).await?;
        for (headers, payload) in records {
            let ack = js
                .publish_with_headers(subject.clone(), headers, payload)
                .await
                .map_err(|e| ActionError::transient(format!("cannot publish to {stream}: {e}")))?;
            match tokio::time::timeout(ACK_TIMEOUT, ack).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    if e.kind() == PublishErrorKind::StreamNotFound {
                        // Deleted since: the retry creates it again.
                        self.ready.store(false, Ordering::Release);
                    }
                    return Err(ActionError::transient(format!(
                        "JetStream did not store the record in {stream}: {e}"
                    )));
                }
                Err(_) => {
                    return Err(ActionError::transient(format!(
                        "JetStream did not acknowledge the record in {stream} in time"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Where an action's records go.
enum Delivery {
    JetStream(Sink),
    Forward(Forward),
}

impl Delivery {
    fn build(aws_name: &str, targets: &StreamTargets, deps: &Deps) -> Delivery {
        match Forward::for_section(&targets.forward_endpoint, &deps.config.targets.forward) {
            Some(forward) => Delivery::Forward(forward),
            None => Delivery::JetStream(Sink::new(aws_name, targets, &deps.clients)),
        }
    }
}

/// The `kinesis` action.
pub(crate) struct Kinesis {
    stream: String,
    delivery: Delivery,
    partition_key: Option<Template>,
}

impl Kinesis {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<Kinesis, String> {
        let stream = config["streamName"]
            .as_str()
            .ok_or("kinesis needs a streamName")?;
        let partition_key = config["partitionKey"]
            .as_str()
            .map(|t| sql.template(t).map_err(|e| e.to_string()))
            .transpose()?;
        Ok(Kinesis {
            stream: stream.to_owned(),
            delivery: Delivery::build(stream, &deps.config.targets.kinesis, deps),
            partition_key,
        })
    }
}

/// Kinesis' PutRecord input.
fn kinesis_put_record(stream: &str, key: &str, data: &[u8]) -> Value {
    json!({"StreamName": stream, "Data": STANDARD.encode(data), "PartitionKey": key})
}

impl Action for Kinesis {
    fn name(&self) -> &'static str {
        "KinesisAction"
    }

    fn resource(&self) -> String {
        self.stream.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let key = match &self.partition_key {
                Some(t) => t
                    .render(job.selected(), job.raw(), job.ctx())
                    .map_err(|e| ActionError::permanent(e.to_string()))?,
                None => uuid::Uuid::new_v4().to_string(),
            };
            if key.is_empty() || key.len() > MAX_PARTITION_KEY {
                return Err(ActionError::permanent(format!(
                    "the partition key must be 1 to {MAX_PARTITION_KEY} bytes; it is {}",
                    key.len()
                )));
            }
            if key.contains(['\r', '\n']) {
                return Err(ActionError::permanent(
                    "the partition key must not contain line breaks",
                ));
            }
            match &self.delivery {
                Delivery::JetStream(sink) => {
                    let mut headers = HeaderMap::new();
                    headers.insert(PARTITION_KEY_HEADER, key.as_str());
                    sink.append("kinesis", vec![(headers, job.payload.clone())])
                        .await
                }
                Delivery::Forward(forward) => {
                    let input = kinesis_put_record(&self.stream, &key, &job.payload);
                    forward
                        .json_call("kinesis", "1.1", "Kinesis_20131202.PutRecord", &input)
                        .await
                        .map(drop)
                }
            }
        })
    }
}

/// The `firehose` action.
pub(crate) struct Firehose {
    stream: String,
    delivery: Delivery,
    separator: String,
    batch: bool,
}

impl Firehose {
    pub fn build(config: &Value, deps: &Deps) -> Result<Firehose, String> {
        let stream = config["deliveryStreamName"]
            .as_str()
            .ok_or("firehose needs a deliveryStreamName")?;
        Ok(Firehose::new(
            config,
            stream,
            Delivery::build(stream, &deps.config.targets.firehose, deps),
        ))
    }

    fn new(config: &Value, stream: &str, delivery: Delivery) -> Firehose {
        Firehose {
            stream: stream.to_owned(),
            delivery,
            separator: config["separator"].as_str().unwrap_or_default().to_owned(),
            batch: config["batchMode"].as_bool().unwrap_or(false),
        }
    }

    fn record(&self, data: &[u8]) -> Bytes {
        let mut record = Vec::with_capacity(data.len() + self.separator.len());
        record.extend_from_slice(data);
        record.extend_from_slice(self.separator.as_bytes());
        Bytes::from(record)
    }

    fn records(&self, payload: &Bytes) -> Result<Vec<Bytes>, ActionError> {
        if !self.batch {
            return Ok(vec![self.record(payload)]);
        }
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(payload) else {
            return Err(ActionError::permanent(
                "with batchMode the payload must be a JSON array",
            ));
        };
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(ActionError::permanent(format!(
                "with batchMode the payload must hold 1 to {MAX_BATCH} records; it holds {}",
                items.len()
            )));
        }
        Ok(items
            .iter()
            .map(|item| self.record(item.to_string().as_bytes()))
            .collect())
    }
}

impl Action for Firehose {
    fn name(&self) -> &'static str {
        "FirehoseAction"
    }

    fn resource(&self) -> String {
        self.stream.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let records = self.records(&job.payload)?;
            match &self.delivery {
                Delivery::JetStream(sink) => {
                    let records = records.into_iter().map(|r| (HeaderMap::new(), r));
                    sink.append("firehose", records.collect()).await
                }
                Delivery::Forward(forward) => {
                    let (target, input) = firehose_request(&self.stream, self.batch, &records);
                    let output = forward.json_call("firehose", "1.1", target, &input).await?;
                    batch_failures(&output)
                }
            }
        })
    }
}

/// Firehose's PutRecord input (PutRecordBatch's with `batch`), and its target.
fn firehose_request(stream: &str, batch: bool, records: &[Bytes]) -> (&'static str, Value) {
    let record = |data: &Bytes| json!({"Data": STANDARD.encode(data)});
    if batch {
        let records: Vec<Value> = records.iter().map(record).collect();
        (
            "Firehose_20150804.PutRecordBatch",
            json!({"DeliveryStreamName": stream, "Records": records}),
        )
    } else {
        let first = records.first().map(record).unwrap_or_default();
        (
            "Firehose_20150804.PutRecord",
            json!({"DeliveryStreamName": stream, "Record": first}),
        )
    }
}

/// A PutRecordBatch output that reports failed records as an error: transient, since
/// Firehose fails records for its own capacity (`ServiceUnavailableException`), not for
/// their content.
fn batch_failures(output: &Value) -> Result<(), ActionError> {
    let failed = output["FailedPutCount"].as_u64().unwrap_or(0);
    if failed == 0 {
        return Ok(());
    }
    let mut codes: Vec<&str> = output["RequestResponses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["ErrorCode"].as_str())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    Err(ActionError::transient(format!(
        "Firehose did not take {failed} of the batch's records ({})",
        codes.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_mapped_or_made_valid() {
        let mut targets = StreamTargets::default();
        targets
            .streams
            .insert("Mapped".to_owned(), "TELEMETRY".to_owned());
        targets.streams.insert("Bad".to_owned(), "a.b".to_owned());
        assert_eq!(stream_name("Mapped", &targets).unwrap(), "TELEMETRY");
        assert_eq!(stream_name("my.stream-1", &targets).unwrap(), "my_stream-1");
        assert!(stream_name("Bad", &targets).is_err());
    }

    #[test]
    fn subject_filters_match_as_nats_does() {
        assert!(subject_matches("kinesis.s", "kinesis.s"));
        assert!(subject_matches("kinesis.*", "kinesis.s"));
        assert!(subject_matches(">", "kinesis.s"));
        assert!(subject_matches("kinesis.>", "kinesis.s"));
        assert!(!subject_matches("kinesis.>", "kinesis"));
        assert!(!subject_matches("kinesis.t", "kinesis.s"));
        assert!(!subject_matches("kinesis", "kinesis.s"));
        assert!(!subject_matches("kinesis.s.x", "kinesis.s"));
    }

    mod forwarded {
        use bytes::Bytes;
        use serde_json::json;

        use super::super::*;
        use crate::engine::actions::test_endpoint::{endpoint, keys, next};
        use crate::engine::actions::test_job::job;

        fn body(hit: &crate::engine::actions::test_endpoint::Hit) -> Value {
            serde_json::from_slice(&hit.body).unwrap()
        }

        fn decoded(data: &Value) -> String {
            String::from_utf8(STANDARD.decode(data.as_str().unwrap()).unwrap()).unwrap()
        }

        #[tokio::test]
        async fn kinesis_puts_the_record_with_its_partition_key() {
            let (url, mut rx, _) = endpoint().await;
            let (sql, j) = job("SELECT t FROM 'k/+'", "k/d1", br#"{"t": 1}"#);
            let a = Kinesis {
                stream: "telemetry".into(),
                delivery: Delivery::Forward(Forward::for_section(&url, &keys()).unwrap()),
                partition_key: Some(sql.template("${topic(2)}").unwrap()),
            };
            a.execute(&j).await.unwrap();
            let hit = next(&mut rx).await;
            assert_eq!(hit.verified.as_ref().unwrap().service, "kinesis");
            assert_eq!(hit.headers["x-amz-target"], "Kinesis_20131202.PutRecord");
            assert_eq!(hit.headers["content-type"], "application/x-amz-json-1.1");
            let input = body(&hit);
            assert_eq!(input["StreamName"], "telemetry");
            assert_eq!(input["PartitionKey"], "d1");
            assert_eq!(decoded(&input["Data"]), r#"{"t":1}"#);
        }

        #[tokio::test]
        async fn firehose_puts_records_with_the_separator_and_batches_arrays() {
            let (url, mut rx, answer) = endpoint().await;
            let forward = || Delivery::Forward(Forward::for_section(&url, &keys()).unwrap());
            let (_, j) = job("SELECT t FROM 'f'", "f", br#"{"t": 2}"#);
            let single = Firehose::new(&json!({"separator": "\n"}), "fh", forward());
            *answer.lock() = (
                200,
                "application/x-amz-json-1.1",
                r#"{"RecordId": "r1"}"#.into(),
            );
            single.execute(&j).await.unwrap();
            let hit = next(&mut rx).await;
            assert_eq!(hit.verified.as_ref().unwrap().service, "firehose");
            assert_eq!(hit.headers["x-amz-target"], "Firehose_20150804.PutRecord");
            let input = body(&hit);
            assert_eq!(input["DeliveryStreamName"], "fh");
            assert_eq!(decoded(&input["Record"]["Data"]), "{\"t\":2}\n");

            let batch = Firehose::new(
                &json!({"separator": ",", "batchMode": true}),
                "fh",
                forward(),
            );
            let (_, mut j) = job("SELECT * FROM 'f'", "f", b"{}");
            j.payload = Bytes::from_static(br#"[{"a": 1}, "two"]"#);
            *answer.lock() = (
                200,
                "application/x-amz-json-1.1",
                r#"{"FailedPutCount": 0, "RequestResponses": [{"RecordId": "1"}, {"RecordId": "2"}]}"#
                    .into(),
            );
            batch.execute(&j).await.unwrap();
            let hit = next(&mut rx).await;
            assert_eq!(
                hit.headers["x-amz-target"],
                "Firehose_20150804.PutRecordBatch"
            );
            let input = body(&hit);
            let records: Vec<String> = input["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| decoded(&r["Data"]))
                .collect();
            assert_eq!(records, vec![r#"{"a":1},"#, r#""two","#]);

            *answer.lock() = (
                200,
                "application/x-amz-json-1.1",
                r#"{"FailedPutCount": 1, "RequestResponses": [{"RecordId": "1"},
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"}]}"#
                    .into(),
            );
            let e = batch.execute(&j).await.unwrap_err();
            next(&mut rx).await;
            assert!(e.retry, "{}", e.message);
            assert!(e.message.contains("1 of") && e.message.contains("ServiceUnavailable"));
        }
    }
}
