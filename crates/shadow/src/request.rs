//! Request payloads: `/get` and `/delete` (empty, or an object whose `clientToken` alone is
//! read) and `/update` (`state` with `desired`/`reported`, `clientToken`, `version`; other keys
//! ignored), validated with AWS's codes and messages.

use serde_json::{Map, Value};

use crate::document::Object;
use crate::error::{Rejection, ShadowError};
use crate::limits::{self, ShadowConfig};

/// A `/get` or `/delete` request: only the client token matters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// The request's `clientToken`, echoed in the answer.
    pub client_token: Option<String>,
}

/// What an update does to one section.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SectionUpdate {
    /// The request did not mention the section.
    #[default]
    Unchanged,
    /// `null`: remove the whole section.
    Clear,
    /// An object to merge into the section.
    Merge(Object),
}

/// A validated `/update` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateRequest {
    /// `state.desired`
    pub desired: SectionUpdate,
    /// `state.reported`
    pub reported: SectionUpdate,
    /// `"state": null` — both sections cleared.
    pub state_null: bool,
    /// The request's `clientToken`, echoed in every answer.
    pub client_token: Option<String>,
    /// The expected current version, if the client asked for optimistic locking.
    pub version: Option<u64>,
}

/// Decodes the payload as UTF-8 JSON (415 / 400 otherwise); `Ok(None)` for an empty payload.
fn decode(payload: &[u8]) -> Result<Option<Value>, ShadowError> {
    let text = std::str::from_utf8(payload).map_err(|_| ShadowError::UnsupportedEncoding)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    // serde_json refuses nesting beyond 128 levels, so nothing below recurses deeper than that.
    serde_json::from_str(text)
        .map(Some)
        .map_err(|_| ShadowError::InvalidJson)
}

/// Takes and validates `clientToken`: a string of at most the configured bytes.
fn take_client_token(
    doc: &mut Map<String, Value>,
    config: &ShadowConfig,
) -> Result<Option<String>, ShadowError> {
    match doc.remove("clientToken") {
        None => Ok(None),
        Some(Value::String(token)) if token.len() <= config.max_client_token_bytes => {
            Ok(Some(token))
        }
        Some(_) => Err(ShadowError::InvalidClientToken),
    }
}

/// Parses a `/get` or `/delete` payload. Non-object JSON is ignored like any other content
/// besides `clientToken` [VERIFY].
pub fn parse_token_request(
    payload: &[u8],
    config: &ShadowConfig,
) -> Result<TokenRequest, Rejection> {
    match decode(payload)? {
        Some(Value::Object(mut doc)) => Ok(TokenRequest {
            client_token: take_client_token(&mut doc, config)?,
        }),
        _ => Ok(TokenRequest::default()),
    }
}

/// Parses and validates an `/update` payload (or an UpdateThingShadow body).
///
/// Checks, in order: UTF-8 (415), JSON (400), `clientToken` (400; from here on rejections echo
/// the token), `version` (400), `state` shape (400), nesting depth (400), `null` in arrays
/// (400), size of `desired` + `reported` as sent (413).
pub fn parse_update(payload: &[u8], config: &ShadowConfig) -> Result<UpdateRequest, Rejection> {
    let doc = decode(payload)?.ok_or(ShadowError::InvalidJson)?;
    // A JSON scalar or array has no `state` [AWS answers "66" this way].
    let Value::Object(mut doc) = doc else {
        return Err(ShadowError::MissingState.into());
    };
    let client_token = take_client_token(&mut doc, config)?;
    match parse_update_body(doc, config) {
        Ok((desired, reported, state_null, version)) => Ok(UpdateRequest {
            desired,
            reported,
            state_null,
            client_token,
            version,
        }),
        Err(error) => Err(Rejection::new(error, client_token)),
    }
}

type Parsed = (SectionUpdate, SectionUpdate, bool, Option<u64>);

fn parse_update_body(
    mut doc: Map<String, Value>,
    config: &ShadowConfig,
) -> Result<Parsed, ShadowError> {
    let version = match doc.remove("version") {
        None => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or(ShadowError::InvalidVersion)?),
        Some(_) => return Err(ShadowError::InvalidVersion),
    };
    let state = match doc.remove("state") {
        None => return Err(ShadowError::MissingState),
        Some(Value::Null) => {
            return Ok((SectionUpdate::Clear, SectionUpdate::Clear, true, version));
        }
        Some(Value::Object(state)) => state,
        Some(_) => return Err(ShadowError::StateNotObject),
    };
    let mut desired = SectionUpdate::Unchanged;
    let mut reported = SectionUpdate::Unchanged;
    for (key, value) in state {
        let (slot, not_object) = match key.as_str() {
            "desired" => (&mut desired, ShadowError::DesiredNotObject),
            "reported" => (&mut reported, ShadowError::ReportedNotObject),
            _ => return Err(ShadowError::InvalidStateNode(key)),
        };
        *slot = match value {
            Value::Null => SectionUpdate::Clear,
            Value::Object(section) => {
                if limits::object_exceeds_depth(&section, config.max_depth) {
                    return Err(ShadowError::TooDeep(config.max_depth));
                }
                if section
                    .values()
                    .any(|v| limits::has_null_in_array(v, false))
                {
                    return Err(ShadowError::NullInArray);
                }
                SectionUpdate::Merge(section)
            }
            _ => return Err(not_object),
        };
    }
    let sent = |s: &SectionUpdate| match s {
        SectionUpdate::Merge(m) => limits::json_len(m),
        _ => 0,
    };
    if sent(&desired) + sent(&reported) > config.max_state_bytes {
        return Err(ShadowError::PayloadTooLarge);
    }
    Ok((desired, reported, false, version))
}
