//! A registry and an authorizer over one counted store, certificate devices, and CONNECTs
//! made without a broker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrite_broker::{Authorizer, ConnectContext, Permissions, Revoker, TransportIdentity};
use ferrite_mqtt_codec::{ProtocolVersion, ReasonCode};
use ferrite_registry::{EndpointConfig, Output, Registry, RegistryError, Scope};
use ferrite_storage::{Page, Record, RegistryStore, StoreFuture, Write, WriteOutcome};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};
use ferrite_types::{ChangeFeed, ChangeSubscription, InProcessFeed};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::refresh::Batch;
use crate::{IdentityConfig, IotAuthorizer};

/// A store that counts the reads (gets and listings) made through it.
pub struct Counting {
    inner: SqliteStore,
    reads: AtomicUsize,
}

impl Counting {
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl RegistryStore for Counting {
    fn get<'a>(&'a self, kind: &'a str, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(kind, key)
    }

    fn list<'a>(
        &'a self,
        kind: &'a str,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list(kind, prefix, after, limit)
    }

    fn write(&self, batch: Vec<Write>) -> StoreFuture<'_, WriteOutcome> {
        self.inner.write(batch)
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.inner.clear()
    }

    fn next_sequence(&self) -> StoreFuture<'_, u64> {
        self.inner.next_sequence()
    }
}

/// A typed registry request from the JSON the HTTP edge would decode.
pub fn req<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("request")
}

/// A policy document allowing `actions` on `resource`, plus connecting.
pub fn allow(actions: &[&str], resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": actions, "Resource": resource},
    ]})
    .to_string()
}

/// A registered certificate a device connects with.
#[derive(Clone)]
pub struct Device {
    pub der: Vec<u8>,
    pub id: String,
}

impl Device {
    pub fn arn(&self, scope: &Scope) -> String {
        scope.arn(&format!("cert/{}", self.id))
    }
}

/// A connection the authorizer accepted.
pub struct Conn {
    pub perms: Arc<dyn Permissions>,
    pub revoker: Revoker,
}

pub struct Fixture {
    pub registry: Registry,
    pub auth: IotAuthorizer,
    pub store: Arc<Counting>,
    pub scope: Scope,
    /// One key for every device certificate: only the certificates need to differ.
    key: rcgen::KeyPair,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_feed(Arc::new(InProcessFeed::default()))
    }

    /// A fixture whose registry announces on `feed`.
    pub fn with_feed(feed: Arc<dyn ChangeFeed>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            synchronous: Synchronous::Off,
            ..SqliteOptions::default()
        };
        let inner = SqliteStore::open(&dir.path().join("ferrite.db"), options).unwrap();
        let store = Arc::new(Counting {
            inner,
            reads: AtomicUsize::new(0),
        });
        let endpoints = EndpointConfig::localhost();
        let registry = Registry::new(store.clone(), endpoints).with_change_feed(feed);
        let scope = Scope {
            region: "eu-west-1".into(),
            account: "123456789012".into(),
        };
        let cfg = IdentityConfig {
            region: scope.region.clone(),
            account_id: scope.account.clone(),
            anonymous_policy: None,
            websocket_max_lifetime: None,
        };
        let auth = IotAuthorizer::new(registry.clone(), cfg, Default::default());
        Fixture {
            registry,
            auth,
            store,
            scope,
            key: rcgen::KeyPair::generate().unwrap(),
            _dir: dir,
        }
    }

    pub fn changes(&self) -> ChangeSubscription {
        self.registry.subscribe_changes()
    }

    /// A certificate for `name`, not yet registered.
    pub fn certificate(&self, name: &str) -> (Device, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&self.key).unwrap();
        let der = cert.der().to_vec();
        let device = Device {
            id: ferrite_types::certificate_id(&der),
            der,
        };
        (device, cert.pem())
    }

    /// A device certificate for `name`, registered ACTIVE.
    pub async fn device(&self, name: &str) -> Device {
        let (device, pem) = self.certificate(name);
        register(&self.registry, &self.scope, &pem).await.unwrap();
        device
    }

    pub async fn create_policy(&self, name: &str, document: &str) {
        self.registry
            .create_policy(
                &self.scope,
                req(json!({"policyName": name, "policyDocument": document})),
            )
            .await
            .unwrap();
    }

    pub async fn attach_policy(&self, policy: &str, target: &str) -> Output {
        attach_policy(&self.registry, &self.scope, policy, target)
            .await
            .unwrap()
    }

    /// Thing `name`, with `attributes`, attached to `device`.
    pub async fn thing_of(&self, name: &str, attributes: Value, device: &Device) {
        self.registry
            .create_thing(
                &self.scope,
                req(json!({"thingName": name, "attributePayload": {"attributes": attributes}})),
            )
            .await
            .unwrap();
        self.registry
            .attach_thing_principal(
                &self.scope,
                req(json!({"thingName": name, "principal": device.arn(&self.scope)})),
            )
            .await
            .unwrap();
    }

    pub async fn connect(&self, device: &Device, client_id: &str) -> Result<Conn, ReasonCode> {
        connect(&self.auth, device, client_id).await
    }

    /// Applies the changes waiting on `changes` as the refresher does; returns the store
    /// reads that took.
    pub async fn apply(&self, changes: &mut ChangeSubscription) -> usize {
        let mut batch = Batch::default();
        while let Some(received) = changes.try_recv() {
            batch.add(received);
        }
        let before = self.store.reads();
        self.auth.inner().apply(batch).await;
        self.store.reads() - before
    }
}

pub async fn register(r: &Registry, scope: &Scope, pem: &str) -> Result<Output, RegistryError> {
    r.register_certificate_without_ca(
        scope,
        req(json!({"certificatePem": pem, "status": "ACTIVE"})),
    )
    .await
}

pub async fn attach_policy(
    r: &Registry,
    scope: &Scope,
    policy: &str,
    target: &str,
) -> Result<Output, RegistryError> {
    r.attach_policy(scope, req(json!({"policyName": policy, "target": target})))
        .await
}

/// A CONNECT over TLS with `device`'s certificate, as client `client_id`.
pub async fn connect(
    auth: &IotAuthorizer,
    device: &Device,
    client_id: &str,
) -> Result<Conn, ReasonCode> {
    let transport = TransportIdentity {
        certificate_der: Some(device.der.clone()),
        certificate_id: Some(device.id.clone()),
        tls: true,
        ..TransportIdentity::default()
    };
    connect_with(auth, client_id, None, Some(&transport)).await
}

/// A CONNECT to the TLS port with what the client and transport presented.
pub async fn connect_with(
    auth: &IotAuthorizer,
    client_id: &str,
    username: Option<&str>,
    transport: Option<&TransportIdentity>,
) -> Result<Conn, ReasonCode> {
    let revoker = Revoker::detached();
    let ctx = ConnectContext {
        protocol: ProtocolVersion::V5,
        client_id,
        username,
        password: None,
        local_addr: SocketAddr::from(([10, 0, 0, 1], 8883)),
        peer_addr: SocketAddr::from(([10, 0, 0, 2], 40000)),
        transport,
        clean_start: true,
        session_expiry_secs: 0,
        will_topic: None,
        will_retain: false,
        revoker: revoker.clone(),
    };
    let perms = auth.connect(ctx).await?;
    Ok(Conn { perms, revoker })
}
