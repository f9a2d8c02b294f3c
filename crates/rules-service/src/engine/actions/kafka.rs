//! `kafka`: the SELECT output produced as one record to a Kafka topic, with the key, partition
//! and headers the action names (all templates), through `rskafka` (pure Rust). The brokers
//! are `[targets.kafka].brokers`, or else the action's `bootstrap.servers` client property.
//!
//! Client properties applied: `bootstrap.servers`, `security.protocol` (`PLAINTEXT`, `SSL`,
//! `SASL_PLAINTEXT`, `SASL_SSL`; TLS verifies against the webpki roots), `sasl.mechanism`
//! (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`) with `sasl.plain.*` / `sasl.scram.*`
//! `username` and `password`. Others (`acks`, serializers, `compression.type`, truststores)
//! are accepted as AWS accepts them: records are always sent uncompressed and acknowledged by
//! all in-sync replicas, the strongest of AWS's choices. `GSSAPI` (Kerberos) is refused.
//!
//! Without a `partition` the record goes where Kafka's Java producer would send it: a keyed
//! record to `murmur2(key) mod partitions`, so it lands with the same key's records from any
//! other client; an unkeyed one round-robin. The client, partition counts and partition
//! clients are kept and dropped on any failure, so the next attempt starts over.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrite_config::KafkaTargets;
use ferrite_rules::{CompiledSql, Template};
use ferrite_types::Clock;
use parking_lot::Mutex;
use rskafka::BackoffConfig;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;
use serde_json::Value;

use super::{Action, ActionError, BoxFuture, Deps, Job};

/// How long one produce may take, connecting and metadata included.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long rskafka keeps retrying inside one operation.
const RETRY_DEADLINE: Duration = Duration::from_secs(5);

pub(crate) struct Kafka {
    topic_text: String,
    topic: Template,
    key: Option<Template>,
    partition: Option<Template>,
    headers: Vec<(Template, Template)>,
    producer: Producer,
}

/// How to reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    brokers: Vec<String>,
    tls: bool,
    sasl: Option<Sasl>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sasl {
    Plain(String, String),
    ScramSha256(String, String),
    ScramSha512(String, String),
}

/// One record, ready to produce.
#[derive(Debug, PartialEq)]
struct Prepared {
    topic: String,
    partition: Option<i32>,
    record: Record,
}

fn template(sql: &CompiledSql, text: &str) -> Result<Template, String> {
    sql.template(text).map_err(|e| e.to_string())
}

impl Kafka {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<Kafka, String> {
        Kafka::from_config(config, sql, &deps.config.targets.kafka)
    }

