//! Token-signing public keys: reading the PEM an authorizer's `tokenSigningPublicKeys` holds,
//! and checking a token's `x-amz-customauthorizer-signature` (RSA PKCS#1 v1.5 with SHA-256)
//! against it.
//!
//! AWS accepts RSA keys of at least 2048 bits. Both PEM forms tools emit are read: SPKI
//! (`BEGIN PUBLIC KEY`, what `openssl pkey -pubout` writes) and PKCS#1 (`BEGIN RSA PUBLIC
//! KEY`). The DER is unwrapped here by hand: only two fixed structures are involved, and ring,
//! which verifies, wants the inner PKCS#1 `RSAPublicKey`.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

/// The smallest modulus AWS accepts for a token-signing key.
pub const MIN_KEY_BITS: usize = 2048;
/// The largest modulus ring verifies with.
pub const MAX_KEY_BITS: usize = 8192;

/// Why a PEM value is not a usable token-signing key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `PUBLIC KEY` or `RSA PUBLIC KEY` PEM block, or its base64 is broken.
    #[error("not a PEM-encoded public key")]
    NotPem,
    /// A public key of another algorithm, or DER that is not a public key.
    #[error("not an RSA public key")]
    NotRsa,
    /// Fewer bits than AWS requires.
    #[error("the RSA key has {0} bits; at least {MIN_KEY_BITS} are required")]
    TooSmall(usize),
    /// More bits than can be verified.
    #[error("the RSA key has {0} bits; at most {MAX_KEY_BITS} are supported")]
    TooLarge(usize),
}

/// A parsed RSA public key that token signatures are checked against.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// PKCS#1 `RSAPublicKey` DER.
    pkcs1: Vec<u8>,
    bits: usize,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

/// Signatures arrive padded or not; both mean the same bytes.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl SigningKey {
    /// Reads one PEM public key (SPKI or PKCS#1).
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let (label, der) = pem_block(pem).ok_or(KeyError::NotPem)?;
        let pkcs1 = match label {
            "PUBLIC KEY" => spki_rsa_key(&der).ok_or(KeyError::NotRsa)?,
            "RSA PUBLIC KEY" => der,
            _ => return Err(KeyError::NotPem),
        };
        let bits = rsa_modulus_bits(&pkcs1).ok_or(KeyError::NotRsa)?;
        if bits < MIN_KEY_BITS {
            return Err(KeyError::TooSmall(bits));
        }
        if bits > MAX_KEY_BITS {
            return Err(KeyError::TooLarge(bits));
        }
        Ok(SigningKey { pkcs1, bits })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// True if `signature` (raw bytes) is this key's RSA-SHA256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
            .verify(message, signature)
            .is_ok()
    }
}

/// True if `signature_b64` (base64, as clients send it) signs `token` under one of `keys`.
pub fn verify_token(keys: &[SigningKey], token: &str, signature_b64: &str) -> bool {
    let Ok(signature) = BASE64_ANY_PADDING.decode(signature_b64.trim()) else {
        return false;
    };
    keys.iter().any(|k| k.verify(token.as_bytes(), &signature))
}

/// The label and decoded body of the first PEM block in `text`.
fn pem_block(text: &str) -> Option<(&str, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let body = &body_and_end[..body_and_end.find(&end_marker)?];
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = general_purpose::STANDARD.decode(compact).ok()?;
    Some((label, der))
}

