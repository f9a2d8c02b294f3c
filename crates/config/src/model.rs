//! The configuration structs. Every field's default lives in one `Default` impl per section,
//! and `default-config.toml` documents the same values (a test keeps the two equal).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Config format version; this build reads 1.
    pub version: u32,
    /// Where Ferrite keeps its store, CA and generated files; created on first start.
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub server: ServerConfig,
    pub listeners: ListenersConfig,
    pub mqtt: MqttConfig,
    pub storage: StorageConfig,
    pub cluster: crate::cluster::ClusterConfig,
    pub aws: AwsConfig,
    pub auth: AuthConfig,
    pub shadow: ShadowConfig,
    pub jobs: JobsConfig,
    pub console: ConsoleConfig,
    pub targets: crate::targets::TargetsConfig,
    /// What `get_secret` in rules reads (secret name → value).
    pub secrets: crate::secrets::SecretsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 1,
            data_dir: PathBuf::from("ferrite-data"),
            log: LogConfig::default(),
            server: ServerConfig::default(),
            listeners: ListenersConfig::default(),
            mqtt: MqttConfig::default(),
            storage: StorageConfig::default(),
            cluster: crate::cluster::ClusterConfig::default(),
            aws: AwsConfig::default(),
            auth: AuthConfig::default(),
            shadow: ShadowConfig::default(),
            jobs: JobsConfig::default(),
            console: ConsoleConfig::default(),
            targets: crate::targets::TargetsConfig::default(),
            secrets: crate::secrets::SecretsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter directive; `RUST_LOG` overrides it.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Connections beyond this are refused (CONNACK "server unavailable"/0x89 server busy).
    pub max_connections: usize,
    /// Tokio worker threads; 0 = one per CPU the process may run on.
    pub worker_threads: usize,
    /// Seconds a new connection has to complete TLS/WebSocket handshakes and send CONNECT.
    pub connect_timeout_secs: u64,
    /// Extra host names / IP addresses for the server certificate (besides localhost).
    pub server_names: Vec<String>,
    /// Seconds graceful shutdown waits for connections and the store to finish.
    pub shutdown_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 100_000,
            worker_threads: 0,
            connect_timeout_secs: 10,
            server_names: Vec::new(),
            shutdown_timeout_secs: 10,
        }
    }
}

/// Listener addresses; `"off"` disables a listener, port 0 picks a free port (the bound
/// addresses are written to `{data_dir}/listeners.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenersConfig {
    #[serde(with = "listen_addr")]
    pub mqtt: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub mqtts: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub ws: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub wss: Option<SocketAddr>,
    /// AWS's multiplexed device port (443 on AWS): MQTT by ALPN `x-amzn-mqtt-ca` or
    /// `mqtt`, HTTPS with client certificates by `x-amzn-http-ca`, otherwise HTTPS or
    /// MQTT over WebSocket at `/mqtt`.
    #[serde(with = "listen_addr")]
    pub https: Option<SocketAddr>,
    #[serde(with = "listen_addr")]
    pub api: Option<SocketAddr>,
}

