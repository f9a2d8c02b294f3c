//! Pagination: positions opaque to clients, the last key of the previous page inside, and the
//! outputs that carry them. Most listings page with `nextToken`s in the URL-safe alphabet; the
//! certificate, policy and authorizer listings page with `marker`s, which their model
//! constrains to standard base64 (`[A-Za-z0-9+/]+={0,2}`), so a marker is the same tagged key
//! in that alphabet.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;

use crate::{Output, RegistryError};

/// AWS's page size for the marker-paginated listings when `pageSize` is absent.
pub const MARKER_PAGE_DEFAULT: usize = 25;

/// The paging members of the marker-paginated listings' requests (flattened into them).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkerPage {
    pub marker: Option<String>,
    pub page_size: Option<i64>,
    pub ascending_order: Option<bool>,
}

impl MarkerPage {
    /// `pageSize`, or AWS's default.
    pub fn limit(&self) -> usize {
        page_size(self.page_size, MARKER_PAGE_DEFAULT)
    }
}

/// Prefixes the key inside every token and marker, so one Ferrite did not issue is refused
/// rather than read as a position. Markers are opaque and never stored: one tag serves all.
const TAG: &str = "ferrite1:";

fn encode_with(engine: &impl Engine, after: &str) -> String {
    engine.encode(format!("{TAG}{after}"))
}

/// The key `given` stands for (`None` when absent or empty); one Ferrite did not issue is
/// AWS's InvalidRequestException with the message `invalid`.
fn decode_with(
    engine: &impl Engine,
    given: Option<&str>,
    invalid: &str,
) -> Result<Option<String>, RegistryError> {
    let Some(given) = given.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    engine
        .decode(given)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(TAG).map(str::to_owned))
        .map(Some)
        .ok_or_else(|| RegistryError::InvalidRequest(invalid.into()))
}

pub fn encode(after: &str) -> String {
    encode_with(&URL_SAFE_NO_PAD, after)
}

/// The key a token stands for; a token Ferrite did not issue is AWS's InvalidRequestException.
pub fn decode(token: Option<&str>) -> Result<Option<String>, RegistryError> {
    decode_with(&URL_SAFE_NO_PAD, token, "The pagination token is invalid.")
}

pub fn encode_marker(after: &str) -> String {
    encode_with(&STANDARD, after)
}

/// The key a marker stands for; a marker Ferrite did not issue is InvalidRequestException.
pub fn decode_marker(marker: Option<&str>) -> Result<Option<String>, RegistryError> {
    decode_with(&STANDARD, marker, "The marker is invalid.")
}

/// The token of the position `marker` stands for, for the token-based paging helpers.
pub fn marker_to_token(marker: Option<&str>) -> Result<Option<String>, RegistryError> {
    Ok(decode_marker(marker)?.map(|k| encode(&k)))
}

/// The marker of the position a paging helper's `next` token stands for.
pub fn token_to_marker(next: Option<String>) -> Result<Option<String>, RegistryError> {
    Ok(decode(next.as_deref())?.map(|k| encode_marker(&k)))
}

/// `maxResults` (or `pageSize`) with AWS's default page size when absent.
pub fn page_size(max_results: Option<i64>, default: usize) -> usize {
    match max_results {
        Some(n) if n > 0 => n as usize,
        _ => default,
    }
}

/// A token-paginated listing's output: the items under `key`, and `nextToken` when another
/// page follows.
pub fn listing(key: &str, items: Vec<Output>, next: Option<String>) -> Output {
    page_output(key, items, "nextToken", next)
}

/// A marker-paginated listing's output: the items under `key`, and `nextMarker` when another
/// page follows.
pub fn marker_listing(key: &str, items: Vec<Output>, next: Option<String>) -> Output {
    page_output(key, items, "nextMarker", next)
}

fn page_output(key: &str, items: Vec<Output>, next_member: &str, next: Option<String>) -> Output {
    let mut out = json!({ key: items });
    if let Some(n) = next {
        out[next_member] = json!(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_tokens() {
        assert_eq!(
            decode(Some(&encode("thing-9"))).unwrap().as_deref(),
            Some("thing-9")
        );
        assert_eq!(decode(None).unwrap(), None);
        assert_eq!(decode(Some("")).unwrap(), None);
        assert!(decode(Some("not-a-token")).is_err());
        assert!(decode(Some(&URL_SAFE_NO_PAD.encode("other:x"))).is_err());
    }

    #[test]
    fn markers_are_standard_base64_and_round_trip_through_tokens() {
        let m = encode_marker("policy-with/odd~chars?");
        assert!(
            m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        );
        assert_eq!(
            decode_marker(Some(&m)).unwrap().as_deref(),
            Some("policy-with/odd~chars?")
        );
        let token = marker_to_token(Some(&m)).unwrap();
        assert_eq!(token_to_marker(token).unwrap(), Some(m));
        assert_eq!(decode_marker(None).unwrap(), None);
        assert_eq!(decode_marker(Some("")).unwrap(), None);
        match decode_marker(Some("bm90LW91cnM=")) {
            Err(RegistryError::InvalidRequest(m)) => assert_eq!(m, "The marker is invalid."),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listings_carry_the_next_position_only_when_a_page_follows() {
        let items = vec![json!("a")];
        assert_eq!(
            listing("things", items.clone(), Some("t".into())),
            json!({"things": ["a"], "nextToken": "t"})
        );
        assert_eq!(
            marker_listing("policies", items.clone(), Some("m".into())),
            json!({"policies": ["a"], "nextMarker": "m"})
        );
        assert_eq!(
            marker_listing("policies", items, None),
            json!({"policies": ["a"]})
        );
    }
}
