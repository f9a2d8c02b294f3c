//! What a request claims about its signature, read from either form before anything is checked.

/// Which of the two SigV4 forms the request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `Authorization` header.
    Header,
    /// Presigned query parameters.
    Presigned,
}

/// The signature parameters as the client sent them, decoded where the query form encodes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) form: Form,
    pub(crate) algorithm: String,
    pub(crate) credential: String,
    pub(crate) signed_headers: String,
    pub(crate) signature: String,
    /// The request timestamp as signed, `YYYYMMDDTHHMMSSZ`.
    pub(crate) amz_date: String,
    /// The same instant in seconds since the epoch.
    pub(crate) request_time: i64,
    /// `X-Amz-Expires`, presigned form only.
    pub(crate) expires: Option<u64>,
    /// `X-Amz-Security-Token` (query) or `x-amz-security-token` (header), if sent.
    pub(crate) session_token: Option<String>,
}
