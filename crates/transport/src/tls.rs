//! The rustls server configuration for the TLS and WSS listeners.
//!
//! Client certificates follow AWS IoT's model: the TLS layer asks for one but does not
//! require it (WSS and custom-auth clients have none), and accepts any certificate,
//! including self-signed ones registered without a CA. What the TLS layer does enforce is
//! possession: the client must sign the handshake with the certificate's private key.
//! Whether the certificate is registered and active is checked later by the broker.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::ca::CaMaterial;
use crate::error::TransportError;

/// Builds the server configuration: TLS 1.2 and 1.3 with the ring provider, the server
/// chain from `ca`, optional client certificates and the given ALPN protocols (empty:
/// no ALPN negotiation; clients offering ALPN are then accepted without a protocol).
pub fn server_config(ca: &CaMaterial, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TransportError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyClientCert::new(&provider));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(ca.server_cert_chain().to_vec(), ca.server_key())?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // AWS IoT does not support session tickets. The default ticketer never produces
    // TLS 1.2 tickets; this stops TLS 1.3 ones.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Requests a client certificate, accepts whichever one comes (or none), and verifies
/// the handshake signatures made with it.
#[derive(Debug)]
pub struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    /// A verifier checking signatures with `provider`'s algorithms.
    pub fn new(provider: &CryptoProvider) -> Self {
        AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: clients holding a certificate from any CA (or a self-signed one)
        // must feel free to send it.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Trust is decided by the broker against the registry. Reject only what the
        // broker could not even identify.
        match x509_parser::parse_x509_certificate(end_entity) {
            Ok(([], _)) => Ok(ClientCertVerified::assertion()),
            _ => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
