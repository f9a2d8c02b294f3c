//! X.509 as the certificate operations need it: a PEM certificate read into what the
//! registry stores (AWS's certificate id, validity, subject and issuer), validity against
//! the clock, and whether one certificate's signature verifies with another's key. Nothing
//! here holds a private key: issuing is the [`crate::CertificateIssuer`]'s job.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrite_types::certificate::{certificate_id, sha256_hex};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certificate::X509Certificate;

use crate::RegistryError;

/// One certificate as read from PEM.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCert {
    /// AWS's certificate id: lowercase hex SHA-256 of the DER.
    pub id: String,
    pub der: Vec<u8>,
    /// The certificate re-encoded as one PEM block, whatever surrounded it in the input.
    pub pem: String,
    /// Validity bounds, epoch seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// Hex SHA-256 of the DER-encoded subject and issuer names, to match a certificate to
    /// the CA whose subject is its issuer without keeping names around.
    pub subject_hash: String,
    pub issuer_hash: String,
    /// The subject's first common name, if any (a verification certificate carries the
    /// registration code there).
    pub common_name: Option<String>,
    /// Basic constraints say CA.
    pub is_ca: bool,
}

/// Reads the first certificate of `pem`. `what` names it in the error ("certificate",
/// "CA certificate", "verification certificate").
pub(crate) fn parse_pem(pem: &str, what: &str) -> Result<ParsedCert, RegistryError> {
    let invalid = || RegistryError::CertificateValidation(format!("The {what} is not valid PEM."));
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| invalid())?;
    parse_der(der.as_ref(), what)
}

/// [`parse_pem`], refusing a certificate that is expired or not yet valid at `now_secs`.
pub(crate) fn parse_valid_pem(
    pem: &str,
    what: &str,
    now_secs: i64,
) -> Result<ParsedCert, RegistryError> {
    let cert = parse_pem(pem, what)?;
    cert.check_validity(what, now_secs)?;
    Ok(cert)
}

fn parse_der(der: &[u8], what: &str) -> Result<ParsedCert, RegistryError> {
    let cert = parse(der).ok_or_else(|| {
        RegistryError::CertificateValidation(format!("The {what} cannot be parsed."))
    })?;
    let validity = cert.validity();
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    Ok(ParsedCert {
        id: certificate_id(der),
        der: der.to_vec(),
        pem: to_pem(der),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        subject_hash: sha256_hex(cert.subject().as_raw()),
        issuer_hash: sha256_hex(cert.issuer().as_raw()),
        common_name,
        is_ca: cert.is_ca(),
    })
}

impl ParsedCert {
    /// AWS refuses certificates that are expired or not yet valid.
    pub fn check_validity(&self, what: &str, now_secs: i64) -> Result<(), RegistryError> {
        if now_secs > self.not_after {
            return Err(RegistryError::CertificateValidation(format!(
                "The {what} has expired."
            )));
        }
        if now_secs < self.not_before {
            return Err(RegistryError::CertificateValidation(format!(
                "The {what} is not valid yet."
            )));
        }
        Ok(())
    }

    /// Whether this certificate's signature verifies with `issuer`'s public key (the
    /// issuer's DER as stored).
    pub fn is_signed_by(&self, issuer_der: &[u8]) -> bool {
        let (Some(cert), Some(issuer)) = (parse(&self.der), parse(issuer_der)) else {
            return false;
        };
        cert.verify_signature(Some(issuer.public_key())).is_ok()
    }
}

fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Some(cert),
        _ => None,
    }
}

/// `-----BEGIN CERTIFICATE-----`, base64 in 64-column lines, LF line ends.
fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_validation_error_naming_the_certificate() {
        match parse_pem("hello", "CA certificate") {
            Err(RegistryError::CertificateValidation(m)) => {
                assert_eq!(m, "The CA certificate is not valid PEM.")
            }
            other => panic!("{other:?}"),
        }
        let not_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_pem(not_der, "certificate"),
            Err(RegistryError::CertificateValidation(m)) if m.contains("cannot be parsed")
        ));
    }
}
