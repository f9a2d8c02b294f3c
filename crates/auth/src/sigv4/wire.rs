//! The one place SigV4 failures become AWS wire errors.
//!
//! Provenance of the texts, since clients and people match on them. Most are AWS's front-door
//! (Coral) responses as quoted in public issue trackers and in emulators that recorded them:
//! "Missing Authentication Token", the `Authorization header requires …` list ending in
//! `Authorization=<header>`, "'…' not a valid key=value pair (missing equal-sign) …", the
//! `AWS query-string parameters must include …` list, "Found both 'X-Amz-Algorithm' …",
//! "Date must be in ISO-8601 'basic format' …", "Signature expired: … is now earlier than …
//! (… - 15 min.)", "Signature not yet current: … is still later than … (… + 15 min.)",
//! "'Host' must be a 'SignedHeader' …", "Unsupported AWS 'algorithm' …", "Credential must have
//! exactly 5 slash-delimited elements …", the credential-scope texts (service, terminator, date),
//! "The security token included in the request is invalid." and the signature-mismatch text.
//! AWS appends the expected canonical request and string to sign to the last one on some
//! services; we do not.
//!
//! Statuses: rest-json services answer the signature exceptions with 403 (older JSON services
//! with 400); `IncompleteSignatureException` is 400 here although API Gateway answers it with
//! 403.
//!
//! Borrowed from S3, as no non-S3 wording is documented: the `X-Amz-Expires` and
//! `x-amz-content-sha256` texts. Ours, extrapolated from the expired-signature text: the expired
//! presigned URL message.

use ferrite_types::AwsException;
use http::StatusCode;

use super::amz_date::{format_iso_basic, unix_seconds};
use super::error::SigV4Error;
use super::verifier::{MAX_CLOCK_SKEW, MAX_PRESIGNED_EXPIRES};

/// An AWS error as the HTTP edge sends it: `x-amzn-ErrorType: <code>`, the status, and
/// `{"message": "<message>"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    /// The AWS exception name, e.g. `InvalidSignatureException`.
    pub code: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// AWS's message text.
    pub message: String,
}

const MISSING_TOKEN: &str = "MissingAuthenticationTokenException";
const INCOMPLETE: &str = "IncompleteSignatureException";
const INVALID: &str = "InvalidSignatureException";
const UNRECOGNIZED: &str = "UnrecognizedClientException";

fn iso(time: std::time::SystemTime) -> String {
    format_iso_basic(unix_seconds(time))
}

fn expires_message(value: &str) -> String {
    match value.parse::<i128>() {
        Err(_) => "X-Amz-Expires should be a number".to_owned(),
        Ok(number) if number < 0 => "X-Amz-Expires must be non-negative".to_owned(),
        Ok(_) => format!(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given \
             X-Amz-Expires must be less than {MAX_PRESIGNED_EXPIRES} seconds"
        ),
    }
}

