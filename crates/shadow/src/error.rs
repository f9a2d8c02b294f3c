//! Shadow errors with AWS's codes and messages, and the rejection that carries one back to the
//! requester (`/…/rejected` payload, or the REST exception name and status).

use serde::Serialize;

/// Everything the Device Shadow service can answer instead of accepting a request.
///
/// `Display` is our own lowercase text for logs; [`ShadowError::aws_message`] is AWS's exact
/// text that clients see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShadowError {
    /// The payload is not JSON (or not the JSON shape AWS accepts at all).
    #[error("invalid json")]
    InvalidJson,
    /// An update without a `state` member.
    #[error("missing required node state")]
    MissingState,
    /// `state` is neither an object nor `null`.
    #[error("state node must be an object")]
    StateNotObject,
    /// `state.desired` is neither an object nor `null`.
    #[error("desired node must be an object")]
    DesiredNotObject,
    /// `state.reported` is neither an object nor `null`.
    #[error("reported node must be an object")]
    ReportedNotObject,
    /// `state` holds a member other than `desired` / `reported`.
    #[error("state contains an invalid node {0}")]
    InvalidStateNode(String),
    /// `version` is not a non-negative integer.
    #[error("invalid version")]
    InvalidVersion,
    /// `clientToken` is not a string of at most the allowed bytes.
    #[error("invalid client token")]
    InvalidClientToken,
    /// `desired` / `reported` nest deeper than allowed.
    #[error("json nested deeper than {0} levels")]
    TooDeep(usize),
    /// An array inside the state holds `null` ([VERIFY] AWS's exact text; we answer "Invalid JSON").
    #[error("null inside an array")]
    NullInArray,
    /// GET or DELETE of a shadow that does not exist; holds the name AWS quotes.
    #[error("no shadow named {0}")]
    NotFound(String),
    /// The request's `version` is not the shadow's current version.
    #[error("version conflict")]
    VersionConflict,
    /// The state exceeds the document size limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The payload is not UTF-8.
    #[error("unsupported document encoding")]
    UnsupportedEncoding,
    /// The caller is not authenticated (produced by the caller, kept here for the error document).
    #[error("unauthorized")]
    Unauthorized,
    /// The caller is not allowed (produced by the caller, kept here for the error document).
    #[error("forbidden")]
    Forbidden,
    /// Too many requests (produced by the caller, kept here for the error document).
    #[error("throttled")]
    Throttled,
    /// Something that cannot happen did (e.g. the version counter would overflow).
    #[error("internal failure")]
    Internal,
}

impl ShadowError {
    /// The HTTP-style code AWS puts in the error document's `code` and uses as REST status.
    pub fn code(&self) -> u16 {
        match self {
            Self::InvalidJson
            | Self::MissingState
            | Self::StateNotObject
            | Self::DesiredNotObject
            | Self::ReportedNotObject
            | Self::InvalidStateNode(_)
            | Self::InvalidVersion
            | Self::InvalidClientToken
            | Self::TooDeep(_)
            | Self::NullInArray => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound(_) => 404,
            Self::VersionConflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedEncoding => 415,
            Self::Throttled => 429,
            Self::Internal => 500,
        }
    }

    /// AWS's message text, exactly as clients see it.
    pub fn aws_message(&self) -> String {
        match self {
            Self::InvalidJson | Self::NullInArray => "Invalid JSON".into(),
            Self::MissingState => "Missing required node: state".into(),
            Self::StateNotObject => "State node must be an object".into(),
            Self::DesiredNotObject => "Desired node must be an object".into(),
            Self::ReportedNotObject => "Reported node must be an object".into(),
            Self::InvalidStateNode(node) => format!("State contains an invalid node: '{node}'"),
            Self::InvalidVersion => "Invalid version".into(),
            Self::InvalidClientToken => "Invalid clientToken".into(),
            Self::TooDeep(max) => {
                format!("JSON contains too many levels of nesting; maximum is {max}")
            }
            Self::NotFound(name) => format!("No shadow exists with name: '{name}'"),
            Self::VersionConflict => "Version conflict".into(),
            Self::PayloadTooLarge => "The payload exceeds the maximum size allowed".into(),
            Self::UnsupportedEncoding => {
                "Unsupported documented encoding; supported encoding is UTF-8".into()
            }
            Self::Unauthorized => "Unauthorized".into(),
            Self::Forbidden => "Forbidden".into(),
            Self::Throttled => "Rate limit exceeded".into(),
            Self::Internal => "Internal service failure".into(),
        }
    }

    /// The iot-data exception name (`x-amzn-ErrorType`) a REST caller gets for this error.
    pub fn aws_exception(&self) -> &'static str {
        match self.code() {
            400 => "InvalidRequestException",
            401 => "UnauthorizedException",
            403 => "ForbiddenException",
            404 => "ResourceNotFoundException",
            409 => "ConflictException",
            413 => "RequestEntityTooLargeException",
            415 => "UnsupportedDocumentEncodingException",
            429 => "ThrottlingException",
            _ => "InternalFailureException",
        }
    }
}

/// A refused request: the error plus the request's `clientToken`, which AWS echoes whenever the
/// request carried a valid one (device SDKs correlate responses by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What went wrong.
    pub error: ShadowError,
    /// The request's client token, when it had a valid one.
    pub client_token: Option<String>,
}

impl Rejection {
    /// A rejection echoing `client_token`.
    pub fn new(error: ShadowError, client_token: Option<String>) -> Self {
        Self {
            error,
            client_token,
        }
    }

    /// The error document published on `/…/rejected`:
    /// `{"code":409,"message":"Version conflict","timestamp":…,"clientToken":…}`.
    pub fn payload(&self, now: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct ErrorDoc<'a> {
            code: u16,
            message: &'a str,
            timestamp: u64,
            #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
            client_token: Option<&'a str>,
        }
        let message = self.error.aws_message();
        crate::response::to_bytes(&ErrorDoc {
            code: self.error.code(),
            message: &message,
            timestamp: now,
            client_token: self.client_token.as_deref(),
        })
    }
}

impl From<ShadowError> for Rejection {
    fn from(error: ShadowError) -> Self {
        Self::new(error, None)
    }
}