fn loopback(port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

impl Default for ListenersConfig {
    fn default() -> Self {
        ListenersConfig {
            mqtt: loopback(1883),
            mqtts: loopback(8883),
            ws: loopback(8083),
            wss: loopback(8084),
            https: loopback(8443),
            api: loopback(8090),
        }
    }
}

/// `"127.0.0.1:1883"` or `"off"`.
pub(crate) mod listen_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => s.serialize_str(&a.to_string()),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Option<SocketAddr>, String> {
        if text == "off" {
            return Ok(None);
        }
        text.parse::<SocketAddr>()
            .map(Some)
            .map_err(|_| format!("expected \"ip:port\" or \"off\", got {text:?}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Largest PUBLISH payload accepted, in bytes (AWS: 128 KiB).
    pub max_payload_size: usize,
    /// Largest packet accepted, announced as MQTT 5 Maximum Packet Size (AWS: 146 KiB).
    pub max_packet_size: usize,
    /// Longest client id in bytes (AWS: 128).
    pub max_client_id_len: usize,
    /// Longest topic name or filter in bytes (AWS: 256).
    pub max_topic_bytes: usize,
    /// Most levels in a topic name or filter (AWS: 8, i.e. 7 slashes).
    pub max_topic_levels: usize,
    /// Most topic filters in one SUBSCRIBE (AWS: 8).
    pub max_filters_per_subscribe: usize,
    /// Most subscriptions one session holds (AWS: 50).
    pub max_subscriptions_per_session: usize,
    /// Unacknowledged inbound QoS 1/2 publishes per connection (MQTT 5 Receive Maximum).
    pub receive_maximum: u16,
    /// Unacknowledged outbound QoS 1/2 deliveries per connection (capped by the client's own).
    pub max_inflight: u16,
    /// Topic aliases a client may set (MQTT 5 Topic Alias Maximum; AWS: 8).
    pub topic_alias_maximum: u16,
    /// Highest QoS granted (AWS: 1; Ferrite also supports 2).
    pub max_qos: u8,
    /// Keep-alive values below this are raised to it (AWS: 30 s).
    pub min_keep_alive_secs: u16,
    /// Keep-alive values above this, and 0, are lowered to it (AWS: 1200 s).
    pub max_keep_alive_secs: u16,
    /// Persistent session lifetime after disconnect: MQTT 3.1.1 sessions get it, MQTT 5
    /// requests are capped to it (AWS: 1 hour).
    pub max_session_expiry_secs: u32,
    /// Messages queued per session awaiting delivery. When full, publishers wait for room
    /// (QoS 1/2 up to `backpressure_timeout_ms`, QoS 0 up to `qos0_backpressure_ms`), then the
    /// message is dropped for that subscriber (counted in `ferrite_mqtt_messages_dropped_total`).
    pub max_queued_messages: usize,
    /// How long a QoS 1/2 publisher is held back by a full subscriber queue.
    pub backpressure_timeout_ms: u64,
    /// How long a QoS 0 publisher is held back by a full subscriber queue. A subscriber whose
    /// queue stays full that long counts as congested: QoS 0 messages for it are then dropped
    /// at once, without holding anyone, until its queue is half empty. 0: always drop at once.
    /// The rules engine's tap and its actions' queues follow the same policy.
    pub qos0_backpressure_ms: u64,
    /// Most retained messages kept; retained publishes beyond it are refused (quota exceeded).
    pub max_retained_messages: usize,
    /// SigV4-signed WebSocket connections are closed at this age, as AWS closes them after
    /// 24 hours (lifecycle reason `WEBSOCKET_TTL_EXPIRATION`). 0: no limit.
    pub websocket_max_lifetime_secs: u64,
    /// Inbound publishes per second one connection may send (AWS: 100); 0: no limit. Over
    /// it, publishes are not routed: MQTT 5 QoS 1/2 get PUBACK/PUBREC 0x97 (Quota exceeded),
    /// MQTT 3.1.1 QoS 1/2 are acknowledged, QoS 0 are dropped.
    pub max_publishes_per_sec: u32,
    /// Inbound publish bytes (topic and payload) per second one connection may send (AWS:
    /// 512 KiB); 0: no limit. Over it, publishes are treated as over `max_publishes_per_sec`.
    pub max_bytes_per_sec: u64,
    /// A connection still over its publish limits this long after it first went over
    /// (without having stayed under them for a second since) is disconnected (lifecycle
    /// reason `THROTTLED`, MQTT 5 DISCONNECT 0x96).
    pub throttle_grace_secs: u32,
    /// Standard MQTT: `a/#` also matches `a`. AWS IoT does not (set false to match AWS).
    pub multilevel_wildcard_matches_parent: bool,
    /// Standard MQTT: wildcard subscriptions receive stored retained messages. AWS IoT only
    /// sends them to exact-topic subscriptions (set false to match AWS).
    pub retained_for_wildcard_subscriptions: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            max_payload_size: 131_072,
            max_packet_size: 149_504,
            max_client_id_len: 128,
            max_topic_bytes: 256,
            max_topic_levels: 8,
            max_filters_per_subscribe: 8,
            max_subscriptions_per_session: 50,
            receive_maximum: 100,
            max_inflight: 100,
            topic_alias_maximum: 8,
            max_qos: 2,
            min_keep_alive_secs: 30,
            max_keep_alive_secs: 1200,
            max_session_expiry_secs: 3600,
            max_queued_messages: 1000,
            backpressure_timeout_ms: 5000,
            qos0_backpressure_ms: 100,
            max_retained_messages: 500_000,
            websocket_max_lifetime_secs: 86_400,
            max_publishes_per_sec: 0,
            max_bytes_per_sec: 0,
            throttle_grace_secs: 10,
            multilevel_wildcard_matches_parent: true,
            retained_for_wildcard_subscriptions: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync before acknowledging: an acknowledged message survives power loss.
    Full,
    /// Survives a process crash (`kill -9`), not necessarily power loss.
    Normal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Empty: the embedded store in `{data_dir}/ferrite.db`. `postgres://` or
    /// `postgresql://`: the PostgreSQL store at that URL (tables in the connection's current
    /// schema; `?options[search_path]=NAME` picks one). Anything else is a config error.
    pub url: String,
    pub durability: Durability,
}

/// The store `storage.url` selects; see [`StorageConfig::backend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageBackend<'a> {
    /// SQLite in `{data_dir}/ferrite.db`.
    Embedded,
    /// PostgreSQL at this URL.
    Postgres { url: &'a str },
}

impl StorageConfig {
    /// Which store `url` selects, or why it selects none. The error never repeats the URL,
    /// which may hold a password.
    pub fn backend(&self) -> Result<StorageBackend<'_>, String> {
        let url = self.url.trim();
        if url.is_empty() {
            return Ok(StorageBackend::Embedded);
        }
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some(s)
                if s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql") =>
            {
                Ok(StorageBackend::Postgres { url })
            }
            Some(s) => Err(format!(
                "unsupported scheme {s:?}: leave it empty for the embedded store, or give a \
                 postgres:// or postgresql:// URL"
            )),
            None => Err(
                "not a URL: leave it empty for the embedded store, or give a postgres:// or \
                 postgresql:// URL"
                    .to_owned(),
            ),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: String::new(),
            durability: Durability::Full,
        }
    }
}

/// One access key pair the API accepts (SigV4).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AccessKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The AWS account Ferrite plays, and how clients authenticate to its API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsConfig {
    /// The 12-digit account id in every ARN.
    pub account_id: String,
    /// The region `ferrite env` suggests; each request's SigV4 scope sets its own region.
    pub region: String,
    /// Access keys accepted on the API. Empty: a pair is generated at first start and kept in
    /// `{data_dir}/credentials.toml` (`ferrite env` prints it).
    pub credentials: Vec<AccessKey>,
    /// The host DescribeEndpoint answers for devices (`iot:Data-ATS`, `iot:Data`) and jobs.
    pub endpoint_host: String,
    /// Test hook: `POST /_ferrite/reset`, signed with an accepted key, empties the registry.
    pub test_hooks: bool,
    /// Custom authorizer functions: Lambda ARN (or bare function name) → the URL of the HTTP
    /// endpoint that plays that Lambda (it receives AWS's authorizer event as a JSON POST and
    /// answers the Lambda's response). An `authorizerFunctionArn` that is itself an
    /// `http://`/`https://` URL needs no entry. Rule `lambda` actions use the same table.
    pub functions: std::collections::BTreeMap<String, String>,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            credentials: Vec::new(),
            endpoint_host: "localhost".into(),
            test_hooks: false,
            functions: Default::default(),
        }
    }
}

