//! Device certificates issued by Ferrite's CA, the two ways AWS issues them: with a fresh
//! RSA 2048 key pair ([`CaMaterial::issue_keys_and_certificate`], CreateKeysAndCertificate)
//! or for the key in a certificate signing request ([`CaMaterial::sign_csr`],
//! CreateCertificateFromCsr). Both are client-auth leaf certificates valid until
//! 2049-12-31T23:59:59Z, like the certificates AWS IoT issues.

use std::fmt;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SubjectPublicKeyInfo,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

use crate::ca::{BACKDATE, CaMaterial, random_serial};

/// Subject of the certificates CreateKeysAndCertificate issues: AWS's own, so policies that
/// read `iot:Certificate.Subject.CommonName` behave the same here.
pub const DEVICE_COMMON_NAME: &str = "AWS IoT Certificate";
/// AWS's key size for CreateKeysAndCertificate.
const DEVICE_RSA_BITS: usize = 2048;
/// The smallest RSA key AWS accepts in a certificate signing request.
const MIN_CSR_RSA_BITS: usize = 2048;

/// A key pair and the certificate issued for it (CreateKeysAndCertificate's output).
pub struct IssuedKeys {
    pub certificate_pem: String,
    /// SubjectPublicKeyInfo PEM (`PUBLIC KEY`).
    pub public_key_pem: String,
    /// PKCS#1 PEM (`RSA PRIVATE KEY`), the form AWS returns.
    pub private_key_pem: String,
}

// Hand-written so a stray `{:?}` can never print the private key.
impl fmt::Debug for IssuedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKeys")
            .field("certificate_pem", &self.certificate_pem)
            .field("public_key_pem", &self.public_key_pem)
            .finish_non_exhaustive()
    }
}

/// Why a device certificate was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The certificate signing request is unusable; the message is for the caller.
    #[error("{0}")]
    InvalidCsr(String),
    /// Key generation or signing failed on our side.
    #[error("certificate issuing failed: {0}")]
    Failed(String),
}

impl From<rcgen::Error> for IssueError {
    fn from(e: rcgen::Error) -> Self {
        IssueError::Failed(e.to_string())
    }
}

impl CaMaterial {
    /// Creates an RSA 2048 key pair and a device certificate for it with AWS's subject
    /// (`CN=AWS IoT Certificate`). CPU-heavy (RSA key generation): call it off the async
    /// runtime's worker threads.
    pub fn issue_keys_and_certificate(&self) -> Result<IssuedKeys, IssueError> {
        let failed = |e: &dyn fmt::Display| IssueError::Failed(e.to_string());
        let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, DEVICE_RSA_BITS)
            .map_err(|e| failed(&e))?;
        let public = key.to_public_key();
        let spki_der = public.to_public_key_der().map_err(|e| failed(&e))?;
        let public_key_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| failed(&e))?;
        let private_key_pem = key
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| failed(&e))?
            .to_string();
        let spki = SubjectPublicKeyInfo::from_der(spki_der.as_bytes())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, DEVICE_COMMON_NAME);
        let cert = device_params(dn)?.signed_by(&spki, &self.issuer)?;
        Ok(IssuedKeys {
            certificate_pem: cert.pem(),
            public_key_pem,
            private_key_pem,
        })
    }

    /// Signs a device certificate for the key in a PEM certificate signing request, with the
    /// request's subject. Only the subject and the key are taken from the request: extensions
    /// it asks for (a CA flag, other key usages) are ignored, as a device certificate is a
    /// client certificate whatever the request says. Accepts what AWS accepts, except P-521
    /// keys, which ring cannot put into a certificate: RSA of at least 2048 bits, P-256,
    /// P-384; the request's signature must verify (proof that its sender holds the key).
    pub fn sign_csr(&self, csr_pem: &str) -> Result<String, IssueError> {
        let invalid = |m: &str| IssueError::InvalidCsr(m.to_owned());
        let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .map_err(|_| invalid("The certificate signing request is not a valid PEM CSR."))?;
        let (rest, csr) = X509CertificationRequest::from_der(der.as_ref())
            .map_err(|_| invalid("The certificate signing request cannot be parsed."))?;
        if !rest.is_empty() {
            return Err(invalid(
                "The certificate signing request has trailing data after it.",
            ));
        }
        let info = &csr.certification_request_info;
        check_csr_key(&info.subject_pki)?;
        csr.verify_signature().map_err(|_| {
            invalid("The signature of the certificate signing request does not verify.")
        })?;
        let spki = SubjectPublicKeyInfo::from_der(info.subject_pki.raw).map_err(|_| {
            invalid("The key type of the certificate signing request is not supported.")
        })?;
        let cert = device_params(subject_of(&info.subject)?)?.signed_by(&spki, &self.issuer)?;
        Ok(cert.pem())
    }
}

