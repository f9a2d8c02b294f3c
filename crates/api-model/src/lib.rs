//! The AWS rest-json protocol of the `iot`, `iot-data` and `iot-jobs-data` APIs, without I/O.
//!
//! This crate owns the service models (static tables generated from botocore's JSON models,
//! under `generated/`) and the protocol logic the HTTP API runs on every request:
//!
//! - [`resolve`]: method + path + query (+ SigV4 signing service) to an [`Operation`] and its
//!   URI labels;
//! - [`decode_request`]: labels, query, headers and body to the operation's input as JSON keyed
//!   by member names, validated against the model ([`validate_input`]) with AWS's messages;
//! - [`encode_response`] / [`encode_error`]: an output or error as status, headers and body;
//! - model access: [`Operation::def`], [`Service::shapes`], [`error_status`],
//!   [`Operation::paginator`].
//!
//! # Regenerating the tables
//!
//! The files in `src/generated/` are written by `tools/codegen/gen_api_model.py` from the
//! botocore version pinned in `tools/codegen/requirements.txt`; never edit them by hand:
//!
//! ```text
//! pip install -r tools/codegen/requirements.txt
//! python3 tools/codegen/gen_api_model.py
//! ```
//!
//! The generator is deterministic and runs rustfmt on its output, so an unchanged model gives
//! an empty diff.

mod decode;
mod encode;
mod error;
mod generated;
mod operation;
mod path;
mod pattern;
mod percent;
mod router;
mod service;
mod shape;
mod timestamp;
mod validate;

pub use decode::decode_request;
pub use encode::{EncodedResponse, encode_error, encode_response};
pub use error::{
    ConstraintViolations, EncodeError, InvalidPercentEncoding, RouteError, ValidationError,
    Violation,
};
pub use generated::Operation;
pub use operation::{HttpMethod, OperationDef, Paginator};
pub use pattern::Pattern;
pub use router::{Route, resolve};
pub use service::{Service, error_status};
pub use shape::{
    Bounds, FloatBounds, Location, Member, PatternId, Shape, ShapeId, ShapeKind, StringShape,
    Structure, TimestampFormat,
};
pub use validate::validate_input;
