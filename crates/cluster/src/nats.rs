//! The bus over NATS (`async-nats`): one client connection per node.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use ferrite_config::ClusterConfig;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::bus::{Bus, BusError, BusFuture, BusMessage, Headers, Subscription};

/// A node's connection to NATS. Cheap to clone.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    gaps: Arc<watch::Sender<u64>>,
}

/// How long connecting may take before the node gives up starting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Bus::flush`] waits for its round trip through the server.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

impl NatsBus {
    /// Connects to the servers `cfg.nats_urls` names with its credentials and TLS settings;
    /// `name` (the node id) is what NATS' monitoring shows for the connection.
    pub async fn connect(cfg: &ClusterConfig, name: &str) -> Result<NatsBus, BusError> {
        let urls = cfg.nats_urls.join(",");
        let failed = |reason: String| BusError::Connect {
            url: urls.clone(),
            reason,
        };
        let gaps = Arc::new(watch::Sender::new(0u64));
        let events = gaps.clone();
        let mut opts = async_nats::ConnectOptions::new()
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected
                        | async_nats::Event::Connected
                        | async_nats::Event::SlowConsumer(_) => {
                            tracing::warn!(%event, "the bus may have lost messages");
                            events.send_modify(|n| *n += 1);
                        }
                        _ => tracing::debug!(%event, "bus event"),
                    }
                }
            })
            .name(format!("ferrite {name}"))
            .connection_timeout(CONNECT_TIMEOUT);
        if !cfg.nats_credentials_file.is_empty() {
            opts = opts
                .credentials_file(&cfg.nats_credentials_file)
                .await
                .map_err(|e| {
                    failed(format!(
                        "cannot read cluster.nats_credentials_file {}: {e}",
                        cfg.nats_credentials_file
                    ))
                })?;
        }
        if !cfg.nats_user.is_empty() {
            opts = opts.user_and_password(cfg.nats_user.clone(), cfg.nats_password.clone());
        }
        if !cfg.nats_tls_ca_file.is_empty() {
            opts = opts
                .add_root_certificates(cfg.nats_tls_ca_file.clone().into())
                .require_tls(true);
        }
        let addrs = cfg
            .nats_urls
            .iter()
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(e.to_string()))?;
        let client = opts
            .connect(addrs)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(NatsBus { client, gaps })
    }

    /// Whether the client is connected now (it reconnects by itself after a loss).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// A bus over an already connected client.
    pub fn from_client(client: async_nats::Client) -> NatsBus {
        NatsBus {
            client,
            gaps: Arc::new(watch::Sender::new(0)),
        }
    }
}

fn to_nats(headers: &Headers) -> Result<HeaderMap, BusError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers.iter() {
        let bad = |reason: &str| BusError::InvalidHeader {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        let n: HeaderName = name.parse().map_err(|_| bad("not a header name"))?;
        let v: HeaderValue = value.parse().map_err(|_| bad("holds a line break"))?;
        map.append(n, v);
    }
    Ok(map)
}

fn from_nats(msg: async_nats::Message) -> BusMessage {
    let mut headers = Headers::new();
    if let Some(map) = &msg.headers {
        for (name, values) in map.iter() {
            for v in values {
                headers.push(name.to_string(), v.as_str().to_owned());
            }
        }
    }
    BusMessage {
        subject: msg.subject.to_string(),
        headers,
        payload: msg.payload,
        reply: msg.reply.map(|r| r.to_string()),
    }
}

fn other(e: impl std::fmt::Display) -> BusError {
    BusError::Other(e.to_string())
}

impl Bus for NatsBus {
    fn publish(&self, subject: String, headers: Headers, payload: Bytes) -> BusFuture<'_, ()> {
        Box::pin(async move {
            let map = to_nats(&headers)?;
            self.client
                .publish_with_headers(subject.clone(), map, payload)
                .await
                .map_err(|e| match e.kind() {
                    async_nats::client::PublishErrorKind::InvalidSubject => {
                        BusError::InvalidSubject(subject)
                    }
                    _ => other(e),
                })
        })
    }

    fn subscribe(
        &self,
        subject: String,
        queue_group: Option<String>,
    ) -> BusFuture<'_, Subscription> {
        Box::pin(async move {
            let result = match queue_group {
                None => self.client.subscribe(subject.clone()).await,
                Some(group) => self.client.queue_subscribe(subject.clone(), group).await,
            };
            let subscriber = result.map_err(|e| match e.kind() {
                async_nats::client::SubscribeErrorKind::InvalidSubject => {
                    BusError::InvalidSubject(subject)
                }
                _ => other(e),
            })?;
            Ok(Subscription::new(subscriber.map(from_nats).boxed()))
        })
    }

    fn request(
        &self,
        subject: String,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> BusFuture<'_, BusMessage> {
        Box::pin(async move {
            let request = async_nats::Request::new()
                .headers(to_nats(&headers)?)
                .payload(payload)
                .timeout(Some(timeout));
            match self.client.send_request(subject.clone(), request).await {
                Ok(answer) => Ok(from_nats(answer)),
                Err(e) => Err(match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => BusError::NoResponders(subject),
                    async_nats::RequestErrorKind::TimedOut => BusError::TimedOut(subject),
                    async_nats::RequestErrorKind::InvalidSubject => {
                        BusError::InvalidSubject(subject)
                    }
                    _ => other(e),
                }),
            }
        })
    }

    fn flush(&self) -> BusFuture<'_, ()> {
        // `Client::flush` only writes the buffer to the socket. The server handles one
        // connection's operations in order, so once a message to our own inbox comes back,
        // everything sent before it has been processed (subscriptions are in place,
        // publishes handed to their subscribers).
        Box::pin(async move {
            let inbox = self.client.new_inbox();
            let mut echo = self.client.subscribe(inbox.clone()).await.map_err(other)?;
            self.client
                .publish(inbox.clone(), Bytes::new())
                .await
                .map_err(other)?;
            self.client.flush().await.map_err(other)?;
            match tokio::time::timeout(SYNC_TIMEOUT, echo.next()).await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(BusError::Closed),
                Err(_) => Err(BusError::TimedOut(inbox)),
            }
        })
    }

    fn gaps(&self) -> watch::Receiver<u64> {
        self.gaps.subscribe()
    }
}
