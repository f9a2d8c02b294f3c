//! A broker without sockets or disk: the real `Broker` over the in-memory store, its clients
//! talking over in-memory duplex pipes. Everything it waits on is a Tokio timer or a Tokio
//! channel, so tests can run it on Tokio's paused clock (`#[tokio::test(start_paused = true)]`):
//! keep-alive, session expiry, will delay and message expiry then take no real time, and the
//! broker's wall clock (`Clock::following_tokio`) moves with the paused one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use ferrite_broker::{
    Authorizer, Broker, ConnInfo, ConnectContext, ConnectFuture, Metrics, Seams, allow_all,
};
use ferrite_config::MqttConfig;
use ferrite_mqtt_codec::{ConnAck, Properties, ProtocolVersion, ReasonCode};
use ferrite_storage::BrokerStore;
use ferrite_storage_memory::{MemoryData, MemoryStore};
use ferrite_types::Clock;
use tokio_util::task::TaskTracker;

use crate::client::{TestClient, connect_packet};

/// Lets every client do everything.
pub struct AllowEveryone;

impl Authorizer for AllowEveryone {
    fn connect<'a>(&'a self, _ctx: ConnectContext<'a>) -> ConnectFuture<'a> {
        Box::pin(async { Ok(allow_all()) })
    }
}

/// Bytes an in-memory pipe buffers in each direction.
const PIPE_BYTES: usize = 64 * 1024;

pub struct BrokerHarness {
    pub broker: Broker,
    /// The store's data: a restart opens a new store on it.
    pub data: MemoryData,
    pub cfg: MqttConfig,
    seams: Seams,
    auth: Arc<dyn Authorizer>,
    connections: TaskTracker,
    next_port: AtomicU16,
}

impl BrokerHarness {
    /// A broker with `cfg`, its wall clock following Tokio's, over a fresh in-memory store.
    pub async fn start(cfg: MqttConfig) -> BrokerHarness {
        BrokerHarness::start_with(cfg, Seams::default()).await
    }

    /// Like [`BrokerHarness::start`] with the given cluster seams; the clock is replaced by
    /// one following Tokio's.
    pub async fn start_with(cfg: MqttConfig, seams: Seams) -> BrokerHarness {
        BrokerHarness::start_with_auth(cfg, seams, Arc::new(AllowEveryone)).await
    }

    /// Like [`BrokerHarness::start_with`], with `auth` deciding who connects (and holding
    /// their revokers, if it wants to close them).
    pub async fn start_with_auth(
        cfg: MqttConfig,
        seams: Seams,
        auth: Arc<dyn Authorizer>,
    ) -> BrokerHarness {
        let seams = Seams {
            clock: Clock::following_tokio(1_800_000_000_000),
            ..seams
        };
        BrokerHarness::open(cfg, MemoryData::default(), seams, auth).await
    }

    /// Like [`BrokerHarness::start_with`], over `store` (say, a PostgreSQL schema that
    /// several brokers of a cluster test share) instead of a fresh in-memory store. Not for
    /// [`BrokerHarness::restart`], which reopens the in-memory data.
    pub async fn start_on_store(
        cfg: MqttConfig,
        seams: Seams,
        store: Arc<dyn BrokerStore>,
    ) -> BrokerHarness {
        let seams = Seams {
            clock: Clock::following_tokio(1_800_000_000_000),
            ..seams
        };
        BrokerHarness::open_on(
            cfg,
            MemoryData::default(),
            store,
            seams,
            Arc::new(AllowEveryone),
        )
        .await
    }

    async fn open(
        cfg: MqttConfig,
        data: MemoryData,
        seams: Seams,
        auth: Arc<dyn Authorizer>,
    ) -> BrokerHarness {
        let store = Arc::new(MemoryStore::open(&data));
        BrokerHarness::open_on(cfg, data, store, seams, auth).await
    }

    async fn open_on(
        cfg: MqttConfig,
        data: MemoryData,
        store: Arc<dyn BrokerStore>,
        seams: Seams,
        auth: Arc<dyn Authorizer>,
    ) -> BrokerHarness {
        let broker = Broker::start_with(
            cfg.clone(),
            store,
            auth.clone(),
            Arc::new(Metrics::default()),
            seams.clone(),
        )
        .await
        .expect("broker starts over the memory store");
        BrokerHarness {
            broker,
            data,
            cfg,
            seams,
            auth,
            connections: TaskTracker::new(),
            next_port: AtomicU16::new(40000),
        }
    }

    /// Shuts the broker down and starts a new one on the same data, as a process restart.
    pub async fn restart(self) -> BrokerHarness {
        self.broker.shutdown(Duration::from_secs(5)).await;
        self.connections.close();
        self.connections.wait().await;
        BrokerHarness::open(self.cfg, self.data, self.seams, self.auth).await
    }

    /// A client whose bytes go straight to a connection the broker serves.
    pub fn open_client(&self, protocol: ProtocolVersion) -> TestClient {
        let (client_end, broker_end) = tokio::io::duplex(PIPE_BYTES);
        let port = self.next_port.fetch_add(1, Ordering::Relaxed);
        let info = ConnInfo {
            local_addr: SocketAddr::from(([127, 0, 0, 1], 1883)),
            peer_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            transport: None,
            connect_timeout: Duration::from_secs(10),
            over_capacity: false,
        };
        let broker = self.broker.clone();
        self.connections
            .spawn(async move { broker.serve(broker_end, info).await });
        TestClient::over(Box::new(client_end), protocol)
    }

    /// Connects with the longest keep-alive, so tests that move the clock by minutes do not
    /// see their clients time out; set it in the CONNECT to test keep-alive itself.
    pub async fn connect_v5(
        &self,
        client_id: &str,
        clean: bool,
        props: Properties,
    ) -> (TestClient, ConnAck) {
        let mut c = self.open_client(ProtocolVersion::V5);
        let mut p = connect_packet(ProtocolVersion::V5, client_id, clean);
        p.keep_alive = 0;
        p.properties = props;
        let ack = c.connect_with(p).await;
        assert_eq!(ack.reason, ReasonCode::Success, "connect refused");
        (c, ack)
    }

    pub async fn connect_v311(&self, client_id: &str, clean: bool) -> (TestClient, ConnAck) {
        let mut c = self.open_client(ProtocolVersion::V311);
        let mut p = connect_packet(ProtocolVersion::V311, client_id, clean);
        p.keep_alive = 0;
        let ack = c.connect_with(p).await;
        assert_eq!(ack.reason, ReasonCode::Success, "connect refused");
        (c, ack)
    }
}
