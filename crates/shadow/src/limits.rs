//! The shadow service's limits and the behaviour switches where AWS's behaviour is not pinned
//! down ([VERIFY] in the spec), plus the checks that enforce the limits on JSON values.

use serde_json::{Map, Value};

/// Limits and behaviour switches; [`ShadowConfig::default`] is AWS's default behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowConfig {
    /// Largest `desired` + `reported`, in bytes of compact JSON, both as sent in a request and
    /// as stored after the merge (AWS: 8 KB, raisable to 30 KB) → 413.
    pub max_state_bytes: usize,
    /// Deepest nesting inside `desired` / `reported`, counting the section object itself as
    /// level 1 (so `{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}` is 6 levels) → 400.
    pub max_depth: usize,
    /// Longest `clientToken`, in bytes → 400 "Invalid clientToken".
    pub max_client_token_bytes: usize,
    /// How long a deleted shadow's version is remembered: an update within this time continues
    /// the old numbering, later ones start again at 1 (AWS: 48 h).
    pub deleted_version_memory_secs: u64,
    /// When an accepted update publishes `/update/delta`.
    pub delta_trigger: DeltaTrigger,
    /// Whether GET documents carry `metadata.delta` (the developer guide shows it, the SDK
    /// models ignore it) [VERIFY]; off by default.
    pub get_metadata_delta: bool,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        Self {
            max_state_bytes: 8 * 1024,
            max_depth: 6,
            max_client_token_bytes: 64,
            deleted_version_memory_secs: 48 * 3600,
            delta_trigger: DeltaTrigger::DesiredInRequest,
            get_metadata_delta: false,
        }
    }
}

/// When `/update/delta` is published after an accepted update whose resulting delta is
/// non-empty [VERIFY].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaTrigger {
    /// Only when the request carried a non-null `state.desired` (observed AWS behaviour).
    DesiredInRequest,
    /// After every accepted update (the developer guide's wording).
    AnyUpdate,
}

/// Whether `value`'s nesting exceeds `max` levels, containers (objects and arrays) counting one
/// level each. Stops descending past the limit, so it is cheap and shallow on any input.
pub(crate) fn exceeds_depth(value: &Value, max: usize) -> bool {
    match value {
        Value::Object(map) => max == 0 || map.values().any(|v| exceeds_depth(v, max - 1)),
        Value::Array(items) => max == 0 || items.iter().any(|v| exceeds_depth(v, max - 1)),
        _ => false,
    }
}

/// Whether a section object nests deeper than `max` levels, itself being level 1.
pub(crate) fn object_exceeds_depth(map: &Map<String, Value>, max: usize) -> bool {
    max == 0 || map.values().any(|v| exceeds_depth(v, max - 1))
}

/// Whether any array inside `value` (at any depth) holds a `null`, which AWS refuses because
/// arrays are stored as given and `null` means "delete" everywhere else.
pub(crate) fn has_null_in_array(value: &Value, in_array: bool) -> bool {
    match value {
        Value::Null => in_array,
        Value::Object(map) => map.values().any(|v| has_null_in_array(v, in_array)),
        Value::Array(items) => items.iter().any(|v| has_null_in_array(v, true)),
        _ => false,
    }
}

/// Compact JSON length of `value`, computed without building the string.
pub(crate) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising a `Value` into a sink that never fails cannot fail; a failure would only
    // under-count, which the stored-document check catches again.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Compact JSON length of the two sections as they would appear in `{"desired":…,"reported":…}`.
pub(crate) fn sections_len(
    desired: Option<&Map<String, Value>>,
    reported: Option<&Map<String, Value>>,
) -> usize {
    desired.map_or(0, json_len) + reported.map_or(0, json_len)
}
