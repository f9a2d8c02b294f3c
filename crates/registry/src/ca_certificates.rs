//! CA certificates and the registration code: GetRegistrationCode, DeleteRegistrationCode,
//! RegisterCACertificate (DEFAULT mode with a verification certificate proving possession of
//! the CA's key, or SNI_ONLY without one), DescribeCACertificate, ListCACertificates,
//! UpdateCACertificate, DeleteCACertificate; finding the registered CA that signed a device
//! certificate (RegisterCertificate), and just-in-time registration
//! ([`Registry::auto_register_certificate`]).
//!
//! AWS allows up to ten CA certificates with the same subject per account and region; the
//! index [`CA_BY_SUBJECT`] finds them from a device certificate's issuer.

use ferrite_storage::{Expect, Write};
use ferrite_types::{CaStatus, CertStatus, RegistryChange};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::certificates::{
    CertMode, CertificateCore, CertificateId, NewCertificate, normalise_id, now_secs, order_writes,
    still_active,
};
use crate::kinds::{self, CA_CERT, CA_CERTIFICATE, CERTIFICATE, LINK_DOC};
use crate::tags::{Tag, drop_tags, initial_tags};
use crate::token::MarkerPage;
use crate::x509::{ParsedCert, parse_pem, parse_valid_pem};
use crate::{Output, Registry, RegistryError, Scope, encode};

/// `code`: the account's registration code (a JSON string), until DeleteRegistrationCode.
const REGISTRATION_CODE: &str = "registration-code";
const REGISTRATION_CODE_KEY: &str = "code";
/// `{hash of the subject}/{caCertificateId}`: registered CAs by subject.
const CA_BY_SUBJECT: &str = "ca-by-subject";
/// The CA certificates' list in [`crate::certificates::CERT_ORDER`].
const CA_LIST: &str = "cacert";
/// AWS: "You can register up to 10 CA certificates with the same CA subject field per
/// Amazon Web Services account."
const MAX_CAS_PER_SUBJECT: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AutoRegistration {
    Enable,
    Disable,
}

impl AutoRegistration {
    fn as_str(self) -> &'static str {
        match self {
            AutoRegistration::Enable => "ENABLE",
            AutoRegistration::Disable => "DISABLE",
        }
    }
}

/// A CA's just-in-time provisioning template, stored and returned as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
}

/// A registered CA certificate: DescribeCACertificate's document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaCertificateDoc {
    #[serde(flatten)]
    pub core: CertificateCore,
    pub status: CaStatus,
    pub auto_registration: AutoRegistration,
    pub subject_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_config: Option<RegistrationConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterCaCertificate {
    pub ca_certificate: String,
    pub verification_certificate: Option<String>,
    pub set_as_active: Option<bool>,
    pub allow_auto_registration: Option<bool>,
    pub registration_config: Option<RegistrationConfig>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub certificate_mode: Option<CertMode>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCaCertificates {
    #[serde(flatten)]
    pub page: MarkerPage,
    pub template_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCaCertificate {
    pub certificate_id: String,
    pub new_status: Option<CaStatus>,
    pub new_auto_registration_status: Option<AutoRegistration>,
    pub registration_config: Option<RegistrationConfig>,
    #[serde(default)]
    pub remove_auto_registration: bool,
}

/// The registered CA a device certificate is registered under.
pub(crate) struct SigningCa {
    pub id: String,
    pub mode: CertMode,
}

fn not_found(id: &str) -> RegistryError {
    RegistryError::NotFound(format!("The CA certificate {id} does not exist."))
}

fn ca_arn(scope: &Scope, id: &str) -> String {
    scope.arn(&format!("cacert/{id}"))
}

fn subject_link(subject_hash: &str, id: &str) -> String {
    kinds::link(subject_hash, id)
}

/// 32 random bytes as lowercase hex: the shape of AWS's registration codes.
fn new_registration_code() -> Result<String, RegistryError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            RegistryError::ServiceUnavailable("no randomness for a registration code".into())
        })?;
    Ok(ferrite_types::certificate::sha256_hex(&bytes))
}

