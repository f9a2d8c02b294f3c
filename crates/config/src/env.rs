//! The `FERRITE_*` environment variables, one table so that docs, tests and the parser agree.

use std::net::SocketAddr;
use std::str::FromStr;

use crate::model::{AccessKey, Config, Durability, LogFormat, listen_addr};

#[derive(Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub doc: &'static str,
    pub apply: fn(&mut Config, &str) -> Result<(), String>,
}

fn num<T: FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse::<T>()
        .map_err(|_| "expected a non-negative whole number".to_string())
}

fn bool_val(v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// `PORT` keeps the configured IP (loopback when the listener was off); "off" disables.
fn set_port(slot: &mut Option<SocketAddr>, v: &str) -> Result<(), String> {
    if v.trim() == "off" {
        *slot = None;
        return Ok(());
    }
    let port: u16 = v
        .trim()
        .parse()
        .map_err(|_| "expected a port number 0-65535 or \"off\"".to_string())?;
    let ip = slot
        .map(|a| a.ip())
        .unwrap_or_else(|| [127, 0, 0, 1].into());
    *slot = Some(SocketAddr::new(ip, port));
    Ok(())
}

/// The environment's key pair replaces the configured list: scripts set exactly one pair.
fn set_key(c: &mut Config, f: impl FnOnce(&mut AccessKey)) {
    if c.aws.credentials.len() != 1 {
        c.aws.credentials = vec![AccessKey {
            access_key_id: String::new(),
            secret_access_key: String::new(),
        }];
    }
    f(&mut c.aws.credentials[0]);
}

fn set_addr(slot: &mut Option<SocketAddr>, v: &str) -> Result<(), String> {
    *slot = listen_addr::parse(v.trim())?;
    Ok(())
}

macro_rules! listener_vars {
    ($field:ident, $port:literal, $addr:literal) => {
        [
            EnvVar {
                name: $port,
                doc: concat!("port of the ", stringify!($field), " listener, or \"off\""),
                apply: |c, v| set_port(&mut c.listeners.$field, v),
            },
            EnvVar {
                name: $addr,
                doc: concat!(
                    "\"ip:port\" of the ",
                    stringify!($field),
                    " listener, or \"off\""
                ),
                apply: |c, v| set_addr(&mut c.listeners.$field, v),
            },
        ]
    };
}

macro_rules! mqtt_num {
    ($field:ident, $name:literal) => {
        EnvVar {
            name: $name,
            doc: concat!("mqtt.", stringify!($field)),
            apply: |c, v| {
                c.mqtt.$field = num(v)?;
                Ok(())
            },
        }
    };
}

const L_MQTT: [EnvVar; 2] = listener_vars!(mqtt, "FERRITE_MQTT_PORT", "FERRITE_MQTT_ADDR");
const L_MQTTS: [EnvVar; 2] = listener_vars!(mqtts, "FERRITE_MQTTS_PORT", "FERRITE_MQTTS_ADDR");
const L_WS: [EnvVar; 2] = listener_vars!(ws, "FERRITE_WS_PORT", "FERRITE_WS_ADDR");
const L_WSS: [EnvVar; 2] = listener_vars!(wss, "FERRITE_WSS_PORT", "FERRITE_WSS_ADDR");
const L_HTTPS: [EnvVar; 2] = listener_vars!(https, "FERRITE_HTTPS_PORT", "FERRITE_HTTPS_ADDR");
const L_API: [EnvVar; 2] = listener_vars!(api, "FERRITE_API_PORT", "FERRITE_API_ADDR");

pub static ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "FERRITE_DATA_DIR",
        doc: "data_dir",
        apply: |c, v| {
            c.data_dir = v.into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_LOG_LEVEL",
        doc: "log.level",
        apply: |c, v| {
            c.log.level = v.into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_LOG_FORMAT",
        doc: "log.format (text or json)",
        apply: |c, v| {
            c.log.format = match v.trim() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err("expected text or json".into()),
            };
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_MAX_CONNECTIONS",
        doc: "server.max_connections",
        apply: |c, v| {
            c.server.max_connections = num(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_WORKER_THREADS",
        doc: "server.worker_threads",
        apply: |c, v| {
            c.server.worker_threads = num(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_SERVER_NAMES",
        doc: "server.server_names, comma separated",
        apply: |c, v| {
            c.server.server_names = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            Ok(())
        },
    },
    L_MQTT[0],
    L_MQTT[1],
    L_MQTTS[0],
    L_MQTTS[1],
    L_WS[0],
    L_WS[1],
    L_WSS[0],
    L_WSS[1],
    L_HTTPS[0],
    L_HTTPS[1],
    L_API[0],
    L_API[1],
    mqtt_num!(max_payload_size, "FERRITE_MQTT_MAX_PAYLOAD_SIZE"),
    mqtt_num!(max_packet_size, "FERRITE_MQTT_MAX_PACKET_SIZE"),
    mqtt_num!(min_keep_alive_secs, "FERRITE_MQTT_MIN_KEEP_ALIVE_SECS"),
    mqtt_num!(max_keep_alive_secs, "FERRITE_MQTT_MAX_KEEP_ALIVE_SECS"),
    mqtt_num!(
        max_session_expiry_secs,
        "FERRITE_MQTT_MAX_SESSION_EXPIRY_SECS"
    ),
    mqtt_num!(max_queued_messages, "FERRITE_MQTT_MAX_QUEUED_MESSAGES"),
    mqtt_num!(max_inflight, "FERRITE_MQTT_MAX_INFLIGHT"),
    mqtt_num!(receive_maximum, "FERRITE_MQTT_RECEIVE_MAXIMUM"),
    mqtt_num!(
        websocket_max_lifetime_secs,
        "FERRITE_MQTT_WEBSOCKET_MAX_LIFETIME_SECS"
    ),
    mqtt_num!(max_publishes_per_sec, "FERRITE_MQTT_MAX_PUBLISHES_PER_SEC"),
    mqtt_num!(max_bytes_per_sec, "FERRITE_MQTT_MAX_BYTES_PER_SEC"),
    mqtt_num!(throttle_grace_secs, "FERRITE_MQTT_THROTTLE_GRACE_SECS"),
    EnvVar {
        name: "FERRITE_MQTT_AWS_STRICT_WILDCARDS",
        doc: "true = AWS wildcard rules (a/# does not match a, no retained for wildcards)",
        apply: |c, v| {
            let strict = bool_val(v)?;
            c.mqtt.multilevel_wildcard_matches_parent = !strict;
            c.mqtt.retained_for_wildcard_subscriptions = !strict;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_ACCOUNT_ID",
        doc: "aws.account_id (12 digits)",
        apply: |c, v| {
            c.aws.account_id = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_ACCESS_KEY_ID",
        doc: "the one accepted access key id (with FERRITE_SECRET_ACCESS_KEY; replaces aws.credentials)",
        apply: |c, v| {
            set_key(c, |k| k.access_key_id = v.trim().into());
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_SECRET_ACCESS_KEY",
        doc: "the secret of FERRITE_ACCESS_KEY_ID",
        apply: |c, v| {
            set_key(c, |k| k.secret_access_key = v.trim().into());
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_REGION",
        doc: "aws.region (the region `ferrite env` suggests)",
        apply: |c, v| {
            c.aws.region = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_ENDPOINT_HOST",
        doc: "aws.endpoint_host (the host DescribeEndpoint answers)",
        apply: |c, v| {
            c.aws.endpoint_host = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_TEST_HOOKS",
        doc: "aws.test_hooks (true enables POST /_ferrite/reset)",
        apply: |c, v| {
            c.aws.test_hooks = bool_val(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_ANONYMOUS_POLICY",
        doc: "auth.anonymous_loopback_policy (IoT policy JSON for credential-less loopback clients; empty refuses them)",
        apply: |c, v| {
            c.auth.anonymous_loopback_policy = v.to_owned();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_SHADOW_DELETE_WITH_THING",
        doc: "shadow.delete_with_thing (true: DeleteThing also deletes the thing's shadows)",
        apply: |c, v| {
            c.shadow.delete_with_thing = bool_val(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_JOBS_TIMER_MINUTE_MS",
        doc: "jobs.timer_minute_ms (length of a jobs timer minute in ms; AWS: 60000, tests shorten it)",
        apply: |c, v| {
            c.jobs.timer_minute_ms = num(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CONSOLE_ENABLED",
        doc: "console.enabled (false: the API listener does not serve the web console under /console)",
        apply: |c, v| {
            c.console.enabled = bool_val(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_STORAGE_URL",
        doc: "storage.url (empty = embedded SQLite, postgres:// or postgresql:// = PostgreSQL)",
        apply: |c, v| {
            c.storage.url = v.into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_STORAGE_DURABILITY",
        doc: "storage.durability (full or normal)",
        apply: |c, v| {
            c.storage.durability = match v.trim() {
                "full" => Durability::Full,
                "normal" => Durability::Normal,
                _ => return Err("expected full or normal".into()),
            };
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_ENABLED",
        doc: "cluster.enabled (true: a node of a cluster; needs a postgres:// storage.url)",
        apply: |c, v| {
            c.cluster.enabled = bool_val(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_NODE_ID",
        doc: "cluster.node_id (empty: generated once, kept in {data_dir}/node-id)",
        apply: |c, v| {
            c.cluster.node_id = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_NATS_URLS",
        doc: "cluster.nats_urls, comma separated",
        apply: |c, v| {
            c.cluster.nats_urls = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_NATS_CREDENTIALS_FILE",
        doc: "cluster.nats_credentials_file",
        apply: |c, v| {
            c.cluster.nats_credentials_file = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_NATS_USER",
        doc: "cluster.nats_user (with FERRITE_CLUSTER_NATS_PASSWORD)",
        apply: |c, v| {
            c.cluster.nats_user = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_NATS_PASSWORD",
        doc: "cluster.nats_password",
        apply: |c, v| {
            c.cluster.nats_password = v.to_owned();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_NATS_TLS_CA_FILE",
        doc: "cluster.nats_tls_ca_file (PEM CAs for the NATS servers; requires TLS)",
        apply: |c, v| {
            c.cluster.nats_tls_ca_file = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_SUBJECT_PREFIX",
        doc: "cluster.subject_prefix (first token of the cluster's NATS subjects)",
        apply: |c, v| {
            c.cluster.subject_prefix = v.trim().into();
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_HEARTBEAT_INTERVAL_MS",
        doc: "cluster.heartbeat_interval_ms (peer announcements and store checks)",
        apply: |c, v| {
            c.cluster.heartbeat_interval_ms = num(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "FERRITE_CLUSTER_RECEIPT_TIMEOUT_MS",
        doc: "cluster.receipt_timeout_ms (wait for another node to store a message for its session)",
        apply: |c, v| {
            c.cluster.receipt_timeout_ms = num(v)?;
            Ok(())
        },
    },
];
