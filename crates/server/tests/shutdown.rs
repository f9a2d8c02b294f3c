//! Ordered shutdown: the server owns the store and closes it last, so an API write in flight
//! when shutdown begins completes, is answered 200, and is there after a restart. The write is
//! held inside the store (a wrapper gates it) until shutdown has started; on both backends
//! (PostgreSQL when `FERRITE_TEST_POSTGRES_URL` is set).

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, send, signed};
use ferrite_config::Config;
use ferrite_server::Server;
use ferrite_storage::conformance::run_case;
use ferrite_storage::{
    BrokerOp, BrokerSnapshot, BrokerStore, Page, RegistryStore, StoreFuture, Write, WriteOutcome,
};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore};
use ferrite_storage_postgres::testing::ScratchLocation;
use ferrite_test_support::WAIT;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};

/// The thing whose creation the store holds.
const HELD: &str = "held-thing";
/// How long the test gives a shutdown that (wrongly) closes the store while the write is held
/// to do so, before it lets the write go on.
const EARLY_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// The hold on the write, and what the wrapped store saw, in order.
struct Gate {
    /// The held write reached the store.
    entered: Notify,
    /// Lets the held write go on.
    release: Semaphore,
    closed: Notify,
    events: Mutex<Vec<&'static str>>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            entered: Notify::new(),
            release: Semaphore::new(0),
            closed: Notify::new(),
            events: Mutex::new(Vec::new()),
        }
    }
}

/// A store that holds the registry write creating [`HELD`] until the test releases it.
struct GatedStore<S> {
    inner: Arc<S>,
    gate: Arc<Gate>,
}

impl<S: BrokerStore> BrokerStore for GatedStore<S> {
    fn commit(&self, ops: Vec<BrokerOp>) -> StoreFuture<'_, ()> {
        self.inner.commit(ops)
    }

    fn load(&self) -> StoreFuture<'_, BrokerSnapshot> {
        self.inner.load()
    }

    fn load_session<'a>(
        &'a self,
        client_id: &'a str,
    ) -> StoreFuture<'a, Option<ferrite_storage::SessionSnapshot>> {
        self.inner.load_session(client_id)
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.gate.events.lock().push("store closed");
            self.gate.closed.notify_one();
            self.inner.close().await
        })
    }
}

impl<S: RegistryStore> RegistryStore for GatedStore<S> {
    fn get<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
    ) -> StoreFuture<'a, Option<ferrite_storage::Record>> {
        self.inner.get(kind, key)
    }

    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        self.inner.list(kind, prefix, after, limit)
    }

    fn next_sequence(&self) -> StoreFuture<'_, u64> {
        self.inner.next_sequence()
    }

    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome> {
        Box::pin(async move {
            let held = batch.iter().any(|w| w.kind == "thing" && w.key == HELD);
            if held {
                self.gate.entered.notify_one();
                let permit = self.gate.release.acquire().await.expect("gate open");
                permit.forget();
            }
            let outcome = self.inner.write(batch).await;
            if held {
                self.gate.events.lock().push(if outcome.is_ok() {
                    "held write applied"
                } else {
                    "held write failed"
                });
            }
            outcome
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.inner.clear()
    }
}

/// A kept-alive API connection, idle after one request: graceful shutdown closes it, which
/// tells the test that shutdown has begun.
async fn idle_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: ferrite\r\n\r\n")
        .await
        .expect("send");
    let mut seen = Vec::new();
    while !seen.ends_with(b"{\"status\":\"ok\"}") {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("health in time")
            .expect("read");
        assert_ne!(n, 0, "closed before answering /health");
        seen.extend_from_slice(&buf[..n]);
    }
    stream
}

/// Starts a server on `store`, creates [`HELD`] through the API while shutdown runs, and
/// checks the answer, the order of events in the store and the thing after a restart.
async fn write_in_flight_completes<S: BrokerStore + RegistryStore>(cfg: Config, store: Arc<S>) {
    let gate = Arc::new(Gate::new());
    let gated = Arc::new(GatedStore {
        inner: store,
        gate: gate.clone(),
    });
    let server = Server::start_with_store(cfg.clone(), gated)
        .await
        .expect("server starts");
    let api = server.addrs.api.expect("api listener");
    let mut idle = idle_connection(api).await;

    let create = tokio::spawn(send(
        api,
        signed(api, "iot", "POST", &format!("/things/{HELD}"), "{}"),
    ));
    tokio::time::timeout(WAIT, gate.entered.notified())
        .await
        .expect("the write reaches the store");
    let shutdown = tokio::spawn(server.shutdown());
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, idle.read_to_end(&mut rest))
        .await
        .expect("shutdown closes idle connections")
        .expect("read");
    // A shutdown that closes the store under the held write does so now.
    let _ = tokio::time::timeout(EARLY_CLOSE_GRACE, gate.closed.notified()).await;
    gate.release.add_permits(1);

    let response = create.await.expect("request task");
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    tokio::time::timeout(WAIT * 2, shutdown)
        .await
        .expect("shutdown completes")
        .expect("shutdown task");
    assert_eq!(
        *gate.events.lock(),
        ["held write applied", "store closed"],
        "the store closes after the write in flight"
    );

    let server = Server::start(cfg).await.expect("server restarts");
    let api = server.addrs.api.expect("api listener");
    let described = send(
        api,
        signed(api, "iot", "GET", &format!("/things/{HELD}"), ""),
    )
    .await;
    assert!(described.starts_with("HTTP/1.1 200 "), "{described}");
    assert!(described.contains(HELD), "{described}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_write_in_flight_at_shutdown_completes_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path());
    let store = SqliteStore::open(&cfg.data_dir.join("ferrite.db"), SqliteOptions::default())
        .expect("open the store");
    write_in_flight_completes(cfg, Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_write_in_flight_at_shutdown_completes_on_postgres() {
    let Some(location) = ScratchLocation::from_env("the shutdown-on-PostgreSQL test").await else {
        return;
    };
    run_case(location, |location| async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = config(dir.path());
        cfg.storage.url = location.schema.url();
        let store = location.open_store().await.expect("open the store");
        write_in_flight_completes(cfg, Arc::new(store)).await;
    })
    .await;
}