/// The parameters every device certificate shares: a client-auth leaf certificate with a
/// random serial, valid from an hour ago (clock skew) to 2049-12-31T23:59:59Z.
fn device_params(subject: DistinguishedName) -> Result<CertificateParams, IssueError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.serial_number = Some(random_serial().map_err(|e| IssueError::Failed(e.to_string()))?);
    params.not_before = OffsetDateTime::now_utc() - BACKDATE;
    params.not_after = rcgen::date_time_ymd(2050, 1, 1) - Duration::seconds(1);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// RSA of at least 2048 bits or an EC key on P-256 or P-384.
fn check_csr_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<(), IssueError> {
    let invalid = |m: String| Err(IssueError::InvalidCsr(m));
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = unsigned_bits(rsa.modulus);
            if bits < MIN_CSR_RSA_BITS {
                return invalid(format!(
                    "The RSA key of the certificate signing request has {bits} bits; at least {MIN_CSR_RSA_BITS} are required."
                ));
            }
            Ok(())
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7" | "1.3.132.0.34") => Ok(()),
                Some("1.3.132.0.35") => invalid(
                    "NIST P-521 keys are not supported by Ferrite; use P-256, P-384 or RSA.".into(),
                ),
                _ => invalid(
                    "The EC key of the certificate signing request must be on NIST P-256 or P-384."
                        .into(),
                ),
            }
        }
        _ => invalid(
            "The key of the certificate signing request must be RSA (2048 bits or more) or EC (NIST P-256 or P-384)."
                .into(),
        ),
    }
}

/// Bits of a big-endian unsigned integer, ignoring leading zero octets.
fn unsigned_bits(be: &[u8]) -> usize {
    let Some(pos) = be.iter().position(|&b| b != 0) else {
        return 0;
    };
    (be.len() - pos) * 8 - be[pos].leading_zeros() as usize
}

