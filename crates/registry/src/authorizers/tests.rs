//! Authorizer resources over a real embedded store, and the runtime against a real authorizer
//! endpoint (a small HTTP server on 127.0.0.1:0 that counts its calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;

use super::*;
use crate::test_support::{Fixture, announced};

const PUBLIC: &str = include_str!("../../../auth/src/custom/testdata/rsa2048.pub.pem");
const SMALL: &str = include_str!("../../../auth/src/custom/testdata/rsa1024.pub.pem");
const PRIVATE: &str = include_str!("../../../auth/src/custom/testdata/rsa2048.key.pem");

/// An authorizer endpoint answering `body` with `status`; returns its URL and call counter.
async fn endpoint(status: StatusCode, body: serde_json::Value) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let body = body.to_string();
    let app = Router::new().route(
        "/",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { (status, body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

fn allow() -> serde_json::Value {
    json!({
        "isAuthenticated": true,
        "principalId": "dev1",
        "policyDocuments": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}],
        "disconnectAfterInSeconds": 3600,
        "refreshAfterInSeconds": 300,
    })
}

fn create(name: &str, url: &str) -> CreateAuthorizer {
    CreateAuthorizer {
        authorizer_name: name.into(),
        authorizer_function_arn: url.into(),
        token_key_name: Some("tok".into()),
        token_signing_public_keys: Some([("k1".to_owned(), PUBLIC.to_owned())].into()),
        status: None,
        tags: Vec::new(),
        signing_disabled: false,
        enable_caching_for_http: false,
    }
}

fn unsigned(name: &str, url: &str) -> CreateAuthorizer {
    CreateAuthorizer {
        token_key_name: None,
        token_signing_public_keys: None,
        signing_disabled: true,
        ..create(name, url)
    }
}

fn named(name: &str) -> AuthorizerName {
    AuthorizerName {
        authorizer_name: name.into(),
    }
}

fn set_status(name: &str, status: AuthorizerStatus) -> UpdateAuthorizer {
    UpdateAuthorizer {
        authorizer_name: name.into(),
        authorizer_function_arn: None,
        token_key_name: None,
        token_signing_public_keys: None,
        status: Some(status),
        enable_caching_for_http: None,
    }
}

fn sign(token: &str) -> String {
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let body: String = PRIVATE
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        token.as_bytes(),
        &mut sig,
    )
    .unwrap();
    STANDARD.encode(sig)
}

fn mqtt_input(username: &str) -> CustomAuthInput {
    CustomAuthInput {
        tls: true,
        mqtt: Some(MqttCredentials {
            username: Some(username.into()),
            password: Some(b"pw".to_vec()),
            client_id: Some("c1".into()),
        }),
        ..CustomAuthInput::default()
    }
}

#[tokio::test]
async fn create_describe_update_and_the_signing_rules() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    let out = r
        .create_authorizer(s, create("A1", "http://127.0.0.1:1/"))
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"authorizerName": "A1",
               "authorizerArn": "arn:aws:iot:eu-west-1:123456789012:authorizer/A1"})
    );
    let d = r.describe_authorizer(s, named("A1")).await.unwrap()["authorizerDescription"].clone();
    assert_eq!(d["status"], json!("ACTIVE"));
    assert_eq!(d["tokenKeyName"], json!("tok"));
    assert_eq!(d["signingDisabled"], json!(false));
    assert_eq!(d["enableCachingForHttp"], json!(false));
    assert_eq!(d["tokenSigningPublicKeys"]["k1"], json!(PUBLIC));
    assert_eq!(d["creationDate"], d["lastModifiedDate"]);

    let dup = r
        .create_authorizer(s, unsigned("A1", "http://x/"))
        .await
        .unwrap_err();
    assert!(
        matches!(&dup, RegistryError::AlreadyExists { resource_arn, .. }
            if resource_arn.ends_with(":authorizer/A1")),
        "{dup:?}"
    );

    for (req, expect) in [
        (
            CreateAuthorizer {
                token_key_name: None,
                ..create("B", "http://x/")
            },
            "tokenKeyName is required when signing is enabled.",
        ),
        (
            CreateAuthorizer {
                token_signing_public_keys: None,
                ..create("B", "http://x/")
            },
            "tokenSigningPublicKeys is required when signing is enabled.",
        ),
        (
            CreateAuthorizer {
                token_signing_public_keys: Some([("small".to_owned(), SMALL.to_owned())].into()),
                ..create("B", "http://x/")
            },
            "The token signing public key small is invalid: the RSA key has 1024 bits; at \
             least 2048 are required.",
        ),
        (
            CreateAuthorizer {
                token_signing_public_keys: Some([("junk".to_owned(), "junk".to_owned())].into()),
                ..unsigned("B", "http://x/")
            },
            "The token signing public key junk is invalid: not a PEM-encoded public key.",
        ),
    ] {
        match r.create_authorizer(s, req).await.unwrap_err() {
            RegistryError::InvalidRequest(m) => assert_eq!(m, expect),
            e => panic!("{e:?}"),
        }
    }
    assert!(matches!(
        r.describe_authorizer(s, named("B")).await.unwrap_err(),
        RegistryError::NotFound(m) if m == "Authorizer B cannot be found."
    ));

    // An update is checked as a whole: removing the keys of a signing authorizer is refused.
    let strip = UpdateAuthorizer {
        token_signing_public_keys: Some(BTreeMap::new()),
        ..set_status("A1", AuthorizerStatus::Active)
    };
    assert!(matches!(
        r.update_authorizer(s, strip).await.unwrap_err(),
        RegistryError::InvalidRequest(_)
    ));
    let update = UpdateAuthorizer {
        authorizer_function_arn: Some("http://127.0.0.1:2/".into()),
        enable_caching_for_http: Some(true),
        ..set_status("A1", AuthorizerStatus::Inactive)
    };
    r.update_authorizer(s, update).await.unwrap();
    let d = r.describe_authorizer(s, named("A1")).await.unwrap()["authorizerDescription"].clone();
    assert_eq!(d["status"], json!("INACTIVE"));
    assert_eq!(d["authorizerFunctionArn"], json!("http://127.0.0.1:2/"));
    assert_eq!(d["enableCachingForHttp"], json!(true));
    assert_eq!(d["tokenKeyName"], json!("tok"));
    assert!(matches!(
        r.update_authorizer(s, set_status("nope", AuthorizerStatus::Active))
            .await
            .unwrap_err(),
        RegistryError::NotFound(_)
    ));
}