impl CaCertificateDoc {
    /// The stored certificate, parsed again (the PEM was written by Ferrite).
    fn parsed(&self) -> Result<ParsedCert, RegistryError> {
        parse_pem(&self.core.pem, "CA certificate")
    }

    fn signing(self) -> SigningCa {
        SigningCa {
            id: self.core.id,
            mode: self.core.mode,
        }
    }
}

impl Registry {
    pub async fn get_registration_code(&self) -> Result<Output, RegistryError> {
        self.retry(|| async {
            if let Some((code, _)) = self
                .get::<String>(REGISTRATION_CODE, REGISTRATION_CODE_KEY)
                .await?
            {
                return Ok((Vec::new(), json!({ "registrationCode": code })));
            }
            let code = new_registration_code()?;
            let write = Write::put(
                REGISTRATION_CODE,
                REGISTRATION_CODE_KEY,
                Expect::Absent,
                encode(&code),
            );
            Ok((vec![write], json!({ "registrationCode": code })))
        })
        .await
    }

    pub async fn delete_registration_code(&self) -> Result<Output, RegistryError> {
        self.retry(|| async {
            let Some((_, version)) = self
                .get::<String>(REGISTRATION_CODE, REGISTRATION_CODE_KEY)
                .await?
            else {
                return Err(RegistryError::NotFound(
                    "The registration code does not exist.".into(),
                ));
            };
            let write = Write::delete(
                REGISTRATION_CODE,
                REGISTRATION_CODE_KEY,
                Expect::Version(version),
            );
            Ok((vec![write], json!({})))
        })
        .await
    }

    /// DEFAULT mode's proof of possession: `verification` is signed by the CA's key and its
    /// subject's common name is the account's registration code.
    async fn check_verification(
        &self,
        ca: &ParsedCert,
        verification: &str,
        now_secs: i64,
    ) -> Result<(), RegistryError> {
        let v = parse_valid_pem(verification, "verification certificate", now_secs)?;
        if !v.is_signed_by(&ca.der) {
            return Err(RegistryError::CertificateValidation(
                "The verification certificate is not signed by the CA certificate.".into(),
            ));
        }
        let code = self
            .get::<String>(REGISTRATION_CODE, REGISTRATION_CODE_KEY)
            .await?
            .map(|(c, _)| c)
            .ok_or_else(|| {
                RegistryError::RegistrationCodeValidation(
                    "The account has no registration code; call GetRegistrationCode first.".into(),
                )
            })?;
        match &v.common_name {
            Some(cn) if cn.eq_ignore_ascii_case(&code) => Ok(()),
            _ => Err(RegistryError::RegistrationCodeValidation(
                "The common name of the verification certificate is not the registration code."
                    .into(),
            )),
        }
    }

