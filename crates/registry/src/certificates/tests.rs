//! Device and CA certificates over a real embedded store, with Ferrite's real CA as the
//! issuer and test CAs made with rcgen.

use std::sync::Arc;

use ferrite_storage::{Expect, Write};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use super::*;
use crate::ca_certificates::{
    AutoRegistration, ListCaCertificates, RegisterCaCertificate, UpdateCaCertificate,
};
use crate::kinds;
use crate::test_support::{Fixture, announced};
use ferrite_types::{CaStatus, RegistryChange, certificate_id};

/// Ferrite's CA behind the issuer trait, as the server wires it.
struct TestIssuer(ferrite_transport::CaMaterial);

impl CertificateIssuer for TestIssuer {
    fn create_keys_and_certificate(&self) -> Result<IssuedKeys, IssueError> {
        let k = self
            .0
            .issue_keys_and_certificate()
            .map_err(|e| IssueError::Unavailable(e.to_string()))?;
        Ok(IssuedKeys {
            certificate_pem: k.certificate_pem,
            public_key_pem: k.public_key_pem,
            private_key_pem: k.private_key_pem,
        })
    }

    fn sign_csr(&self, csr_pem: &str) -> Result<String, IssueError> {
        self.0
            .sign_csr(csr_pem)
            .map_err(|e| IssueError::InvalidRequest(e.to_string()))
    }
}

/// The shared fixture, with Ferrite's CA (made in the fixture's directory) as the issuer.
fn fixture() -> Fixture {
    let mut f = Fixture::new();
    let ca = ferrite_transport::ensure_ca(&f.dir.path().join("data"), &[]).unwrap();
    f.r = f.r.with_issuer(Arc::new(TestIssuer(ca)));
    f
}

/// A self-signed CA of the user's, to register.
fn user_ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A leaf with common name `cn` signed by `ca`, as PEM.
fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, cn: &str) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .signed_by(&KeyPair::generate().unwrap(), ca)
        .unwrap()
        .pem()
}

fn id_of(pem: &str) -> String {
    crate::x509::parse_pem(pem, "certificate").unwrap().id
}

fn register_ca_req(ca_pem: &str, verification: Option<String>) -> RegisterCaCertificate {
    RegisterCaCertificate {
        ca_certificate: ca_pem.into(),
        verification_certificate: verification,
        set_as_active: Some(true),
        allow_auto_registration: None,
        registration_config: None,
        tags: Vec::new(),
        certificate_mode: None,
    }
}

/// These tests' steps, on the shared fixture.
impl Fixture {
    async fn code(&self) -> String {
        let out = self.r.get_registration_code().await.unwrap();
        out["registrationCode"].as_str().unwrap().to_owned()
    }

    /// Registers `ca` in DEFAULT mode with a proper verification certificate.
    async fn register_ca(&self, ca: &CertifiedIssuer<'static, KeyPair>) -> String {
        let verification = leaf(ca, &self.code().await);
        let out = self
            .r
            .register_ca_certificate(&self.scope, register_ca_req(&ca.pem(), Some(verification)))
            .await
            .unwrap();
        out["certificateId"].as_str().unwrap().to_owned()
    }

    async fn register(&self, pem: &str, ca_pem: Option<&str>) -> Result<Output, RegistryError> {
        let req = RegisterCertificate {
            certificate_pem: pem.into(),
            ca_certificate_pem: ca_pem.map(str::to_owned),
            set_as_active: None,
            status: None,
        };
        self.r.register_certificate(&self.scope, req).await
    }

    async fn describe(&self, id: &str) -> Value {
        let req = CertificateId {
            certificate_id: id.into(),
        };
        self.r.describe_certificate(&self.scope, req).await.unwrap()["certificateDescription"]
            .clone()
    }

    async fn set_status(&self, id: &str, s: CertStatus) -> Result<Output, RegistryError> {
        let req = UpdateCertificate {
            certificate_id: id.into(),
            new_status: s,
        };
        self.r.update_certificate(req).await
    }

