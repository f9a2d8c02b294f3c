//! The `Bus`: what a node needs of the message fabric between nodes. NATS in a cluster
//! ([`crate::NatsBus`]); in process for one node and for tests ([`crate::InProcessBus`]).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::watch;

/// A boxed future, so that the trait can be used as `dyn Bus`.
pub type BusFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BusError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to the bus at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("invalid subject {0:?}")]
    InvalidSubject(String),
    #[error("invalid header {name}: {reason}")]
    InvalidHeader { name: String, reason: String },
    #[error("no one answers on {0}")]
    NoResponders(String),
    #[error("no answer on {0} in time")]
    TimedOut(String),
    #[error("the bus is closed")]
    Closed,
    #[error("bus: {0}")]
    Other(String),
}

/// Message headers in order; a name may repeat (NATS headers allow several values per name).
/// Values must not hold `\r` or `\n` (the NATS wire format); [`crate::envelope`] encodes
/// arbitrary text so that they never do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(Cow<'static, str>, String)>);

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    pub fn push(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name` (names compare ASCII case-insensitively, as NATS' do not
    /// promise to keep case).
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.get_all(name).next()
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A message received from the bus.
#[derive(Debug, Clone)]
pub struct BusMessage {
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
    /// Where to answer a request (see [`Bus::request`]).
    pub reply: Option<String>,
}

/// What a node subscribed to. Messages arrive in the order the bus delivered them; dropping
/// the subscription unsubscribes.
pub struct Subscription {
    stream: BoxStream<'static, BusMessage>,
}

impl Subscription {
    pub fn new(stream: BoxStream<'static, BusMessage>) -> Subscription {
        Subscription { stream }
    }

    /// The next message; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<BusMessage> {
        self.stream.next().await
    }

    /// Ends the subscription (what dropping it does, named).
    pub fn unsubscribe(self) {}
}

impl futures_util::Stream for Subscription {
    type Item = BusMessage;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<BusMessage>> {
        self.stream.poll_next_unpin(cx)
    }
}

/// The message fabric between the nodes of a cluster. Subjects are NATS subjects (`.`
/// separated tokens; subscriptions may use `*` and `>`), see [`crate::subject`].
pub trait Bus: Send + Sync + 'static {
    /// Publishes `payload` with `headers` to everyone subscribed to a pattern matching
    /// `subject`; with a queue group, to one member of each group. Published messages from one
    /// caller arrive in order.
    fn publish(&self, subject: String, headers: Headers, payload: Bytes) -> BusFuture<'_, ()>;

    /// Subscribes to `subject` (wildcards allowed). Members of the same `queue_group` share
    /// the messages: each goes to one of them.
    fn subscribe(
        &self,
        subject: String,
        queue_group: Option<String>,
    ) -> BusFuture<'_, Subscription>;

    /// Publishes with a reply subject and waits up to `timeout` for the first answer.
    fn request(
        &self,
        subject: String,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> BusFuture<'_, BusMessage>;

    /// Waits until the bus has processed everything this handle sent before: subscriptions
    /// are in place and publishes handed to their subscribers (NATS: a round trip through
    /// the server).
    fn flush(&self) -> BusFuture<'_, ()>;

    /// Counts the moments this node may have missed messages: its connection to the bus was
    /// lost or came back, or the bus dropped messages for a slow subscriber. Whoever sees it
    /// move cannot trust that it heard everything. A bus that never loses anything never
    /// moves it (the default).
    fn gaps(&self) -> watch::Receiver<u64> {
        watch::channel(0).1
    }
}
