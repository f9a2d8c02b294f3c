//! The three operations as pure functions: current stored record + request + `now` →
//! rejection, or the new record and every payload to publish. No I/O: the caller loads the
//! record, stores the result (conditionally on the version it loaded) and publishes.

use crate::delta;
use crate::document::{self, Object, Sections, ShadowState, StoredShadow, Tombstone};
use crate::error::{Rejection, ShadowError};
use crate::limits::{self, DeltaTrigger, ShadowConfig};
use crate::merge;
use crate::names::ShadowId;
use crate::request::{self, SectionUpdate, TokenRequest, UpdateRequest};
use crate::response::{
    self, AcceptedDoc, DeleteDoc, DeltaDoc, DocumentsDoc, Echo, EchoSections, GetDoc, GetSections,
    Snapshot,
};
use crate::topics::{Operation, ResponseTopic};

/// An accepted update: what to store and what to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateOutcome {
    /// The new shadow to store (its `version` is the previous one + 1).
    pub state: ShadowState,
    /// `/update/accepted` payload, also the UpdateThingShadow response body.
    pub accepted: Vec<u8>,
    /// `/update/delta` payload, when one is due.
    pub delta: Option<Vec<u8>>,
    /// `/update/documents` payload; `None` when the caller said nobody would receive it.
    pub documents: Option<Vec<u8>>,
}

/// What the caller is going to publish: payloads nobody would receive are not built (the
/// `/documents` one serializes the whole shadow twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publishing {
    /// Someone receives `/update/documents`.
    pub documents: bool,
}

impl Default for Publishing {
    fn default() -> Self {
        Publishing { documents: true }
    }
}

impl UpdateOutcome {
    /// The messages to publish, in AWS's order: accepted, delta, documents.
    pub fn messages(&self) -> impl Iterator<Item = (ResponseTopic, &[u8])> {
        [
            Some((ResponseTopic::UpdateAccepted, self.accepted.as_slice())),
            self.delta
                .as_deref()
                .map(|d| (ResponseTopic::UpdateDelta, d)),
            self.documents
                .as_deref()
                .map(|d| (ResponseTopic::UpdateDocuments, d)),
        ]
        .into_iter()
        .flatten()
    }
}

/// An accepted delete: the tombstone to store and the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteOutcome {
    /// Store this in place of the shadow so a re-created shadow continues its versions.
    pub tombstone: Tombstone,
    /// `/delete/accepted` payload, also the DeleteThingShadow response body.
    pub accepted: Vec<u8>,
}

/// The result of any operation (see [`handle`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `/get/accepted` payload; nothing to store.
    Get(Vec<u8>),
    /// An accepted update.
    Update(UpdateOutcome),
    /// An accepted delete.
    Delete(DeleteOutcome),
}

impl Outcome {
    /// What the caller must store, if anything.
    pub fn record(&self) -> Option<StoredShadow> {
        match self {
            Self::Get(_) => None,
            Self::Update(u) => Some(StoredShadow::Live(u.state.clone())),
            Self::Delete(d) => Some(StoredShadow::Deleted(d.tombstone)),
        }
    }

    /// What the caller must store, moved out of the outcome (no copy of the shadow).
    pub fn into_record(self) -> Option<StoredShadow> {
        match self {
            Self::Get(_) => None,
            Self::Update(u) => Some(StoredShadow::Live(u.state)),
            Self::Delete(d) => Some(StoredShadow::Deleted(d.tombstone)),
        }
    }

    /// The messages to publish, each with the response topic it goes to.
    pub fn messages(&self) -> Vec<(ResponseTopic, &[u8])> {
        match self {
            Self::Get(p) => vec![(ResponseTopic::GetAccepted, p.as_slice())],
            Self::Update(u) => u.messages().collect(),
            Self::Delete(d) => vec![(ResponseTopic::DeleteAccepted, d.accepted.as_slice())],
        }
    }
}

/// Parses `payload` for `op` and runs it: the whole shadow request path in one call, for the
/// broker's reserved-topic handler. On `Err`, publish [`Rejection::payload`] on
/// `op.rejected()`.
pub fn handle(
    op: Operation,
    id: &ShadowId,
    current: Option<&StoredShadow>,
    payload: &[u8],
    now: u64,
    config: &ShadowConfig,
) -> Result<Outcome, Rejection> {
    handle_publishing(op, id, current, payload, now, config, Publishing::default())
}

/// [`handle`], building only the payloads `publishing` names.
pub fn handle_publishing(
    op: Operation,
    id: &ShadowId,
    current: Option<&StoredShadow>,
    payload: &[u8],
    now: u64,
    config: &ShadowConfig,
    publishing: Publishing,
) -> Result<Outcome, Rejection> {
    match op {
        Operation::Get => {
            let req = request::parse_token_request(payload, config)?;
            get(id, current, &req, now, config).map(Outcome::Get)
        }
        Operation::Update => {
            let req = request::parse_update(payload, config)?;
            update_publishing(current, req, now, config, publishing).map(Outcome::Update)
        }
        Operation::Delete => {
            let req = request::parse_token_request(payload, config)?;
            delete(id, current, &req, now).map(Outcome::Delete)
        }
    }
}

fn not_found(id: &ShadowId, req: &TokenRequest) -> Rejection {
    Rejection::new(
        ShadowError::NotFound(id.not_found_name().to_owned()),
        req.client_token.clone(),
    )
}

