//! X.509 certificate identity as AWS IoT defines it: the certificate id, and the statuses a
//! device certificate and a CA certificate can have, spelled as AWS spells them on the wire
//! (serde, `as_str` and `parse` all use those spellings).

use serde::{Deserialize, Serialize};

/// The AWS IoT certificate id: the lowercase hex SHA-256 of the certificate's DER encoding.
pub fn certificate_id(der: &[u8]) -> String {
    sha256_hex(der)
}

/// Lowercase hex SHA-256 of `bytes`: the form of certificate ids, and what Ferrite keys other
/// digests by (certificate subjects, registration codes) so they look alike.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = String::with_capacity(64);
    for byte in digest.as_ref() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// A device certificate's status (AWS `CertificateStatus`). Only an ACTIVE certificate may
/// connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertStatus {
    Active,
    Inactive,
    Revoked,
    PendingTransfer,
    RegisterInactive,
    PendingActivation,
}

impl CertStatus {
    const ALL: [CertStatus; 6] = [
        CertStatus::Active,
        CertStatus::Inactive,
        CertStatus::Revoked,
        CertStatus::PendingTransfer,
        CertStatus::RegisterInactive,
        CertStatus::PendingActivation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Active => "ACTIVE",
            CertStatus::Inactive => "INACTIVE",
            CertStatus::Revoked => "REVOKED",
            CertStatus::PendingTransfer => "PENDING_TRANSFER",
            CertStatus::RegisterInactive => "REGISTER_INACTIVE",
            CertStatus::PendingActivation => "PENDING_ACTIVATION",
        }
    }

    /// The status AWS spells `text`, if any.
    pub fn parse(text: &str) -> Option<CertStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_active(self) -> bool {
        self == CertStatus::Active
    }
}

/// A CA certificate's status (AWS `CACertificateStatus`). Certificates registered under an
/// INACTIVE CA may not connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaStatus {
    Active,
    Inactive,
}

impl CaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaStatus::Active => "ACTIVE",
            CaStatus::Inactive => "INACTIVE",
        }
    }

    /// The status AWS spells `text`, if any.
    pub fn parse(text: &str) -> Option<CaStatus> {
        [CaStatus::Active, CaStatus::Inactive]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn is_active(self) -> bool {
        self == CaStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_id_is_sha256_hex() {
        assert_eq!(
            certificate_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn statuses_use_aws_spellings_everywhere() {
        for s in CertStatus::ALL {
            assert_eq!(CertStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<CertStatus>(&json).unwrap(), s);
        }
        assert_eq!(CertStatus::parse("active"), None);
        for s in [CaStatus::Active, CaStatus::Inactive] {
            assert_eq!(CaStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(CaStatus::parse("REVOKED"), None);
        assert!(CertStatus::Active.is_active() && !CertStatus::Revoked.is_active());
        assert!(CaStatus::Active.is_active() && !CaStatus::Inactive.is_active());
    }
}
