//! What the broker learns about a client from the certificate it presented.

use x509_parser::certificate::X509Certificate;

use crate::error::TransportError;

/// A client certificate presented during the TLS handshake. The TLS layer only proved the
/// client holds the matching private key; whether the certificate is registered and
/// active is decided later against the certificate registry, keyed by `certificate_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The certificate as DER.
    pub der: Vec<u8>,
    /// Lowercase hex SHA-256 of the DER: the id AWS IoT gives a certificate.
    pub certificate_id: String,
    /// The first common name (CN) of the subject, when there is one.
    pub subject_common_name: Option<String>,
    /// The subject distinguished name, e.g. `O=Ferrite, CN=thing-1`.
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// The serial number as lowercase hex without leading zeros.
    pub serial_hex: String,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
}

impl PeerCertificate {
    /// Parses a DER certificate. Input comes from the network, so every failure is an
    /// error, never a panic.
    pub fn from_der(der: &[u8]) -> Result<Self, TransportError> {
        let cert = match x509_parser::parse_x509_certificate(der) {
            Ok(([], cert)) => cert,
            Ok(_) => {
                return Err(TransportError::InvalidCertificate(
                    "trailing data after the certificate".into(),
                ));
            }
            Err(e) => return Err(TransportError::InvalidCertificate(e.to_string())),
        };
        Ok(PeerCertificate {
            der: der.to_vec(),
            certificate_id: ferrite_types::certificate_id(der),
            subject_common_name: common_name(&cert),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial_hex: cert.tbs_certificate.serial.to_str_radix(16),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// Whether `now` (unix seconds) lies within the validity period.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn reads_a_certificate_issued_by_the_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = crate::ca::ensure_ca(dir.path(), &[]).expect("ca");
        let (pem, _key) = ca.issue_client_cert("thing-42").expect("issue");
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");

        let peer = PeerCertificate::from_der(&der).expect("parse");
        assert_eq!(peer.der, der.as_ref());
        assert_eq!(peer.subject_common_name.as_deref(), Some("thing-42"));
        assert_eq!(peer.subject, "O=Ferrite, CN=thing-42");
        assert_eq!(peer.issuer, "O=Ferrite, CN=Ferrite Root CA");
        assert_eq!(peer.certificate_id.len(), 64);
        assert!(
            peer.certificate_id
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_eq!(peer.certificate_id, ferrite_types::certificate_id(&der));
        assert!(!peer.serial_hex.is_empty());
        assert!(
            peer.serial_hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(peer.not_before < peer.not_after);
        // Valid until the end of 2049, like AWS-issued certificates.
        assert_eq!(peer.not_after, 2_524_607_999);
        assert!(peer.is_valid_at(time::OffsetDateTime::now_utc().unix_timestamp()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [&b""[..], b"\x30", b"\x30\x03\x02\x01\x01", &[0xff; 64]] {
            assert!(PeerCertificate::from_der(input).is_err());
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = crate::ca::ensure_ca(dir.path(), &[]).expect("ca");
        let mut der = ca.ca_cert_der().to_vec();
        der.push(0);
        assert!(PeerCertificate::from_der(&der).is_err());
    }
}
