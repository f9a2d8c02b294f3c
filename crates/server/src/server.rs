//! Construction and ordered shutdown of a whole Ferrite server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ferrite_broker::{Broker, Metrics};
use ferrite_config::{Config, Durability, StorageBackend};
use ferrite_storage::{BrokerStore, RegistryStore, SessionInbox, SessionOwners};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};
use ferrite_storage_postgres::{PgStoreOptions, PostgresStore};
use ferrite_transport::{Listener, ListenerKind, TransportError};
use ferrite_types::{ChangeFeed, InProcessFeed};
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::{ClusterNode, StoreProbe};
use crate::listeners::{AcceptCtx, accept_loop};
use ferrite_auth::sigv4::{SecretKey, Verifier};
use ferrite_http_api::{ApiState, DataServices};
use ferrite_registry::EndpointConfig;

/// The addresses the listeners actually bound (port 0 resolved).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BoundAddrs {
    pub mqtt: Option<SocketAddr>,
    pub mqtts: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
    pub wss: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub api: Option<SocketAddr>,
}

pub struct Server {
    pub addrs: BoundAddrs,
    pub broker: Broker,
    /// The CA certificate clients trust for the TLS listeners.
    pub ca_file: std::path::PathBuf,
    /// Stops the edge: accept loops, handshakes, the API listener and the device port's
    /// HTTP connections (each finishes the request in flight).
    edge_cancel: CancellationToken,
    edge: TaskTracker,
    /// Stops the services the API and the broker call: shadows, the device authorizer, the
    /// topic rule destinations' confirmation requests, the event messages.
    services_cancel: CancellationToken,
    services: TaskTracker,
    /// MQTT connections handed to the broker; they end with its shutdown.
    connections: TaskTracker,
    /// The link to the other nodes: stopped after the broker, whose last messages it still
    /// forwards.
    cluster: Option<ClusterNode>,
    /// Owned here, not by the broker: it is closed after everything that writes to it.
    store: Arc<dyn BrokerStore>,
    shutdown_timeout: Duration,
}

/// The setting a user changes when a listener's port is taken.
fn setting_for(kind: &str) -> &'static str {
    match kind {
        "mqtt" => "FERRITE_MQTT_PORT (listeners.mqtt)",
        "mqtts" => "FERRITE_MQTTS_PORT (listeners.mqtts)",
        "ws" => "FERRITE_WS_PORT (listeners.ws)",
        "wss" => "FERRITE_WSS_PORT (listeners.wss)",
        "https" => "FERRITE_HTTPS_PORT (listeners.https)",
        _ => "FERRITE_API_PORT (listeners.api)",
    }
}

fn bind_error(name: &str, addr: SocketAddr, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "{name} listener: address {addr} is already in use; set {} to a free port or \"off\"",
            setting_for(name)
        )
    } else {
        anyhow::anyhow!(
            "{name} listener: cannot bind {addr}: {e}; change {}",
            setting_for(name)
        )
    }
}

/// One backend seen through each storage trait.
struct Stores {
    broker: Arc<dyn BrokerStore>,
    registry: Arc<dyn RegistryStore>,
    /// Where a cluster records which node holds each session (PostgreSQL only).
    owners: Option<Arc<dyn SessionOwners>>,
    /// Where a cluster node stores messages for another node's sessions that did not
    /// confirm them in time (PostgreSQL only).
    inboxes: Option<Arc<dyn SessionInbox>>,
    /// Checks that the store answers (a cluster node's PostgreSQL); `None`: not checked.
    probe: Option<StoreProbe>,
}

impl Stores {
    fn of<S: BrokerStore + RegistryStore>(store: Arc<S>) -> Stores {
        Stores {
            broker: store.clone(),
            registry: store,
            owners: None,
            inboxes: None,
            probe: None,
        }
    }
}

