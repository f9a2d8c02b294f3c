//! Requests as they arrive on the wire, and signing them with the real `aws-sigv4` crate.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use ferrite_auth::sigv4::{Payload, SecretKey, SigV4Error, SignedRequest, Verified, Verifier};
use http::HeaderMap;

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE+token/with=chars";

/// 2024-01-01T12:00:00Z, the instant every fixture is signed at.
pub const NOON: u64 = 1_704_110_400;

pub fn at(unix_seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds)
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub fn verifier() -> Verifier<HashMap<String, SecretKey>> {
    verifier_with_secret(SECRET)
}

pub fn verifier_with_secret(secret: &str) -> Verifier<HashMap<String, SecretKey>> {
    Verifier::new(HashMap::from([(AKID.to_owned(), SecretKey::new(secret))]))
}

/// A request exactly as a client put it on the wire.
#[derive(Clone, Debug)]
pub struct WireRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl WireRequest {
    /// `target` is the request target, `path?query`.
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: map,
            body: body.to_vec(),
        }
    }

    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    pub fn set_header(&mut self, name: &'static str, value: &str) {
        self.headers.insert(name, value.parse().unwrap());
    }

    pub fn signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            payload: Payload::Bytes(&self.body),
        }
    }

    pub fn verify_at(&self, now: SystemTime) -> Result<Verified, SigV4Error> {
        verifier().verify(&self.signed(), now)
    }
}

/// How to sign with `aws-sigv4`.
#[derive(Clone, Debug)]
pub struct Signing {
    pub region: &'static str,
    pub service: &'static str,
    pub time: SystemTime,
    pub session_token: Option<&'static str>,
    /// `Some` presigns into the query with this `X-Amz-Expires`.
    pub presign_expires: Option<Duration>,
    /// Presigned form only: leave the token out of the signature, as AWS IoT wants.
    pub exclude_session_token: bool,
    pub unsigned_payload: bool,
}

impl Signing {
    pub fn iot() -> Self {
        Self {
            region: "eu-west-1",
            service: "iot",
            time: at(NOON),
            session_token: None,
            presign_expires: None,
            exclude_session_token: false,
            unsigned_payload: false,
        }
    }

    pub fn presigned(expires: Duration) -> Self {
        Self {
            region: "us-east-1",
            service: "iotdevicegateway",
            presign_expires: Some(expires),
            ..Self::iot()
        }
    }

    /// Signs `request` the way the AWS SDK for Rust would and returns what it would send.
    pub fn sign(&self, request: &WireRequest) -> WireRequest {
        let mut settings = SigningSettings::default();
        if let Some(expires) = self.presign_expires {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires);
        }
        if self.exclude_session_token {
            settings.session_token_mode = SessionTokenMode::Exclude;
        }
        let identity = Credentials::new(
            AKID,
            SECRET,
            self.session_token.map(str::to_owned),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let target = request.target();
        let body = if self.unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&request.body)
        };
        let signable = SignableRequest::new(
            &request.method,
            target.as_str(),
            request
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.to_str().unwrap())),
            body,
        )
        .unwrap();
        let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();

        let mut outgoing = http::Request::builder()
            .method(request.method.as_str())
            .uri(target.as_str())
            .body(())
            .unwrap();
        *outgoing.headers_mut() = request.headers.clone();
        instructions.apply_to_request_http1x(&mut outgoing);
        WireRequest {
            method: request.method.clone(),
            path: outgoing.uri().path().to_owned(),
            query: outgoing.uri().query().unwrap_or_default().to_owned(),
            headers: outgoing.headers().clone(),
            body: request.body.clone(),
        }
    }
}

/// The value of the first query parameter named `name`, still encoded.
pub fn raw_query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}
