//! The versioned configuration model of Ferrite: every setting with its default, validation,
//! and the documented `FERRITE_*` environment overrides. Reads no environment itself: the
//! binary passes the variables in, so tests and scripts stay in control.

mod cluster;
mod env;
mod model;
mod secrets;
mod targets;

pub use cluster::{ClusterConfig, node_id_problem};
pub use env::{ENV_VARS, EnvVar};
pub use model::*;
pub use secrets::*;
pub use targets::*;

/// The commented default configuration printed by `ferrite generate-config`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../default-config.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot parse config: {0}")]
    Parse(String),
    #[error("unsupported config version {0} (this build reads version 1)")]
    Version(u32),
    #[error("invalid value {value:?} for {name}: {reason}")]
    Env {
        name: String,
        value: String,
        reason: String,
    },
    #[error("invalid setting {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl Config {
    /// Parses a TOML document; absent fields take their defaults.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies `FERRITE_*` overrides from `vars` (name, value) pairs, then validates.
    pub fn apply_env<'a>(
        &mut self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            if let Some(var) = ENV_VARS.iter().find(|v| v.name == name) {
                (var.apply)(self, value).map_err(|reason| ConfigError::Env {
                    name: name.to_string(),
                    value: value.to_string(),
                    reason,
                })?;
            }
        }
        self.validate()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != 1 {
            return Err(ConfigError::Version(self.version));
        }
        let m = &self.mqtt;
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.to_string(),
            })
        };
        if m.max_payload_size == 0 || m.max_payload_size > m.max_packet_size {
            return invalid(
                "mqtt.max_payload_size",
                "must be between 1 and mqtt.max_packet_size",
            );
        }
        if m.max_packet_size > 268_435_460 {
            return invalid(
                "mqtt.max_packet_size",
                "must be at most 268435460 (the MQTT limit)",
            );
        }
        if m.receive_maximum == 0 {
            return invalid("mqtt.receive_maximum", "must be at least 1");
        }
        if m.min_keep_alive_secs > m.max_keep_alive_secs {
            return invalid(
                "mqtt.min_keep_alive_secs",
                "must not exceed mqtt.max_keep_alive_secs",
            );
        }
        if m.max_qos > 2 {
            return invalid("mqtt.max_qos", "must be 0, 1 or 2");
        }
        if m.max_client_id_len == 0 || m.max_client_id_len > 65535 {
            return invalid("mqtt.max_client_id_len", "must be between 1 and 65535");
        }
        if m.max_topic_levels == 0 || m.max_topic_bytes == 0 {
            return invalid("mqtt.max_topic_bytes", "topic limits must be positive");
        }
        if m.max_queued_messages == 0 {
            return invalid("mqtt.max_queued_messages", "must be at least 1");
        }
        if self.server.max_connections == 0 {
            return invalid("server.max_connections", "must be at least 1");
        }
        let aws = &self.aws;
        if aws.account_id.len() != 12 || !aws.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return invalid("aws.account_id", "must be 12 digits");
        }
        if aws.region.is_empty() {
            return invalid("aws.region", "must not be empty");
        }
        if aws
            .credentials
            .iter()
            .any(|k| k.access_key_id.is_empty() || k.secret_access_key.is_empty())
        {
            return invalid(
                "aws.credentials",
                "every key needs an access_key_id and a secret_access_key \
                 (FERRITE_ACCESS_KEY_ID and FERRITE_SECRET_ACCESS_KEY go together)",
            );
        }
        if self.shadow.max_state_bytes == 0 {
            return invalid("shadow.max_state_bytes", "must be at least 1");
        }
        if self.shadow.max_in_flight_per_client == 0 {
            return invalid("shadow.max_in_flight_per_client", "must be at least 1");
        }
        if self.jobs.timer_minute_ms == 0 {
            return invalid("jobs.timer_minute_ms", "must be at least 1");
        }
        if let Err(reason) = self.storage.backend() {
            return invalid("storage.url", &reason);
        }
        if let Some((field, reason)) = self.cluster.problem() {
            return invalid(field, &reason);
        }
        if self.cluster.enabled && self.storage.backend() == Ok(StorageBackend::Embedded) {
            return invalid(
                "cluster.enabled",
                "a cluster keeps its state in PostgreSQL: set storage.url to a postgres:// \
                 URL (it is empty, which selects the embedded store of one node)",
            );
        }
        if let Some((name, problem)) = self
            .secrets
            .iter()
            .find_map(|(name, s)| s.problem().map(|p| (name, p)))
        {
            return invalid("secrets", &format!("secret {name:?}: {problem}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_default_config_equals_builtin_defaults() {
        let parsed = Config::from_toml(DEFAULT_CONFIG_TOML).expect("default config parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn empty_document_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = Config::from_toml("[mqtt]\nmax_payload_sise = 5\n").unwrap_err();
        assert!(err.to_string().contains("max_payload_sise"), "{err}");
    }

    #[test]
    fn wrong_version_is_rejected() {
        assert!(matches!(
            Config::from_toml("version = 2"),
            Err(ConfigError::Version(2))
        ));
    }

    #[test]
    fn env_overrides_ports_and_data_dir() {
        let mut c = Config::default();
        c.apply_env([
            ("FERRITE_DATA_DIR", "/tmp/x"),
            ("FERRITE_MQTT_PORT", "0"),
            ("FERRITE_MQTTS_PORT", "18883"),
            ("FERRITE_WS_PORT", "off"),
            ("FERRITE_API_ADDR", "0.0.0.0:9999"),
            ("FERRITE_MQTT_MAX_PAYLOAD_SIZE", "1000"),
            ("UNRELATED", "x"),
        ])
        .unwrap();
        assert_eq!(c.data_dir.to_str(), Some("/tmp/x"));
        assert_eq!(c.listeners.mqtt.unwrap().port(), 0);
        assert_eq!(c.listeners.mqtts.unwrap().port(), 18883);
        assert_eq!(c.listeners.mqtts.unwrap().ip().to_string(), "127.0.0.1");
        assert!(c.listeners.ws.is_none());
        assert_eq!(c.listeners.api.unwrap().to_string(), "0.0.0.0:9999");
        assert_eq!(c.mqtt.max_payload_size, 1000);
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = Config::default()
            .apply_env([("FERRITE_MQTT_PORT", "http")])
            .unwrap_err();
        assert!(err.to_string().contains("FERRITE_MQTT_PORT"), "{err}");
    }

    #[test]
    fn every_env_var_is_documented_in_default_config() {
        for v in ENV_VARS {
            assert!(
                DEFAULT_CONFIG_TOML.contains(v.name),
                "{} missing from default-config.toml",
                v.name
            );
        }
    }

    #[test]
    fn storage_url_selects_the_backend() {
        for (url, expected) in [
            ("", Some(StorageBackend::Embedded)),
            ("  ", Some(StorageBackend::Embedded)),
            (
                "postgres://u:p@db/ferrite",
                Some(StorageBackend::Postgres {
                    url: "postgres://u:p@db/ferrite",
                }),
            ),
            (
                "PostgreSQL://db",
                Some(StorageBackend::Postgres {
                    url: "PostgreSQL://db",
                }),
            ),
            ("mysql://u:secret@db/x", None),
            ("sqlite:///var/lib/ferrite.db", None),
            ("/var/lib/ferrite.db", None),
        ] {
            let storage = StorageConfig {
                url: url.into(),
                ..StorageConfig::default()
            };
            assert_eq!(storage.backend().ok(), expected, "{url:?}");
        }
    }

    #[test]
    fn unsupported_storage_url_is_a_config_error_without_the_password() {
        let mut c = Config::default();
        let err = c
            .apply_env([("FERRITE_STORAGE_URL", "mysql://u:secret@db/x")])
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    field: "storage.url",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("postgres://"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = Config::from_toml("[storage]\nurl = \"ferrite.db\"\n").unwrap_err();
        assert!(err.to_string().contains("storage.url"), "{err}");
    }

    #[test]
    fn a_cluster_without_postgres_is_refused_naming_both_settings() {
        let err = Config::from_toml("[cluster]\nenabled = true\n").unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    field: "cluster.enabled",
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("cluster.enabled") && text.contains("storage.url"),
            "{text}"
        );
        let cfg = Config::from_toml(
            "[storage]\nurl = \"postgres://db/ferrite\"\n[cluster]\nenabled = true\n",
        )
        .unwrap();
        assert!(cfg.cluster.enabled);
        assert_eq!(cfg.cluster.subject_prefix, "ferrite");
    }

    #[test]
    fn cluster_settings_come_from_the_environment_and_are_checked() {
        let mut c = Config::default();
        c.apply_env([
            ("FERRITE_STORAGE_URL", "postgres://db/x"),
            ("FERRITE_CLUSTER_ENABLED", "true"),
            ("FERRITE_CLUSTER_NODE_ID", "node-1"),
            ("FERRITE_CLUSTER_NATS_URLS", "nats://a:4222, tls://b:4222"),
            ("FERRITE_CLUSTER_NATS_USER", "u"),
            ("FERRITE_CLUSTER_NATS_PASSWORD", "secret"),
            ("FERRITE_CLUSTER_SUBJECT_PREFIX", "prod.ferrite"),
        ])
        .unwrap();
        assert_eq!(c.cluster.node_id, "node-1");
        assert_eq!(c.cluster.nats_urls, ["nats://a:4222", "tls://b:4222"]);
        assert_eq!(c.cluster.subject_prefix, "prod.ferrite");
        assert!(!format!("{:?}", c.cluster).contains("secret"));
        for (var, value, field) in [
            ("FERRITE_CLUSTER_NODE_ID", "a.b", "cluster.node_id"),
            (
                "FERRITE_CLUSTER_SUBJECT_PREFIX",
                "a.>",
                "cluster.subject_prefix",
            ),
            (
                "FERRITE_CLUSTER_SUBJECT_PREFIX",
                "a..b",
                "cluster.subject_prefix",
            ),
            ("FERRITE_CLUSTER_NATS_URLS", "", "cluster.nats_urls"),
            ("FERRITE_CLUSTER_NATS_PASSWORD", "", "cluster.nats_user"),
        ] {
            let err = c.clone().apply_env([(var, value)]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { field: f, .. } if f == field),
                "{var}={value}: {err}"
            );
        }
    }

    #[test]
    fn payload_larger_than_packet_is_invalid() {
        let err = Config::from_toml("[mqtt]\nmax_payload_size = 999999999\n").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                field: "mqtt.max_payload_size",
                ..
            }
        ));
    }
}
