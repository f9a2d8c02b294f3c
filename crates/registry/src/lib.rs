//! The AWS IoT registry: things, thing types, thing groups, billing groups, tags and the
//! account's settings; identity and access (device and CA certificates, IoT policies and their
//! attachments, thing principals, custom authorizers); with AWS's semantics (versions,
//! `expectedVersion` conflicts, idempotent creates, attribute merge, pagination), stored
//! through `ferrite_storage::RegistryStore`.
//!
//! Operations take typed requests (deserialised from the validated JSON input the HTTP edge
//! decodes) and return JSON outputs keyed like AWS's output shapes. Errors are
//! [`RegistryError`]s; the edge maps them to AWS exception names. ARNs are built per request
//! from the caller's region ([`Scope`]), so one store serves every region, as names in AWS are
//! per region and account.
//!
//! Concurrency is optimistic: an operation reads, decides and writes a conditional batch; on a
//! conflict it re-reads and decides again (see [`Registry::retry`]). Writes that others must
//! hear of (what a device may do, what a thing is) announce the precise
//! [`RegistryChange`]s on the registry's [`ChangeFeed`] once they are durable.

// Unit tests spawn helper servers: the lint policy binds the crate's own code, which the
// non-test build still checks.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]

mod authorizers;
mod billing_groups;
mod ca_certificates;
mod certificates;
mod documents;
mod effective;
mod error;
mod facts;
mod kinds;
mod policies;
mod principals;
mod settings;
mod shared;
pub mod tags;
#[cfg(test)]
mod test_support;
mod thing_groups;
mod thing_principals;
mod thing_types;
mod things;
pub mod token;
mod x509;

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;

use ferrite_storage::{Expect, Record, RegistryStore, Write, WriteOutcome};
use ferrite_types::{ChangeFeed, ChangeSubscription, InProcessFeed, RegistryChange};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use certificates::{CertificateAuth, CertificateIssuer, IssueError, IssuedKeys};
pub use documents::{Documents, decode, encode};
pub use effective::{EffectivePolicies, EffectivePolicy, ThingForAuth};
pub use error::RegistryError;
pub use ferrite_auth::custom::{CustomAuthInput, CustomAuthOutcome, MqttCredentials};
pub use settings::EndpointConfig;
pub use shared::parse_arn;

/// Where a request runs: the region of its SigV4 scope and the configured account.
#[derive(Debug, Clone)]
pub struct Scope {
    pub region: String,
    pub account: String,
}

impl Scope {
    /// `arn:aws:iot:{region}:{account}:{resource}`.
    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iot:{}:{}:{resource}", self.region, self.account)
    }
}

/// The registry over one store.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn RegistryStore>,
    /// The same store, as documents with the read-decide-write cycle.
    docs: Documents,
    endpoints: EndpointConfig,
    /// Where durable changes are announced (policies, their attachments, certificate and CA
    /// status, things, thing principals, group membership, authorizers), so that live
    /// connections re-resolve their permissions.
    changes: Arc<dyn ChangeFeed>,
    /// Calls custom authorizers' functions and caches their answers.
    authorizers: ferrite_auth::custom::Invoker,
    /// Issues device certificates with Ferrite's CA (see [`Registry::with_issuer`]).
    issuer: Arc<dyn CertificateIssuer>,
    /// What else DeleteThing deletes (see [`Registry::with_thing_cascade`]).
    cascade: Option<Arc<dyn ThingCascade>>,
    /// Resource types other services keep in the same store that the tag operations accept
    /// (see [`Registry::with_taggable`]).
    taggable: Vec<tags::Taggable>,
}

/// Records owned by other services that go when their thing goes, deleted in DeleteThing's
/// own atomic batch (the server wires the shadow store here when `shadow.delete_with_thing`
/// is on).
pub trait ThingCascade: Send + Sync {
    /// The deletions to add to the batch that deletes `thing`.
    fn deletes_for_thing<'a>(
        &'a self,
        thing: &'a str,
    ) -> ferrite_storage::StoreFuture<'a, Vec<Write>>;
}

/// Attempts of a read-modify-write of one document before giving up with a conflict.
const MAX_ATTEMPTS: usize = 16;

pub type Output = serde_json::Value;

impl Registry {
    pub fn new(store: Arc<dyn RegistryStore>, endpoints: EndpointConfig) -> Registry {
        Registry {
            docs: Documents::new(store.clone()),
            store,
            endpoints,
            changes: Arc::new(InProcessFeed::default()),
            authorizers: ferrite_auth::custom::Invoker::new(Default::default()),
            issuer: Arc::new(certificates::NoIssuer),
            cascade: None,
            taggable: Vec::new(),
        }
    }

    /// Makes DeleteThing also delete what `cascade` names for the thing.
    pub fn with_thing_cascade(mut self, cascade: Arc<dyn ThingCascade>) -> Registry {
        self.cascade = Some(cascade);
        self
    }

    /// Sets who issues the certificates of CreateKeysAndCertificate and
    /// CreateCertificateFromCsr; without one they answer ServiceUnavailableException.
    pub fn with_issuer(mut self, issuer: Arc<dyn CertificateIssuer>) -> Registry {
        self.issuer = issuer;
        self
    }

