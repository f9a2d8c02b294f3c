//! Shadows in the `RegistryStore`: one versioned document per shadow, kind `shadow`, key
//! `{thing}` for the classic shadow and `{thing}/{shadow}` for named ones (thing names
//! cannot contain `/`, so a thing's named shadows list under the prefix `{thing}/`).

use std::sync::Arc;

use ferrite_shadow::{ShadowId, StoredShadow};
use ferrite_storage::{Expect, RegistryStore, StorageError, Write, WriteOutcome};

const KIND: &str = "shadow";

#[derive(Clone)]
pub struct ShadowStore {
    store: Arc<dyn RegistryStore>,
}

fn key(id: &ShadowId) -> String {
    match id.shadow() {
        None => id.thing().as_str().to_owned(),
        Some(name) => format!("{}/{}", id.thing().as_str(), name.as_str()),
    }
}

impl ShadowStore {
    pub fn new(store: Arc<dyn RegistryStore>) -> Self {
        ShadowStore { store }
    }

    /// The stored shadow (live or a deletion tombstone) and its record version.
    pub async fn load(&self, id: &ShadowId) -> Result<Option<(StoredShadow, u64)>, StorageError> {
        match self.store.get(KIND, &key(id)).await? {
            None => Ok(None),
            Some(r) => {
                let shadow = serde_json::from_str(&r.doc)
                    .map_err(|e| StorageError::Corrupt(format!("shadow {:?}: {e}", r.key)))?;
                Ok(Some((shadow, r.version)))
            }
        }
    }

    /// Named shadows of `thing` (live ones only), in name order after `after`.
    pub async fn list_named(
        &self,
        thing: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StorageError> {
        let prefix = format!("{thing}/");
        let mut cursor = after.map(|a| format!("{prefix}{a}"));
        let mut names = Vec::new();
        loop {
            let page = self
                .store
                .list(KIND, &prefix, cursor.as_deref(), 500)
                .await?;
            for r in &page.records {
                let live = matches!(
                    serde_json::from_str::<StoredShadow>(&r.doc),
                    Ok(StoredShadow::Live(_))
                );
                if !live {
                    continue;
                }
                if names.len() == limit {
                    return Ok((names, true));
                }
                names.push(r.key[prefix.len()..].to_owned());
            }
            match page.next_after {
                Some(k) => cursor = Some(k),
                None => return Ok((names, false)),
            }
        }
    }

    /// Stores `shadow` if the record is still at `read_version` (absent when `None`).
    /// `Ok(false)`: someone else wrote first.
    pub async fn save(
        &self,
        id: &ShadowId,
        shadow: &StoredShadow,
        read_version: Option<u64>,
    ) -> Result<bool, StorageError> {
        let doc = serde_json::to_string(shadow)
            .map_err(|e| StorageError::Backend(format!("encoding a shadow: {e}")))?;
        let expect = match read_version {
            Some(v) => Expect::Version(v),
            None => Expect::Absent,
        };
        let outcome = self
            .store
            .write(vec![Write::put(KIND, &key(id), expect, doc)])
            .await?;
        Ok(outcome == WriteOutcome::Applied)
    }
}