impl SigV4Error {
    /// The AWS exception name, HTTP status and message AWS answers this failure with.
    pub fn aws_error(&self) -> AwsError {
        let skew_minutes = MAX_CLOCK_SKEW.as_secs() / 60;
        let (code, status, message) = match self {
            SigV4Error::MissingAuthentication => (
                MISSING_TOKEN,
                StatusCode::FORBIDDEN,
                "Missing Authentication Token".to_owned(),
            ),
            SigV4Error::IncompleteAuthorization {
                missing,
                authorization,
            } => {
                let mut message = String::new();
                for part in missing {
                    if *part == "Date" {
                        message.push_str(
                            "Authorization header requires existence of either a 'X-Amz-Date' \
                             or a 'Date' header. ",
                        );
                    } else {
                        message.push_str(&format!(
                            "Authorization header requires '{part}' parameter. "
                        ));
                    }
                }
                message.push_str("Authorization=");
                message.push_str(authorization);
                (INCOMPLETE, StatusCode::BAD_REQUEST, message)
            }
            SigV4Error::MalformedAuthorizationPair {
                pair,
                authorization,
            } => (
                INCOMPLETE,
                StatusCode::BAD_REQUEST,
                format!(
                    "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization \
                     header: '{authorization}'."
                ),
            ),
            SigV4Error::MissingQueryParameters { missing } => {
                let mut message = String::new();
                for name in missing {
                    message.push_str(&format!(
                        "AWS query-string parameters must include '{name}'. "
                    ));
                }
                message.push_str("Re-examine the query-string parameters.");
                (INCOMPLETE, StatusCode::BAD_REQUEST, message)
            }
            SigV4Error::BothForms => (
                INVALID,
                StatusCode::FORBIDDEN,
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP \
                 header."
                    .to_owned(),
            ),
            SigV4Error::UnsupportedAlgorithm { algorithm } => (
                INCOMPLETE,
                StatusCode::BAD_REQUEST,
                format!(
                    "Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). "
                ),
            ),
            SigV4Error::MalformedCredential { credential } => (
                INCOMPLETE,
                StatusCode::BAD_REQUEST,
                format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. \
                     keyid/date/region/service/term, got '{credential}'"
                ),
            ),
            SigV4Error::InvalidTerminator { terminator } => (
                INVALID,
                StatusCode::FORBIDDEN,
                format!(
                    "Credential should be scoped with a valid terminator: 'aws4_request', not \
                     '{terminator}'."
                ),
            ),
            SigV4Error::InvalidDate { value } => (
                INCOMPLETE,
                StatusCode::BAD_REQUEST,
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
                     http://en.wikipedia.org/wiki/ISO_8601"
                ),
            ),
            SigV4Error::HostNotSigned => (
                INVALID,
                StatusCode::FORBIDDEN,
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
            ),
            SigV4Error::InvalidExpires { value } => {
                (INCOMPLETE, StatusCode::BAD_REQUEST, expires_message(value))
            }
            SigV4Error::CredentialDateMismatch {
                scope_date,
                request_date,
            } => (
                INVALID,
                StatusCode::FORBIDDEN,
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of \
                     date from HTTP: '{scope_date}' != '{}', from '{request_date}'.",
                    request_date.get(..8).unwrap_or(request_date)
                ),
            ),
            SigV4Error::SignatureExpired { request_time, now } => (
                INVALID,
                StatusCode::FORBIDDEN,
                format!(
                    "Signature expired: {} is now earlier than {} ({} - {skew_minutes} min.)",
                    iso(*request_time),
                    iso(*now - MAX_CLOCK_SKEW),
                    iso(*now)
                ),
            ),
            SigV4Error::SignatureNotYetCurrent { request_time, now } => (
                INVALID,
                StatusCode::FORBIDDEN,
                format!(
                    "Signature not yet current: {} is still later than {} ({} + {skew_minutes} \
                     min.)",
                    iso(*request_time),
                    iso(*now + MAX_CLOCK_SKEW),
                    iso(*now)
                ),
            ),
            SigV4Error::PresignedUrlExpired {
                request_time,
                expires,
                now,
            } => (
                INVALID,
                StatusCode::FORBIDDEN,
                format!(
                    "Signature expired: {} is now earlier than {} ({} - {expires} sec.)",
                    iso(*request_time),
                    format_iso_basic(
                        unix_seconds(*now).saturating_sub(i64::try_from(*expires).unwrap_or(0))
                    ),
                    iso(*now)
                ),
            ),
            SigV4Error::WrongService { expected } => (
                INVALID,
                StatusCode::FORBIDDEN,
                format!("Credential should be scoped to correct service: '{expected}'. "),
            ),
            SigV4Error::InvalidSecurityToken => (
                UNRECOGNIZED,
                StatusCode::FORBIDDEN,
                "The security token included in the request is invalid".to_owned(),
            ),
            SigV4Error::UnknownAccessKey { .. } => (
                UNRECOGNIZED,
                StatusCode::FORBIDDEN,
                "The security token included in the request is invalid.".to_owned(),
            ),
            SigV4Error::InvalidContentSha256 { .. } => (
                INVALID,
                StatusCode::FORBIDDEN,
                "The provided 'x-amz-content-sha256' header must be a valid SHA256.".to_owned(),
            ),
            SigV4Error::ContentSha256Mismatch => (
                INVALID,
                StatusCode::FORBIDDEN,
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .to_owned(),
            ),
            SigV4Error::SignatureMismatch => (
                INVALID,
                StatusCode::FORBIDDEN,
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details."
                    .to_owned(),
            ),
        };
        AwsError {
            code,
            status,
            message,
        }
    }
}

