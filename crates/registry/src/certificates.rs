//! Device certificates: CreateKeysAndCertificate and CreateCertificateFromCsr (issued by
//! Ferrite's CA through a [`CertificateIssuer`]), RegisterCertificate (under a registered
//! CA), RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates,
//! ListCertificatesByCA, UpdateCertificate, DeleteCertificate; and the lookup device
//! authentication uses ([`Registry::certificate_for_auth`]).
//!
//! A certificate is stored under its AWS id (lowercase hex SHA-256 of its DER). The listings
//! are in creation-date order, so every certificate also has entries in [`CERT_ORDER`], one
//! per direction, for the account-wide listing and, when registered under a CA, for the CA's.
//! What CA certificates (`ca_certificates`) store, describe and list the same way is here
//! too: [`CertificateCore`] and [`Registry::certificate_listing`].

use std::sync::Arc;

use ferrite_storage::{Expect, Write};
use ferrite_types::{CaStatus, CertStatus, RegistryChange};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kinds::{self, CA_CERT, CA_CERTIFICATE, CERTIFICATE, LINK_DOC};
use crate::principals::{Principal, unlink_policy};
use crate::shared::Guard;
use crate::token::{self, MarkerPage};
use crate::x509::{ParsedCert, parse_pem, parse_valid_pem};
use crate::{Output, Registry, RegistryError, Scope, encode, epoch_secs, now_ms};

/// Issues device certificates with the private key of Ferrite's CA, which the registry never
/// holds. The server wires the implementation; calls are CPU-bound and blocking (the registry
/// runs them off the async workers).
pub trait CertificateIssuer: Send + Sync + 'static {
    /// A new RSA 2048 key pair and a certificate for it (CreateKeysAndCertificate).
    fn create_keys_and_certificate(&self) -> Result<IssuedKeys, IssueError>;
    /// A certificate, as PEM, for the key and subject of a PEM certificate signing request.
    fn sign_csr(&self, csr_pem: &str) -> Result<String, IssueError>;
}

/// The issuer of a registry built without one: nothing can be issued.
pub(crate) struct NoIssuer;

impl CertificateIssuer for NoIssuer {
    fn create_keys_and_certificate(&self) -> Result<IssuedKeys, IssueError> {
        Err(no_ca())
    }

    fn sign_csr(&self, _: &str) -> Result<String, IssueError> {
        Err(no_ca())
    }
}

fn no_ca() -> IssueError {
    IssueError::Unavailable("No certificate authority is configured to issue certificates.".into())
}

/// What CreateKeysAndCertificate returns besides ids.
pub struct IssuedKeys {
    pub certificate_pem: String,
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo).
    pub public_key_pem: String,
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1), as AWS returns it.
    pub private_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The request (a CSR) is unusable: AWS's InvalidRequestException.
    #[error("{0}")]
    InvalidRequest(String),
    /// No certificate could be issued (no CA, signing failed): ServiceUnavailableException.
    #[error("{0}")]
    Unavailable(String),
}

impl From<IssueError> for RegistryError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::InvalidRequest(m) => RegistryError::InvalidRequest(m),
            IssueError::Unavailable(m) => RegistryError::ServiceUnavailable(m),
        }
    }
}

/// What device authentication needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuth {
    pub status: CertStatus,
    /// The registered CA it was registered under, if any.
    pub ca_certificate_id: Option<String>,
    /// That CA's status; `None` without a CA.
    pub ca_status: Option<CaStatus>,
    /// `DEFAULT` or `SNI_ONLY`.
    pub mode: String,
    pub certificate_pem: String,
}

