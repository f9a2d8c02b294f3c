//! `[targets]`: where rule actions that name AWS resources deliver on a machine without AWS.
//! Each action type maps AWS names (table names, stream names, queue URLs, bucket names,
//! topic ARNs) to a system users run; a name without a mapping goes to the same-named resource
//! of the section's default system, so most rules work without any entry. A section's
//! `forward_endpoint` sends that action type to an AWS-compatible endpoint instead (real AWS
//! or an emulator), calling the service's real API, SigV4-signed with `[targets.forward]`'s
//! keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetsConfig {
    pub dynamodb: DynamoDbTargets,
    pub kinesis: StreamTargets,
    pub firehose: StreamTargets,
    pub sqs: SqsTargets,
    pub sns: SnsTargets,
    pub s3: S3Targets,
    pub cloudwatch_logs: LogTargets,
    pub cloudwatch_metric: MetricTargets,
    pub kafka: KafkaTargets,
    pub lambda: LambdaTargets,
    pub forward: ForwardConfig,
}

/// `dynamoDB` / `dynamoDBv2` actions and the `get_dynamodb` function: PostgreSQL tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamoDbTargets {
    /// The PostgreSQL database (`postgres://...`); empty = `storage.url` when that is
    /// PostgreSQL. Without either, dynamoDB actions fail (the error action runs).
    pub url: String,
    /// DynamoDB table name → PostgreSQL table; unmapped names use the same name.
    pub tables: BTreeMap<String, String>,
    /// A DynamoDB-compatible endpoint (`scheme://host[:port]`) these actions call instead
    /// (PutItem, UpdateItem, DeleteItem); `get_dynamodb` still reads PostgreSQL.
    pub forward_endpoint: String,
}

/// `kinesis` / `firehose` actions: NATS JetStream streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamTargets {
    pub nats_url: String,
    /// AWS stream name → JetStream stream; unmapped names use the same name (created on first
    /// use).
    pub streams: BTreeMap<String, String>,
    /// A Kinesis- (for `[targets.kinesis]`: PutRecord) or Firehose-compatible endpoint (for
    /// `[targets.firehose]`: PutRecord, PutRecordBatch) these actions call instead of NATS.
    pub forward_endpoint: String,
}

impl Default for StreamTargets {
    fn default() -> Self {
        StreamTargets {
            nats_url: "nats://127.0.0.1:4222".into(),
            streams: BTreeMap::new(),
            forward_endpoint: String::new(),
        }
    }
}

/// `sqs` actions: RabbitMQ queues over AMQP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqsTargets {
    pub amqp_url: String,
    /// Queue URL → AMQP queue; unmapped URLs use the URL's last path segment.
    pub queues: BTreeMap<String, String>,
    /// An SQS-compatible endpoint these actions call instead (SendMessage to the rule's queue
    /// URL as it is).
    pub forward_endpoint: String,
}

impl Default for SqsTargets {
    fn default() -> Self {
        SqsTargets {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queues: BTreeMap::new(),
            forward_endpoint: String::new(),
        }
    }
}

/// `sns` actions: a NATS subject (`nats:subject`) or an HTTP(S) URL per topic ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnsTargets {
    pub nats_url: String,
    /// Topic ARN → `nats:{subject}` or `http(s)://...`; unmapped ARNs publish to the NATS
    /// subject `sns.{topic name}`.
    pub topics: BTreeMap<String, String>,
    /// An SNS-compatible endpoint these actions call instead (Publish to the rule's topic ARN;
    /// `topics` is then not used).
    pub forward_endpoint: String,
}

impl Default for SnsTargets {
    fn default() -> Self {
        SnsTargets {
            nats_url: "nats://127.0.0.1:4222".into(),
            topics: BTreeMap::new(),
            forward_endpoint: String::new(),
        }
    }
}

/// `s3` actions: a local directory per bucket, or an S3-compatible endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Targets {
    /// Where buckets live as directories; empty = `{data_dir}/s3`.
    pub root: PathBuf,
    /// Bucket name → directory; unmapped buckets are `{root}/{bucket}`.
    pub buckets: BTreeMap<String, PathBuf>,
    /// An S3-compatible endpoint these actions call instead (path-style PutObject).
    pub forward_endpoint: String,
}

impl S3Targets {
    /// The local directory bucket `bucket` lives in: its `buckets` entry, else
    /// `{root}/{bucket}` (`root` defaulting to `{data_dir}/s3`). An unmapped bucket is one
    /// directory below the root, never anywhere else, so names that would leave it are refused.
    pub fn bucket_dir(&self, bucket: &str, data_dir: &Path) -> Result<PathBuf, String> {
        if let Some(dir) = self.buckets.get(bucket) {
            return Ok(dir.clone());
        }
        if bucket.is_empty()
            || bucket == "."
            || bucket == ".."
            || bucket.contains(['/', '\\', '\0'])
        {
            return Err(format!(
                "the bucket name {bucket} cannot be a directory (map it in [targets.s3].buckets)"
            ));
        }
        let root = if self.root.as_os_str().is_empty() {
            data_dir.join("s3")
        } else {
            self.root.clone()
        };
        Ok(root.join(bucket))
    }
}

/// `cloudwatchLogs` actions: one JSON-lines file per log group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogTargets {
    /// Where log files go; empty = `{data_dir}/logs`.
    pub dir: PathBuf,
    /// A CloudWatch Logs-compatible endpoint these actions call instead: PutLogEvents into a
    /// log stream of the action's own in the rule's log group (which must exist), created on
    /// first use.
    pub forward_endpoint: String,
}

/// `cloudwatchMetric` actions: Prometheus gauges on `/metrics`, or a CloudWatch-compatible
/// endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricTargets {
    /// A CloudWatch-compatible endpoint these actions call instead (PutMetricData); the
    /// datapoints then no longer appear on `/metrics`.
    pub forward_endpoint: String,
}

/// `lambda` actions and the `aws_lambda` function. Functions are HTTP endpoints mapped in
/// `[aws.functions]` unless this forwards them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaTargets {
    /// Invoke functions through Lambda's `Invoke` API at this endpoint instead (real AWS or an
    /// emulator): asynchronously for actions, synchronously for `aws_lambda`.
    pub forward_endpoint: String,
}

/// `kafka` actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaTargets {
    /// Bootstrap brokers (`host:port`); empty = the action's `bootstrap.servers` client
    /// property.
    pub brokers: Vec<String>,
}

/// The keys and region forwarded actions sign with. HTTP actions with `auth.sigv4` sign with
/// the same keys, in the region and service the action names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardConfig {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_its_mapping_or_a_directory_below_the_root() {
        let mut s3 = S3Targets::default();
        let data = Path::new("/data");
        assert_eq!(s3.bucket_dir("b", data).unwrap(), Path::new("/data/s3/b"));
        s3.root = "/buckets".into();
        assert_eq!(s3.bucket_dir("b", data).unwrap(), Path::new("/buckets/b"));
        s3.buckets.insert("m".into(), "/elsewhere".into());
        assert_eq!(s3.bucket_dir("m", data).unwrap(), Path::new("/elsewhere"));
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(s3.bucket_dir(bad, data).is_err(), "{bad}");
        }
    }
}