/// SigV4 fails before any service is known, so its statuses are its own (no model declares
/// these exceptions).
impl AwsException for SigV4Error {
    fn exception_name(&self) -> &'static str {
        self.aws_error().code
    }

    fn exception_message(&self) -> String {
        self.aws_error().message
    }

    fn undeclared_status(&self) -> u16 {
        self.aws_error().status.as_u16()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::sigv4::amz_date::system_time;

    fn at(iso_basic: &str) -> SystemTime {
        system_time(crate::sigv4::amz_date::parse_iso_basic(iso_basic).unwrap())
    }

    #[test]
    fn expired_signature_text_matches_aws() {
        let error = SigV4Error::SignatureExpired {
            request_time: at("20240101T000000Z"),
            now: at("20240101T003000Z") + Duration::from_millis(999),
        };
        assert_eq!(
            error.aws_error(),
            AwsError {
                code: "InvalidSignatureException",
                status: StatusCode::FORBIDDEN,
                message: "Signature expired: 20240101T000000Z is now earlier than \
                          20240101T001500Z (20240101T003000Z - 15 min.)"
                    .to_owned(),
            }
        );
    }

    #[test]
    fn future_signature_text_matches_aws() {
        let error = SigV4Error::SignatureNotYetCurrent {
            request_time: at("20240101T004500Z"),
            now: at("20240101T000000Z"),
        };
        assert_eq!(
            error.aws_error().message,
            "Signature not yet current: 20240101T004500Z is still later than 20240101T001500Z \
             (20240101T000000Z + 15 min.)"
        );
    }

    #[test]
    fn incomplete_header_lists_every_missing_part_then_echoes_the_header() {
        let error = SigV4Error::IncompleteAuthorization {
            missing: vec!["Credential", "Signature", "SignedHeaders", "Date"],
            authorization: "Bearer abc".to_owned(),
        };
        let aws = error.aws_error();
        assert_eq!(aws.code, "IncompleteSignatureException");
        assert_eq!(aws.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            aws.message,
            "Authorization header requires 'Credential' parameter. Authorization header \
             requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization header requires existence of either a 'X-Amz-Date' or a \
             'Date' header. Authorization=Bearer abc"
        );
    }

    #[test]
    fn fixed_texts_and_statuses() {
        let cases = [
            (
                SigV4Error::MissingAuthentication,
                "MissingAuthenticationTokenException",
                403,
                "Missing Authentication Token",
            ),
            (
                SigV4Error::UnknownAccessKey {
                    access_key_id: "AKID".to_owned(),
                },
                "UnrecognizedClientException",
                403,
                "The security token included in the request is invalid.",
            ),
            (
                SigV4Error::SignatureMismatch,
                "InvalidSignatureException",
                403,
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ),
            (
                SigV4Error::HostNotSigned,
                "InvalidSignatureException",
                403,
                "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            ),
            (
                SigV4Error::MissingQueryParameters {
                    missing: vec!["X-Amz-Credential", "X-Amz-Signature"],
                },
                "IncompleteSignatureException",
                400,
                "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string \
                 parameters must include 'X-Amz-Signature'. Re-examine the query-string \
                 parameters.",
            ),
            (
                SigV4Error::UnsupportedAlgorithm {
                    algorithm: "AWS4-ECDSA-P256-SHA256".to_owned(),
                },
                "IncompleteSignatureException",
                400,
                "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256' (only AWS4-HMAC-SHA256 for \
                 now). ",
            ),
            (
                SigV4Error::MalformedCredential {
                    credential: "a/b/c/d".to_owned(),
                },
                "IncompleteSignatureException",
                400,
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got 'a/b/c/d'",
            ),
            (
                SigV4Error::InvalidTerminator {
                    terminator: "e".to_owned(),
                },
                "InvalidSignatureException",
                403,
                "Credential should be scoped with a valid terminator: 'aws4_request', not 'e'.",
            ),
            (
                SigV4Error::WrongService {
                    expected: "iot".to_owned(),
                },
                "InvalidSignatureException",
                403,
                "Credential should be scoped to correct service: 'iot'. ",
            ),
            (
                SigV4Error::BothForms,
                "InvalidSignatureException",
                403,
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP \
                 header.",
            ),
            (
                SigV4Error::InvalidDate {
                    value: "201".to_owned(),
                },
                "IncompleteSignatureException",
                400,
                "Date must be in ISO-8601 'basic format'. Got '201'. See \
                 http://en.wikipedia.org/wiki/ISO_8601",
            ),
            (
                SigV4Error::MalformedAuthorizationPair {
                    pair: "Credential".to_owned(),
                    authorization: "AWS4-HMAC-SHA256 Signature=b, Credential".to_owned(),
                },
                "IncompleteSignatureException",
                400,
                "'Credential' not a valid key=value pair (missing equal-sign) in Authorization \
                 header: 'AWS4-HMAC-SHA256 Signature=b, Credential'.",
            ),
            (
                SigV4Error::CredentialDateMismatch {
                    scope_date: "20240102".to_owned(),
                    request_date: "20240101T000000Z".to_owned(),
                },
                "InvalidSignatureException",
                403,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '20240102' != '20240101', from '20240101T000000Z'.",
            ),
            (
                SigV4Error::InvalidExpires {
                    value: "abc".to_owned(),
                },
                "IncompleteSignatureException",
                400,
                "X-Amz-Expires should be a number",
            ),
            (
                SigV4Error::InvalidExpires {
                    value: "604801".to_owned(),
                },
                "IncompleteSignatureException",
                400,
                "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                 X-Amz-Expires must be less than 604800 seconds",
            ),
            (
                SigV4Error::PresignedUrlExpired {
                    request_time: at("20240101T000000Z"),
                    expires: 60,
                    now: at("20240101T000101Z"),
                },
                "InvalidSignatureException",
                403,
                "Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z \
                 (20240101T000101Z - 60 sec.)",
            ),
        ];
        for (error, code, status, message) in cases {
            let aws = error.aws_error();
            assert_eq!(aws.code, code, "{error:?}");
            assert_eq!(aws.status.as_u16(), status, "{error:?}");
            assert_eq!(aws.message, message, "{error:?}");
        }
    }
}