    fn from_config(
        config: &Value,
        sql: &CompiledSql,
        targets: &KafkaTargets,
    ) -> Result<Kafka, String> {
        let topic_text = config["topic"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("kafka needs a topic")?
            .to_owned();
        let optional = |name: &str| -> Result<Option<Template>, String> {
            config[name].as_str().map(|t| template(sql, t)).transpose()
        };
        let mut headers = Vec::new();
        for h in config["headers"].as_array().into_iter().flatten() {
            let (Some(k), Some(v)) = (h["key"].as_str(), h["value"].as_str()) else {
                return Err("kafka headers need a key and a value".into());
            };
            headers.push((template(sql, k)?, template(sql, v)?));
        }
        let settings = settings(&config["clientProperties"], targets)?;
        Ok(Kafka {
            topic: template(sql, &topic_text)?,
            topic_text,
            key: optional("key")?,
            partition: optional("partition")?,
            headers,
            producer: Producer::new(settings),
        })
    }

    fn prepare(&self, job: &Job, now_ms: i64) -> Result<Prepared, ActionError> {
        let render = |t: &Template| {
            t.render(job.selected(), job.raw(), job.ctx())
                .map_err(|e| ActionError::permanent(e.to_string()))
        };
        let topic = render(&self.topic)?;
        if topic.is_empty() {
            return Err(ActionError::permanent("the topic template rendered empty"));
        }
        let partition = match &self.partition {
            None => None,
            Some(t) => {
                let text = render(t)?;
                let p = text.trim().parse::<i32>().ok().filter(|p| *p >= 0);
                Some(p.ok_or_else(|| {
                    ActionError::permanent(format!("partition {text} is not a partition number"))
                })?)
            }
        };
        let key = self
            .key
            .as_ref()
            .map(|t| render(t).map(String::into_bytes))
            .transpose()?;
        let mut headers = BTreeMap::new();
        for (k, v) in &self.headers {
            headers.insert(render(k)?, render(v)?.into_bytes());
        }
        let timestamp =
            rskafka::chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        Ok(Prepared {
            topic,
            partition,
            record: Record {
                key,
                value: Some(job.payload.to_vec()),
                headers,
                timestamp,
            },
        })
    }
}

/// The cluster settings from the action's client properties and `[targets.kafka]`.
fn settings(props: &Value, targets: &KafkaTargets) -> Result<Settings, String> {
    let prop = |name: &str| props.get(name).and_then(Value::as_str).map(str::trim);
    let brokers: Vec<String> = if targets.brokers.is_empty() {
        prop("bootstrap.servers")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        targets.brokers.clone()
    };
    if brokers.is_empty() {
        return Err(
            "kafka needs brokers: set [targets.kafka].brokers or the bootstrap.servers client property"
                .into(),
        );
    }
    let protocol = prop("security.protocol")
        .unwrap_or("PLAINTEXT")
        .to_ascii_uppercase();
    let (tls, sasl) = match protocol.as_str() {
        "PLAINTEXT" => (false, false),
        "SSL" => (true, false),
        "SASL_PLAINTEXT" => (false, true),
        "SASL_SSL" => (true, true),
        other => return Err(format!("security.protocol {other} is not supported")),
    };
    let sasl = if sasl {
        let mechanism = prop("sasl.mechanism")
            .unwrap_or("PLAIN")
            .to_ascii_uppercase();
        let creds = |kind: &str| -> Result<(String, String), String> {
            match (
                prop(&format!("sasl.{kind}.username")),
                prop(&format!("sasl.{kind}.password")),
            ) {
                (Some(u), Some(p)) => Ok((u.to_owned(), p.to_owned())),
                _ => Err(format!(
                    "sasl.mechanism {mechanism} needs sasl.{kind}.username and sasl.{kind}.password"
                )),
            }
        };
        Some(match mechanism.as_str() {
            "PLAIN" => {
                let (u, p) = creds("plain")?;
                Sasl::Plain(u, p)
            }
            "SCRAM-SHA-256" => {
                let (u, p) = creds("scram")?;
                Sasl::ScramSha256(u, p)
            }
            "SCRAM-SHA-512" => {
                let (u, p) = creds("scram")?;
                Sasl::ScramSha512(u, p)
            }
            other => return Err(format!("sasl.mechanism {other} is not supported")),
        })
    } else {
        None
    };
    Ok(Settings { brokers, tls, sasl })
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`), which its default partitioner hashes
/// keys with.
fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    #[allow(
        clippy::cast_possible_truncation,
        reason = "Java hashes the length as an int"
    )]
    let mut h = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// The partition a record without an explicit one goes to, as Kafka's default partitioner
/// places it; `partitions` are the topic's partition ids, sorted.
fn choose_partition(key: Option<&[u8]>, partitions: &[i32], next: &AtomicUsize) -> Option<i32> {
    if partitions.is_empty() {
        return None;
    }
    let index = match key {
        Some(key) => {
            let positive = murmur2(key) & 0x7fff_ffff;
            usize::try_from(positive).unwrap_or(0) % partitions.len()
        }
        None => next.fetch_add(1, Ordering::Relaxed) % partitions.len(),
    };
    Some(partitions[index])
}

/// The connection to one cluster and what it learned, kept between records.
struct Producer {
    settings: Settings,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
    partitions: Mutex<HashMap<String, Vec<i32>>>,
    partition_clients: Mutex<HashMap<(String, i32), Arc<PartitionClient>>>,
    round_robin: AtomicUsize,
}

impl Producer {
    fn new(settings: Settings) -> Producer {
        Producer {
            settings,
            client: tokio::sync::Mutex::new(None),
            partitions: Mutex::new(HashMap::new()),
            partition_clients: Mutex::new(HashMap::new()),
            round_robin: AtomicUsize::new(0),
        }
    }

    async fn produce(&self, prepared: Prepared) -> Result<(), ActionError> {
        let Prepared {
            topic,
            partition,
            record,
        } = prepared;
        let result = tokio::time::timeout(PRODUCE_TIMEOUT, async {
            let client = self.client().await?;
            let partition = match partition {
                Some(p) => p,
                None => {
                    let partitions = self.partitions(&client, &topic).await?;
                    choose_partition(record.key.as_deref(), &partitions, &self.round_robin)
                        .ok_or_else(|| format!("topic {topic} has no partitions"))?
                }
            };
            let partition_client = self.partition_client(&client, &topic, partition).await?;
            partition_client
                .produce(vec![record], Compression::NoCompression)
                .await
                .map_err(|e| format!("cannot produce to {topic}/{partition}: {e}"))?;
            Ok::<(), String>(())
        })
        .await;
        let message = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => format!(
                "Kafka at {} did not take the record within {} s",
                self.settings.brokers.join(","),
                PRODUCE_TIMEOUT.as_secs()
            ),
        };
        self.forget().await;
        Err(ActionError::transient(message))
    }

    async fn client(&self) -> Result<Arc<Client>, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = &*slot {
            return Ok(client.clone());
        }
        let mut builder = ClientBuilder::new(self.settings.brokers.clone())
            .client_id("ferrite-rules")
            .backoff_config(BackoffConfig {
                deadline: Some(RETRY_DEADLINE),
                ..BackoffConfig::default()
            });
        if self.settings.tls {
            builder = builder.tls_config(tls_config());
        }
        if let Some(sasl) = &self.settings.sasl {
            let creds = |u: &String, p: &String| Credentials::new(u.clone(), p.clone());
            builder = builder.sasl_config(match sasl {
                Sasl::Plain(u, p) => SaslConfig::Plain(creds(u, p)),
                Sasl::ScramSha256(u, p) => SaslConfig::ScramSha256(creds(u, p)),
                Sasl::ScramSha512(u, p) => SaslConfig::ScramSha512(creds(u, p)),
            });
        }
        let client = Arc::new(builder.build().await.map_err(|e| {
            format!(
                "cannot reach Kafka at {}: {e}",
                self.settings.brokers.join(",")
            )
        })?);
        *slot = Some(client.clone());
        Ok(client)
    }

    async fn partitions(&self, client: &Client, topic: &str) -> Result<Vec<i32>, String> {
        if let Some(p) = self.partitions.lock().get(topic) {
            return Ok(p.clone());
        }
        let topics = client
            .list_topics()
            .await
            .map_err(|e| format!("cannot list Kafka topics: {e}"))?;
        let mut known = self.partitions.lock();
        for t in topics {
            known.insert(t.name, t.partitions.into_iter().collect());
        }
        known
            .get(topic)
            .cloned()
            .ok_or_else(|| format!("Kafka has no topic {topic}"))
    }

    async fn partition_client(
        &self,
        client: &Client,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionClient>, String> {
        let key = (topic.to_owned(), partition);
        if let Some(pc) = self.partition_clients.lock().get(&key) {
            return Ok(pc.clone());
        }
        let pc = Arc::new(
            client
                .partition_client(topic, partition, UnknownTopicHandling::Error)
                .await
                .map_err(|e| format!("cannot reach {topic}/{partition}: {e}"))?,
        );
        self.partition_clients.lock().insert(key, pc.clone());
        Ok(pc)
    }

    async fn forget(&self) {
        *self.client.lock().await = None;
        self.partitions.lock().clear();
        self.partition_clients.lock().clear();
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

impl Action for Kafka {
    fn name(&self) -> &'static str {
        "KafkaAction"
    }

    fn resource(&self) -> String {
        self.topic_text.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let prepared = self.prepare(job, Clock::system().now_ms())?;
            self.producer.produce(prepared).await
        })
    }
}

#[cfg(test)]
mod tests;