/// The store `storage.url` selects (the config has already refused any other value).
async fn open_store(cfg: &Config, node: &str) -> anyhow::Result<Stores> {
    let backend = cfg
        .storage
        .backend()
        .map_err(|reason| anyhow::anyhow!("invalid setting storage.url: {reason}"))?;
    match backend {
        StorageBackend::Embedded => {
            let opts = SqliteOptions {
                synchronous: match cfg.storage.durability {
                    Durability::Full => Synchronous::Full,
                    Durability::Normal => Synchronous::Normal,
                },
                ..SqliteOptions::default()
            };
            let path = cfg.data_dir.join("ferrite.db");
            let store = SqliteStore::open(&path, opts)
                .with_context(|| format!("opening store {}", path.display()))?;
            Ok(Stores::of(Arc::new(store)))
        }
        StorageBackend::Postgres { url } => {
            let opts = PgStoreOptions {
                synchronous_commit: cfg.storage.durability == Durability::Full,
                // Retained messages are stamped with the node that wrote them.
                node: node.to_owned(),
                ..PgStoreOptions::default()
            };
            // The error already names the URL, without its password.
            let store = Arc::new(
                PostgresStore::open(url, opts)
                    .await
                    .context("opening the PostgreSQL store (storage.url)")?,
            );
            let pinged = store.clone();
            let probe: StoreProbe = Arc::new(move |timeout| {
                let store = pinged.clone();
                Box::pin(async move {
                    match store.ping(timeout).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::debug!(error = %e, "store check failed");
                            false
                        }
                    }
                })
            });
            Ok(Stores {
                owners: Some(store.clone()),
                inboxes: Some(store.clone()),
                probe: Some(probe),
                ..Stores::of(store)
            })
        }
    }
}

/// The AWS API's state: accepted keys, account, and the registry, topic rules and jobs over
/// the store.
fn api_state(
    cfg: &Config,
    store: Arc<dyn RegistryStore>,
    issuer: Arc<dyn ferrite_registry::CertificateIssuer>,
    changes: Arc<dyn ChangeFeed>,
    rules: ferrite_rules_service::TopicRules,
    node: &str,
) -> anyhow::Result<ApiState> {
    let keys = crate::credentials::resolve(cfg)?
        .into_iter()
        .map(|k| (k.access_key_id, SecretKey::new(k.secret_access_key)))
        .collect();
    let host = cfg.aws.endpoint_host.clone();
    let endpoints = EndpointConfig {
        data: host.clone(),
        credential_provider: host.clone(),
        jobs: host,
    };
    let mut registry = ferrite_registry::Registry::new(store.clone(), endpoints)
        .with_issuer(issuer)
        .with_authorizer_functions(cfg.aws.functions.clone())
        .with_change_feed(changes.clone())
        .with_taggable(ferrite_rules_service::TAGGABLE)
        .with_taggable(ferrite_provisioning_service::TAGGABLE)
        .with_taggable(ferrite_jobs_service::JOB_TAGGABLE)
        .with_taggable(ferrite_jobs_service::TEMPLATE_TAGGABLE);
    let provisioning = ferrite_provisioning_service::ProvisioningTemplates::new(store.clone())
        .with_change_feed(changes.clone());
    let jobs = ferrite_jobs_service::Jobs::new(store.clone(), registry.clone())
        .with_change_feed(changes)
        .with_minute_ms(i64::try_from(cfg.jobs.timer_minute_ms).unwrap_or(i64::MAX));
    if cfg.shadow.delete_with_thing {
        registry = registry.with_thing_cascade(Arc::new(crate::shadows::ShadowCascade(
            ferrite_shadow_service::ShadowStore::new(store),
        )));
    }
    let fleet = ferrite_provisioning_service::FleetProvisioning::new(
        registry.clone(),
        provisioning.clone(),
        ferrite_registry::Scope {
            region: cfg.aws.region.clone(),
            account: cfg.aws.account_id.clone(),
        },
        cfg.aws.functions.clone(),
    );
    let bulk = ferrite_provisioning_service::BulkRegistration::new(
        fleet.clone(),
        ferrite_provisioning_service::Buckets {
            s3: cfg.targets.s3.clone(),
            data_dir: cfg.data_dir.clone(),
            forward: cfg.targets.forward.clone(),
        },
    )
    // Kept in the data directory, so a restarted node knows the leases it held (bulk
    // registration resumes its tasks at once); the cluster names nodes by the same id.
    .with_node(node.to_owned());
    Ok(ApiState {
        verifier: Verifier::new(keys),
        account_id: cfg.aws.account_id.clone(),
        registry,
        rules,
        provisioning,
        fleet,
        bulk,
        jobs,
        test_hooks: cfg.aws.test_hooks,
        data: None,
    })
}

