//! The reserved shadow topics: parsing `$aws/things/{thing}/shadow[/name/{shadow}]/{op}[/{kind}]`
//! into a shadow, an operation and (for response topics) the response kind, and building the
//! response topics the service publishes on. Plain string work: no wildcards.

use crate::names::{NameError, ShadowId, ShadowName, ThingName};

/// A shadow operation, the third-to-last segment of a request topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `…/get`
    Get,
    /// `…/update`
    Update,
    /// `…/delete`
    Delete,
}

impl Operation {
    /// The topic segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    fn parse(segment: &str) -> Option<Self> {
        match segment {
            "get" => Some(Self::Get),
            "update" => Some(Self::Update),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    /// The topic a successful answer to this operation goes to.
    pub fn accepted(self) -> ResponseTopic {
        match self {
            Self::Get => ResponseTopic::GetAccepted,
            Self::Update => ResponseTopic::UpdateAccepted,
            Self::Delete => ResponseTopic::DeleteAccepted,
        }
    }

    /// The topic a rejection of this operation goes to.
    pub fn rejected(self) -> ResponseTopic {
        match self {
            Self::Get => ResponseTopic::GetRejected,
            Self::Update => ResponseTopic::UpdateRejected,
            Self::Delete => ResponseTopic::DeleteRejected,
        }
    }
}

/// A topic the service publishes on, relative to the shadow's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseTopic {
    /// `get/accepted`
    GetAccepted,
    /// `get/rejected`
    GetRejected,
    /// `update/accepted`
    UpdateAccepted,
    /// `update/rejected`
    UpdateRejected,
    /// `update/delta`
    UpdateDelta,
    /// `update/documents`
    UpdateDocuments,
    /// `delete/accepted`
    DeleteAccepted,
    /// `delete/rejected`
    DeleteRejected,
}

impl ResponseTopic {
    /// Every response topic, e.g. for subscribing tests.
    pub const ALL: [Self; 8] = [
        Self::GetAccepted,
        Self::GetRejected,
        Self::UpdateAccepted,
        Self::UpdateRejected,
        Self::UpdateDelta,
        Self::UpdateDocuments,
        Self::DeleteAccepted,
        Self::DeleteRejected,
    ];

    /// The suffix after the shadow prefix, e.g. `update/delta`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::GetAccepted => "get/accepted",
            Self::GetRejected => "get/rejected",
            Self::UpdateAccepted => "update/accepted",
            Self::UpdateRejected => "update/rejected",
            Self::UpdateDelta => "update/delta",
            Self::UpdateDocuments => "update/documents",
            Self::DeleteAccepted => "delete/accepted",
            Self::DeleteRejected => "delete/rejected",
        }
    }

    /// The operation this response belongs to.
    pub fn operation(self) -> Operation {
        match self {
            Self::GetAccepted | Self::GetRejected => Operation::Get,
            Self::UpdateAccepted
            | Self::UpdateRejected
            | Self::UpdateDelta
            | Self::UpdateDocuments => Operation::Update,
            Self::DeleteAccepted | Self::DeleteRejected => Operation::Delete,
        }
    }

    fn parse(op: Operation, kind: &str) -> Option<Self> {
        Some(match (op, kind) {
            (Operation::Get, "accepted") => Self::GetAccepted,
            (Operation::Get, "rejected") => Self::GetRejected,
            (Operation::Update, "accepted") => Self::UpdateAccepted,
            (Operation::Update, "rejected") => Self::UpdateRejected,
            (Operation::Update, "delta") => Self::UpdateDelta,
            (Operation::Update, "documents") => Self::UpdateDocuments,
            (Operation::Delete, "accepted") => Self::DeleteAccepted,
            (Operation::Delete, "rejected") => Self::DeleteRejected,
            _ => return None,
        })
    }
}

/// What a shadow topic addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// A request the service answers (`…/get`, `…/update`, `…/delete`).
    Request(Operation),
    /// One of the service's response topics.
    Response(ResponseTopic),
}

/// A parsed shadow topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowTopic {
    /// The shadow addressed.
    pub id: ShadowId,
    /// Request or response, and which.
    pub kind: TopicKind,
}

/// Why a topic is not a shadow topic we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not under `$aws/things/{thing}/shadow`.
    #[error("not a shadow topic")]
    NotShadowTopic,
    /// The thing or shadow segment is not a valid name.
    #[error("invalid name in shadow topic: {0}")]
    InvalidName(#[from] NameError),
    /// Under a shadow prefix but not an operation or response we know (AWS may add topics
    /// there, so callers usually treat it as an ordinary topic).
    #[error("unknown shadow topic suffix")]
    UnknownSuffix,
}

/// Parses a reserved shadow topic.
///
/// `$aws/things/t/shadow/update` → classic shadow of `t`, `Request(Update)`;
/// `$aws/things/t/shadow/name/s/get/accepted` → shadow `s` of `t`, `Response(GetAccepted)`.
pub fn parse_topic(topic: &str) -> Result<ShadowTopic, TopicError> {
    let rest = topic
        .strip_prefix("$aws/things/")
        .ok_or(TopicError::NotShadowTopic)?;
    let (thing, rest) = rest.split_once('/').ok_or(TopicError::NotShadowTopic)?;
    let rest = match rest.strip_prefix("shadow") {
        Some("") => return Err(TopicError::UnknownSuffix),
        Some(r) => r.strip_prefix('/').ok_or(TopicError::NotShadowTopic)?,
        None => return Err(TopicError::NotShadowTopic),
    };
    let thing = ThingName::new(thing)?;
    // `name/{shadow}/…` is a named shadow; a classic operation is never called `name`, so the
    // prefix is unambiguous.
    let (shadow, rest) = match rest.strip_prefix("name/") {
        Some(named) => {
            let (shadow, rest) = named.split_once('/').ok_or(TopicError::UnknownSuffix)?;
            (Some(ShadowName::new(shadow)?), rest)
        }
        None => (None, rest),
    };
    let (op, kind) = match rest.split_once('/') {
        Some((op, kind)) => (op, Some(kind)),
        None => (rest, None),
    };
    let op = Operation::parse(op).ok_or(TopicError::UnknownSuffix)?;
    let kind = match kind {
        None => TopicKind::Request(op),
        Some(kind) => {
            TopicKind::Response(ResponseTopic::parse(op, kind).ok_or(TopicError::UnknownSuffix)?)
        }
    };
    let id = match shadow {
        Some(shadow) => ShadowId::named(thing, shadow),
        None => ShadowId::classic(thing),
    };
    Ok(ShadowTopic { id, kind })
}

impl ShadowId {
    /// The full topic of `response` for this shadow.
    pub fn response_topic(&self, response: ResponseTopic) -> String {
        self.topic(response.suffix())
    }

    /// The full request topic of `op` for this shadow.
    pub fn request_topic(&self, op: Operation) -> String {
        self.topic(op.as_str())
    }
}
