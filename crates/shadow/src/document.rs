//! The stored shadow: `desired` / `reported` with their per-leaf metadata, the version and the
//! last update time; and the tombstone a deleted shadow leaves so a re-created shadow continues
//! its version numbering. Serialisable for storage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::limits::ShadowConfig;

/// A JSON object, the shape of every section.
pub type Object = Map<String, Value>;

/// The two sections of a shadow (or of its metadata). `None` is an absent section, which
/// documents omit; AWS never keeps an empty one, so stored sections are `None` or non-empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sections {
    /// `desired`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Object>,
    /// `reported`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Object>,
}

/// A live shadow as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowState {
    /// `state.desired` / `state.reported`.
    pub state: Sections,
    /// Mirrors `state`: every leaf becomes `{"timestamp": t}`, arrays become arrays of
    /// per-element metadata.
    pub metadata: Sections,
    /// Starts at 1, +1 per accepted update.
    pub version: u64,
    /// Epoch seconds of the last accepted update.
    pub updated_at: u64,
}

/// What a deleted shadow leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The version of the deleted document.
    pub version: u64,
    /// Epoch seconds of the deletion.
    pub deleted_at: u64,
}

/// A stored shadow record: live, or deleted with its version remembered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredShadow {
    /// A shadow that exists.
    Live(ShadowState),
    /// A deleted shadow; behaves as absent except for version numbering.
    Deleted(Tombstone),
}

impl StoredShadow {
    /// The live shadow, if any.
    pub fn live(&self) -> Option<&ShadowState> {
        match self {
            Self::Live(state) => Some(state),
            Self::Deleted(_) => None,
        }
    }

    /// Whether storage may forget this record: a tombstone older than the version memory.
    pub fn is_expired(&self, now: u64, config: &ShadowConfig) -> bool {
        match self {
            Self::Live(_) => false,
            Self::Deleted(t) => {
                now.saturating_sub(t.deleted_at) >= config.deleted_version_memory_secs
            }
        }
    }
}

/// The version the next accepted update builds on: the live version, a remembered deleted
/// version, or 0 for a shadow that never existed (or was forgotten).
pub(crate) fn base_version(current: Option<&StoredShadow>, now: u64, config: &ShadowConfig) -> u64 {
    match current {
        Some(StoredShadow::Live(state)) => state.version,
        Some(record @ StoredShadow::Deleted(t)) if !record.is_expired(now, config) => t.version,
        _ => 0,
    }
}