/// This node's id (kept in the data directory unless `cluster.node_id` sets it) and, when
/// `cluster.enabled`, its connection to the cluster.
async fn join(cfg: &Config) -> anyhow::Result<(String, Option<ClusterNode>)> {
    // Bulk registration's leases name the node by it too, also outside a cluster.
    let node = ferrite_cluster::load_or_create_node_id(&cfg.cluster.node_id, &cfg.data_dir)?;
    let started_at_ms = ferrite_types::Clock::system().now_ms();
    let cluster = ClusterNode::join(cfg, &node, started_at_ms).await?;
    Ok((node, cluster))
}

fn write_listeners_file(dir: &Path, addrs: &BoundAddrs) -> anyhow::Result<()> {
    let path = dir.join(crate::LISTENERS_FILE);
    let tmp = dir.join("listeners.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(addrs)?)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

impl Server {
    /// Builds everything on the store `storage.url` selects and starts listening. Returns
    /// once every listener is bound.
    pub async fn start(cfg: Config) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data directory {}", cfg.data_dir.display()))?;
        let (node, cluster) = join(&cfg).await?;
        let stores = open_store(&cfg, &node).await?;
        Self::start_on(cfg, stores, node, cluster).await
    }

    /// [`Server::start`] on a store the caller opened (`storage.url` is not read). The server
    /// owns it from here and closes it last at shutdown.
    pub async fn start_with_store<S: BrokerStore + RegistryStore>(
        cfg: Config,
        store: Arc<S>,
    ) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data directory {}", cfg.data_dir.display()))?;
        let (node, cluster) = join(&cfg).await?;
        Self::start_on(cfg, Stores::of(store), node, cluster).await
    }

    async fn start_on(
        cfg: Config,
        stores: Stores,
        node: String,
        mut cluster: Option<ClusterNode>,
    ) -> anyhow::Result<Server> {
        let started = Instant::now();
        if let Some(c) = &mut cluster {
            c.own_sessions_in(stores.owners.clone(), stores.inboxes.clone())?;
        }
        let store = stores.broker.clone();
        let probe = stores.probe.clone();
        let ca = Arc::new(ferrite_transport::ensure_ca(
            &cfg.data_dir,
            &cfg.server.server_names,
        )?);
        let issuer = crate::issuer::CaIssuer::shared(ca.clone());
        let shadow_store = stores.registry.clone();
        // Every registry change goes out on this one feed; in a cluster the bus carries it.
        let changes: Arc<dyn ChangeFeed> = match &cluster {
            Some(c) => c.changes(),
            None => Arc::new(InProcessFeed::default()),
        };
        let rules_service = ferrite_rules_service::RulesService::new(stores.registry.clone())
            .with_change_feed(changes.clone());
        let mut api_state = api_state(
            &cfg,
            stores.registry,
            issuer,
            changes.clone(),
            rules_service.rules(),
            &node,
        )?;
        let tls = ferrite_transport::server_config(&ca, &[])?;

        let device_auth = crate::device_auth::authorizer(&cfg, api_state.registry.clone())?;
        let metrics = Arc::new(Metrics::default());
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let rule_metrics = Arc::new(ferrite_rules_service::RuleMetrics::default());
        rule_metrics.register(&mut registry);
        let event_metrics = ferrite_events::EventMetrics::default();
        event_metrics.register(&mut registry);
        if let Some(c) = &cluster {
            registry
                .sub_registry_with_prefix("ferrite_cluster")
                .register_collector(Box::new(c.status()));
        }
        // The events service hears connections through the broker's lifecycle seam.
        let (events, lifecycle) = ferrite_events::EventsService::new(
            ferrite_events::EventsConfig {
                account_id: cfg.aws.account_id.clone(),
                region: cfg.aws.region.clone(),
                queue_capacity: ferrite_events::DEFAULT_QUEUE,
            },
            event_metrics,
        );
        let broker = Broker::start_with(
            cfg.mqtt.clone(),
            stores.broker,
            Arc::new(device_auth.clone()),
            metrics,
            {
                let seams = ferrite_broker::Seams {
                    lifecycle,
                    ..ferrite_broker::Seams::default()
                };
                match &cluster {
                    Some(c) => c.seams(seams),
                    None => seams,
                }
            },
        )
        .await?;
        // Routing between nodes starts with the broker, before any client connects.
        if let Some(c) = &cluster {
            c.run(broker.clone(), store.clone(), probe).await?;
        }

        let shadow_service = ferrite_shadow_service::ShadowService::new(
            broker.clone(),
            shadow_store,
            crate::shadows::service_config(&cfg),
        )?;
        api_state.data = Some(DataServices {
            broker: broker.clone(),
            shadows: shadow_service.shadows(),
            devices: device_auth.clone(),
            region: cfg.aws.region.clone(),
        });
        let services_cancel = CancellationToken::new();
        let services = TaskTracker::new();
        services.spawn(device_auth.run(changes.subscribe(), services_cancel.clone()));
        let rule_shadows = shadow_service.shadows();
        services.spawn(shadow_service.run(services_cancel.clone()));
        let jobs_device =
            ferrite_jobs_service::JobsDevice::new(api_state.jobs.clone(), broker.clone())?;
        services.spawn(jobs_device.run(changes.subscribe(), services_cancel.clone()));
        let fleet_device = ferrite_provisioning_service::FleetProvisioningDevice::new(
            api_state.fleet.clone(),
            broker.clone(),
        )?;
        services.spawn(fleet_device.run(services_cancel.clone()));
        let just_in_time =
            ferrite_provisioning_service::JustInTime::new(api_state.fleet.clone(), broker.clone());
        services.spawn(just_in_time.run(changes.subscribe(), services_cancel.clone()));
        // Bulk registration tasks run here and stop between two lines at shutdown; those a
        // previous run left unfinished are marked Failed first.
        services.spawn(api_state.bulk.clone().run(services_cancel.clone()));
        // Continuous jobs follow thing group membership.
        services.spawn(
            api_state
                .jobs
                .clone()
                .run(changes.subscribe(), services_cancel.clone()),
        );
        // Timeouts, rollout batches, scheduled starts and ends: claimed per timer, so every
        // node may run this.
        services.spawn(api_state.jobs.clone().run_timers(services_cancel.clone()));
        let rules_engine = ferrite_rules_service::RulesEngine::new(
            broker.clone(),
            rules_service.rules(),
            ferrite_rules_service::EngineConfig {
                account_id: cfg.aws.account_id.clone(),
                region: cfg.aws.region.clone(),
                match_options: ferrite_topic::MatchOptions {
                    multilevel_matches_parent: cfg.mqtt.multilevel_wildcard_matches_parent,
                },
                targets: cfg.targets.clone(),
                functions: cfg.aws.functions.clone(),
                storage_url: cfg.storage.url.clone(),
                data_dir: cfg.data_dir.clone(),
                secrets: cfg.secrets.clone(),
                backpressure: Duration::from_millis(cfg.mqtt.qos0_backpressure_ms),
            },
            rule_metrics,
        )
        .with_lookups(Arc::new(crate::rule_lookups::RuleLookups {
            shadows: rule_shadows,
            registry: api_state.registry.clone(),
            scope: ferrite_registry::Scope {
                region: cfg.aws.region.clone(),
                account: cfg.aws.account_id.clone(),
            },
        }));
        // Subscribed before the engine reads the rules, so no change falls between the two.
        services.spawn(rules_engine.run(changes.subscribe(), services_cancel.clone()));
        services.spawn(rules_service.run(services_cancel.clone()));
        services.spawn(events.with_jobs(api_state.jobs.clone()).run(
            broker.clone(),
            api_state.registry.clone(),
            changes.subscribe(),
            services_cancel.clone(),
        ));
        let edge_cancel = CancellationToken::new();
        let edge = TaskTracker::new();
        let connections = TaskTracker::new();
        let http_app = crate::http::app(
            Arc::new(registry),
            Arc::new(api_state),
            cluster.as_ref().map(ClusterNode::status),
        );
        let ctx = Arc::new(AcceptCtx {
            broker: broker.clone(),
            slots: Arc::new(Semaphore::new(cfg.server.max_connections)),
            connect_timeout: Duration::from_secs(cfg.server.connect_timeout_secs),
            cancel: edge_cancel.clone(),
            tasks: edge.clone(),
            connections: connections.clone(),
            http_app: http_app.clone(),
        });

        let l = &cfg.listeners;
        let mut addrs = BoundAddrs::default();
        let device_listeners = [
            ("mqtt", l.mqtt, ListenerKind::Tcp, &mut addrs.mqtt),
            ("mqtts", l.mqtts, ListenerKind::Tls, &mut addrs.mqtts),
            ("ws", l.ws, ListenerKind::Ws, &mut addrs.ws),
            ("wss", l.wss, ListenerKind::Wss, &mut addrs.wss),
            ("https", l.https, ListenerKind::Https, &mut addrs.https),
        ];
        let mut bound = Vec::new();
        for (name, addr, kind, slot) in device_listeners {
            let Some(addr) = addr else { continue };
            let tls = kind.uses_tls().then(|| tls.clone());
            let listener = match Listener::bind(kind, addr, tls).await {
                Ok(l) => l.with_max_ws_message_size(cfg.mqtt.max_packet_size + 1024),
                Err(TransportError::Bind { source, .. }) => {
                    return Err(bind_error(name, addr, source));
                }
                Err(e) => return Err(e.into()),
            };
            *slot = Some(listener.local_addr());
            bound.push(Arc::new(listener));
        }
        let api = match l.api {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| bind_error("api", addr, e))?;
                addrs.api = Some(listener.local_addr()?);
                Some(listener)
            }
            None => None,
        };
        write_listeners_file(&cfg.data_dir, &addrs)?;
        for listener in bound {
            edge.spawn(accept_loop(listener, ctx.clone()));
        }
        if let Some(api) = api {
            // The console only on the API listener: the device port serves devices.
            let api_app = if cfg.console.enabled {
                http_app.merge(ferrite_console::router(ferrite_console::ConsoleSettings {
                    region: cfg.aws.region.clone(),
                    mqtt_ws_port: addrs.ws.map(|a| a.port()),
                    mqtt_wss_port: addrs.wss.map(|a| a.port()),
                }))
            } else {
                http_app
            };
            edge.spawn(ferrite_http_api::serve_api(
                api,
                api_app,
                edge_cancel.clone(),
            ));
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            data_dir = %cfg.data_dir.display(),
            ca_file = %ca.paths().ca_cert.display(),
            listeners = ?BTreeMap::from([("mqtt", addrs.mqtt), ("mqtts", addrs.mqtts), ("ws", addrs.ws), ("wss", addrs.wss), ("https", addrs.https), ("api", addrs.api)]),
            "ferrite started"
        );
        Ok(Server {
            addrs,
            broker,
            ca_file: ca.paths().ca_cert.clone(),
            edge_cancel,
            edge,
            services_cancel,
            services,
            connections,
            cluster,
            store,
            shutdown_timeout: Duration::from_secs(cfg.server.shutdown_timeout_secs),
        })
    }

    /// Shuts down in dependency order, so nothing loses what it still needs: the edge stops
    /// accepting and finishes the HTTP requests in flight (they may need the services, the
    /// broker and the store); then the services stop; then the broker disconnects its clients
    /// and flushes persistent state; the store, which all of them write, closes last.
    pub async fn shutdown(self) {
        tracing::info!("shutting down");
        self.edge_cancel.cancel();
        self.drain(&self.edge, "http requests").await;
        self.services_cancel.cancel();
        self.drain(&self.services, "services").await;
        self.broker.shutdown(self.shutdown_timeout).await;
        self.drain(&self.connections, "mqtt connections").await;
        if let Some(cluster) = self.cluster {
            cluster.shutdown(self.shutdown_timeout).await;
        }
        if let Err(e) = self.store.close().await {
            tracing::error!(error = %e, "closing the store failed");
        }
        tracing::info!("shutdown complete");
    }

    async fn drain(&self, tasks: &TaskTracker, what: &str) {
        tasks.close();
        if tokio::time::timeout(self.shutdown_timeout, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(what, "tasks did not finish in time");
        }
    }
}
