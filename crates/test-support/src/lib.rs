//! Test helpers: an in-process Ferrite on free ports with a temporary data directory, and
//! a raw MQTT client built on the codec that waits for every packet with a timeout, so
//! tests never sleep and never hang.

pub mod aws;
mod broker;
mod client;
pub mod rules;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use broker::{AllowEveryone, BrokerHarness};
pub use client::{
    ClientStream, TestClient, connect_packet, connect_v5, connect_v311, pid, publish, with_will,
};
use ferrite_config::Config;
use ferrite_server::Server;

/// How long a test waits for any single expected event.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct TestServer {
    pub server: Option<Server>,
    pub config: Config,
    pub dir: std::sync::Arc<tempfile::TempDir>,
}

/// A config for tests: free ports, a fresh data dir, keep-alive allowed down to 1 s.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    let free = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    c.listeners.mqtt = free;
    c.listeners.mqtts = free;
    c.listeners.ws = free;
    c.listeners.wss = free;
    c.listeners.https = free;
    c.listeners.api = free;
    c.mqtt.min_keep_alive_secs = 1;
    // Known keys, so tests can sign API calls (`aws::signed_call`).
    c.aws.credentials = vec![ferrite_config::AccessKey {
        access_key_id: aws::TEST_ACCESS_KEY_ID.into(),
        secret_access_key: aws::TEST_SECRET_ACCESS_KEY.into(),
    }];
    c.server.shutdown_timeout_secs = 5;
    c
}

impl TestServer {
    /// `arn:aws:iot:{region}:{account}:{resource}` in this server's account.
    pub fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:{resource}",
            self.config.aws.region, self.config.aws.account_id
        )
    }

    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = test_config(dir.path());
        f(&mut config);
        let server = Server::start(config.clone()).await.expect("server starts");
        TestServer {
            server: Some(server),
            config,
            dir,
        }
    }

    fn s(&self) -> &Server {
        self.server.as_ref().expect("server running")
    }

    pub fn mqtt_addr(&self) -> SocketAddr {
        self.s().addrs.mqtt.expect("mqtt listener")
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.s().addrs.api.expect("api listener")
    }

    pub fn addrs(&self) -> ferrite_server::BoundAddrs {
        self.s().addrs.clone()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.s().ca_file.clone()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Graceful shutdown, then a new server on the same data directory (new ports).
    pub async fn restart(mut self) -> TestServer {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let server = Server::start(self.config.clone())
            .await
            .expect("server restarts");
        TestServer {
            server: Some(server),
            config: self.config.clone(),
            dir: self.dir.clone(),
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// A minimal HTTP/1.1 GET over a raw socket, returning status line, headers and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: ferrite\r\nConnection: close\r\n\r\n");
    aws::send(addr, request).await
}
