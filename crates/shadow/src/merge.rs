//! The update merge (spec §3.4): objects merge key by key, `null` deletes, arrays and scalars
//! replace, an object (or section) emptied by deletions disappears, and an explicit `{}` in the
//! request is stored like any other value. Metadata is updated alongside so that it always
//! mirrors the state.

use serde_json::{Map, Value};

use crate::document::Object;
use crate::metadata;

/// Merges `patch` into one section and its metadata, at time `t`. A section left empty becomes
/// absent [VERIFY: AWS's Greengrass reimplementation drops it; GET then omits it].
pub(crate) fn merge_section(
    state: &mut Option<Object>,
    meta: &mut Option<Object>,
    patch: Object,
    t: u64,
) {
    let mut target = state.take().unwrap_or_default();
    let mut target_meta = meta.take().unwrap_or_default();
    merge_object(&mut target, &mut target_meta, patch, t);
    if !target.is_empty() {
        *state = Some(target);
        *meta = Some(target_meta);
    }
}

/// Merges `patch` into `target` (consuming it, so values move rather than copy) and keeps
/// `meta` mirroring `target`.
pub(crate) fn merge_object(target: &mut Object, meta: &mut Object, patch: Object, t: u64) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(&key);
                meta.remove(&key);
            }
            Value::Object(sub) => {
                let emptied = match target.get_mut(&key) {
                    Some(Value::Object(existing)) => {
                        // Metadata of an object is an object; repair it if storage held
                        // something else rather than lose the merge.
                        let sub_meta = meta
                            .entry(key.clone())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if !sub_meta.is_object() {
                            *sub_meta = Value::Object(Map::new());
                        }
                        let Value::Object(sub_meta) = sub_meta else {
                            continue;
                        };
                        // Only deletions can empty an object that had keys; one that was
                        // already `{}` stays, and merging `{}` into it changes nothing.
                        let had_keys = !existing.is_empty();
                        merge_object(existing, sub_meta, sub, t);
                        had_keys && existing.is_empty()
                    }
                    _ => {
                        // New key, or an object replacing a scalar/array: merge into nothing
                        // so nested `null`s are dropped rather than stored. An explicit `{}`
                        // is stored; an object whose every member was a `null` is not.
                        let explicit_empty = sub.is_empty();
                        let mut fresh = Map::new();
                        let mut fresh_meta = Map::new();
                        merge_object(&mut fresh, &mut fresh_meta, sub, t);
                        if !fresh.is_empty() || explicit_empty {
                            target.insert(key.clone(), Value::Object(fresh));
                            meta.insert(key, Value::Object(fresh_meta));
                            continue;
                        }
                        true
                    }
                };
                if emptied {
                    // An object emptied by deletions goes, like a section does [VERIFY].
                    target.remove(&key);
                    meta.remove(&key);
                }
            }
            leaf => {
                meta.insert(key.clone(), metadata::of_value(&leaf, t));
                target.insert(key, leaf);
            }
        }
    }
}