#[tokio::test]
async fn listing_filters_orders_and_pages_with_markers() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    for (name, status) in [
        ("a", AuthorizerStatus::Active),
        ("b", AuthorizerStatus::Inactive),
        ("c", AuthorizerStatus::Active),
        ("d", AuthorizerStatus::Active),
    ] {
        let req = CreateAuthorizer {
            status: Some(status),
            ..unsigned(name, "http://x/")
        };
        r.create_authorizer(s, req).await.unwrap();
    }
    let names = |out: &Output| -> Vec<String> {
        out["authorizers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["authorizerName"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |page_size, marker: Option<String>, asc, status| ListAuthorizers {
        page: MarkerPage {
            marker,
            page_size,
            ascending_order: asc,
        },
        status,
    };
    let all = r
        .list_authorizers(s, ListAuthorizers::default())
        .await
        .unwrap();
    assert_eq!(names(&all), ["a", "b", "c", "d"]);
    assert_eq!(
        all["authorizers"][0]["authorizerArn"],
        json!("arn:aws:iot:eu-west-1:123456789012:authorizer/a")
    );
    assert!(all.get("nextMarker").is_none());

    let active = r
        .list_authorizers(s, list(None, None, None, Some(AuthorizerStatus::Active)))
        .await
        .unwrap();
    assert_eq!(names(&active), ["a", "c", "d"]);

    let p1 = r
        .list_authorizers(s, list(Some(2), None, Some(false), None))
        .await
        .unwrap();
    assert_eq!(names(&p1), ["d", "c"]);
    let marker = p1["nextMarker"].as_str().unwrap().to_owned();
    assert!(
        marker
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        "{marker}"
    );
    let p2 = r
        .list_authorizers(s, list(Some(2), Some(marker), Some(false), None))
        .await
        .unwrap();
    assert_eq!(names(&p2), ["b", "a"]);
    assert!(p2.get("nextMarker").is_none());

    assert!(matches!(
        r.list_authorizers(s, list(None, Some("bm9wZQ==".into()), None, None))
            .await
            .unwrap_err(),
        RegistryError::InvalidRequest(_)
    ));
}

