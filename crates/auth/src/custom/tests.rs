//! The runtime against real authorizer endpoints: a small HTTP server on 127.0.0.1:0 per test
//! records the events it receives and answers what the test tells it to.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::keys::tests::{OTHER_PUBLIC, PUBLIC, sign};
use super::*;

const POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// What the endpoint answers and what it has received.
struct Endpoint {
    reply: Mutex<(StatusCode, String)>,
    events: Mutex<Vec<Value>>,
}

impl Endpoint {
    fn answer(&self, status: StatusCode, body: impl Into<String>) {
        *self.reply.lock() = (status, body.into());
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().clone()
    }

    fn calls(&self) -> usize {
        self.events.lock().len()
    }
}

async fn handle(State(endpoint): State<Arc<Endpoint>>, body: Bytes) -> (StatusCode, String) {
    endpoint
        .events
        .lock()
        .push(serde_json::from_slice(&body).expect("the event is JSON"));
    endpoint.reply.lock().clone()
}

fn allow() -> String {
    json!({
        "isAuthenticated": true,
        "principalId": "device7",
        "policyDocuments": [POLICY],
        "disconnectAfterInSeconds": 86_400,
        "refreshAfterInSeconds": 600,
    })
    .to_string()
}

/// An endpoint answering [`allow`], and its URL.
async fn endpoint() -> (Arc<Endpoint>, String) {
    let endpoint = Arc::new(Endpoint {
        reply: Mutex::new((StatusCode::OK, allow())),
        events: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/authorize", post(handle))
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/authorize", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, url)
}

fn signed_authorizer(url: &str) -> Authorizer {
    Authorizer {
        name: "Signed".into(),
        version: 1,
        function_arn: url.into(),
        token_key_name: Some("tok".into()),
        signing_disabled: false,
        signing_keys: vec![
            SigningKey::from_pem(OTHER_PUBLIC).unwrap(),
            SigningKey::from_pem(PUBLIC).unwrap(),
        ],
        enable_caching_for_http: false,
    }
}

fn unsigned_authorizer(url: &str) -> Authorizer {
    Authorizer {
        name: "Unsigned".into(),
        signing_disabled: true,
        signing_keys: Vec::new(),
        ..signed_authorizer(url)
    }
}

/// An MQTT CONNECT carrying name, signature and token in the user name, as the SDKs send it.
fn mqtt_input(token: &str) -> CustomAuthInput {
    let sig =
        percent_encoding::utf8_percent_encode(&sign(token), percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    CustomAuthInput {
        tls: true,
        server_name: Some("localhost".into()),
        mqtt: Some(MqttCredentials {
            username: Some(format!(
                "alice?x-amz-customauthorizer-name=Signed&x-amz-customauthorizer-signature={sig}\
                 &tok={token}&SDK=PythonV2&Version=1.25.0"
            )),
            password: Some(b"pw".to_vec()),
            client_id: Some("dev-1".into()),
        }),
        ..CustomAuthInput::default()
    }
}

fn invoker() -> Invoker {
    Invoker::new(Default::default())
}

#[tokio::test]
async fn a_signed_mqtt_connect_sends_aws_event_and_returns_the_policies() {
    let (endpoint, url) = endpoint().await;
    let input = mqtt_input("tok123");
    assert_eq!(input.authorizer_name().as_deref(), Some("Signed"));
    let outcome = invoker()
        .authorize(&signed_authorizer(&url), &input)
        .await
        .unwrap();
    assert_eq!(outcome.authorizer_name, "Signed");
    assert_eq!(outcome.principal_id, "device7");
    assert_eq!(outcome.policies.len(), 1);
    assert_eq!(outcome.policies[0].document(), POLICY);
    assert_eq!(outcome.disconnect_after, Duration::from_secs(86_400));
    assert_eq!(outcome.refresh_after, Duration::from_secs(600));

    let events = endpoint.events();
    assert_eq!(events.len(), 1);
    let mut event = events[0].clone();
    let id = event["connectionMetadata"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    event["connectionMetadata"]["id"] = json!("ID");
    let username = input.mqtt.as_ref().unwrap().username.clone().unwrap();
    assert_eq!(
        event,
        json!({
            "token": "tok123",
            "signatureVerified": true,
            "protocols": ["tls", "mqtt"],
            "protocolData": {
                "tls": {"serverName": "localhost"},
                "mqtt": {"username": username, "password": "cHc=", "clientId": "dev-1"},
            },
            "connectionMetadata": {"id": "ID"},
        })
    );
}

#[tokio::test]
async fn a_bad_or_missing_signature_never_reaches_the_function() {
    let (endpoint, url) = endpoint().await;
    let authorizer = signed_authorizer(&url);
    let invoker = invoker();

    let mut wrong_token = mqtt_input("tok123");
    wrong_token.token = Some("another".into());
    assert_eq!(
        invoker
            .authorize(&authorizer, &wrong_token)
            .await
            .unwrap_err(),
        CustomAuthError::BadSignature
    );

    let unsigned = CustomAuthInput {
        token: Some("tok123".into()),
        ..CustomAuthInput::default()
    };
    assert_eq!(
        invoker.authorize(&authorizer, &unsigned).await.unwrap_err(),
        CustomAuthError::MissingSignature
    );

    let no_token = CustomAuthInput {
        signature: Some(sign("tok123")),
        ..CustomAuthInput::default()
    };
    assert_eq!(
        invoker.authorize(&authorizer, &no_token).await.unwrap_err(),
        CustomAuthError::MissingToken(Some("tok".into()))
    );

    let foreign_key = Authorizer {
        signing_keys: vec![SigningKey::from_pem(OTHER_PUBLIC).unwrap()],
        ..authorizer
    };
    assert_eq!(
        invoker
            .authorize(&foreign_key, &mqtt_input("tok123"))
            .await
            .unwrap_err(),
        CustomAuthError::BadSignature
    );
    assert_eq!(endpoint.calls(), 0);
}

#[tokio::test]
async fn signing_disabled_passes_user_name_and_password_through_unverified() {
    let (endpoint, url) = endpoint().await;
    let input = CustomAuthInput {
        tls: true,
        mqtt: Some(MqttCredentials {
            username: Some("bob?SDK=PythonV2&Version=1.25.0".into()),
            password: Some(b"s3cret".to_vec()),
            client_id: None,
        }),
        ..CustomAuthInput::default()
    };
    invoker()
        .authorize(&unsigned_authorizer(&url), &input)
        .await
        .unwrap();
    let event = &endpoint.events()[0];
    assert_eq!(event.get("token"), None);
    assert_eq!(event["signatureVerified"], json!(false));
    assert_eq!(event["protocols"], json!(["tls", "mqtt"]));
    assert_eq!(event["protocolData"]["tls"], json!({}));
    assert_eq!(
        event["protocolData"]["mqtt"],
        json!({"username": "bob?SDK=PythonV2&Version=1.25.0", "password": "czNjcmV0"})
    );
}

#[tokio::test]
async fn a_websocket_token_in_headers_is_verified_and_the_headers_forwarded() {
    let (endpoint, url) = endpoint().await;
    let input = CustomAuthInput {
        tls: true,
        http_headers: Some(vec![
            ("host".into(), "localhost".into()),
            ("x-amz-customauthorizer-name".into(), "Signed".into()),
            ("x-amz-customauthorizer-signature".into(), sign("hdr-token")),
            ("TOK".into(), "hdr-token".into()),
        ]),
        query_string: Some("a=1".into()),
        mqtt: Some(MqttCredentials {
            client_id: Some("ws-1".into()),
            ..MqttCredentials::default()
        }),
        ..CustomAuthInput::default()
    };
    invoker()
        .authorize(&signed_authorizer(&url), &input)
        .await
        .unwrap();
    let event = &endpoint.events()[0];
    assert_eq!(event["token"], json!("hdr-token"));
    assert_eq!(event["protocols"], json!(["tls", "http", "mqtt"]));
    assert_eq!(event["protocolData"]["http"]["queryString"], json!("?a=1"));
    assert_eq!(
        event["protocolData"]["http"]["headers"]["TOK"],
        json!("hdr-token")
    );
}

#[tokio::test]
async fn refusals_and_broken_answers_refuse_the_client() {
    let (endpoint, url) = endpoint().await;
    let authorizer = unsigned_authorizer(&url);
    let input = CustomAuthInput {
        token: Some("t".into()),
        ..CustomAuthInput::default()
    };
    let invoker = invoker();

    endpoint.answer(StatusCode::OK, r#"{"isAuthenticated": false}"#);
    assert_eq!(
        invoker.authorize(&authorizer, &input).await.unwrap_err(),
        CustomAuthError::NotAuthenticated
    );
    let answer = invoker.test_invoke(&authorizer, &input).await.unwrap();
    assert!(!answer.is_authenticated);

    endpoint.answer(
        StatusCode::OK,
        json!({"isAuthenticated": true, "principalId": "p-1", "policyDocuments": [],
               "disconnectAfterInSeconds": 300, "refreshAfterInSeconds": 300})
        .to_string(),
    );
    assert_eq!(
        invoker.authorize(&authorizer, &input).await.unwrap_err(),
        CustomAuthError::InvalidResponse(
            "principalId must be 1 to 128 alphanumeric characters".into()
        )
    );

    endpoint.answer(StatusCode::OK, "not json");
    assert!(matches!(
        invoker.authorize(&authorizer, &input).await.unwrap_err(),
        CustomAuthError::InvalidResponse(m) if m.contains("not JSON")
    ));

    endpoint.answer(StatusCode::INTERNAL_SERVER_ERROR, allow());
    assert_eq!(
        invoker.authorize(&authorizer, &input).await.unwrap_err(),
        CustomAuthError::FunctionFailed(500)
    );
    // Nothing of the above was cached: every attempt reached the function.
    assert_eq!(endpoint.calls(), 5);
    assert_eq!(invoker.cached(), 0);
}

#[tokio::test]
async fn answers_are_cached_per_authorizer_version_and_credentials() {
    let (endpoint, url) = endpoint().await;
    let invoker = invoker();
    let authorizer = signed_authorizer(&url);

    invoker
        .authorize(&authorizer, &mqtt_input("t1"))
        .await
        .unwrap();
    let again = invoker
        .authorize(&authorizer, &mqtt_input("t1"))
        .await
        .unwrap();
    assert_eq!(again.principal_id, "device7");
    assert_eq!(endpoint.calls(), 1);

    // Another token, another password, or a changed authorizer ask the function again.
    invoker
        .authorize(&authorizer, &mqtt_input("t2"))
        .await
        .unwrap();
    assert_eq!(endpoint.calls(), 2);
    let mut other_password = mqtt_input("t1");
    other_password.mqtt.as_mut().unwrap().password = Some(b"other".to_vec());
    invoker
        .authorize(&authorizer, &other_password)
        .await
        .unwrap();
    assert_eq!(endpoint.calls(), 3);
    let updated = Authorizer {
        version: 2,
        ..authorizer.clone()
    };
    invoker
        .authorize(&updated, &mqtt_input("t1"))
        .await
        .unwrap();
    assert_eq!(endpoint.calls(), 4);

    // The cache never skips the signature check.
    let mut forged = mqtt_input("t1");
    forged.signature = Some(sign("t2"));
    assert_eq!(
        invoker.authorize(&authorizer, &forged).await.unwrap_err(),
        CustomAuthError::BadSignature
    );

    // TestInvokeAuthorizer always calls the function.
    invoker
        .test_invoke(&authorizer, &mqtt_input("t1"))
        .await
        .unwrap();
    assert_eq!(endpoint.calls(), 5);
}

#[tokio::test]
async fn plain_http_requests_are_cached_only_when_the_authorizer_allows_it() {
    let (endpoint, url) = endpoint().await;
    let invoker = invoker();
    let input = CustomAuthInput {
        http_request: true,
        tls: true,
        http_headers: Some(vec![("tok".into(), "h".into())]),
        ..CustomAuthInput::default()
    };
    let authorizer = unsigned_authorizer(&url);
    invoker.authorize(&authorizer, &input).await.unwrap();
    invoker.authorize(&authorizer, &input).await.unwrap();
    assert_eq!(endpoint.calls(), 2);

    let caching = Authorizer {
        enable_caching_for_http: true,
        ..authorizer
    };
    invoker.authorize(&caching, &input).await.unwrap();
    invoker.authorize(&caching, &input).await.unwrap();
    assert_eq!(endpoint.calls(), 3);

    // Without a token or MQTT credentials nothing identifies the client: never cached.
    let anonymous = CustomAuthInput {
        http_request: true,
        http_headers: Some(vec![("cookie".into(), "x".into())]),
        ..CustomAuthInput::default()
    };
    invoker.authorize(&caching, &anonymous).await.unwrap();
    invoker.authorize(&caching, &anonymous).await.unwrap();
    assert_eq!(endpoint.calls(), 5);
}

#[tokio::test]
async fn a_function_that_never_answers_times_out() {
    // Accepts connections and never reads or answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = held_tx.send(socket);
        }
    });
    let timeout = Duration::from_millis(200);
    let invoker = Invoker::with_limits(Default::default(), timeout, 16);
    let input = CustomAuthInput {
        token: Some("t".into()),
        ..CustomAuthInput::default()
    };
    let err = invoker
        .authorize(&unsigned_authorizer(&url), &input)
        .await
        .unwrap_err();
    assert_eq!(err, CustomAuthError::Timeout(timeout));
    assert!(err.is_unavailable());
    // The connection was really made (and then given up on).
    assert!(held_rx.recv().await.is_some());
}

#[tokio::test]
async fn unknown_and_unreachable_functions_are_unavailable() {
    let invoker = invoker();
    let input = CustomAuthInput {
        token: Some("t".into()),
        ..CustomAuthInput::default()
    };
    let lambda = "arn:aws:lambda:us-east-1:123456789012:function:my-auth";
    let err = invoker
        .authorize(&unsigned_authorizer(lambda), &input)
        .await
        .unwrap_err();
    assert_eq!(err, CustomAuthError::UnknownFunction(lambda.into()));
    assert!(err.is_unavailable());

    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = invoker
        .authorize(&unsigned_authorizer(&format!("http://{closed}/")), &input)
        .await
        .unwrap_err();
    assert!(matches!(err, CustomAuthError::Unreachable(_)), "{err}");
    assert!(err.is_unavailable());
    assert!(!CustomAuthError::BadSignature.is_unavailable());
}

#[tokio::test]
async fn the_functions_table_maps_lambda_arns_and_names_to_urls() {
    let (endpoint, url) = endpoint().await;
    let invoker = Invoker::new(
        [
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:by-arn".to_owned(),
                url.clone(),
            ),
            ("by-name".to_owned(), url.clone()),
        ]
        .into(),
    );
    let input = CustomAuthInput {
        token: Some("t".into()),
        ..CustomAuthInput::default()
    };
    for arn in [
        "arn:aws:lambda:eu-west-1:123456789012:function:by-arn",
        "arn:aws:lambda:us-east-1:999999999999:function:by-name",
        "arn:aws:lambda:us-east-1:999999999999:function:by-name:prod",
        "by-name",
    ] {
        assert_eq!(invoker.function_url(arn).unwrap(), url, "{arn}");
        invoker
            .test_invoke(&unsigned_authorizer(arn), &input)
            .await
            .unwrap();
    }
    assert_eq!(endpoint.calls(), 4);
    assert!(
        invoker
            .function_url("arn:aws:s3:::function:by-name")
            .is_err()
    );
}

#[tokio::test]
async fn https_functions_must_present_a_trusted_certificate() {
    use rustls_pki_types::PrivatePkcs8KeyDer;

    let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![self_signed.cert.der().clone()],
        PrivatePkcs8KeyDer::from(self_signed.signing_key.serialize_der()).into(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // The client refuses the certificate, so the handshake fails here too.
            let _ = acceptor.accept(tcp).await;
        }
    });
    let input = CustomAuthInput {
        token: Some("t".into()),
        ..CustomAuthInput::default()
    };
    let url = format!("https://localhost:{port}/authorize");
    let err = invoker()
        .authorize(&unsigned_authorizer(&url), &input)
        .await
        .unwrap_err();
    match err {
        CustomAuthError::Unreachable(m) => {
            assert!(m.contains("TLS") && m.contains("certificate"), "{m}")
        }
        e => panic!("{e:?}"),
    }
}
