//! The AWS IoT registry: things, thing types, thing groups, billing groups, tags and the
//! account's settings, with AWS's semantics (versions, `expectedVersion` conflicts, idempotent
//! creates, attribute merge, pagination), stored through `ferrite_storage::RegistryStore`.
//!
//! Operations take typed requests (deserialised from the validated JSON input the HTTP edge
//! decodes) and return JSON outputs keyed like AWS's output shapes. Errors are
//! [`RegistryError`]s; the edge maps them to AWS exception names. ARNs are built per request
//! from the caller's region ([`Scope`]), so one store serves every region, as names in AWS are
//! per region and account.
//!
//! Concurrency is optimistic: an operation reads, decides and writes a conditional batch; on a
//! conflict it re-reads and decides again (see [`Registry::retry`]).

mod billing_groups;
mod error;
mod kinds;
mod settings;
mod shared;
mod tags;
mod thing_groups;
mod thing_types;
mod things;
mod token;

use std::future::Future;
use std::sync::Arc;

use ferrite_storage::{Expect, Record, RegistryStore, StorageError, Write, WriteOutcome};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::RegistryError;
pub use settings::EndpointConfig;

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
    endpoints: EndpointConfig,
}

/// Attempts of an optimistic read-decide-write cycle before giving up with a conflict.
const MAX_ATTEMPTS: usize = 16;

pub type Output = serde_json::Value;

impl Registry {
    pub fn new(store: Arc<dyn RegistryStore>, endpoints: EndpointConfig) -> Registry {
        Registry { store, endpoints }
    }

    /// Removes everything (the test hook behind the admin reset endpoint).
    pub async fn clear(&self) -> Result<(), RegistryError> {
        Ok(self.store.clear().await?)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<(T, u64)>, RegistryError> {
        match self.store.get(kind, key).await? {
            None => Ok(None),
            Some(r) => Ok(Some((decode(&r)?, r.version))),
        }
    }

    /// Runs `attempt` until its batch applies; `attempt` returns the writes and the output.
    async fn retry<F, Fut>(&self, mut attempt: F) -> Result<Output, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(Vec<Write>, Output), RegistryError>>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let (writes, output) = attempt().await?;
            if writes.is_empty() {
                return Ok(output);
            }
            match self.store.write(writes).await? {
                WriteOutcome::Applied => return Ok(output),
                WriteOutcome::Conflict { .. } => continue,
            }
        }
        Err(RegistryError::Busy)
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

/// Records read per store call while filtering a listing.
const SCAN_BATCH: usize = 500;

impl Registry {
    /// One page of a listing: records of `kind` under `prefix`, after the position `token`
    /// stands for, rendered by `render` (which returns `None` for records a filter rejects).
    /// Returns the items and the token of the next page, present only when another item
    /// follows, so the last page never points at an empty one.
    async fn page<T, F>(
        &self,
        kind: &str,
        prefix: &str,
        next_token: Option<&str>,
        limit: usize,
        mut render: F,
    ) -> Result<(Vec<Output>, Option<String>), RegistryError>
    where
        T: DeserializeOwned,
        F: FnMut(&Record, T) -> Option<Output>,
    {
        let mut cursor = token::decode(next_token)?;
        let mut items = Vec::new();
        let mut last_included: Option<String> = None;
        loop {
            let page = self
                .store
                .list(kind, prefix, cursor.as_deref(), SCAN_BATCH)
                .await?;
            for r in &page.records {
                let Some(item) = render(r, decode(r)?) else {
                    continue;
                };
                if items.len() == limit {
                    return Ok((items, last_included.map(|k| token::encode(&k))));
                }
                items.push(item);
                last_included = Some(r.key.clone());
            }
            match page.next_after {
                Some(k) => cursor = Some(k),
                None => return Ok((items, None)),
            }
        }
    }
}

fn encode<T: Serialize>(doc: &T) -> String {
    serde_json::to_string(doc).expect("registry documents serialise")
}

fn decode<T: DeserializeOwned>(r: &Record) -> Result<T, RegistryError> {
    serde_json::from_str(&r.doc).map_err(|e| {
        RegistryError::Storage(StorageError::Corrupt(format!(
            "{} record {:?}: {e}",
            r.kind, r.key
        )))
    })
}

/// Milliseconds since the Unix epoch, for creation dates.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Epoch seconds with milliseconds, as AWS's JSON timestamps.
fn epoch_secs(ms: i64) -> serde_json::Value {
    serde_json::json!(ms as f64 / 1000.0)
}
