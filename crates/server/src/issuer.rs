//! Wiring: Ferrite's CA (transport) as the registry's certificate issuer. Neither crate
//! depends on the other, so the adapter lives here.

use std::sync::Arc;

use ferrite_registry::{CertificateIssuer, IssueError, IssuedKeys};
use ferrite_transport::CaMaterial;
use ferrite_transport::issue::IssueError as CaIssueError;

/// Issues CreateKeysAndCertificate / CreateCertificateFromCsr certificates with the CA.
pub(crate) struct CaIssuer(Arc<CaMaterial>);

impl CaIssuer {
    pub(crate) fn shared(ca: Arc<CaMaterial>) -> Arc<dyn CertificateIssuer> {
        Arc::new(CaIssuer(ca))
    }
}

fn convert(e: CaIssueError) -> IssueError {
    match e {
        CaIssueError::InvalidCsr(m) => IssueError::InvalidRequest(m),
        CaIssueError::Failed(m) => {
            tracing::error!(error = %m, "issuing a device certificate failed");
            IssueError::Unavailable("The certificate could not be issued.".into())
        }
    }
}

impl CertificateIssuer for CaIssuer {
    fn create_keys_and_certificate(&self) -> Result<IssuedKeys, IssueError> {
        let keys = self.0.issue_keys_and_certificate().map_err(convert)?;
        Ok(IssuedKeys {
            certificate_pem: keys.certificate_pem,
            public_key_pem: keys.public_key_pem,
            private_key_pem: keys.private_key_pem,
        })
    }

    fn sign_csr(&self, csr_pem: &str) -> Result<String, IssueError> {
        self.0.sign_csr(csr_pem).map_err(convert)
    }
}