    async fn delete(&self, id: &str, force: bool) -> Result<Output, RegistryError> {
        let req = DeleteCertificate {
            certificate_id: id.into(),
            force_delete: force,
        };
        self.r.delete_certificate(&self.scope, req).await
    }

    async fn new_keys(&self, active: bool) -> Value {
        let req = CreateKeysAndCertificate {
            set_as_active: Some(active),
        };
        self.r
            .create_keys_and_certificate(&self.scope, req)
            .await
            .unwrap()
    }

    async fn link(&self, kind: &str, key: &str) {
        let w = Write::put(kind, key, Expect::Any, kinds::LINK_DOC.into());
        self.r.store.write(vec![w]).await.unwrap();
    }
}

#[tokio::test]
async fn created_keys_and_certificate_describe_as_aws_does() {
    let f = fixture();
    let out = f.new_keys(false).await;
    let pem = out["certificatePem"].as_str().unwrap();
    let id = out["certificateId"].as_str().unwrap();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(id, certificate_id(der.as_ref()));
    assert_eq!(
        out["certificateArn"],
        json!(format!("arn:aws:iot:eu-west-1:123456789012:cert/{id}"))
    );
    assert!(
        out["keyPair"]["PrivateKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert!(
        out["keyPair"]["PublicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let d = f.describe(&id.to_ascii_uppercase()).await;
    assert_eq!(d["certificateId"], json!(id));
    assert_eq!(d["status"], json!("INACTIVE"));
    assert_eq!(d["certificateMode"], json!("DEFAULT"));
    assert_eq!(d["ownedBy"], json!("123456789012"));
    assert_eq!(d["customerVersion"], json!(1));
    assert_eq!(d["transferData"], json!({}));
    assert_eq!(d["certificatePem"], json!(pem));
    // 2049-12-31T23:59:59Z, as AWS-issued certificates.
    assert_eq!(d["validity"]["notAfter"], json!(2_524_607_999.0));
    assert!(d.get("caCertificateId").is_none());
}

#[tokio::test]
async fn csr_certificates_keep_the_requested_subject() {
    let f = fixture();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "sensor-1");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let req = CreateCertificateFromCsr {
        certificate_signing_request: csr,
        set_as_active: Some(true),
    };
    let out =
        f.r.create_certificate_from_csr(&f.scope, req)
            .await
            .unwrap();
    let id = out["certificateId"].as_str().unwrap();
    assert_eq!(f.describe(id).await["status"], json!("ACTIVE"));
    let pem = out["certificatePem"].as_str().unwrap();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    assert_eq!(cert.subject().to_string(), "CN=sensor-1");

    let bad = CreateCertificateFromCsr {
        certificate_signing_request: "garbage".into(),
        set_as_active: None,
    };
    assert!(matches!(
        f.r.create_certificate_from_csr(&f.scope, bad).await,
        Err(RegistryError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn without_an_issuer_creation_is_service_unavailable() {
    let mut f = fixture();
    f.r = f.r.with_issuer(Arc::new(NoIssuer));
    let req = CreateKeysAndCertificate::default();
    assert!(matches!(
        f.r.create_keys_and_certificate(&f.scope, req).await,
        Err(RegistryError::ServiceUnavailable(_))
    ));
}

#[tokio::test]
async fn status_rules_pending_states_and_revocation_are_final() {
    let f = fixture();
    let id = f.new_keys(false).await["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    for s in [CertStatus::PendingTransfer, CertStatus::PendingActivation] {
        assert!(matches!(
            f.set_status(&id, s).await,
            Err(RegistryError::InvalidRequest(_))
        ));
    }
    let mut changes = f.r.subscribe_changes();
    let status = |status| {
        vec![RegistryChange::CertificateStatusChanged {
            certificate_id: id.clone(),
            status,
        }]
    };
    f.set_status(&id, CertStatus::Active).await.unwrap();
    assert_eq!(announced(&mut changes), status(CertStatus::Active));
    // Idempotent: same status, nothing written, nobody re-authorised.
    f.set_status(&id, CertStatus::Active).await.unwrap();
    assert_eq!(announced(&mut changes), []);
    assert_eq!(f.describe(&id).await["customerVersion"], json!(2));
    f.set_status(&id, CertStatus::Revoked).await.unwrap();
    f.set_status(&id, CertStatus::Revoked).await.unwrap();
    assert_eq!(announced(&mut changes), status(CertStatus::Revoked));
    for s in [CertStatus::Active, CertStatus::Inactive] {
        assert!(matches!(
            f.set_status(&id, s).await,
            Err(RegistryError::CertificateState(_))
        ));
    }
    let missing = "a".repeat(64);
    assert!(matches!(
        f.set_status(&missing, CertStatus::Active).await,
        Err(RegistryError::NotFound(_))
    ));
}

#[tokio::test]
async fn delete_refuses_active_and_attached_certificates() {
    let f = fixture();
    let id = f.new_keys(true).await["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(matches!(
        f.delete(&id, true).await,
        Err(RegistryError::CertificateState(_))
    ));
    f.set_status(&id, CertStatus::Inactive).await.unwrap();
    let p = principal(&id);
    f.link(kinds::PRINCIPAL_THING, &kinds::link(&p, "thing-1"))
        .await;
    // Attached to a thing: refused even with forceDelete.
    for force in [false, true] {
        assert!(matches!(
            f.delete(&id, force).await,
            Err(RegistryError::DeleteConflict(_))
        ));
    }
    let w = Write::delete(
        kinds::PRINCIPAL_THING,
        &kinds::link(&p, "thing-1"),
        Expect::Any,
    );
    f.r.store.write(vec![w]).await.unwrap();
    f.link(kinds::TARGET_POLICY, &kinds::link(&p, "pol")).await;
    f.link(kinds::POLICY_TARGET, &kinds::link("pol", &p)).await;
    assert!(matches!(
        f.delete(&id, false).await,
        Err(RegistryError::DeleteConflict(_))
    ));
    // forceDelete detaches the policies with the certificate.
    f.delete(&id, true).await.unwrap();
    assert!(f.r.certificate_for_auth(&id).await.unwrap().is_none());
    assert!(
        f.r.linked(kinds::TARGET_POLICY, &p)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.r.linked(kinds::POLICY_TARGET, "pol")
            .await
            .unwrap()
            .is_empty()
    );
    let listed = f.r.list_certificates(&f.scope, ListCertificates::default());
    assert_eq!(listed.await.unwrap()["certificates"], json!([]));
    assert!(matches!(
        f.delete(&id, false).await,
        Err(RegistryError::NotFound(_))
    ));
}

#[tokio::test]
async fn listings_follow_creation_date_with_markers() {
    let f = fixture();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            f.new_keys(false).await["certificateId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = |marker: Option<String>, ascending| ListCertificates {
        page_size: Some(2),
        marker,
        ascending_order: Some(ascending),
    };
    let listed_ids = |out: &Value| -> Vec<String> {
        out["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["certificateId"].as_str().unwrap().to_owned())
            .collect()
    };
    // Creation-date order, ties (certificates created in the same millisecond) in creation
    // order: a stable sort by date of the ids as created.
    let mut dated = Vec::new();
    for id in &ids {
        dated.push((
            f.describe(id).await["creationDate"].as_f64().unwrap(),
            id.clone(),
        ));
    }
    dated.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let ids: Vec<String> = dated.into_iter().map(|(_, id)| id).collect();
    for ascending in [true, false] {
        let mut expected = ids.clone();
        if !ascending {
            expected.reverse();
        }
        let first =
            f.r.list_certificates(&f.scope, page(None, ascending))
                .await
                .unwrap();
        assert_eq!(listed_ids(&first), expected[..2]);
        let marker = first["nextMarker"].as_str().unwrap().to_owned();
        let second =
            f.r.list_certificates(&f.scope, page(Some(marker.clone()), ascending))
                .await
                .unwrap();
        assert_eq!(listed_ids(&second), expected[2..]);
        assert!(second.get("nextMarker").is_none());
        // A marker of one order means nothing in the other.
        let other =
            f.r.list_certificates(&f.scope, page(Some(marker), !ascending))
                .await;
        assert!(matches!(other, Err(RegistryError::InvalidRequest(_))));
    }
    let item =
        &f.r.list_certificates(&f.scope, ListCertificates::default())
            .await
            .unwrap()["certificates"][0];
    assert_eq!(item["status"], json!("INACTIVE"));
    assert_eq!(item["certificateMode"], json!("DEFAULT"));
    assert!(item["creationDate"].is_f64());
}

#[tokio::test]
async fn registration_code_is_stable_until_deleted() {
    let f = fixture();
    let code = f.code().await;
    assert_eq!(code.len(), 64);
    assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(f.code().await, code);
    f.r.delete_registration_code().await.unwrap();
    assert!(matches!(
        f.r.delete_registration_code().await,
        Err(RegistryError::NotFound(_))
    ));
    assert_ne!(f.code().await, code);
}

#[tokio::test]
async fn ca_registration_needs_proof_of_possession_in_default_mode() {
    let f = fixture();
    let ca = user_ca("Test CA");
    let register = |verification: Option<String>, mode| {
        let mut req = register_ca_req(&ca.pem(), verification);
        req.certificate_mode = mode;
        f.r.register_ca_certificate(&f.scope, req)
    };
    assert!(matches!(
        register(None, None).await,
        Err(RegistryError::InvalidRequest(_))
    ));
    // No registration code yet.
    assert!(matches!(
        register(Some(leaf(&ca, "whatever")), None).await,
        Err(RegistryError::RegistrationCodeValidation(_))
    ));
    let code = f.code().await;
    assert!(matches!(
        register(Some(leaf(&ca, "not-the-code")), None).await,
        Err(RegistryError::RegistrationCodeValidation(_))
    ));
    assert!(matches!(
        register(Some(leaf(&user_ca("Other"), &code)), None).await,
        Err(RegistryError::CertificateValidation(_))
    ));
    assert!(matches!(
        register(Some(leaf(&ca, &code)), Some(CertMode::SniOnly)).await,
        Err(RegistryError::InvalidRequest(_))
    ));
    let not_a_ca = leaf(&ca, "leaf");
    let req = register_ca_req(&not_a_ca, Some(leaf(&ca, &code)));
    assert!(matches!(
        f.r.register_ca_certificate(&f.scope, req).await,
        Err(RegistryError::CertificateValidation(_))
    ));

    let out = register(Some(leaf(&ca, &code)), None).await.unwrap();
    let id = out["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(id, certificate_id(ca.der()));
    assert_eq!(
        out["certificateArn"],
        json!(format!("arn:aws:iot:eu-west-1:123456789012:cacert/{id}"))
    );
    match register(Some(leaf(&ca, &code)), None).await {
        Err(RegistryError::AlreadyExists {
            resource_id,
            resource_arn,
            ..
        }) => {
            assert_eq!(resource_id, id);
            assert!(resource_arn.ends_with(&format!("cacert/{id}")));
        }
        other => panic!("{other:?}"),
    }
    let d =
        f.r.describe_ca_certificate(
            &f.scope,
            CertificateId {
                certificate_id: id.clone(),
            },
        )
        .await
        .unwrap();
    let d = &d["certificateDescription"];
    assert_eq!(d["status"], json!("ACTIVE"));
    assert_eq!(d["autoRegistrationStatus"], json!("DISABLE"));
    assert_eq!(d["certificateMode"], json!("DEFAULT"));
}

#[tokio::test]
async fn sni_only_cas_register_without_verification() {
    let f = fixture();
    let ca = user_ca("SNI CA");
    let mut req = register_ca_req(&ca.pem(), None);
    req.certificate_mode = Some(CertMode::SniOnly);
    let ca_id = f.r.register_ca_certificate(&f.scope, req).await.unwrap()["certificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    let device = leaf(&ca, "d1");
    let out = f.register(&device, None).await.unwrap();
    let d = f.describe(out["certificateId"].as_str().unwrap()).await;
    assert_eq!(d["certificateMode"], json!("SNI_ONLY"));
    assert_eq!(d["caCertificateId"], json!(ca_id));
}

#[tokio::test]
async fn device_certificates_register_under_their_registered_ca() {
    let f = fixture();
    let ca = user_ca("Fleet CA");
    let device = leaf(&ca, "device-1");
    // Not registered yet: either way of naming the CA fails validation.
    for named in [None, Some(ca.pem())] {
        assert!(matches!(
            f.register(&device, named.as_deref()).await,
            Err(RegistryError::CertificateValidation(_))
        ));
    }
    let ca_id = f.register_ca(&ca).await;
    let other = user_ca("Other CA");
    f.register_ca(&other).await;
    assert!(matches!(
        f.register(&device, Some(&other.pem())).await,
        Err(RegistryError::CertificateValidation(_))
    ));
    let out = f.register(&device, None).await.unwrap();
    let id = out["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(id, id_of(&device));
    assert_eq!(f.describe(&id).await["caCertificateId"], json!(ca_id));
    assert_eq!(f.describe(&id).await["status"], json!("INACTIVE"));
    assert!(matches!(
        f.register(&device, Some(&ca.pem())).await,
        Err(RegistryError::AlreadyExists { .. })
    ));
    let second = leaf(&ca, "device-2");
    f.register(&second, Some(&ca.pem())).await.unwrap();
    let by_ca =
        f.r.list_certificates_by_ca(
            &f.scope,
            ListCertificatesByCa {
                ca_certificate_id: ca_id.clone(),
                page: MarkerPage {
                    ascending_order: Some(true),
                    ..MarkerPage::default()
                },
            },
        )
        .await
        .unwrap();
    let listed: Vec<&str> = by_ca["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificateId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str(), id_of(&second).as_str()]);

    let auth = f.r.certificate_for_auth(&id).await.unwrap().unwrap();
    assert_eq!(auth.ca_certificate_id.as_deref(), Some(ca_id.as_str()));
    assert_eq!(auth.ca_status, Some(CaStatus::Active));
    assert_eq!(auth.status, CertStatus::Inactive);
    assert_eq!(auth.mode, "DEFAULT");

    // A CA is deleted only when INACTIVE and without registered device certificates.
    let delete_ca = || {
        f.r.delete_ca_certificate(CertificateId {
            certificate_id: ca_id.clone(),
        })
    };
    assert!(matches!(
        delete_ca().await,
        Err(RegistryError::CertificateState(_))
    ));
    let deactivate = UpdateCaCertificate {
        certificate_id: ca_id.clone(),
        new_status: Some(CaStatus::Inactive),
        new_auto_registration_status: None,
        registration_config: None,
        remove_auto_registration: false,
    };
    f.r.update_ca_certificate(deactivate).await.unwrap();
    let auth = f.r.certificate_for_auth(&id).await.unwrap().unwrap();
    assert_eq!(auth.ca_status, Some(CaStatus::Inactive));
    assert!(matches!(
        delete_ca().await,
        Err(RegistryError::CertificateState(m)) if m.contains("device certificates")
    ));
    f.delete(&id, false).await.unwrap();
    f.delete(&id_of(&second), false).await.unwrap();
    delete_ca().await.unwrap();
    let cas =
        f.r.list_ca_certificates(&f.scope, ListCaCertificates::default())
            .await
            .unwrap();
    assert_eq!(cas["certificates"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn expired_certificates_are_refused() {
    let f = fixture();
    let ca = user_ca("Old CA");
    let mut params = CertificateParams::default();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let old = params
        .signed_by(&KeyPair::generate().unwrap(), &ca)
        .unwrap()
        .pem();
    let req = RegisterCertificateWithoutCa {
        certificate_pem: old,
        status: None,
    };
    assert!(matches!(
        f.r.register_certificate_without_ca(&f.scope, req).await,
        Err(RegistryError::CertificateValidation(m)) if m.contains("expired")
    ));
}

#[tokio::test]
async fn just_in_time_registration_needs_an_active_enabled_ca() {
    let f = fixture();
    let ca = user_ca("JITR CA");
    let ca_id = f.register_ca(&ca).await;
    let device = leaf(&ca, "jitr-1");
    // Auto-registration is off by default.
    assert_eq!(
        f.r.auto_register_certificate(&f.scope, &device)
            .await
            .unwrap(),
        None
    );
    let enable = UpdateCaCertificate {
        certificate_id: ca_id.clone(),
        new_status: None,
        new_auto_registration_status: Some(AutoRegistration::Enable),
        registration_config: None,
        remove_auto_registration: false,
    };
    f.r.update_ca_certificate(enable).await.unwrap();
    assert_eq!(
        f.r.auto_register_certificate(&f.scope, &device)
            .await
            .unwrap(),
        Some(CertStatus::PendingActivation)
    );
    let d = f.describe(&id_of(&device)).await;
    assert_eq!(d["status"], json!("PENDING_ACTIVATION"));
    assert_eq!(d["caCertificateId"], json!(ca_id));
    // Registered now: nothing more to do.
    assert_eq!(
        f.r.auto_register_certificate(&f.scope, &device)
            .await
            .unwrap(),
        None
    );
    // A certificate from an unknown CA, or garbage, is simply not registered.
    let stranger = leaf(&user_ca("Stranger"), "x");
    assert_eq!(
        f.r.auto_register_certificate(&f.scope, &stranger)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.r.auto_register_certificate(&f.scope, "nope")
            .await
            .unwrap(),
        None
    );
    // The device's certificate is then activated as for any PENDING_ACTIVATION one.
    f.set_status(&id_of(&device), CertStatus::Active)
        .await
        .unwrap();
}

#[test]
fn descending_order_is_the_exact_reverse_of_ascending() {
    let core = |created_ms: i64, order_seq: Option<u64>, id: &str| CertificateCore {
        id: id.into(),
        pem: String::new(),
        mode: CertMode::Default,
        owned_by: String::new(),
        created_ms,
        modified_ms: created_ms,
        customer_version: 1,
        generation_id: String::new(),
        not_before: 0,
        not_after: 0,
        order_seq,
    };
    // Ties in one millisecond go by order seq, in creation order; certificates stored before
    // the order seq was kept go by id.
    let cases = [
        (
            vec![
                core(7, Some(4), "00"),
                core(5, Some(3), "0b"),
                core(5, Some(9), "0c"),
                core(5, Some(1), "f0"),
                core(5, Some(10), "0a"),
            ],
            ["f0", "0b", "0c", "0a", "00"],
        ),
        (
            vec![
                core(7, None, "00"),
                core(5, None, "0b"),
                core(5, None, "0c"),
                core(5, None, "0a"),
                core(5, None, "f0"),
            ],
            ["0a", "0b", "0c", "f0", "00"],
        ),
    ];
    for (entries, expected) in cases {
        let sorted_ids = |direction: usize| -> Vec<String> {
            let mut keys: Vec<String> = entries
                .iter()
                .map(|c| order_writes("cert", c, true)[direction].key.clone())
                .collect();
            keys.sort();
            keys.iter()
                .map(|k| k.rsplit('/').next().unwrap().to_owned())
                .collect()
        };
        let ascending = sorted_ids(0);
        assert_eq!(ascending, expected);
        let mut descending = sorted_ids(1);
        descending.reverse();
        assert_eq!(descending, ascending);
    }
}

#[tokio::test]
async fn cas_sharing_subject_and_key_must_be_named_and_are_limited_to_ten() {
    let f = fixture();
    let key_pem = KeyPair::generate().unwrap().serialize_pem();
    // The same CA re-issued: one subject and key, two certificates.
    let reissue = || {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Shared CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::from_pem(&key_pem).unwrap()).unwrap()
    };
    let (first, second) = (reissue(), reissue());
    assert_ne!(first.der(), second.der());
    f.register_ca(&first).await;
    f.register_ca(&second).await;
    let device = leaf(&first, "d");
    assert!(matches!(
        f.register(&device, None).await,
        Err(RegistryError::CertificateConflict(_))
    ));
    let out = f.register(&device, Some(&second.pem())).await.unwrap();
    let d = f.describe(out["certificateId"].as_str().unwrap()).await;
    assert_eq!(d["caCertificateId"], json!(certificate_id(second.der())));

    for _ in 2..10 {
        f.register_ca(&reissue()).await;
    }
    let eleventh = reissue();
    let verification = leaf(&eleventh, &f.code().await);
    let req = register_ca_req(&eleventh.pem(), Some(verification));
    assert!(matches!(
        f.r.register_ca_certificate(&f.scope, req).await,
        Err(RegistryError::LimitExceeded(_))
    ));
}

#[tokio::test]
async fn registering_a_certificate_ferrite_issued_is_already_registered() {
    // Ferrite's CA is no registered CA: the duplicate must be found before the CA is looked for.
    let f = fixture();
    let issued = f.new_keys(true).await;
    let pem = issued["certificatePem"].as_str().unwrap();
    let id = issued["certificateId"].as_str().unwrap();
    match f.register(pem, None).await {
        Err(RegistryError::AlreadyExists {
            message,
            resource_id,
            resource_arn,
        }) => {
            assert_eq!(
                message,
                "The certificate is already provisioned or registered"
            );
            assert_eq!(resource_id, id);
            assert_eq!(resource_arn, issued["certificateArn"].as_str().unwrap());
        }
        other => panic!("expected ResourceAlreadyExists, got {other:?}"),
    }
}

#[tokio::test]
async fn certificates_of_one_millisecond_list_in_creation_order() {
    // All in one millisecond, each certificate created after one with a greater id: an order
    // that breaks ties by id lists every pair the wrong way round.
    let f = fixture();
    let _clock = crate::test_support::pin_clock(1_700_000_000_000);
    let by_id_descending = |mut pems: Vec<String>| {
        pems.sort_by_key(|pem| std::cmp::Reverse(id_of(pem)));
        pems
    };
    let cas = {
        let a = user_ca("CA one");
        let b = user_ca("CA two");
        if id_of(&a.pem()) > id_of(&b.pem()) {
            [a, b]
        } else {
            [b, a]
        }
    };
    let mut ca_ids = Vec::new();
    for ca in &cas {
        ca_ids.push(f.register_ca(ca).await);
    }
    let devices = by_id_descending(vec![
        leaf(&cas[0], "device-1"),
        leaf(&cas[0], "device-2"),
        leaf(&cas[0], "device-3"),
    ]);
    let mut device_ids = Vec::new();
    for pem in &devices {
        let out = f.register(pem, Some(&cas[0].pem())).await.unwrap();
        device_ids.push(out["certificateId"].as_str().unwrap().to_owned());
    }
    let ids = |out: &Value| -> Vec<String> {
        out["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["certificateId"].as_str().unwrap().to_owned())
            .collect()
    };
    for ascending in [true, false] {
        let in_order = |created: &[String]| {
            let mut v = created.to_vec();
            if !ascending {
                v.reverse();
            }
            v
        };
        let page = || MarkerPage {
            ascending_order: Some(ascending),
            ..MarkerPage::default()
        };
        let by_ca = ListCertificatesByCa {
            ca_certificate_id: ca_ids[0].clone(),
            page: page(),
        };
        let listed = f.r.list_certificates_by_ca(&f.scope, by_ca).await.unwrap();
        assert_eq!(ids(&listed), in_order(&device_ids), "by CA");
        let listed = f.r.list_certificates(&f.scope, page()).await.unwrap();
        assert_eq!(ids(&listed), in_order(&device_ids), "all certificates");
        let cas = ListCaCertificates {
            page: page(),
            ..ListCaCertificates::default()
        };
        let listed = f.r.list_ca_certificates(&f.scope, cas).await.unwrap();
        assert_eq!(ids(&listed), in_order(&ca_ids), "CA certificates");
    }
}
