//! `[cluster]`: running as one of N identical nodes sharing PostgreSQL and NATS
//! (ARCHITECTURE.md, "Cluster design").

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Run as a node of a cluster. Requires `storage.url` to be a PostgreSQL URL.
    pub enabled: bool,
    /// This node's id (letters, digits, `-`, `_`; at most 64). Empty: generated on first
    /// start and kept in `{data_dir}/node-id`, so a node keeps its id across restarts.
    pub node_id: String,
    /// The NATS servers (`nats://host:port`, `tls://host:port`); the client fails over
    /// between them.
    pub nats_urls: Vec<String>,
    /// A NATS credentials file (user JWT and NKey seed); empty: none.
    pub nats_credentials_file: String,
    /// NATS user and password; empty: none.
    pub nats_user: String,
    pub nats_password: String,
    /// A PEM file of CA certificates to trust for the NATS servers; setting it requires TLS.
    /// Empty: TLS only when a URL says `tls://`, verified against the system's roots.
    pub nats_tls_ca_file: String,
    /// The first token of every subject the nodes use, so that several clusters can share
    /// one NATS system.
    pub subject_prefix: String,
    /// How often a node announces itself to the others (and checks its store): a peer not
    /// heard for three intervals is gone; a lost bus or store is noticed within about one.
    pub heartbeat_interval_ms: u64,
    /// How long a node waits for another node to confirm that it stored a QoS 1/2 message
    /// for a persistent session it holds before storing the message for that session itself
    /// (the publisher's acknowledgement waits meanwhile).
    pub receipt_timeout_ms: u64,
}

impl std::fmt::Debug for ClusterConfig {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("enabled", &self.enabled)
            .field("node_id", &self.node_id)
            .field("nats_urls", &self.nats_urls)
            .field("nats_credentials_file", &self.nats_credentials_file)
            .field("nats_user", &self.nats_user)
            .field("nats_tls_ca_file", &self.nats_tls_ca_file)
            .field("subject_prefix", &self.subject_prefix)
            .field("heartbeat_interval_ms", &self.heartbeat_interval_ms)
            .field("receipt_timeout_ms", &self.receipt_timeout_ms)
            .finish_non_exhaustive()
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            node_id: String::new(),
            nats_urls: vec!["nats://127.0.0.1:4222".into()],
            nats_credentials_file: String::new(),
            nats_user: String::new(),
            nats_password: String::new(),
            nats_tls_ca_file: String::new(),
            subject_prefix: "ferrite".into(),
            heartbeat_interval_ms: 2000,
            receipt_timeout_ms: 3000,
        }
    }
}

/// Why `id` cannot be a node id (it is a NATS subject token and a database value).
pub fn node_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() || id.len() > 64 {
        Some("must be 1 to 64 characters")
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Some("may hold only letters, digits, '-' and '_'")
    } else {
        None
    }
}

impl ClusterConfig {
    /// The first problem of the section on its own; `storage.url` is checked by the caller.
    pub(crate) fn problem(&self) -> Option<(&'static str, String)> {
        if !self.node_id.is_empty()
            && let Some(p) = node_id_problem(&self.node_id)
        {
            return Some(("cluster.node_id", p.to_owned()));
        }
        let prefix_ok = !self.subject_prefix.is_empty()
            && self.subject_prefix.split('.').all(|t| {
                !t.is_empty() && t != "*" && t != ">" && !t.bytes().any(|b| b <= b' ' || b == 0x7f)
            });
        if !prefix_ok {
            return Some((
                "cluster.subject_prefix",
                "must be one or more '.'-separated NATS tokens without wildcards or whitespace"
                    .to_owned(),
            ));
        }
        if self.enabled && self.nats_urls.iter().all(|u| u.trim().is_empty()) {
            return Some((
                "cluster.nats_urls",
                "a cluster needs at least one NATS URL".to_owned(),
            ));
        }
        if self.heartbeat_interval_ms == 0 {
            return Some((
                "cluster.heartbeat_interval_ms",
                "must be at least 1".to_owned(),
            ));
        }
        if self.receipt_timeout_ms == 0 {
            return Some((
                "cluster.receipt_timeout_ms",
                "must be at least 1".to_owned(),
            ));
        }
        if self.nats_user.is_empty() != self.nats_password.is_empty() {
            return Some((
                "cluster.nats_user",
                "cluster.nats_user and cluster.nats_password go together".to_owned(),
            ));
        }
        None
    }
}
