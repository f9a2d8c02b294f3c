//! The verifier's view of an HTTP request, independent of any web framework.

use http::HeaderMap;

/// A request as it arrived, before any decoding.
///
/// Every field must be what the client put on the wire, because that is what it signed: a router
/// that has already percent-decoded the path or re-serialised the query would make every
/// signature with an encoded character fail.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The path exactly as received, still percent-encoded (`/topics/a%2Fb`), without the query.
    pub path: &'a str,
    /// The raw query string without the leading `?`; empty when there is none.
    pub query: &'a str,
    /// The request headers. `host` must be present: an HTTP/2 edge copies `:authority` into it.
    pub headers: &'a HeaderMap,
    /// What the verifier needs of the body.
    pub payload: Payload<'a>,
}

/// The request body, or its digest when the caller hashed it while streaming.
///
/// When the request carries `x-amz-content-sha256`, that header's value is what was signed and the
/// body is checked against it; otherwise the body's SHA-256 is what was signed.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// The complete body (empty for a `GET`).
    Bytes(&'a [u8]),
    /// The SHA-256 digest of the complete body.
    Sha256([u8; 32]),
}

impl Payload<'_> {
    /// The SHA-256 digest of the body.
    pub(crate) fn sha256(&self) -> [u8; 32] {
        match self {
            Payload::Sha256(digest) => *digest,
            Payload::Bytes(bytes) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
                let mut out = [0u8; 32];
                out.copy_from_slice(digest.as_ref());
                out
            }
        }
    }
}
