//! Certificate ownership tokens: what CreateKeysAndCertificate and CreateCertificateFromCsr
//! hand the device with its new certificate, and what RegisterThing must present to provision
//! that certificate. A token is 32 random bytes (base64), so it cannot be guessed or forged;
//! the store keeps only its SHA-256 (a read of the store does not yield usable tokens), with the
//! certificate it is bound to and its expiry (AWS: one hour). Kept in the registry store, so a
//! token issued by one node is honoured by every node and survives a restart.
//!
//! A token stays valid until it expires, not until first use, so a device that lost the
//! answer to its RegisterThing can ask again.

use base64::Engine;
use ferrite_registry::{Documents, encode};
use ferrite_storage::{Expect, Write};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::ProvisionFailure;

/// The record kind of ownership tokens, keyed by the token's SHA-256 (hex).
pub const OWNERSHIP_KIND: &str = "provisioning-ownership-token";

/// AWS: a certificate ownership token is valid for one hour.
pub const TOKEN_LIFETIME_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenDoc {
    certificate_id: String,
    expires_at_ms: i64,
}

fn key(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a token for `certificate_id`, valid from `now_ms` for [`TOKEN_LIFETIME_MS`].
pub(crate) async fn issue(
    docs: &Documents,
    certificate_id: &str,
    now_ms: i64,
) -> Result<String, ProvisionFailure> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ProvisionFailure::Internal("no randomness for a token".into()))?;
    let token = base64::engine::general_purpose::STANDARD.encode(bytes);
    let doc = TokenDoc {
        certificate_id: certificate_id.to_owned(),
        expires_at_ms: now_ms + TOKEN_LIFETIME_MS,
    };
    let write = Write::put(OWNERSHIP_KIND, &key(&token), Expect::Absent, encode(&doc));
    docs.store()
        .write(vec![write])
        .await
        .map_err(|e| ProvisionFailure::Internal(e.to_string()))?;
    Ok(token)
}

/// Removes the tokens expired at `now_ms` and returns the certificates they were bound to.
pub(crate) async fn sweep(docs: &Documents, now_ms: i64) -> Result<Vec<String>, ProvisionFailure> {
    let mut expired = Vec::new();
    docs.scan_until(OWNERSHIP_KIND, "", None, |r| {
        let doc: TokenDoc = ferrite_registry::decode(r)?;
        if now_ms >= doc.expires_at_ms {
            expired.push((r.key.clone(), r.version, doc.certificate_id));
        }
        Ok(std::ops::ControlFlow::Continue(()))
    })
    .await
    .map_err(|e| ProvisionFailure::Internal(e.to_string()))?;
    let mut certificates = Vec::new();
    for (key, version, certificate) in expired {
        // Another node sweeping at once deleted it first: that node handles its certificate.
        let outcome = docs
            .store()
            .write(vec![Write::delete(
                OWNERSHIP_KIND,
                &key,
                Expect::Version(version),
            )])
            .await
            .map_err(|e| ProvisionFailure::Internal(e.to_string()))?;
        if matches!(outcome, ferrite_storage::WriteOutcome::Applied) {
            certificates.push(certificate);
        }
    }
    Ok(certificates)
}

/// The certificate `token` is bound to, if the token is known and unexpired at `now_ms`.
/// An expired token is deleted when met.
pub(crate) async fn redeem(
    docs: &Documents,
    token: &str,
    now_ms: i64,
) -> Result<String, ProvisionFailure> {
    if token.is_empty() {
        return Err(ProvisionFailure::InvalidToken(
            "Certificate ownership token cannot be empty.".into(),
        ));
    }
    let invalid = || {
        ProvisionFailure::InvalidToken(
            "The certificate ownership token is invalid or has expired.".into(),
        )
    };
    let k = key(token);
    let (doc, version) = docs
        .get::<TokenDoc>(OWNERSHIP_KIND, &k)
        .await
        .map_err(|e| ProvisionFailure::Internal(e.to_string()))?
        .ok_or_else(invalid)?;
    if now_ms >= doc.expires_at_ms {
        let _ = docs
            .store()
            .write(vec![Write::delete(
                OWNERSHIP_KIND,
                &k,
                Expect::Version(version),
            )])
            .await;
        return Err(invalid());
    }
    Ok(doc.certificate_id)
}