    pub async fn register_ca_certificate(
        &self,
        scope: &Scope,
        req: RegisterCaCertificate,
    ) -> Result<Output, RegistryError> {
        let now = now_secs();
        let ca = parse_valid_pem(&req.ca_certificate, "CA certificate", now)?;
        if !ca.is_ca {
            return Err(RegistryError::CertificateValidation(
                "The CA certificate is not a CA: its basic constraints must say CA:TRUE.".into(),
            ));
        }
        let mode = req.certificate_mode.unwrap_or(CertMode::Default);
        match (mode, &req.verification_certificate) {
            (CertMode::Default, None) => {
                return Err(RegistryError::InvalidRequest(
                    "A verification certificate is required when certificateMode is DEFAULT."
                        .into(),
                ));
            }
            (CertMode::SniOnly, Some(_)) => {
                return Err(RegistryError::InvalidRequest(
                    "The verification certificate must be empty when certificateMode is SNI_ONLY."
                        .into(),
                ));
            }
            (CertMode::Default, Some(v)) => self.check_verification(&ca, v, now).await?,
            (CertMode::SniOnly, None) => {}
        }
        let tags = initial_tags(&ca.id, &req.tags)?;
        let id = ca.id.clone();
        let arn = ca_arn(scope, &id);
        let order_seq = self.store.next_sequence().await?;
        self.retry(|| async {
            if self.store.get(CA_CERTIFICATE, &id).await?.is_some() {
                return Err(RegistryError::AlreadyExists {
                    message: "The CA certificate is already registered.".into(),
                    resource_id: id.clone(),
                    resource_arn: arn.clone(),
                });
            }
            if self
                .has_links(CA_BY_SUBJECT, &ca.subject_hash, MAX_CAS_PER_SUBJECT)
                .await?
            {
                return Err(RegistryError::LimitExceeded(format!(
                    "At most {MAX_CAS_PER_SUBJECT} CA certificates with the same subject can be registered."
                )));
            }
            let doc = CaCertificateDoc {
                core: CertificateCore::new(scope, &ca, mode, order_seq),
                status: if req.set_as_active == Some(true) {
                    CaStatus::Active
                } else {
                    CaStatus::Inactive
                },
                auto_registration: if req.allow_auto_registration == Some(true) {
                    AutoRegistration::Enable
                } else {
                    AutoRegistration::Disable
                },
                subject_hash: ca.subject_hash.clone(),
                registration_config: req.registration_config.clone(),
            };
            let mut writes = vec![
                Write::put(CA_CERTIFICATE, &id, Expect::Absent, encode(&doc)),
                Write::put(
                    CA_BY_SUBJECT,
                    &subject_link(&ca.subject_hash, &id),
                    Expect::Any,
                    LINK_DOC.into(),
                ),
            ];
            writes.extend(order_writes(CA_LIST, &doc.core, true));
            writes.extend(tags.clone());
            Ok((writes, json!({"certificateArn": arn, "certificateId": id})))
        })
        .await
    }

