//! The in-process API for router tests: the real router (SigV4, routing, model validation,
//! dispatch, AWS error shapes) over an embedded store in a temp dir, called with requests
//! signed by the AWS SDK for Rust's signer.

// Tests spawn helper servers and sign with real time: the lint policy is for the server's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::body::Body;
use ferrite_auth::sigv4::{SecretKey, Verifier};
use ferrite_http_api::{ApiState, router};
use ferrite_registry::{EndpointConfig, Registry};
use ferrite_storage_embedded::{SqliteOptions, SqliteStore, Synchronous};
use serde_json::Value;
use tower::ServiceExt;

pub const AKID: &str = "AKIAFERRITETEST00001";
pub const SECRET: &str = "ferrite/test/secret/0000000000000000000000";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

pub struct Api {
    app: axum::Router,
    /// The topic rule service behind the API, not running: a test that needs confirmation
    /// requests sent takes and runs it.
    pub rules_service: Option<ferrite_rules_service::RulesService>,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub error_type: Option<String>,
    pub body: Value,
}

impl Reply {
    /// The status and AWS error type, for asserting on failures in one line.
    pub fn error(&self) -> (u16, Option<&str>) {
        (self.status, self.error_type.as_deref())
    }
}

pub fn api() -> Api {
    api_with(false)
}

/// The API, with the reset hook on or off.
pub fn api_with(test_hooks: bool) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("ferrite.db"),
        SqliteOptions {
            synchronous: Synchronous::Off,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let store = Arc::new(store);
    let rules_service = ferrite_rules_service::RulesService::new(store.clone());
    let provisioning = ferrite_provisioning_service::ProvisioningTemplates::new(store.clone());
    let registry = Registry::new(store.clone(), EndpointConfig::localhost())
        .with_taggable(ferrite_rules_service::TAGGABLE)
        .with_taggable(ferrite_provisioning_service::TAGGABLE)
        .with_taggable(ferrite_jobs_service::JOB_TAGGABLE)
        .with_taggable(ferrite_jobs_service::TEMPLATE_TAGGABLE);
    let jobs = ferrite_jobs_service::Jobs::new(store, registry.clone());
    let fleet = ferrite_provisioning_service::FleetProvisioning::new(
        registry.clone(),
        provisioning.clone(),
        ferrite_registry::Scope {
            region: REGION.into(),
            account: ACCOUNT.into(),
        },
        Default::default(),
    );
    let bulk = ferrite_provisioning_service::BulkRegistration::new(
        fleet.clone(),
        ferrite_provisioning_service::Buckets {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        },
    );
    let keys = HashMap::from([(AKID.to_owned(), SecretKey::new(SECRET))]);
    let state = ApiState {
        verifier: Verifier::new(keys),
        account_id: ACCOUNT.into(),
        registry,
        rules: rules_service.rules(),
        provisioning,
        fleet,
        bulk,
        jobs,
        test_hooks,
        data: None,
    };
    Api {
        app: router(Arc::new(state)),
        rules_service: Some(rules_service),
        _dir: dir,
    }
}

/// `arn:aws:iot:{REGION}:{ACCOUNT}:{resource}`.
pub fn arn(resource: &str) -> String {
    format!("arn:aws:iot:{REGION}:{ACCOUNT}:{resource}")
}

/// Percent-encodes a query-string value as botocore does (everything but unreserved).
pub fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Api {
    pub async fn send(&self, request: http::Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Reply {
            status,
            error_type,
            body,
        }
    }

    /// Signs like an AWS SDK for the `iot` service in [`REGION`].
    pub async fn call(&self, method: &str, target: &str, body: &str) -> Reply {
        self.call_as("iot", SECRET, method, target, body).await
    }

    /// Signs like an AWS SDK for `service` in [`REGION`] with `secret`.
    pub async fn call_as(
        &self,
        service: &str,
        secret: &str,
        method: &str,
        target: &str,
        body: &str,
    ) -> Reply {
        self.call_with(service, secret, method, target, &[], body)
            .await
    }

    /// [`Api::call_as`] with `extra` headers (signed too).
    pub async fn call_with(
        &self,
        service: &str,
        secret: &str,
        method: &str,
        target: &str,
        extra: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let identity = Credentials::new(AKID, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("http://localhost{target}");
        let mut headers = vec![("host", "localhost"), ("content-type", "application/json")];
        headers.extend_from_slice(extra);
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder().method(method).uri(target);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        self.send(request).await
    }

    /// [`Api::call`] with a JSON body; `null` sends none.
    pub async fn json(&self, method: &str, target: &str, body: Value) -> Reply {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.call(method, target, &body).await
    }

    /// A call that must succeed; its body.
    pub async fn ok(&self, method: &str, target: &str, body: Value) -> Value {
        let r = self.json(method, target, body).await;
        assert_eq!(r.status, 200, "{method} {target}: {:?}", r.body);
        r.body
    }
}
