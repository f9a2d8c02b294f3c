//! The http action against a real endpoint on a free port, with destinations of an in-memory
//! topic rule API confirmed as users confirm them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use ferrite_auth::sigv4::{Payload, SecretKey, SignedRequest, Verifier};
use ferrite_registry::Scope;
use ferrite_storage_memory::MemoryStore;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::engine::actions::test_job::job;
use crate::{ConfirmTopicRuleDestination, CreateTopicRuleDestination, RulesService};

const WAIT: Duration = Duration::from_secs(10);

struct Hit {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// An endpoint that answers every request with the status it is set to, and reports it.
struct Endpoint {
    base: String,
    status: Arc<AtomicU16>,
    hits: mpsc::UnboundedReceiver<Hit>,
}

impl Endpoint {
    async fn start() -> Endpoint {
        let (tx, hits) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let answer = status.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let status = StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap();
            async move {
                let _ = tx.send(Hit { uri, headers, body });
                status
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Endpoint { base, status, hits }
    }

    async fn next(&mut self) -> Hit {
        tokio::time::timeout(WAIT, self.hits.recv())
            .await
            .expect("a request within the wait")
            .unwrap()
    }
}

/// The topic rule API over a memory store, sending confirmation requests.
struct Api {
    rules: TopicRules,
    scope: Scope,
    _running: tokio_util::sync::DropGuard,
}

impl Api {
    fn start() -> Api {
        let service = RulesService::new(Arc::new(MemoryStore::new()));
        let rules = service.rules();
        let cancel = CancellationToken::new();
        tokio::spawn(service.run(cancel.clone()));
        Api {
            rules,
            scope: Scope {
                region: "eu-west-1".into(),
                account: "123456789012".into(),
            },
            _running: cancel.drop_guard(),
        }
    }

    /// Creates the destination for `url` and returns (its ARN, its confirmation token as the
    /// endpoint received it).
    async fn create_destination(&self, url: &str, endpoint: &mut Endpoint) -> (String, String) {
        let req: CreateTopicRuleDestination = serde_json::from_value(json!({
            "destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": url}}
        }))
        .unwrap();
        let out = self
            .rules
            .create_topic_rule_destination(&self.scope, "http://127.0.0.1:9", req)
            .await
            .unwrap();
        let arn = out["topicRuleDestination"]["arn"]
            .as_str()
            .unwrap()
            .to_owned();
        let confirmation = endpoint.next().await;
        let body: Value = serde_json::from_slice(&confirmation.body).unwrap();
        (arn, body["confirmationToken"].as_str().unwrap().to_owned())
    }

    async fn enable(&self, token: &str) {
        let req = ConfirmTopicRuleDestination {
            confirmation_token: token.to_owned(),
        };
        self.rules
            .confirm_topic_rule_destination(req, true)
            .await
            .unwrap();
    }

    async fn set_status(&self, arn: &str, status: &str) {
        let req = serde_json::from_value(json!({"arn": arn, "status": status})).unwrap();
        self.rules
            .update_topic_rule_destination(&self.scope, "http://127.0.0.1:9", req)
            .await
            .unwrap();
    }
}

fn no_keys() -> ForwardConfig {
    ForwardConfig::default()
}

