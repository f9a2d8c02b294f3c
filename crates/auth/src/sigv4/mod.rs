//! AWS Signature Version 4 verification.
//!
//! AWS clients sign requests; Ferrite recomputes the signature from what arrived on the wire and
//! compares. Two forms exist:
//!
//! * the `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header with
//!   an `X-Amz-Date` (or `Date`) header, used by boto3, the AWS CLI and the AWS SDKs for the
//!   `iot`, `iotdata` and `iot-jobs-data` APIs;
//! * the presigned query form (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//!   `X-Amz-SignedHeaders`, `X-Amz-Signature`, optional `X-Amz-Expires` and
//!   `X-Amz-Security-Token`), used by the AWS IoT Device SDK for `GET /mqtt` WebSocket upgrades
//!   with service name `iotdevicegateway`.
//!
//! Canonicalisation follows AWS's rules for every service except S3: the path is URI-encoded a
//! second time, query parameters are decoded, re-encoded and sorted, header values are trimmed
//! with inner runs of whitespace collapsed.
//!
//! Where clients disagree on a detail, the verifier accepts each interpretation that a real
//! client produces, all derived from the same received request:
//!
//! * AWS IoT wants `X-Amz-Security-Token` appended to a presigned URL *after* signing, so the
//!   Device SDK leaves it out of the canonical query; generic presigners sign it. Both verify.
//! * Presigned URLs carry no body hash; the Device SDK signs the hash of the empty body, other
//!   presigners sign `UNSIGNED-PAYLOAD`. Both verify.
//! * AWS asks signers to normalise the path (drop `.`, `..` and empty segments) and SDKs
//!   disagree on the trailing `/`; for a path that has such segments the path as sent and each
//!   normalisation verify.
//! * Header values are trimmed and inner runs of spaces collapsed; botocore also collapses
//!   inner tabs, the Rust SDK keeps them. Both verify.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ferrite_auth::sigv4::{Payload, SecretKey, SignedRequest, Verifier};
//!
//! let verifier = Verifier::new(|access_key_id: &str| {
//!     (access_key_id == "AKIDEXAMPLE")
//!         .then(|| SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
//! });
//! let mut headers = http::HeaderMap::new();
//! headers.insert("host", "example.amazonaws.com".parse().unwrap());
//! headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
//! headers.insert(
//!     "authorization",
//!     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
//!      SignedHeaders=host;x-amz-date, \
//!      Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
//!         .parse()
//!         .unwrap(),
//! );
//! let request = SignedRequest {
//!     method: "GET",
//!     path: "/",
//!     query: "",
//!     headers: &headers,
//!     payload: Payload::Bytes(b""),
//! };
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
//! let verified = verifier.verify(&request, now).unwrap();
//! assert_eq!(verified.region, "us-east-1");
//! assert_eq!(verified.service, "service");
//! ```

mod amz_date;
mod canonical;
mod claim;
mod credentials;
mod encoding;
mod error;
mod header_form;
mod presigned;
mod request;
mod scope;
mod signing_key;
mod verifier;
mod wire;

pub use credentials::{CredentialLookup, SecretKey};
pub use error::SigV4Error;
pub use request::{Payload, SignedRequest};
pub use verifier::{MAX_CLOCK_SKEW, MAX_PRESIGNED_EXPIRES, Verified, Verifier};
pub use wire::AwsError;

/// The only signing algorithm AWS SigV4 (as opposed to SigV4a) defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