    /// Sets the `[aws.functions]` table: Lambda ARN or function name → the URL of the HTTP
    /// endpoint that plays that custom authorizer function.
    pub fn with_authorizer_functions(
        mut self,
        functions: std::collections::BTreeMap<String, String>,
    ) -> Registry {
        self.authorizers = ferrite_auth::custom::Invoker::new(functions);
        self
    }

    /// Announces changes on `feed` instead of a feed of the registry's own (the server
    /// shares one feed between the registry and every subscriber, and later the bus).
    pub fn with_change_feed(mut self, feed: Arc<dyn ChangeFeed>) -> Registry {
        self.changes = feed;
        self
    }

    /// The changes announced from now on.
    pub fn subscribe_changes(&self) -> ChangeSubscription {
        self.changes.subscribe()
    }

    /// Call once the write that made `changes` is durable.
    fn announce(&self, changes: impl IntoIterator<Item = RegistryChange>) {
        for change in changes {
            self.changes.publish(change);
        }
    }

    /// Removes everything (the test hook behind the admin reset endpoint).
    pub async fn clear(&self) -> Result<(), RegistryError> {
        self.store.clear().await?;
        self.announce([RegistryChange::Cleared]);
        Ok(())
    }

    async fn get<T: DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<(T, u64)>, RegistryError> {
        self.docs.get(kind, key).await
    }

    /// Runs `attempt` until its batch applies; `attempt` returns the writes and the output.
    async fn retry<F, Fut>(&self, attempt: F) -> Result<Output, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(Vec<Write>, Output), RegistryError>>,
    {
        self.retry_wrote(attempt).await.map(|(output, _)| output)
    }

    /// [`Registry::retry`], also telling whether the batch that applied wrote anything.
    async fn retry_wrote<F, Fut>(&self, attempt: F) -> Result<(Output, bool), RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(Vec<Write>, Output), RegistryError>>,
    {
        self.docs.retry_wrote(attempt).await
    }

    /// [`Registry::retry`] for a write others must hear of: once its batch has applied, if it
    /// wrote anything, the changes `changes` names (called then, so it may read what the
    /// last attempt decided) are announced.
    async fn retry_announcing<F, Fut>(
        &self,
        changes: impl FnOnce() -> Vec<RegistryChange>,
        attempt: F,
    ) -> Result<Output, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(Vec<Write>, Output), RegistryError>>,
    {
        let (output, wrote) = self.retry_wrote(attempt).await?;
        if wrote {
            self.announce(changes());
        }
        Ok(output)
    }

    /// Read-modify-write of one document at the version read (retried on conflict); `{}` out.
    async fn modify<T, F>(
        &self,
        kind: &str,
        key: &str,
        not_found: impl Fn() -> RegistryError,
        mut change: F,
    ) -> Result<Output, RegistryError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(&mut T) -> Result<(), RegistryError>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let (mut doc, version) = self.get::<T>(kind, key).await?.ok_or_else(&not_found)?;
            change(&mut doc)?;
            let write = Write::put(kind, key, Expect::Version(version), encode(&doc));
            if self.store.write(vec![write]).await? == WriteOutcome::Applied {
                return Ok(serde_json::json!({}));
            }
        }
        Err(RegistryError::Busy)
    }
}

impl Registry {
    /// Calls `visit` with the records of `kind` under `prefix` after the key `after`, in key
    /// order, until it breaks or none is left.
    async fn scan_until(
        &self,
        kind: &str,
        prefix: &str,
        after: Option<String>,
        visit: impl FnMut(&Record) -> Result<ControlFlow<()>, RegistryError>,
    ) -> Result<(), RegistryError> {
        self.docs.scan_until(kind, prefix, after, visit).await
    }

    /// Calls `visit` with every record of `kind` under `prefix`, in key order.
    async fn scan(
        &self,
        kind: &str,
        prefix: &str,
        mut visit: impl FnMut(&Record) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        self.scan_until(kind, prefix, None, |r| {
            visit(r).map(|()| ControlFlow::Continue(()))
        })
        .await
    }

    /// One page of a listing (see [`Documents::page`]).
    async fn page<T, F>(
        &self,
        kind: &str,
        prefix: &str,
        next_token: Option<&str>,
        limit: usize,
        render: F,
    ) -> Result<(Vec<Output>, Option<String>), RegistryError>
    where
        T: DeserializeOwned,
        F: FnMut(&Record, T) -> Option<Output>,
    {
        self.docs
            .page(kind, prefix, next_token, limit, render)
            .await
    }
}

/// Milliseconds since the Unix epoch, for creation dates.
fn now_ms() -> i64 {
    #[cfg(test)]
    if let Some(ms) = test_support::pinned_ms() {
        return ms;
    }
    ferrite_types::clock::system_now_ms()
}

/// Epoch seconds with milliseconds, as AWS's JSON timestamps.
pub fn epoch_secs(ms: i64) -> serde_json::Value {
    serde_json::json!(ms as f64 / 1000.0)
}
