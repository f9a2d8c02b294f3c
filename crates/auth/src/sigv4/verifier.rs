//! The verifier: checks a request in the order AWS does and recomputes its signature.

use std::time::{Duration, SystemTime};

use ring::hmac;

use super::amz_date::{system_time, unix_seconds};
use super::canonical::{
    CanonicalParts, QueryParams, canonical_headers, canonical_uris, string_to_sign,
};
use super::claim::{Claim, Form};
use super::credentials::CredentialLookup;
use super::encoding::{hex_decode, hex_lower};
use super::error::SigV4Error;
use super::presigned::{self, ALGORITHM_PARAM, SECURITY_TOKEN_PARAM, SIGNATURE_PARAM};
use super::request::SignedRequest;
use super::scope::CredentialScope;
use super::signing_key::SigningKeyCache;
use super::{ALGORITHM, header_form};

/// How far the signed request time may lie from the verifier's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The largest `X-Amz-Expires` a presigned URL may carry, in seconds (seven days).
pub const MAX_PRESIGNED_EXPIRES: u64 = presigned::MAX_EXPIRES;

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Who signed a request that verified, and for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed.
    pub access_key_id: String,
    /// The signed request time.
    pub date: SystemTime,
    /// The credential scope's region, which the caller uses in ARNs.
    pub region: String,
    /// The credential scope's service name (`iot`, `iotdata`, `iot-jobs-data`,
    /// `iotdevicegateway`), which the caller dispatches on; the verifier accepts any.
    pub service: String,
    /// The session token sent with temporary credentials, signed or (presigned form) appended
    /// after signing. The verifier does not judge it; a caller that issues temporary
    /// credentials checks it and answers [`SigV4Error::InvalidSecurityToken`].
    pub session_token: Option<String>,
}

/// Verifies SigV4 signatures against the secrets `L` knows, caching derived signing keys.
///
/// Shared across request handlers (it is `Sync` when `L` is); [`Verifier::verify`] is
/// synchronous, cheap and never blocks on more than a short map lookup.
pub struct Verifier<L> {
    lookup: L,
    keys: SigningKeyCache,
}

impl<L> Verifier<L> {
    /// A verifier resolving access keys through `lookup`.
    pub fn new(lookup: L) -> Self {
        Self {
            lookup,
            keys: SigningKeyCache::default(),
        }
    }

    /// The credential lookup this verifier consults.
    pub fn lookup(&self) -> &L {
        &self.lookup
    }
}