    async fn ca_certificate(&self, id: &str) -> Result<(CaCertificateDoc, u64), RegistryError> {
        self.get::<CaCertificateDoc>(CA_CERTIFICATE, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn describe_ca_certificate(
        &self,
        scope: &Scope,
        req: CertificateId,
    ) -> Result<Output, RegistryError> {
        let (c, _) = self
            .ca_certificate(&normalise_id(&req.certificate_id))
            .await?;
        let mut description = c
            .core
            .description(ca_arn(scope, &c.core.id), c.status.as_str());
        description["autoRegistrationStatus"] = json!(c.auto_registration.as_str());
        let mut out = json!({ "certificateDescription": description });
        if let Some(config) = &c.registration_config {
            out["registrationConfig"] = json!(config);
        }
        Ok(out)
    }

    pub async fn list_ca_certificates(
        &self,
        scope: &Scope,
        req: ListCaCertificates,
    ) -> Result<Output, RegistryError> {
        self.certificate_listing(CA_CERTIFICATE, CA_LIST, &req.page, |c: CaCertificateDoc| {
            if let Some(name) = &req.template_name {
                let template = c
                    .registration_config
                    .as_ref()
                    .and_then(|r| r.template_name.as_ref());
                if template != Some(name) {
                    return None;
                }
            }
            Some(
                c.core
                    .list_item(ca_arn(scope, &c.core.id), c.status.as_str()),
            )
        })
        .await
    }

    pub async fn update_ca_certificate(
        &self,
        req: UpdateCaCertificate,
    ) -> Result<Output, RegistryError> {
        if req.remove_auto_registration && req.registration_config.is_some() {
            return Err(RegistryError::InvalidRequest(
                "registrationConfig and removeAutoRegistration cannot be given together.".into(),
            ));
        }
        let id = normalise_id(&req.certificate_id);
        // The status the attempt that applied set, when it changed it.
        let new_status = Mutex::new(None);
        let changes = || {
            new_status
                .lock()
                .map(|status| RegistryChange::CaCertificateStatusChanged {
                    ca_certificate_id: id.clone(),
                    status,
                })
                .into_iter()
                .collect()
        };
        self.retry_announcing(changes, || async {
            let (mut c, version) = self.ca_certificate(&id).await?;
            let before = (c.status, c.auto_registration, c.registration_config.clone());
            if let Some(s) = req.new_status {
                c.status = s;
            }
            if let Some(a) = req.new_auto_registration_status {
                c.auto_registration = a;
            }
            if let Some(config) = &req.registration_config {
                c.registration_config = Some(config.clone());
            }
            if req.remove_auto_registration {
                c.registration_config = None;
            }
            if before == (c.status, c.auto_registration, c.registration_config.clone()) {
                return Ok((Vec::new(), json!({})));
            }
            *new_status.lock() = (before.0 != c.status).then_some(c.status);
            c.core.changed();
            let write = Write::put(CA_CERTIFICATE, &id, Expect::Version(version), encode(&c));
            Ok((vec![write], json!({})))
        })
        .await
    }

    pub async fn delete_ca_certificate(&self, req: CertificateId) -> Result<Output, RegistryError> {
        let id = normalise_id(&req.certificate_id);
        let deleted = || {
            vec![RegistryChange::CaCertificateDeleted {
                ca_certificate_id: id.clone(),
            }]
        };
        self.retry_announcing(deleted, || async {
            // RegisterCertificate bumps this guard with each certificate it registers under
            // the CA, so one racing this delete makes it re-read the links below.
            let guard = self.guard(CA_CERTIFICATE, &id).await?;
            let (c, version) = self.ca_certificate(&id).await?;
            if c.status == CaStatus::Active {
                return Err(still_active(&id));
            }
            if self.has_links(CA_CERT, &id, 1).await? {
                return Err(RegistryError::CertificateState(format!(
                    "Cannot delete the CA certificate {id} while device certificates registered with it exist. Id: {id}"
                )));
            }
            let mut writes = vec![
                Write::delete(CA_CERTIFICATE, &id, Expect::Version(version)),
                guard.release(),
                Write::delete(
                    CA_BY_SUBJECT,
                    &subject_link(&c.subject_hash, &id),
                    Expect::Any,
                ),
                drop_tags(&id),
            ];
            writes.extend(order_writes(CA_LIST, &c.core, false));
            Ok((writes, json!({})))
        })
        .await
    }

    /// The status of CA `id`, if it is registered.
    pub(crate) async fn ca_certificate_status(
        &self,
        id: &str,
    ) -> Result<Option<CaStatus>, RegistryError> {
        Ok(self
            .get::<CaCertificateDoc>(CA_CERTIFICATE, id)
            .await?
            .map(|(c, _)| c.status))
    }

    /// The registered CAs whose subject is `cert`'s issuer and whose key verifies its
    /// signature, in id order.
    async fn signing_cas(&self, cert: &ParsedCert) -> Result<Vec<CaCertificateDoc>, RegistryError> {
        let mut found = Vec::new();
        for id in self.linked(CA_BY_SUBJECT, &cert.issuer_hash).await? {
            let Some((ca, _)) = self.get::<CaCertificateDoc>(CA_CERTIFICATE, &id).await? else {
                continue;
            };
            if cert.is_signed_by(&ca.parsed()?.der) {
                found.push(ca);
            }
        }
        Ok(found)
    }

    /// RegisterCertificate with `caCertificatePem`: that CA must be registered and must have
    /// signed `cert`.
    pub(crate) async fn named_signing_ca(
        &self,
        cert: &ParsedCert,
        ca_pem: &str,
    ) -> Result<SigningCa, RegistryError> {
        let given = parse_pem(ca_pem, "CA certificate")?;
        let Some((ca, _)) = self
            .get::<CaCertificateDoc>(CA_CERTIFICATE, &given.id)
            .await?
        else {
            return Err(RegistryError::CertificateValidation(
                "The CA certificate is not registered.".into(),
            ));
        };
        if !cert.is_signed_by(&given.der) {
            return Err(RegistryError::CertificateValidation(
                "The certificate is not signed by the given CA certificate.".into(),
            ));
        }
        Ok(ca.signing())
    }

    /// RegisterCertificate without `caCertificatePem`: exactly one registered CA must verify
    /// `cert`. Several can (re-issued CA certificates with one subject and key): AWS's
    /// CertificateConflictException, to be resolved by naming the CA.
    pub(crate) async fn only_signing_ca(
        &self,
        cert: &ParsedCert,
    ) -> Result<SigningCa, RegistryError> {
        let mut cas = self.signing_cas(cert).await?;
        match cas.len() {
            0 => Err(RegistryError::CertificateValidation(
                "The certificate is not signed by a registered CA certificate.".into(),
            )),
            1 => Ok(cas.remove(0).signing()),
            _ => Err(RegistryError::CertificateConflict(
                "Unable to verify the CA certificate used to sign the device certificate: several registered CA certificates have its subject and public key. Give caCertificatePem."
                    .into(),
            )),
        }
    }

    /// A device presented `certificate_id` again while it is PENDING_ACTIVATION under a
    /// registered CA: AWS emits the JITR event each time, so the registration is announced
    /// again ([`RegistryChange::CertificateRegisteredJustInTime`]). True when announced.
    pub async fn reannounce_pending_registration(
        &self,
        certificate_id: &str,
    ) -> Result<bool, RegistryError> {
        let Some(cert) = self.certificate_for_auth(certificate_id).await? else {
            return Ok(false);
        };
        match (cert.status, cert.ca_certificate_id) {
            (CertStatus::PendingActivation, Some(ca)) => {
                self.announce([RegistryChange::CertificateRegisteredJustInTime {
                    certificate_id: normalise_id(certificate_id),
                    ca_certificate_id: ca,
                }]);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Just-in-time registration (JITR): when a device presents `certificate_pem`, valid and
    /// not yet registered, signed by a registered CA that is ACTIVE with auto-registration
    /// ENABLE, registers it under that CA with status PENDING_ACTIVATION, announces
    /// [`RegistryChange::CertificateRegisteredJustInTime`] (the JITR event, JITP) and returns
    /// `Some(PendingActivation)`. Anything else (unparsable, expired, already registered,
    /// no such CA) is `None`: the caller refuses the connection as for any unknown
    /// certificate.
    pub async fn auto_register_certificate(
        &self,
        scope: &Scope,
        certificate_pem: &str,
    ) -> Result<Option<CertStatus>, RegistryError> {
        let Ok(cert) = parse_valid_pem(certificate_pem, "certificate", now_secs()) else {
            return Ok(None);
        };
        if self.store.get(CERTIFICATE, &cert.id).await?.is_some() {
            return Ok(None);
        }
        let Some(ca) = self.signing_cas(&cert).await?.into_iter().find(|ca| {
            ca.status == CaStatus::Active && ca.auto_registration == AutoRegistration::Enable
        }) else {
            return Ok(None);
        };
        let signing = ca.signing();
        let registered = RegistryChange::CertificateRegisteredJustInTime {
            certificate_id: cert.id.clone(),
            ca_certificate_id: signing.id.clone(),
        };
        let new = NewCertificate {
            parsed: cert,
            status: CertStatus::PendingActivation,
            mode: signing.mode,
            ca_certificate_id: Some(signing.id),
        };
        match self.store_new_certificate(scope, new).await {
            Ok(_) => {
                self.announce([registered]);
                Ok(Some(CertStatus::PendingActivation))
            }
            // Another connection registered it first.
            Err(RegistryError::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
