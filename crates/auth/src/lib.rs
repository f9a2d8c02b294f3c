//! Identities for Ferrite: who is making a request.
//!
//! This crate owns authentication, not authorization. Today that is [`sigv4`]: verification of
//! AWS Signature Version 4 on API requests (`Authorization` header form, as boto3 and the AWS CLI
//! send it) and on presigned URLs (query form, as the AWS IoT Device SDK builds it for MQTT over
//! WebSocket). [`custom`] runs custom authorizers: token-signature checks, the call to the
//! authorizer function over HTTP and the cache of its answers. [`signer`] is the other direction:
//! SigV4-signing Ferrite's own outbound calls to AWS-compatible endpoints (forwarded rule
//! actions, bulk registration's S3 files). Client-certificate principals
//! will live here too.
//!
//! [`sigv4`] is framework-free and synchronous: callers describe a request with
//! [`sigv4::SignedRequest`], pass the current time, and receive either a [`sigv4::Verified`]
//! identity or a [`sigv4::SigV4Error`] that maps to AWS's wire error in one place
//! ([`sigv4::SigV4Error::aws_error`]). Secrets never appear in `Debug` output or error messages.

// Unit tests spawn helper servers: the lint policy binds the crate's own code, which the
// non-test build still checks.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]
#![warn(missing_docs)]

pub mod custom;
/// SigV4 signing of outbound requests to AWS-compatible endpoints.
pub mod signer;
pub mod sigv4;
