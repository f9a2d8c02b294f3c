//! Why a request failed SigV4 verification: one variant per answer AWS gives.
//!
//! Each variant's documentation names the AWS exception and HTTP status the edge answers with;
//! the mapping itself, with AWS's message text, is [`SigV4Error::aws_error`] in `wire.rs`.

use std::time::SystemTime;

/// A SigV4 verification failure. Messages are ours; AWS's wording is in
/// [`SigV4Error::aws_error`]. No variant carries a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned query parameters.
    ///
    /// `MissingAuthenticationTokenException`, 403.
    #[error("request carries no authentication")]
    MissingAuthentication,

    /// An `AWS4-HMAC-SHA256` `Authorization` header lacks components, or the request lacks a
    /// date header. `missing` lists `Credential`, `Signature`, `SignedHeaders` and `Date` in
    /// AWS's order.
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("authorization header is incomplete, missing {}", missing.join(", "))]
    IncompleteAuthorization {
        /// The missing components.
        missing: Vec<&'static str>,
        /// The `Authorization` header as received, which AWS echoes.
        authorization: String,
    },

    /// A component of the `Authorization` header is not `key=value`.
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("authorization header component {pair:?} is not a key=value pair")]
    MalformedAuthorizationPair {
        /// The offending component.
        pair: String,
        /// The `Authorization` header as received.
        authorization: String,
    },

    /// A presigned URL lacks some of the required `X-Amz-*` parameters (or has them empty or
    /// not UTF-8). `missing` lists them in AWS's order.
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("presigned url lacks {}", missing.join(", "))]
    MissingQueryParameters {
        /// The parameters' names, e.g. `X-Amz-Credential`.
        missing: Vec<&'static str>,
    },

    /// The request carries both an `Authorization` header and `X-Amz-Algorithm` in its query.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("request carries both an authorization header and presigned query parameters")]
    BothForms,

    /// The `Authorization` scheme or `X-Amz-Algorithm` is another algorithm, SigV4a's
    /// `AWS4-ECDSA-P256-SHA256` for instance. (An `Authorization` header that does not start
    /// with `AWS4-` at all is [`SigV4Error::MissingAuthentication`], as at AWS.)
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("unsupported signing algorithm {algorithm:?}")]
    UnsupportedAlgorithm {
        /// The algorithm as received.
        algorithm: String,
    },

    /// The credential is not five non-empty `/`-separated elements (trailing `/` ignored).
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("credential {credential:?} is not keyid/date/region/service/aws4_request")]
    MalformedCredential {
        /// The credential as received.
        credential: String,
    },

    /// The credential's last element is not `aws4_request`.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("credential scope ends in {terminator:?} instead of aws4_request")]
    InvalidTerminator {
        /// The terminator as received.
        terminator: String,
    },

    /// `X-Amz-Date` is not `YYYYMMDDTHHMMSSZ`, or `Date` is not an HTTP date.
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("request date {value:?} is not in iso-8601 basic format")]
    InvalidDate {
        /// The date as received.
        value: String,
    },

    /// `host` is not among the signed headers.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("host is not a signed header")]
    HostNotSigned,

    /// `X-Amz-Expires` is not a whole number of seconds from 0 to 604800 (seven days).
    ///
    /// `IncompleteSignatureException`, 400.
    #[error("presigned url expiry {value:?} is not between 0 and 604800 seconds")]
    InvalidExpires {
        /// The value as received.
        value: String,
    },

    /// The credential scope's date is not the date of the request timestamp.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("credential scope date {scope_date} does not match request date {request_date}")]
    CredentialDateMismatch {
        /// `YYYYMMDD` from the credential.
        scope_date: String,
        /// The request timestamp, `YYYYMMDDTHHMMSSZ`.
        request_date: String,
    },

    /// The request was signed more than 15 minutes before `now`.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("signature expired, request time is more than 15 minutes in the past")]
    SignatureExpired {
        /// The signed request time.
        request_time: SystemTime,
        /// The verifier's clock.
        now: SystemTime,
    },

    /// The request was signed more than 15 minutes after `now`.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("signature not yet current, request time is more than 15 minutes in the future")]
    SignatureNotYetCurrent {
        /// The signed request time.
        request_time: SystemTime,
        /// The verifier's clock.
        now: SystemTime,
    },

    /// A presigned URL's `X-Amz-Date` plus `X-Amz-Expires` lies before `now`.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("presigned url expired")]
    PresignedUrlExpired {
        /// The signed request time.
        request_time: SystemTime,
        /// `X-Amz-Expires`, in seconds.
        expires: u64,
        /// The verifier's clock.
        now: SystemTime,
    },

    /// The credential is scoped to a service the endpoint does not serve. The verifier accepts
    /// any service; the HTTP edge raises this after dispatching on [`Verified::service`].
    ///
    /// `InvalidSignatureException`, 403.
    ///
    /// [`Verified::service`]: super::Verified::service
    #[error("credential is scoped to the wrong service, expected {expected}")]
    WrongService {
        /// The service name the endpoint expects, e.g. `iot`.
        expected: String,
    },

    /// The access key id is unknown to the credential lookup.
    ///
    /// `UnrecognizedClientException`, 403.
    #[error("unknown access key id {access_key_id:?}")]
    UnknownAccessKey {
        /// The access key id as received.
        access_key_id: String,
    },

    /// The session token is not valid for the access key. The verifier does not judge tokens;
    /// the caller raises this after checking [`Verified::session_token`].
    ///
    /// `UnrecognizedClientException`, 403.
    ///
    /// [`Verified::session_token`]: super::Verified::session_token
    #[error("invalid security token")]
    InvalidSecurityToken,

    /// `x-amz-content-sha256` is neither a SHA-256 in hex nor `UNSIGNED-PAYLOAD`.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("x-amz-content-sha256 {value:?} is not a sha-256 digest")]
    InvalidContentSha256 {
        /// The header as received.
        value: String,
    },

    /// The body does not hash to the signed `x-amz-content-sha256`.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("body does not match x-amz-content-sha256")]
    ContentSha256Mismatch,

    /// The signature is not the one computed from the request and the secret.
    ///
    /// `InvalidSignatureException`, 403.
    #[error("signature does not match")]
    SignatureMismatch,
}