impl<L: CredentialLookup> Verifier<L> {
    /// Verifies `request`'s signature as of `now`.
    ///
    /// Checks run in AWS's order, so a request with several faults gets AWS's answer: the form
    /// and its parameters, the date's format, the clock, `host` being signed, the algorithm,
    /// the credential scope, the access key, and finally the signature (then the body against a
    /// signed `x-amz-content-sha256`).
    pub fn verify(
        &self,
        request: &SignedRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, SigV4Error> {
        let query = QueryParams::parse(request.query);
        let claim = read_claim(request, &query)?;
        check_time(&claim, now)?;
        if !claim
            .signed_headers
            .split(';')
            .any(|name| name.eq_ignore_ascii_case("host"))
        {
            return Err(SigV4Error::HostNotSigned);
        }
        if claim.algorithm != ALGORITHM {
            return Err(SigV4Error::UnsupportedAlgorithm {
                algorithm: claim.algorithm,
            });
        }
        let scope = CredentialScope::parse(claim.credential.trim_end_matches('/'))?;
        let request_day = &claim.amz_date[..8];
        if scope.date != request_day {
            return Err(SigV4Error::CredentialDateMismatch {
                scope_date: scope.date.to_owned(),
                request_date: claim.amz_date.clone(),
            });
        }
        let secret = self.lookup.secret_for(scope.access_key_id).ok_or_else(|| {
            SigV4Error::UnknownAccessKey {
                access_key_id: scope.access_key_id.to_owned(),
            }
        })?;
        let key = self.keys.get(&secret, &scope);

        let content_sha256 = request
            .headers
            .get("x-amz-content-sha256")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        if !signature_matches(
            request,
            &query,
            &claim,
            &scope,
            &key,
            content_sha256.as_deref(),
        ) {
            return Err(SigV4Error::SignatureMismatch);
        }
        if let Some(declared) = content_sha256 {
            check_declared_payload(&declared, &request.payload.sha256())?;
        }

        Ok(Verified {
            access_key_id: scope.access_key_id.to_owned(),
            date: system_time(claim.request_time),
            region: scope.region.to_owned(),
            service: scope.service.to_owned(),
            session_token: claim.session_token,
        })
    }
}

fn read_claim(request: &SignedRequest<'_>, query: &QueryParams) -> Result<Claim, SigV4Error> {
    let authorization = request.headers.get("authorization");
    match (authorization, query.contains(ALGORITHM_PARAM)) {
        (Some(_), true) => Err(SigV4Error::BothForms),
        (None, false) => Err(SigV4Error::MissingAuthentication),
        (Some(authorization), false) => header_form::parse(authorization, request.headers),
        (None, true) => presigned::parse(query),
    }
}

fn check_time(claim: &Claim, now: SystemTime) -> Result<(), SigV4Error> {
    let now_seconds = unix_seconds(now);
    let skew = i64::try_from(MAX_CLOCK_SKEW.as_secs()).unwrap_or(i64::MAX);
    let request_time = system_time(claim.request_time);
    let now = system_time(now_seconds);
    if claim.request_time > now_seconds.saturating_add(skew) {
        return Err(SigV4Error::SignatureNotYetCurrent { request_time, now });
    }
    match claim.expires {
        Some(expires) => {
            let valid_until = claim
                .request_time
                .saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
            if now_seconds > valid_until {
                return Err(SigV4Error::PresignedUrlExpired {
                    request_time,
                    expires,
                    now,
                });
            }
        }
        None => {
            if claim.request_time < now_seconds.saturating_sub(skew) {
                return Err(SigV4Error::SignatureExpired { request_time, now });
            }
        }
    }
    Ok(())
}

/// Recomputes the signature under each interpretation real clients sign with (see the module
/// documentation) and compares in constant time. Every interpretation is built from the received
/// request itself, so accepting any of them grants nothing a signer did not sign.
fn signature_matches(
    request: &SignedRequest<'_>,
    query: &QueryParams,
    claim: &Claim,
    scope: &CredentialScope<'_>,
    key: &hmac::Key,
    content_sha256: Option<&str>,
) -> bool {
    // A signature that is not 64 hex digits cannot match; decoding first keeps the comparison
    // on fixed-size tags.
    let Some(signature) = hex_decode::<32>(&claim.signature) else {
        return false;
    };

    let uris = canonical_uris(request.path);

    let queries = match claim.form {
        Form::Header => vec![query.canonical(&[])],
        Form::Presigned if claim.session_token.is_some() => vec![
            // AWS IoT's own SDKs append the token after signing; generic presigners sign it.
            query.canonical(&[SIGNATURE_PARAM, SECURITY_TOKEN_PARAM]),
            query.canonical(&[SIGNATURE_PARAM]),
        ],
        Form::Presigned => vec![query.canonical(&[SIGNATURE_PARAM])],
    };

    // A declared `x-amz-content-sha256` is what botocore signs; some signers sign the body's
    // hash regardless of the header, which covers the body all the same.
    let body_hash = hex_lower(&request.payload.sha256());
    let payload_hashes: Vec<&str> = match (content_sha256, claim.form) {
        (Some(declared), _) if declared == body_hash => vec![declared],
        (Some(declared), _) => vec![declared, &body_hash],
        (None, Form::Header) => vec![&body_hash],
        (None, Form::Presigned) => vec![&body_hash, UNSIGNED_PAYLOAD],
    };

    let mut matched = false;
    for headers in canonical_headers(request.headers, &claim.signed_headers) {
        let parts = CanonicalParts {
            method: request.method,
            headers: &headers,
            signed_headers: &claim.signed_headers,
        };
        for uri in &uris {
            for query in &queries {
                for payload_hash in &payload_hashes {
                    let hashed = parts.hashed(uri, query, payload_hash);
                    let to_sign = string_to_sign(&claim.amz_date, scope.scope, &hashed);
                    // Keep going after a match so the time taken does not depend on which
                    // interpretation matched.
                    matched |= hmac::verify(key, to_sign.as_bytes(), &signature).is_ok();
                }
            }
        }
    }
    matched
}

/// A signed `x-amz-content-sha256` vouches for the body only if the body hashes to it.
fn check_declared_payload(declared: &str, body_sha256: &[u8; 32]) -> Result<(), SigV4Error> {
    if declared == UNSIGNED_PAYLOAD {
        return Ok(());
    }
    // Both digests are public (the body is the client's own), so a plain comparison is fine.
    match hex_decode::<32>(declared) {
        Some(digest) if &digest == body_sha256 => Ok(()),
        Some(_) => Err(SigV4Error::ContentSha256Mismatch),
        None => Err(SigV4Error::InvalidContentSha256 {
            value: declared.to_owned(),
        }),
    }
}