/// GET: the full document with `delta`, or 404.
pub fn get(
    id: &ShadowId,
    current: Option<&StoredShadow>,
    req: &TokenRequest,
    now: u64,
    config: &ShadowConfig,
) -> Result<Vec<u8>, Rejection> {
    let state = current
        .and_then(StoredShadow::live)
        .ok_or_else(|| not_found(id, req))?;
    let (delta, delta_meta) = match &state.state.desired {
        Some(desired) => {
            let d = delta::delta(desired, state.state.reported.as_ref());
            let m = if config.get_metadata_delta && !d.is_empty() {
                delta::delta_metadata(&d, state.metadata.desired.as_ref())
            } else {
                Object::new()
            };
            (d, m)
        }
        None => (Object::new(), Object::new()),
    };
    Ok(response::to_bytes(&GetDoc {
        state: GetSections {
            desired: state.state.desired.as_ref(),
            reported: state.state.reported.as_ref(),
            delta: (!delta.is_empty()).then_some(&delta),
        },
        metadata: GetSections {
            desired: state.metadata.desired.as_ref(),
            reported: state.metadata.reported.as_ref(),
            delta: (!delta_meta.is_empty()).then_some(&delta_meta),
        },
        version: state.version,
        timestamp: now,
        client_token: req.client_token.as_deref(),
    }))
}

/// UPDATE: merge the request into the current shadow (creating it if absent), or reject it.
pub fn update(
    current: Option<&StoredShadow>,
    req: UpdateRequest,
    now: u64,
    config: &ShadowConfig,
) -> Result<UpdateOutcome, Rejection> {
    update_publishing(current, req, now, config, Publishing::default())
}

/// [`update`], building only the payloads `publishing` names.
pub fn update_publishing(
    current: Option<&StoredShadow>,
    req: UpdateRequest,
    now: u64,
    config: &ShadowConfig,
    publishing: Publishing,
) -> Result<UpdateOutcome, Rejection> {
    let token = req.client_token.as_deref();
    let reject = |error| Rejection::new(error, req.client_token.clone());
    let base = document::base_version(current, now, config);
    if req.version.is_some_and(|v| v != base) {
        return Err(reject(ShadowError::VersionConflict));
    }
    let version = base
        .checked_add(1)
        .ok_or_else(|| reject(ShadowError::Internal))?;
    let previous = current.and_then(StoredShadow::live);

    let mut next = previous.cloned().unwrap_or_default();
    // The echo is written before the merge consumes the request's values.
    let accepted = response::to_bytes(&AcceptedDoc {
        state: (!req.state_null).then_some(EchoSections {
            desired: Echo(&req.desired),
            reported: Echo(&req.reported),
        }),
        metadata: response::echo_metadata(&req.desired, &req.reported, req.state_null, now),
        version,
        timestamp: now,
        client_token: token,
    });
    let desired_sent = matches!(req.desired, SectionUpdate::Merge(_));
    apply(&mut next, req.desired, req.reported, now);
    if limits::sections_len(next.state.desired.as_ref(), next.state.reported.as_ref())
        > config.max_state_bytes
    {
        return Err(reject(ShadowError::PayloadTooLarge));
    }
    next.version = version;
    next.updated_at = now;

    let delta_due = match config.delta_trigger {
        DeltaTrigger::DesiredInRequest => desired_sent,
        DeltaTrigger::AnyUpdate => true,
    };
    let delta = match (&next.state.desired, delta_due) {
        (Some(desired), true) => {
            let d = delta::delta(desired, next.state.reported.as_ref());
            (!d.is_empty()).then(|| {
                let m = delta::delta_metadata(&d, next.metadata.desired.as_ref());
                response::to_bytes(&DeltaDoc {
                    version,
                    timestamp: now,
                    state: &d,
                    metadata: &m,
                    client_token: token,
                })
            })
        }
        _ => None,
    };

    let empty = Sections::default();
    let documents = publishing.documents.then(|| {
        response::to_bytes(&DocumentsDoc {
            previous: match previous {
                Some(p) => Snapshot {
                    state: &p.state,
                    metadata: &p.metadata,
                    version: p.version,
                },
                // A new shadow's previous side is empty at the version it builds on [VERIFY].
                None => Snapshot {
                    state: &empty,
                    metadata: &empty,
                    version: base,
                },
            },
            current: Snapshot {
                state: &next.state,
                metadata: &next.metadata,
                version,
            },
            timestamp: now,
            client_token: token,
        })
    });
    Ok(UpdateOutcome {
        state: next,
        accepted,
        delta,
        documents,
    })
}

fn apply(next: &mut ShadowState, desired: SectionUpdate, reported: SectionUpdate, now: u64) {
    let sections = [
        (desired, &mut next.state.desired, &mut next.metadata.desired),
        (
            reported,
            &mut next.state.reported,
            &mut next.metadata.reported,
        ),
    ];
    for (update, state, meta) in sections {
        match update {
            SectionUpdate::Unchanged => {}
            SectionUpdate::Clear => {
                *state = None;
                *meta = None;
            }
            SectionUpdate::Merge(patch) => merge::merge_section(state, meta, patch, now),
        }
    }
}

/// DELETE: remove the shadow, leaving a tombstone with its version, or 404.
pub fn delete(
    id: &ShadowId,
    current: Option<&StoredShadow>,
    req: &TokenRequest,
    now: u64,
) -> Result<DeleteOutcome, Rejection> {
    let state = current
        .and_then(StoredShadow::live)
        .ok_or_else(|| not_found(id, req))?;
    Ok(DeleteOutcome {
        tombstone: Tombstone {
            version: state.version,
            deleted_at: now,
        },
        accepted: response::to_bytes(&DeleteDoc {
            version: state.version,
            timestamp: now,
            client_token: req.client_token.as_deref(),
        }),
    })
}