/// The statuses a caller may set (UpdateCertificate, RegisterCertificate's `status`):
/// PENDING_TRANSFER and PENDING_ACTIVATION are the service's own, REGISTER_INACTIVE is
/// deprecated.
fn settable(status: CertStatus) -> Result<CertStatus, RegistryError> {
    match status {
        CertStatus::Active | CertStatus::Inactive | CertStatus::Revoked => Ok(status),
        other => Err(RegistryError::InvalidRequest(format!(
            "The status {} cannot be set; use ACTIVE, INACTIVE or REVOKED.",
            other.as_str()
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertMode {
    Default,
    SniOnly,
}

impl CertMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CertMode::Default => "DEFAULT",
            CertMode::SniOnly => "SNI_ONLY",
        }
    }
}

/// What device and CA certificates store alike. Each record flattens it in, so a stored
/// document is one flat object either way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CertificateCore {
    pub id: String,
    pub pem: String,
    pub mode: CertMode,
    pub owned_by: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub customer_version: i64,
    pub generation_id: String,
    /// Validity, epoch seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The store's sequence number at creation: orders the certificates of one millisecond
    /// (see [`CERT_ORDER`]). Absent on certificates stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_seq: Option<u64>,
}

impl CertificateCore {
    /// `parsed`, registered now by `scope`'s account: customer version 1. `order_seq` is a
    /// fresh [`RegistryStore::next_sequence`](ferrite_storage::RegistryStore::next_sequence).
    pub fn new(
        scope: &Scope,
        parsed: &ParsedCert,
        mode: CertMode,
        order_seq: u64,
    ) -> CertificateCore {
        let now = now_ms();
        CertificateCore {
            order_seq: Some(order_seq),
            id: parsed.id.clone(),
            pem: parsed.pem.clone(),
            mode,
            owned_by: scope.account.clone(),
            created_ms: now,
            modified_ms: now,
            customer_version: 1,
            generation_id: uuid::Uuid::new_v4().to_string(),
            not_before: parsed.not_before,
            not_after: parsed.not_after,
        }
    }

    /// Records an update: AWS moves the modification date, customer version and generation
    /// id with every change.
    pub fn changed(&mut self) {
        self.modified_ms = now_ms();
        self.customer_version += 1;
        self.generation_id = uuid::Uuid::new_v4().to_string();
    }

    /// A listing's item for the certificate with ARN `arn` and status `status`.
    pub fn list_item(&self, arn: String, status: &str) -> Output {
        json!({
            "certificateArn": arn,
            "certificateId": self.id,
            "status": status,
            "creationDate": epoch_secs(self.created_ms),
        })
    }

    /// The members DescribeCertificate's and DescribeCACertificate's descriptions share.
    pub fn description(&self, arn: String, status: &str) -> Output {
        let mut d = self.list_item(arn, status);
        d["certificatePem"] = json!(self.pem);
        d["ownedBy"] = json!(self.owned_by);
        d["lastModifiedDate"] = epoch_secs(self.modified_ms);
        d["customerVersion"] = json!(self.customer_version);
        d["generationId"] = json!(self.generation_id);
        d["validity"] = json!({
            "notBefore": epoch_secs(self.not_before * 1000),
            "notAfter": epoch_secs(self.not_after * 1000),
        });
        d["certificateMode"] = json!(self.mode.as_str());
        d
    }
}

/// A device certificate: DescribeCertificate's document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CertificateDoc {
    #[serde(flatten)]
    pub core: CertificateCore,
    pub status: CertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeysAndCertificate {
    pub set_as_active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCertificateFromCsr {
    pub certificate_signing_request: String,
    pub set_as_active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterCertificate {
    pub certificate_pem: String,
    pub ca_certificate_pem: Option<String>,
    pub set_as_active: Option<bool>,
    pub status: Option<CertStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterCertificateWithoutCa {
    pub certificate_pem: String,
    pub status: Option<CertStatus>,
}

/// DescribeCertificate; and DescribeCACertificate and DeleteCACertificate, whose model names
/// the member `certificateId` too.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateId {
    pub certificate_id: String,
}

/// ListCertificates takes the paging members only.
pub type ListCertificates = MarkerPage;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCertificatesByCa {
    pub ca_certificate_id: String,
    #[serde(flatten)]
    pub page: MarkerPage,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCertificate {
    pub certificate_id: String,
    pub new_status: CertStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteCertificate {
    pub certificate_id: String,
    #[serde(default)]
    pub force_delete: bool,
}

/// Creation-date order: `{list}/a/{13-digit creation ms}/{19-digit order seq}/{id}`
/// ascending, so certificates created in one millisecond keep their creation order, and
/// `{list}/d/{TIME_MAX - creation ms}/{SEQ_MAX - order seq}/{id}`, its exact reverse.
/// Certificates stored before the order seq was kept have `{ms}/{id}` and
/// `{TIME_MAX - ms}/{id with each hex digit complemented}/{id}` instead. Lists:
/// [`ALL_CERTS`], `ca:{caCertificateId}` (see [`ca_list`]) and `cacert` (CA certificates).
pub(crate) const CERT_ORDER: &str = "cert-order";
const ALL_CERTS: &str = "cert";
const TIME_MAX: i64 = 9_999_999_999_999;
/// Store sequences are PostgreSQL BIGINTs: 19 digits at most.
const SEQ_MAX: u64 = i64::MAX as u64;

pub(crate) fn ca_list(ca_id: &str) -> String {
    format!("ca:{ca_id}")
}

/// The two order entries of the certificate `core` in `list`, written (`put`) or removed
/// with their resource.
pub(crate) fn order_writes(list: &str, core: &CertificateCore, put: bool) -> [Write; 2] {
    let (created_ms, id) = (core.created_ms, &core.id);
    let (asc, desc) = match core.order_seq {
        Some(seq) => (
            format!("{list}/a/{created_ms:013}/{seq:019}/{id}"),
            format!(
                "{list}/d/{:013}/{:019}/{id}",
                TIME_MAX - created_ms,
                SEQ_MAX.saturating_sub(seq)
            ),
        ),
        None => (
            format!("{list}/a/{created_ms:013}/{id}"),
            format!(
                "{list}/d/{:013}/{}/{id}",
                TIME_MAX - created_ms,
                complement_hex(id)
            ),
        ),
    };
    [asc, desc].map(|key| {
        if put {
            Write::put(CERT_ORDER, &key, Expect::Any, LINK_DOC.into())
        } else {
            Write::delete(CERT_ORDER, &key, Expect::Any)
        }
    })
}

/// `0` ↔ `f`, `1` ↔ `e`, ...: sorts hex ids in reverse.
fn complement_hex(id: &str) -> String {
    id.chars()
        .map(|c| match c.to_digit(16) {
            Some(d) => char::from_digit(15 - d, 16).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// A certificate id as given (the model allows upper case) in the form ids are stored.
pub(crate) fn normalise_id(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// A device certificate's ARN.
pub(crate) fn certificate_arn(scope: &Scope, id: &str) -> String {
    scope.arn(&format!("cert/{id}"))
}

/// A certificate that is already stored, whoever issued it, in AWS's words.
fn already_registered(scope: &Scope, id: &str) -> RegistryError {
    RegistryError::AlreadyExists {
        message: "The certificate is already provisioned or registered".into(),
        resource_id: id.to_owned(),
        resource_arn: certificate_arn(scope, id),
    }
}

fn not_found(id: &str) -> RegistryError {
    RegistryError::NotFound(format!("The certificate {id} does not exist."))
}

/// DeleteCertificate and DeleteCACertificate of an ACTIVE certificate, in AWS's words.
pub(crate) fn still_active(id: &str) -> RegistryError {
    RegistryError::CertificateState(format!(
        "Certificate must be deactivated (not ACTIVE) before deletion. Id: {id}"
    ))
}

fn initial_status(set_as_active: Option<bool>) -> CertStatus {
    if set_as_active.unwrap_or(false) {
        CertStatus::Active
    } else {
        CertStatus::Inactive
    }
}

pub(crate) fn now_secs() -> i64 {
    now_ms() / 1000
}

/// The principal key of a certificate (see `kinds`): policies and things attach to it.
pub(crate) fn principal(id: &str) -> String {
    Principal::Certificate(id.to_owned()).key()
}

/// A certificate about to be stored: where it came from decides the rest of its document.
pub(crate) struct NewCertificate {
    pub parsed: ParsedCert,
    pub status: CertStatus,
    pub mode: CertMode,
    pub ca_certificate_id: Option<String>,
}

impl Registry {
    /// Stores a new certificate with its order entries, and its link to its CA, whose
    /// existence the batch checks (and whose attachment guard it bumps, so that a racing
    /// DeleteCACertificate re-reads). An existing certificate of the same id is AWS's
    /// ResourceAlreadyExistsException. Returns the id. No live connection can use a
    /// certificate that did not exist, so this is no authorization change.
    pub(crate) async fn store_new_certificate(
        &self,
        scope: &Scope,
        new: NewCertificate,
    ) -> Result<String, RegistryError> {
        let id = new.parsed.id.clone();
        let order_seq = self.store.next_sequence().await?;
        self.retry(|| async {
            if self.store.get(CERTIFICATE, &id).await?.is_some() {
                return Err(already_registered(scope, &id));
            }
            let doc = CertificateDoc {
                core: CertificateCore::new(scope, &new.parsed, new.mode, order_seq),
                status: new.status,
                ca_certificate_id: new.ca_certificate_id.clone(),
            };
            let mut writes = vec![Write::put(CERTIFICATE, &id, Expect::Absent, encode(&doc))];
            writes.extend(order_writes(ALL_CERTS, &doc.core, true));
            if let Some(ca) = &new.ca_certificate_id {
                writes.push(Write::check(CA_CERTIFICATE, ca, Expect::Present));
                writes.push(Guard::touch_any(CA_CERTIFICATE, ca));
                writes.push(Write::put(
                    CA_CERT,
                    &kinds::link(ca, &id),
                    Expect::Any,
                    LINK_DOC.into(),
                ));
                writes.extend(order_writes(&ca_list(ca), &doc.core, true));
            }
            Ok((writes, json!({})))
        })
        .await?;
        Ok(id)
    }

    /// Runs one of the issuer's blocking calls on the blocking pool.
    async fn issue<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn CertificateIssuer) -> Result<T, IssueError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let issuer: Arc<dyn CertificateIssuer> = self.issuer.clone();
        tokio::task::spawn_blocking(move || call(issuer.as_ref()))
            .await
            .map_err(|e| {
                RegistryError::ServiceUnavailable(format!("certificate issuing failed: {e}"))
            })?
            .map_err(RegistryError::from)
    }

    /// A certificate Ferrite's CA just issued.
    async fn store_issued(
        &self,
        scope: &Scope,
        pem: &str,
        status: CertStatus,
    ) -> Result<(String, ParsedCert), RegistryError> {
        let parsed = parse_pem(pem, "issued certificate").map_err(|e| {
            RegistryError::ServiceUnavailable(format!("the issued certificate is unusable: {e}"))
        })?;
        let new = NewCertificate {
            parsed: parsed.clone(),
            status,
            mode: CertMode::Default,
            ca_certificate_id: None,
        };
        let id = self.store_new_certificate(scope, new).await?;
        Ok((certificate_arn(scope, &id), parsed))
    }

    pub async fn create_keys_and_certificate(
        &self,
        scope: &Scope,
        req: CreateKeysAndCertificate,
    ) -> Result<Output, RegistryError> {
        let keys = self.issue(|i| i.create_keys_and_certificate()).await?;
        let (arn, parsed) = self
            .store_issued(
                scope,
                &keys.certificate_pem,
                initial_status(req.set_as_active),
            )
            .await?;
        Ok(json!({
            "certificateArn": arn,
            "certificateId": parsed.id,
            "certificatePem": parsed.pem,
            "keyPair": {"PublicKey": keys.public_key_pem, "PrivateKey": keys.private_key_pem},
        }))
    }

    pub async fn create_certificate_from_csr(
        &self,
        scope: &Scope,
        req: CreateCertificateFromCsr,
    ) -> Result<Output, RegistryError> {
        let csr = req.certificate_signing_request;
        let pem = self.issue(move |i| i.sign_csr(&csr)).await?;
        let (arn, parsed) = self
            .store_issued(scope, &pem, initial_status(req.set_as_active))
            .await?;
        Ok(json!({
            "certificateArn": arn,
            "certificateId": parsed.id,
            "certificatePem": parsed.pem,
        }))
    }

    /// Fleet provisioning's CreateKeysAndCertificate (no `csr`) and CreateCertificateFromCsr:
    /// the certificate starts PENDING_ACTIVATION, a status no caller can set, until a
    /// provisioning template sets its own. The output is the control-plane operation's.
    pub async fn issue_pending_activation(
        &self,
        scope: &Scope,
        csr: Option<String>,
    ) -> Result<Output, RegistryError> {
        let (pem, key_pair) = match csr {
            Some(csr) => (self.issue(move |i| i.sign_csr(&csr)).await?, None),
            None => {
                let keys = self.issue(|i| i.create_keys_and_certificate()).await?;
                let pair =
                    json!({"PublicKey": keys.public_key_pem, "PrivateKey": keys.private_key_pem});
                (keys.certificate_pem, Some(pair))
            }
        };
        let (arn, parsed) = self
            .store_issued(scope, &pem, CertStatus::PendingActivation)
            .await?;
        let mut out = json!({
            "certificateArn": arn,
            "certificateId": parsed.id,
            "certificatePem": parsed.pem,
        });
        if let Some(pair) = key_pair {
            out["keyPair"] = pair;
        }
        Ok(out)
    }

    pub async fn register_certificate(
        &self,
        scope: &Scope,
        req: RegisterCertificate,
    ) -> Result<Output, RegistryError> {
        let parsed = parse_valid_pem(&req.certificate_pem, "certificate", now_secs())?;
        let status = if req.set_as_active == Some(true) {
            CertStatus::Active
        } else {
            settable(req.status.unwrap_or(CertStatus::Inactive))?
        };
        // A known certificate is refused as such before its issuer is looked for: one that
        // Ferrite's own CA issued has no registered CA to find.
        if self.store.get(CERTIFICATE, &parsed.id).await?.is_some() {
            return Err(already_registered(scope, &parsed.id));
        }
        let ca = match &req.ca_certificate_pem {
            Some(ca_pem) => self.named_signing_ca(&parsed, ca_pem).await?,
            None => self.only_signing_ca(&parsed).await?,
        };
        let new = NewCertificate {
            parsed,
            status,
            mode: ca.mode,
            ca_certificate_id: Some(ca.id),
        };
        self.store_registered(scope, new).await
    }

    pub async fn register_certificate_without_ca(
        &self,
        scope: &Scope,
        req: RegisterCertificateWithoutCa,
    ) -> Result<Output, RegistryError> {
        let parsed = parse_valid_pem(&req.certificate_pem, "certificate", now_secs())?;
        let new = NewCertificate {
            parsed,
            status: settable(req.status.unwrap_or(CertStatus::Inactive))?,
            mode: CertMode::SniOnly,
            ca_certificate_id: None,
        };
        self.store_registered(scope, new).await
    }

    /// RegisterCertificate(WithoutCA)'s certificate stored, and their output.
    async fn store_registered(
        &self,
        scope: &Scope,
        new: NewCertificate,
    ) -> Result<Output, RegistryError> {
        let id = self.store_new_certificate(scope, new).await?;
        Ok(json!({"certificateArn": certificate_arn(scope, &id), "certificateId": id}))
    }

    async fn certificate(&self, id: &str) -> Result<(CertificateDoc, u64), RegistryError> {
        self.get::<CertificateDoc>(CERTIFICATE, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn describe_certificate(
        &self,
        scope: &Scope,
        req: CertificateId,
    ) -> Result<Output, RegistryError> {
        let (c, _) = self.certificate(&normalise_id(&req.certificate_id)).await?;
        let arn = certificate_arn(scope, &c.core.id);
        let mut description = c.core.description(arn, c.status.as_str());
        description["transferData"] = json!({});
        if let Some(ca) = &c.ca_certificate_id {
            description["caCertificateId"] = json!(ca);
        }
        Ok(json!({ "certificateDescription": description }))
    }

    /// One page of the ids in `list`, in creation-date order (newest first unless
    /// `ascendingOrder`), after the marker's position.
    async fn ordered_ids(
        &self,
        list: &str,
        page: &MarkerPage,
    ) -> Result<(Vec<String>, Option<String>), RegistryError> {
        let limit = page.limit();
        let ascending = page.ascending_order.unwrap_or(false);
        let prefix = format!("{list}/{}/", if ascending { "a" } else { "d" });
        let after = token::decode_marker(page.marker.as_deref())?;
        if after.as_ref().is_some_and(|a| !a.starts_with(&prefix)) {
            return Err(RegistryError::InvalidRequest(
                "The marker does not belong to this listing.".into(),
            ));
        }
        let batch = self
            .store
            .list(CERT_ORDER, &prefix, after.as_deref(), limit + 1)
            .await?;
        let mut keys: Vec<&str> = batch.records.iter().map(|r| r.key.as_str()).collect();
        let more = keys.len() > limit || batch.next_after.is_some();
        keys.truncate(limit);
        let next = if more {
            keys.last().map(|k| token::encode_marker(k))
        } else {
            None
        };
        let ids = keys
            .iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_owned))
            .collect();
        Ok((ids, next))
    }

    /// A page of a certificate listing (ListCertificates, ListCertificatesByCA,
    /// ListCACertificates): the records of `kind` whose ids `list` orders, each rendered by
    /// `render` (`None` for one a filter rejects), under `certificates`.
    pub(crate) async fn certificate_listing<T: DeserializeOwned>(
        &self,
        kind: &str,
        list: &str,
        page: &MarkerPage,
        mut render: impl FnMut(T) -> Option<Output>,
    ) -> Result<Output, RegistryError> {
        let (ids, next) = self.ordered_ids(list, page).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            // Deleted since the order entry was read.
            if let Some((doc, _)) = self.get::<T>(kind, &id).await? {
                items.extend(render(doc));
            }
        }
        Ok(token::marker_listing("certificates", items, next))
    }

    pub async fn list_certificates(
        &self,
        scope: &Scope,
        req: ListCertificates,
    ) -> Result<Output, RegistryError> {
        self.device_certificates(scope, ALL_CERTS, &req).await
    }

    pub async fn list_certificates_by_ca(
        &self,
        scope: &Scope,
        req: ListCertificatesByCa,
    ) -> Result<Output, RegistryError> {
        let list = ca_list(&normalise_id(&req.ca_certificate_id));
        self.device_certificates(scope, &list, &req.page).await
    }

    /// The device certificates of `list`, as ListCertificates returns them.
    async fn device_certificates(
        &self,
        scope: &Scope,
        list: &str,
        page: &MarkerPage,
    ) -> Result<Output, RegistryError> {
        self.certificate_listing(CERTIFICATE, list, page, |c: CertificateDoc| {
            let arn = certificate_arn(scope, &c.core.id);
            let mut item = c.core.list_item(arn, c.status.as_str());
            item["certificateMode"] = json!(c.core.mode.as_str());
            Some(item)
        })
        .await
    }

    pub async fn update_certificate(
        &self,
        req: UpdateCertificate,
    ) -> Result<Output, RegistryError> {
        let id = normalise_id(&req.certificate_id);
        let new_status = settable(req.new_status)?;
        let changed = || {
            vec![RegistryChange::CertificateStatusChanged {
                certificate_id: id.clone(),
                status: new_status,
            }]
        };
        self.retry_announcing(changed, || async {
            let (mut c, version) = self.certificate(&id).await?;
            if c.status == new_status {
                return Ok((Vec::new(), json!({})));
            }
            match c.status {
                // AWS: "Once a certificate is revoked, its status can't be changed."
                CertStatus::Revoked => {
                    return Err(RegistryError::CertificateState(format!(
                        "The certificate {id} is revoked; its status cannot be changed."
                    )));
                }
                CertStatus::PendingTransfer => {
                    return Err(RegistryError::CertificateState(format!(
                        "The certificate {id} is pending transfer; its status cannot be changed."
                    )));
                }
                _ => {}
            }
            c.status = new_status;
            c.core.changed();
            let write = Write::put(CERTIFICATE, &id, Expect::Version(version), encode(&c));
            Ok((vec![write], json!({})))
        })
        .await
    }

    pub async fn delete_certificate(
        &self,
        scope: &Scope,
        req: DeleteCertificate,
    ) -> Result<Output, RegistryError> {
        let id = normalise_id(&req.certificate_id);
        let principal = principal(&id);
        let arn = certificate_arn(scope, &id);
        let deleted = || {
            vec![RegistryChange::CertificateDeleted {
                certificate_id: id.clone(),
            }]
        };
        self.retry_announcing(deleted, || async {
            // Attachments (policies, things) bump this guard; reading it before the links
            // makes a racing attachment conflict with the delete rather than dangle.
            let guard = self.guard(CERTIFICATE, &id).await?;
            let (c, version) = self.certificate(&id).await?;
            match c.status {
                CertStatus::Active => return Err(still_active(&id)),
                CertStatus::PendingTransfer => {
                    return Err(RegistryError::CertificateState(format!(
                        "The certificate {id} is pending transfer and cannot be deleted."
                    )));
                }
                _ => {}
            }
            if self
                .has_links(kinds::PRINCIPAL_THING, &principal, 1)
                .await?
            {
                return Err(RegistryError::DeleteConflict(format!(
                    "Things must be detached before deletion (arn: {arn})"
                )));
            }
            let policies = self.linked(kinds::TARGET_POLICY, &principal).await?;
            if !policies.is_empty() && !req.force_delete {
                return Err(RegistryError::DeleteConflict(format!(
                    "Certificate policies must be detached before deletion (arn: {arn})"
                )));
            }
            let mut writes = vec![
                Write::delete(CERTIFICATE, &id, Expect::Version(version)),
                guard.release(),
            ];
            writes.extend(order_writes(ALL_CERTS, &c.core, false));
            if let Some(ca) = &c.ca_certificate_id {
                writes.push(Write::delete(CA_CERT, &kinds::link(ca, &id), Expect::Any));
                writes.extend(order_writes(&ca_list(ca), &c.core, false));
            }
            // forceDelete: AWS detaches the policies with the certificate.
            writes.extend(policies.iter().flat_map(|p| unlink_policy(p, &principal)));
            Ok((writes, json!({})))
        })
        .await
    }

    /// The certificate `certificate_id` (AWS id, any case) as device authentication needs
    /// it, with its CA's status; `None` when it is not registered.
    pub async fn certificate_for_auth(
        &self,
        certificate_id: &str,
    ) -> Result<Option<CertificateAuth>, RegistryError> {
        let id = normalise_id(certificate_id);
        let Some((c, _)) = self.get::<CertificateDoc>(CERTIFICATE, &id).await? else {
            return Ok(None);
        };
        let ca_status = match &c.ca_certificate_id {
            Some(ca) => self.ca_certificate_status(ca).await?,
            None => None,
        };
        Ok(Some(CertificateAuth {
            status: c.status,
            ca_certificate_id: c.ca_certificate_id,
            ca_status,
            mode: c.core.mode.as_str().to_owned(),
            certificate_pem: c.core.pem,
        }))
    }
}

#[cfg(test)]
mod tests;