#[tokio::test]
async fn posts_only_under_an_enabled_destination() {
    let api = Api::start();
    let mut endpoint = Endpoint::start().await;
    let hook = format!("{}/hook", endpoint.base);
    let (sql, j) = job(
        "SELECT temp FROM 'sensors/+/data'",
        "sensors/s7/data",
        br#"{"temp": 30}"#,
    );
    let config = json!({
        "url": format!("{hook}/${{topic(2)}}"),
        "confirmationUrl": hook,
        "headers": [{"key": "X-Device", "value": "${clientid()}"},
                    {"key": "Host", "value": "ignored.example"}],
        "enableBatching": false,
    });
    let action = Http::new(&config, &sql, api.rules.clone(), &no_keys()).unwrap();
    assert_eq!(action.name(), "HttpAction");
    assert_eq!(action.resource(), format!("{hook}/${{topic(2)}}"));

    let e = action.execute(&j).await.unwrap_err();
    assert!(!e.retry);
    assert!(
        e.message
            .contains(&format!("no topic rule destination exists for {hook}")),
        "{}",
        e.message
    );

    let (arn, token) = api.create_destination(&hook, &mut endpoint).await;
    let e = action.execute(&j).await.unwrap_err();
    assert!(e.message.contains("is IN_PROGRESS"), "{}", e.message);

    api.enable(&token).await;
    action.execute(&j).await.unwrap();
    let hit = endpoint.next().await;
    assert_eq!(hit.uri.path(), "/hook/s7");
    assert_eq!(hit.headers["x-device"], "dev1");
    assert_eq!(hit.headers["content-type"], "application/json");
    assert_eq!(
        hit.headers["host"],
        endpoint.base.trim_start_matches("http://")
    );
    assert_eq!(&hit.body[..], br#"{"temp":30}"#);

    // Disabled later: refused again, without a request.
    api.set_status(&arn, "DISABLED").await;
    let e = action.execute(&j).await.unwrap_err();
    assert!(e.message.contains("is DISABLED"), "{}", e.message);
    assert!(endpoint.hits.try_recv().is_err());
}

#[tokio::test]
async fn answers_are_sorted_into_retries_and_failures() {
    let api = Api::start();
    let mut endpoint = Endpoint::start().await;
    let url = format!("{}/in", endpoint.base);
    let (_, token) = api.create_destination(&url, &mut endpoint).await;
    api.enable(&token).await;
    let (sql, j) = job("SELECT * FROM 'a'", "a", b"not json");
    let config = json!({"url": url, "headers": [{"key": "content-type", "value": "text/plain"}]});
    let action = Http::new(&config, &sql, api.rules.clone(), &no_keys()).unwrap();

    action.execute(&j).await.unwrap();
    let hit = endpoint.next().await;
    assert_eq!(hit.headers["content-type"], "text/plain");
    assert_eq!(&hit.body[..], b"not json");

    endpoint.status.store(503, Ordering::SeqCst);
    let e = action.execute(&j).await.unwrap_err();
    assert!(e.retry && e.message.contains("503"), "{}", e.message);
    endpoint.status.store(429, Ordering::SeqCst);
    assert!(action.execute(&j).await.unwrap_err().retry);
    endpoint.status.store(404, Ordering::SeqCst);
    let e = action.execute(&j).await.unwrap_err();
    assert!(!e.retry && e.message.contains("404"), "{}", e.message);
}

#[tokio::test]
async fn a_url_outside_its_confirmation_url_is_refused() {
    let api = Api::start();
    let (sql, j) = job(
        "SELECT * FROM 'a'",
        "a",
        br#"{"host": "elsewhere.example"}"#,
    );
    let config = json!({"url": "http://${host}/x", "confirmationUrl": "http://${'local'}host"});
    let action = Http::new(&config, &sql, api.rules.clone(), &no_keys()).unwrap();
    let e = action.execute(&j).await.unwrap_err();
    assert!(!e.retry);
    assert!(
        e.message
            .contains("does not begin with its confirmationUrl"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn sigv4_signs_with_the_forward_keys() {
    let api = Api::start();
    let mut endpoint = Endpoint::start().await;
    let url = format!("{}/signed?x=1", endpoint.base);
    let (_, token) = api.create_destination(&url, &mut endpoint).await;
    api.enable(&token).await;
    let (sql, j) = job("SELECT * FROM 'a'", "a", br#"{"n": 1}"#);
    let config = json!({
        "url": url,
        "headers": [{"key": "x-extra", "value": "v"}],
        "auth": {"sigv4": {"signingRegion": "eu-west-1", "serviceName": "execute-api",
                           "roleArn": "arn:aws:iam::123456789012:role/r"}},
    });

    let unsigned = Http::new(&config, &sql, api.rules.clone(), &no_keys()).unwrap();
    let e = unsigned.execute(&j).await.unwrap_err();
    assert!(e.message.contains("[targets.forward]"), "{}", e.message);

    let keys = ForwardConfig {
        region: "us-east-1".into(),
        access_key_id: "AKIDFORWARD".into(),
        secret_access_key: "forward/secret".into(),
    };
    let action = Http::new(&config, &sql, api.rules.clone(), &keys).unwrap();
    action.execute(&j).await.unwrap();
    let hit = endpoint.next().await;
    let authorization = hit.headers["authorization"].to_str().unwrap();
    assert!(
        authorization.contains("/eu-west-1/execute-api/aws4_request"),
        "{authorization}"
    );
    let secrets = HashMap::from([("AKIDFORWARD".to_owned(), SecretKey::new("forward/secret"))]);
    let verified = Verifier::new(secrets)
        .verify(
            &SignedRequest {
                method: "POST",
                path: hit.uri.path(),
                query: hit.uri.query().unwrap_or(""),
                headers: &hit.headers,
                payload: Payload::Bytes(&hit.body),
            },
            SystemTime::now(),
        )
        .expect("the signature verifies");
    assert_eq!(verified.service, "execute-api");
}

#[test]
fn the_host_header_is_the_urls_authority() {
    assert_eq!(authority("http://h:8080/x?y"), Some("h:8080"));
    assert_eq!(authority("https://h"), Some("h"));
    assert_eq!(authority("https://h?q"), Some("h"));
    assert_eq!(authority("ftp://h/x"), None);
    assert_eq!(authority("http:///x"), None);
}
