//! AWS IoT Device Shadow semantics for Ferrite, as pure functions without I/O.
//!
//! This crate owns what a shadow *means*: thing and shadow names ([`names`]), the reserved
//! topics ([`topics`]), request payloads and their validation with AWS's error codes and
//! messages ([`request`], [`ShadowError`]), the stored document ([`ShadowState`],
//! [`StoredShadow`]), the update merge, per-leaf metadata, the delta, versions, the deleted
//! shadow's version memory, and the size and depth limits ([`ShadowConfig`]).
//!
//! Each operation ([`get`], [`update`], [`delete`], or [`handle`] for all three from a raw
//! payload) takes the stored record, the request and `now` (epoch seconds) and returns either a
//! [`Rejection`] or the record to store plus every payload to publish. Storage, MQTT wiring,
//! REST wiring and policy checks are the callers': the same payloads are the iot-data REST
//! bodies, and [`ShadowError::aws_exception`] names the REST error.

#![warn(missing_docs)]

pub mod delta;
mod document;
mod error;
mod limits;
mod merge;
mod metadata;
pub mod names;
mod ops;
pub mod request;
mod response;
pub mod topics;

pub use document::{Object, Sections, ShadowState, StoredShadow, Tombstone};
pub use error::{Rejection, ShadowError};
pub use limits::{DeltaTrigger, ShadowConfig};
pub use names::{NameError, ShadowId, ShadowName, ThingName};
pub use ops::{
    DeleteOutcome, Outcome, Publishing, UpdateOutcome, delete, get, handle, handle_publishing,
    update, update_publishing,
};
pub use request::{SectionUpdate, TokenRequest, UpdateRequest, parse_token_request, parse_update};
pub use topics::{Operation, ResponseTopic, ShadowTopic, TopicError, TopicKind, parse_topic};
