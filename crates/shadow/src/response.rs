//! Response documents, serialised straight from borrowed state (no copies of the stored
//! document): `/get/accepted`, `/update/accepted`, `/update/delta`, `/update/documents`,
//! `/delete/accepted`. The error document lives with [`crate::Rejection`].

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::document::{Object, Sections};
use crate::metadata;
use crate::request::SectionUpdate;

/// Serialises a response. Our documents hold only string keys and finite numbers, so this
/// cannot fail; should it ever, an empty payload beats a panic in the broker.
pub(crate) fn to_bytes<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).unwrap_or_default()
}

/// `state` / `metadata` of a GET document: the sections plus `delta` when non-empty.
#[derive(Serialize)]
pub(crate) struct GetSections<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<&'a Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported: Option<&'a Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<&'a Object>,
}

/// `/get/accepted` and the GetThingShadow body.
#[derive(Serialize)]
pub(crate) struct GetDoc<'a> {
    pub state: GetSections<'a>,
    pub metadata: GetSections<'a>,
    pub version: u64,
    pub timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    pub client_token: Option<&'a str>,
}

/// One side of `/update/documents`.
#[derive(Serialize)]
pub(crate) struct Snapshot<'a> {
    pub state: &'a Sections,
    pub metadata: &'a Sections,
    pub version: u64,
}

/// `/update/documents`.
#[derive(Serialize)]
pub(crate) struct DocumentsDoc<'a> {
    pub previous: Snapshot<'a>,
    pub current: Snapshot<'a>,
    pub timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    pub client_token: Option<&'a str>,
}

/// `/update/delta`: flat `state` and `metadata`.
#[derive(Serialize)]
pub(crate) struct DeltaDoc<'a> {
    pub version: u64,
    pub timestamp: u64,
    pub state: &'a Object,
    pub metadata: &'a Object,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    pub client_token: Option<&'a str>,
}

/// `/delete/accepted` and the DeleteThingShadow body.
#[derive(Serialize)]
pub(crate) struct DeleteDoc<'a> {
    pub version: u64,
    pub timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    pub client_token: Option<&'a str>,
}

/// A section of the request as echoed in `/update/accepted`.
pub(crate) struct Echo<'a>(pub &'a SectionUpdate);

impl Echo<'_> {
    fn is_unchanged(&self) -> bool {
        matches!(self.0, SectionUpdate::Unchanged)
    }
}

impl Serialize for Echo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            SectionUpdate::Merge(map) => map.serialize(s),
            _ => s.serialize_unit(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct EchoSections<'a> {
    #[serde(skip_serializing_if = "Echo::is_unchanged")]
    pub desired: Echo<'a>,
    #[serde(skip_serializing_if = "Echo::is_unchanged")]
    pub reported: Echo<'a>,
}

/// `/update/accepted` and the UpdateThingShadow body: the request's state as sent, metadata
/// for every key it touched (`null`s included [VERIFY]). `"state": null` echoes as `null`
/// with a bare stamp as its metadata.
#[derive(Serialize)]
pub(crate) struct AcceptedDoc<'a> {
    pub state: Option<EchoSections<'a>>,
    pub metadata: Value,
    pub version: u64,
    pub timestamp: u64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    pub client_token: Option<&'a str>,
}

/// The metadata echoed for the request: a stamp for `"state": null`, and otherwise per section
/// a stamp for a cleared section and mirrored stamps for a merged one.
pub(crate) fn echo_metadata(
    desired: &SectionUpdate,
    reported: &SectionUpdate,
    state_null: bool,
    t: u64,
) -> Value {
    if state_null {
        return metadata::stamp(t);
    }
    let mut out = Map::new();
    for (name, section) in [("desired", desired), ("reported", reported)] {
        match section {
            SectionUpdate::Unchanged => {}
            SectionUpdate::Clear => {
                out.insert(name.into(), metadata::stamp(t));
            }
            SectionUpdate::Merge(map) => {
                out.insert(name.into(), Value::Object(metadata::of_object(map, t)));
            }
        }
    }
    Value::Object(out)
}