#[tokio::test]
async fn deletes_need_an_inactive_authorizer_that_is_not_the_default() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    r.create_authorizer(s, unsigned("A", "http://x/"))
        .await
        .unwrap();
    r.create_authorizer(s, unsigned("B", "http://x/"))
        .await
        .unwrap();

    assert!(matches!(
        r.delete_authorizer(named("A")).await.unwrap_err(),
        RegistryError::DeleteConflict(m) if m.contains("INACTIVE")
    ));
    assert!(matches!(
        r.delete_authorizer(named("missing")).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));

    // No default yet.
    assert!(matches!(
        r.describe_default_authorizer(s, NoInput {})
            .await
            .unwrap_err(),
        RegistryError::NotFound(_)
    ));
    assert!(matches!(
        r.clear_default_authorizer(NoInput {}).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    assert!(matches!(
        r.set_default_authorizer(s, named("missing"))
            .await
            .unwrap_err(),
        RegistryError::NotFound(_)
    ));

    let set = r.set_default_authorizer(s, named("A")).await.unwrap();
    assert_eq!(set["authorizerName"], json!("A"));
    // Again: nothing changes.
    r.set_default_authorizer(s, named("A")).await.unwrap();
    match r.set_default_authorizer(s, named("B")).await.unwrap_err() {
        RegistryError::AlreadyExists { resource_id, .. } => assert_eq!(resource_id, "A"),
        e => panic!("{e:?}"),
    }
    let d = r.describe_default_authorizer(s, NoInput {}).await.unwrap();
    assert_eq!(d["authorizerDescription"]["authorizerName"], json!("A"));

    r.update_authorizer(s, set_status("A", AuthorizerStatus::Inactive))
        .await
        .unwrap();
    assert!(matches!(
        r.delete_authorizer(named("A")).await.unwrap_err(),
        RegistryError::DeleteConflict(m) if m.contains("default authorizer")
    ));
    r.clear_default_authorizer(NoInput {}).await.unwrap();
    r.delete_authorizer(named("A")).await.unwrap();
    assert!(matches!(
        r.describe_authorizer(s, named("A")).await.unwrap_err(),
        RegistryError::NotFound(_)
    ));
    // The name is free again.
    r.create_authorizer(s, unsigned("A", "http://x/"))
        .await
        .unwrap();
}

#[tokio::test]
async fn writes_announce_their_changes() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    let mut changes = r.subscribe_changes();
    let a = || "A".to_owned();
    r.create_authorizer(s, unsigned("A", "http://x/"))
        .await
        .unwrap();
    assert_eq!(
        announced(&mut changes),
        [RegistryChange::AuthorizerCreated { authorizer: a() }]
    );
    r.set_default_authorizer(s, named("A")).await.unwrap();
    // Already the default: nothing written, nothing announced.
    r.set_default_authorizer(s, named("A")).await.unwrap();
    assert_eq!(
        announced(&mut changes),
        [RegistryChange::DefaultAuthorizerSet { authorizer: a() }]
    );
    r.update_authorizer(s, set_status("A", AuthorizerStatus::Inactive))
        .await
        .unwrap();
    assert_eq!(
        announced(&mut changes),
        [RegistryChange::AuthorizerUpdated { authorizer: a() }]
    );
    r.clear_default_authorizer(NoInput {}).await.unwrap();
    assert!(r.clear_default_authorizer(NoInput {}).await.is_err());
    r.delete_authorizer(named("A")).await.unwrap();
    assert_eq!(
        announced(&mut changes),
        [
            RegistryChange::DefaultAuthorizerCleared,
            RegistryChange::AuthorizerDeleted { authorizer: a() }
        ]
    );
}