/// One DER element with tag `tag` at the start of `input`: its contents and what follows.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (len0 as usize, rest)
    } else {
        let n = (len0 & 0x7f) as usize;
        // Definite lengths of up to four bytes cover every key this code accepts.
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
/// 1.2.840.113549.1.1.1 (rsaEncryption), DER contents.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The PKCS#1 key inside an SPKI `SubjectPublicKeyInfo`, if its algorithm is rsaEncryption.
fn spki_rsa_key(der: &[u8]) -> Option<Vec<u8>> {
    let (spki, _) = der_element(der, SEQUENCE)?;
    let (algorithm, rest) = der_element(spki, SEQUENCE)?;
    let (oid, _) = der_element(algorithm, OID)?;
    if oid != RSA_ENCRYPTION {
        return None;
    }
    let (bits, _) = der_element(rest, BIT_STRING)?;
    // The first content byte counts unused bits, always 0 for a DER-encoded key.
    match bits.split_first()? {
        (0, key) => Some(key.to_vec()),
        _ => None,
    }
}

/// The bit length of the modulus of a PKCS#1 `RSAPublicKey { modulus, publicExponent }`.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let (key, _) = der_element(pkcs1, SEQUENCE)?;
    let (modulus, rest) = der_element(key, INTEGER)?;
    der_element(rest, INTEGER)?;
    let significant: &[u8] = {
        let skip = modulus.iter().take_while(|&&b| b == 0).count();
        &modulus[skip..]
    };
    let (&top, _) = significant.split_first()?;
    Some(significant.len() * 8 - top.leading_zeros() as usize)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    pub const PRIVATE: &str = include_str!("testdata/rsa2048.key.pem");
    pub const PUBLIC: &str = include_str!("testdata/rsa2048.pub.pem");
    const PUBLIC_PKCS1: &str = include_str!("testdata/rsa2048.pkcs1.pem");
    pub const OTHER_PUBLIC: &str = include_str!("testdata/other2048.pub.pem");
    const SMALL: &str = include_str!("testdata/rsa1024.pub.pem");
    const EC: &str = include_str!("testdata/ec256.pub.pem");

    /// The base64 RSA-SHA256 signature of `token` with the test key, as a client sends it.
    pub fn sign(token: &str) -> String {
        let (_, der) = pem_block(PRIVATE).unwrap();
        let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            token.as_bytes(),
            &mut sig,
        )
        .unwrap();
        general_purpose::STANDARD.encode(sig)
    }

    #[test]
    fn both_pem_forms_of_a_2048_bit_key_are_read() {
        let spki = SigningKey::from_pem(PUBLIC).unwrap();
        let pkcs1 = SigningKey::from_pem(PUBLIC_PKCS1).unwrap();
        assert_eq!(spki.bits(), 2048);
        assert_eq!(spki, pkcs1);
    }

    #[test]
    fn small_non_rsa_and_garbage_keys_are_refused() {
        assert_eq!(SigningKey::from_pem(SMALL), Err(KeyError::TooSmall(1024)));
        assert_eq!(SigningKey::from_pem(EC), Err(KeyError::NotRsa));
        assert_eq!(SigningKey::from_pem("hello"), Err(KeyError::NotPem));
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----"),
            Err(KeyError::NotPem)
        );
        // A private key is not a public key.
        assert_eq!(SigningKey::from_pem(PRIVATE), Err(KeyError::NotPem));
        // Valid base64, not DER.
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(KeyError::NotRsa)
        );
    }

    #[test]
    fn signatures_verify_only_for_the_signed_token_and_the_right_key() {
        let key = SigningKey::from_pem(PUBLIC).unwrap();
        let other = SigningKey::from_pem(OTHER_PUBLIC).unwrap();
        let sig = sign("allow-me");
        assert!(verify_token(std::slice::from_ref(&key), "allow-me", &sig));
        assert!(verify_token(
            &[other.clone(), key.clone()],
            "allow-me",
            &sig
        ));
        assert!(!verify_token(&[other], "allow-me", &sig));
        assert!(!verify_token(std::slice::from_ref(&key), "allow-me!", &sig));
        assert!(!verify_token(
            std::slice::from_ref(&key),
            "allow-me",
            "not base64"
        ));
        assert!(!verify_token(&[], "allow-me", &sig));
        // Padding is optional on the wire.
        let unpadded = sig.trim_end_matches('=');
        assert!(verify_token(&[key], "allow-me", unpadded));
    }
}