/// Device authentication settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The IoT policy document for clients that connect without credentials to the plain
    /// (unencrypted) MQTT and WebSocket listeners on a loopback address. Empty: refused.
    pub anonymous_loopback_policy: String,
}

/// Everything allowed: local development works out of the box.
pub const ALLOW_ALL_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous_loopback_policy: ALLOW_ALL_POLICY.into(),
        }
    }
}

/// The jobs service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How long one minute of the jobs timers lasts, in milliseconds: in-progress and step
    /// timeouts, rollout rates per minute. AWS's 60000; test suites shorten it so that a
    /// one-minute timeout does not take a minute. Schedules (`startTime`/`endTime`) are wall
    /// times and do not scale.
    pub timer_minute_ms: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            timer_minute_ms: 60_000,
        }
    }
}

/// The web console (`crates/console`), served on the API listener under `/console`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Whether the API listener serves the console. It holds no privileges (the browser signs
    /// every call with the account's keys), so it is on wherever the API is.
    pub enabled: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig { enabled: true }
    }
}

/// When an accepted shadow update publishes `/update/delta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaTrigger {
    /// Only when the request set `state.desired` (what AWS does).
    DesiredInRequest,
    /// After every accepted update with a non-empty delta (the developer guide's wording).
    AnyUpdate,
}

/// The Device Shadow service: limits, and switches where AWS's behaviour is not pinned down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShadowConfig {
    /// Largest `desired` + `reported` in bytes (AWS: 8 KB, 30 KB by quota increase) -> 413.
    pub max_state_bytes: usize,
    /// How long a deleted shadow's version numbering is remembered (AWS: 48 h).
    pub deleted_version_memory_secs: u64,
    /// When `/update/delta` is published.
    pub delta_trigger: DeltaTrigger,
    /// Whether GET documents carry `metadata.delta`.
    pub get_metadata_delta: bool,
    /// Whether DeleteThing also deletes the thing's shadows (AWS keeps them).
    pub delete_with_thing: bool,
    /// Unanswered shadow requests one MQTT client may have; more are rejected with 429 (AWS: 10).
    pub max_in_flight_per_client: usize,
    /// Shadow requests per second per thing before 429 (AWS's adjustable quota: 20); 0 = off.
    pub max_requests_per_thing_per_sec: u32,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        ShadowConfig {
            max_state_bytes: 8192,
            deleted_version_memory_secs: 48 * 3600,
            delta_trigger: DeltaTrigger::DesiredInRequest,
            get_metadata_delta: false,
            delete_with_thing: false,
            max_in_flight_per_client: 10,
            max_requests_per_thing_per_sec: 0,
        }
    }
}