#[tokio::test]
async fn connections_use_the_named_or_default_active_authorizer() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    let (url, calls) = endpoint(StatusCode::OK, allow()).await;
    r.create_authorizer(s, create("Signed", &url))
        .await
        .unwrap();
    r.create_authorizer(s, unsigned("Open", &url))
        .await
        .unwrap();

    let sig = percent_encode(&sign("t0k"));
    let named_user = format!(
        "u?x-amz-customauthorizer-name=Signed&x-amz-customauthorizer-signature={sig}&tok=t0k"
    );
    let outcome = r.authorize_custom(&mqtt_input(&named_user)).await.unwrap();
    assert_eq!(outcome.authorizer_name, "Signed");
    assert_eq!(outcome.principal_id, "dev1");
    assert_eq!(outcome.policies.len(), 1);
    assert_eq!(outcome.disconnect_after, Duration::from_secs(3600));
    // The same credentials again come from the cache.
    r.authorize_custom(&mqtt_input(&named_user)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // A forged signature never reaches the function.
    let forged = named_user.replace("tok=t0k", "tok=other");
    assert!(matches!(
        r.authorize_custom(&mqtt_input(&forged)).await.unwrap_err(),
        RegistryError::Unauthorized(_)
    ));

    // Nothing named, no default: refused; with a default, that one decides.
    let anonymous = mqtt_input("u?SDK=PythonV2&Version=1.0");
    assert!(matches!(
        r.authorize_custom(&anonymous).await.unwrap_err(),
        RegistryError::Unauthorized(m) if m.contains("no default")
    ));
    r.set_default_authorizer(s, named("Open")).await.unwrap();
    assert_eq!(
        r.authorize_custom(&anonymous)
            .await
            .unwrap()
            .authorizer_name,
        "Open"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Inactive or unknown authorizers refuse; changing an authorizer drops its cached answers.
    r.update_authorizer(s, set_status("Signed", AuthorizerStatus::Inactive))
        .await
        .unwrap();
    assert!(matches!(
        r.authorize_custom(&mqtt_input(&named_user)).await.unwrap_err(),
        RegistryError::Unauthorized(m) if m.contains("not active")
    ));
    r.update_authorizer(s, set_status("Signed", AuthorizerStatus::Active))
        .await
        .unwrap();
    r.authorize_custom(&mqtt_input(&named_user)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let unknown = mqtt_input("u?x-amz-customauthorizer-name=Nope");
    assert!(matches!(
        r.authorize_custom(&unknown).await.unwrap_err(),
        RegistryError::Unauthorized(m) if m.contains("Nope")
    ));
}

#[tokio::test]
async fn refusals_map_to_what_the_broker_needs() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    let (deny, _) = endpoint(StatusCode::OK, json!({"isAuthenticated": false})).await;
    let (broken, _) = endpoint(StatusCode::OK, json!({"isAuthenticated": "yes"})).await;
    r.create_authorizer(s, unsigned("Deny", &deny))
        .await
        .unwrap();
    r.create_authorizer(s, unsigned("Broken", &broken))
        .await
        .unwrap();
    r.create_authorizer(
        s,
        unsigned("Lambda", "arn:aws:lambda:eu-west-1:1:function:f"),
    )
    .await
    .unwrap();
    let input = |name: &str| mqtt_input(&format!("u?x-amz-customauthorizer-name={name}"));
    assert!(matches!(
        r.authorize_custom(&input("Deny")).await.unwrap_err(),
        RegistryError::Unauthorized(_)
    ));
    assert!(matches!(
        r.authorize_custom(&input("Broken")).await.unwrap_err(),
        RegistryError::InvalidResponse(_)
    ));
    assert!(matches!(
        r.authorize_custom(&input("Lambda")).await.unwrap_err(),
        RegistryError::ServiceUnavailable(m) if m.contains("[aws.functions]")
    ));

    // The functions table gives the Lambda a URL.
    let r2 = r
        .clone()
        .with_authorizer_functions([("f".to_owned(), deny)].into());
    assert!(matches!(
        r2.authorize_custom(&input("Lambda")).await.unwrap_err(),
        RegistryError::Unauthorized(_)
    ));
}

#[tokio::test]
async fn test_invoke_reports_the_functions_answer() {
    let f = Fixture::new();
    let (r, s) = (&f.r, &f.scope);
    let (url, calls) = endpoint(StatusCode::OK, allow()).await;
    r.create_authorizer(s, create("Signed", &url))
        .await
        .unwrap();
    let invoke = |token: Option<&str>, signature: Option<String>| TestInvokeAuthorizer {
        authorizer_name: "Signed".into(),
        token: token.map(str::to_owned),
        token_signature: signature,
        http_context: None,
        mqtt_context: Some(MqttContext {
            username: Some("u".into()),
            password: Some("cHc=".into()),
            client_id: Some("c".into()),
        }),
        tls_context: Some(TlsContext {
            server_name: Some("localhost".into()),
        }),
    };
    let out = r
        .test_invoke_authorizer(invoke(Some("t"), Some(sign("t"))))
        .await
        .unwrap();
    assert_eq!(out["isAuthenticated"], json!(true));
    assert_eq!(out["principalId"], json!("dev1"));
    assert_eq!(out["disconnectAfterInSeconds"], json!(3600));
    assert_eq!(out["refreshAfterInSeconds"], json!(300));
    let doc: serde_json::Value =
        serde_json::from_str(out["policyDocuments"][0].as_str().unwrap()).unwrap();
    assert_eq!(doc["Statement"][0]["Action"], json!("iot:Connect"));
    // Not cached: every test invocation calls the function.
    r.test_invoke_authorizer(invoke(Some("t"), Some(sign("t"))))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    for (token, signature) in [
        (Some("t"), Some(sign("other"))),
        (Some("t"), None),
        (None, Some(sign("t"))),
    ] {
        assert!(matches!(
            r.test_invoke_authorizer(invoke(token, signature))
                .await
                .unwrap_err(),
            RegistryError::InvalidRequest(_)
        ));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(matches!(
        r.test_invoke_authorizer(TestInvokeAuthorizer {
            authorizer_name: "missing".into(),
            ..invoke(None, None)
        })
        .await
        .unwrap_err(),
        RegistryError::NotFound(_)
    ));
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'+' => "%2B".to_owned(),
            b'/' => "%2F".to_owned(),
            b'=' => "%3D".to_owned(),
            _ => (b as char).to_string(),
        })
        .collect()
}