/// A certificate subject equal to the CSR's, attribute by attribute. rcgen holds one value
/// per attribute type, so a repeated type (two OUs) keeps its last value.
fn subject_of(name: &X509Name<'_>) -> Result<DistinguishedName, IssueError> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let mut dn = DistinguishedName::new();
    for attr in name.iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| {
                IssueError::InvalidCsr("The CSR subject has an unusable attribute type.".into())
            })?
            .collect();
        let text = attr.as_str().map_err(|_| {
            IssueError::InvalidCsr("The CSR subject has an attribute that is not a string.".into())
        })?;
        let value = match attr.attr_value().header.tag() {
            Tag::PrintableString => rcgen::string::PrintableString::try_from(text)
                .map(DnValue::PrintableString)
                .unwrap_or_else(|_| DnValue::Utf8String(text.to_owned())),
            _ => DnValue::Utf8String(text.to_owned()),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, KeyPair, PKCS_ECDSA_P256_SHA256};
    use rustls_pki_types::CertificateDer;

    use super::*;
    use crate::ca::{distinguished_name, ensure_ca, parse_cert};

    /// 2049-12-31T23:59:59Z, the end of every device certificate's validity.
    const DEVICE_NOT_AFTER: i64 = 2_524_607_999;

    fn signed_by_ca(ca: &CaMaterial, cert_pem: &str) -> CertificateDer<'static> {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("pem");
        let cert = parse_cert(&der).expect("parse");
        let ca_cert = parse_cert(ca.ca_cert_der()).expect("parse");
        assert!(cert.verify_signature(Some(ca_cert.public_key())).is_ok());
        assert!(!cert.is_ca());
        assert_eq!(cert.validity().not_after.timestamp(), DEVICE_NOT_AFTER);
        der
    }

    fn csr_pem(der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            lines.join("\n")
        )
    }

    fn csr_for(key: &KeyPair, cn: &str, ask_for_ca: bool) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(cn);
        if ask_for_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params
            .serialize_request(key)
            .expect("csr")
            .pem()
            .expect("pem")
    }

    #[test]
    fn issued_keys_are_rsa_2048_with_aws_subject_and_pkcs1_private_key() {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path(), &[]).expect("create");
        let keys = ca.issue_keys_and_certificate().expect("issue");
        assert!(
            keys.private_key_pem
                .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
        );
        assert!(
            keys.public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        let der = signed_by_ca(&ca, &keys.certificate_pem);
        let cert = parse_cert(&der).expect("parse");
        assert_eq!(cert.subject().to_string(), "CN=AWS IoT Certificate");
        let private = rsa::PrivateKey::from_pkcs1_pem(&keys.private_key_pem).expect("key");
        assert_eq!(private.n().bit_width(), 2048);
        let spki = private.to_public_key().to_public_key_der().expect("spki");
        assert_eq!(cert.public_key().raw, spki.as_bytes());
        assert!(!format!("{keys:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn csr_gets_its_subject_and_key_but_never_a_ca_flag() {
        use rcgen::PublicKeyData;
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path(), &[]).expect("create");
        for alg in [&PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ECDSA_P384_SHA384] {
            let key = KeyPair::generate_for(alg).expect("key");
            let pem = ca.sign_csr(&csr_for(&key, "thing-7", true)).expect("sign");
            let der = signed_by_ca(&ca, &pem);
            let cert = parse_cert(&der).expect("parse");
            assert_eq!(cert.subject().to_string(), "O=Ferrite, CN=thing-7");
            assert_eq!(
                cert.public_key().raw,
                key.subject_public_key_info().as_slice()
            );
        }
    }

    #[test]
    fn unusable_csrs_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path(), &[]).expect("create");
        let refused = |pem: &str| match ca.sign_csr(pem) {
            Err(IssueError::InvalidCsr(m)) => m,
            other => panic!("expected InvalidCsr, got {other:?}"),
        };
        assert!(refused("not a csr").contains("PEM"));
        let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        assert!(refused(&csr_for(&ed, "t", false)).contains("must be RSA"));
        // A request whose signature no longer matches its content proves nothing.
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let good = csr_for(&key, "abc", false);
        let mut der = CertificateSigningRequestDer::from_pem_slice(good.as_bytes())
            .expect("pem")
            .as_ref()
            .to_vec();
        let at = der.windows(3).position(|w| w == b"abc").expect("cn");
        der[at] = b'x';
        assert!(refused(&csr_pem(&der)).contains("signature"));
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, 1024).expect("key");
        let spki = key.to_public_key().to_public_key_der().expect("spki");
        let (_, parsed) =
            x509_parser::x509::SubjectPublicKeyInfo::from_der(spki.as_bytes()).expect("spki");
        match check_csr_key(&parsed) {
            Err(IssueError::InvalidCsr(m)) => assert!(m.contains("1024 bits"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(unsigned_bits(&[0, 0, 0x7f, 0xff]), 15);
        assert_eq!(unsigned_bits(&[0x80, 0]), 16);
        assert_eq!(unsigned_bits(&[0, 0]), 0);
    }
}
