//! The topic rule API over the in-memory store: rules, their tags through the registry,
//! destinations and their confirmation against a real HTTP endpoint on a free port.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use ferrite_registry::tags::{ListTagsForResource, Tag, TagResource, UntagResource};
use ferrite_registry::{EndpointConfig, Registry, Scope};
use ferrite_storage_memory::MemoryStore;
use ferrite_types::{AwsException, ChangeSubscription, Clock, Received, RegistryChange};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::*;

const API: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(10);

fn scope() -> Scope {
    Scope {
        region: "eu-west-1".into(),
        account: "123456789012".into(),
    }
}

struct Fixture {
    rules: TopicRules,
    registry: Registry,
    changes: ChangeSubscription,
    scope: Scope,
    service: Option<RulesService>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_clock(Clock::system())
    }

    fn with_clock(clock: Clock) -> Fixture {
        let store = Arc::new(MemoryStore::new());
        let service = RulesService::new(store.clone()).with_clock(clock);
        let rules = service.rules();
        let endpoints = EndpointConfig::localhost();
        let registry = Registry::new(store, endpoints).with_taggable(TAGGABLE);
        Fixture {
            changes: rules.subscribe_changes(),
            rules,
            registry,
            scope: scope(),
            service: Some(service),
        }
    }

    /// Starts sending confirmation requests; they stop when the returned token is cancelled
    /// (or dropped with the test).
    fn run_confirmations(&mut self) -> tokio_util::sync::DropGuard {
        let cancel = CancellationToken::new();
        let service = self.service.take().expect("run once");
        tokio::spawn(service.run(cancel.clone()));
        cancel.drop_guard()
    }

    fn announced(&mut self) -> Vec<RegistryChange> {
        let mut out = Vec::new();
        while let Some(received) = self.changes.try_recv() {
            match received {
                Received::Change(c) => out.push((*c).clone()),
                Received::Missed(n) => panic!("fell {n} changes behind"),
            }
        }
        out
    }

    async fn create(&self, name: &str, payload: Value) -> Result<Output, RulesError> {
        self.create_tagged(name, payload, None).await
    }

    async fn create_tagged(
        &self,
        name: &str,
        payload: Value,
        tags: Option<&str>,
    ) -> Result<Output, RulesError> {
        let req = CreateTopicRule {
            rule_name: name.into(),
            topic_rule_payload: payload,
            tags: tags.map(str::to_owned),
        };
        self.rules.create_topic_rule(&self.scope, API, req).await
    }

    async fn get(&self, name: &str) -> Result<Output, RulesError> {
        let req = RuleName {
            rule_name: name.into(),
        };
        self.rules.get_topic_rule(&self.scope, req).await
    }

    async fn list(&self, req: ListTopicRules) -> Output {
        self.rules.list_topic_rules(&self.scope, req).await.unwrap()
    }

    async fn names(&self, req: ListTopicRules) -> Vec<String> {
        let out = self.list(req).await;
        out["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ruleName"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn tags(&self, arn: &str) -> Value {
        let req = ListTagsForResource {
            resource_arn: arn.into(),
            next_token: None,
        };
        self.registry
            .list_tags_for_resource(&self.scope, req)
            .await
            .unwrap()["tags"]
            .clone()
    }

    async fn create_destination(&self, url: &str) -> Result<Output, RulesError> {
        let req: CreateTopicRuleDestination = serde_json::from_value(json!({
            "destinationConfiguration": {"httpUrlConfiguration": {"confirmationUrl": url}}
        }))
        .unwrap();
        self.rules
            .create_topic_rule_destination(&self.scope, API, req)
            .await
    }

    async fn destination(&self, arn: &str) -> Result<Value, RulesError> {
        let req = DestinationArn { arn: arn.into() };
        let out = self
            .rules
            .get_topic_rule_destination(&self.scope, req)
            .await?;
        Ok(out["topicRuleDestination"].clone())
    }

    async fn status(&self, arn: &str) -> String {
        self.destination(arn).await.unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn update(&self, arn: &str, status: &str) -> Result<Output, RulesError> {
        let req: UpdateTopicRuleDestination =
            serde_json::from_value(json!({"arn": arn, "status": status})).unwrap();
        self.rules
            .update_topic_rule_destination(&self.scope, API, req)
            .await
    }

    async fn confirm(&self, token: &str, enable: bool) -> Result<Output, RulesError> {
        let req = ConfirmTopicRuleDestination {
            confirmation_token: token.into(),
        };
        self.rules.confirm_topic_rule_destination(req, enable).await
    }
}

fn rule_arn(name: &str) -> String {
    format!("arn:aws:iot:eu-west-1:123456789012:rule/{name}")
}

fn republish_rule(sql: &str) -> Value {
    json!({
        "sql": sql,
        "actions": [{"republish": {"roleArn": "arn:aws:iam::123456789012:role/r", "topic": "out/${topic(2)}"}}],
    })
}

fn denied(r: Result<Output, RulesError>) -> String {
    match r {
        Err(e @ RulesError::Denied(_)) => {
            assert_eq!(e.exception_name(), "UnauthorizedException");
            e.to_string()
        }
        other => panic!("{other:?}"),
    }
}

fn invalid(r: Result<Output, RulesError>) -> String {
    match r {
        Err(RulesError::InvalidRequest(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_rule_reads_back_as_aws_reports_it() {
    let mut f = Fixture::new();
    let payload = json!({
        "sql": "SELECT temp FROM 'sensors/+/data' WHERE temp > 30",
        "description": "hot",
        "actions": [{"republish": {"roleArn": "arn:aws:iam::123456789012:role/r", "topic": "alerts", "qos": 1}}],
        "errorAction": {"sqs": {"roleArn": "arn:aws:iam::123456789012:role/r", "queueUrl": "https://sqs/q"}},
        "awsIotSqlVersion": "2016-03-23",
    });
    f.create("hot", payload.clone()).await.unwrap();
    assert_eq!(
        f.announced(),
        [RegistryChange::TopicRuleCreated { rule: "hot".into() }]
    );
    let out = f.get("hot").await.unwrap();
    assert_eq!(out["ruleArn"], json!(rule_arn("hot")));
    let rule = &out["rule"];
    assert!(rule["createdAt"].as_f64().unwrap() > 1.6e9);
    let mut expected = json!({
        "ruleName": "hot",
        "sql": payload["sql"],
        "description": "hot",
        "actions": payload["actions"],
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "errorAction": payload["errorAction"],
    });
    expected["createdAt"] = rule["createdAt"].clone();
    assert_eq!(*rule, expected);

    // Defaults AWS fills in; no description or error action when none was given.
    f.create("plain", json!({"sql": "SELECT * FROM 'a'", "actions": []}))
        .await
        .unwrap();
    let plain = f.get("plain").await.unwrap()["rule"].clone();
    assert_eq!(plain["awsIotSqlVersion"], "2015-10-08");
    assert_eq!(plain["ruleDisabled"], false);
    assert_eq!(plain["actions"], json!([]));
    assert!(plain.get("description").is_none() && plain.get("errorAction").is_none());

    // What the engine reads.
    let stored = f.rules.rule("hot").await.unwrap().unwrap();
    assert_eq!(stored.topic_pattern.as_deref(), Some("sensors/+/data"));
    assert_eq!(
        stored.sql_version(),
        ferrite_rules_sql::SqlVersion::V2016_03_23
    );
    assert_eq!(stored.actions().len(), 1);
    assert!(stored.error_action().is_some());
    let all: Vec<String> = f
        .rules
        .all_rules()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(all, ["hot", "plain"]);
}

#[tokio::test]
async fn duplicates_bad_sql_and_missing_rules_answer_as_aws() {
    let mut f = Fixture::new();
    f.create("r1", republish_rule("SELECT * FROM 'a/+'"))
        .await
        .unwrap();
    match f.create("r1", republish_rule("SELECT * FROM 'b'")).await {
        Err(e @ RulesError::AlreadyExists { .. }) => {
            assert_eq!(e.exception_name(), "ResourceAlreadyExistsException");
            assert_eq!(e.exception_fields()["resourceArn"], json!(rule_arn("r1")));
        }
        other => panic!("{other:?}"),
    }
    match f.create("r2", republish_rule("SELECT * FROM a/b")).await {
        Err(e @ RulesError::SqlParse(_)) => assert_eq!(e.exception_name(), "SqlParseException"),
        other => panic!("{other:?}"),
    }
    assert!(f.rules.rule("r2").await.unwrap().is_none());
    let unsupported = json!({"sql": "SELECT * FROM 'a'", "actions": [{"iotEvents": {"inputName": "i", "roleArn": "r"}}]});
    assert!(invalid(f.create("r3", unsupported).await).contains("iotEvents"));
    assert_eq!(
        f.announced(),
        [RegistryChange::TopicRuleCreated { rule: "r1".into() }]
    );

    let name = || RuleName {
        rule_name: "nope".into(),
    };
    assert_eq!(
        denied(f.get("nope").await),
        "Access to topic rule 'nope' was denied"
    );
    denied(f.rules.delete_topic_rule(name()).await);
    denied(f.rules.enable_topic_rule(name()).await);
    denied(f.rules.disable_topic_rule(name()).await);
    let replace = ReplaceTopicRule {
        rule_name: "nope".into(),
        topic_rule_payload: republish_rule("SELECT * FROM 'a'"),
    };
    denied(f.rules.replace_topic_rule(&f.scope, API, replace).await);
    assert!(f.announced().is_empty());
}

#[tokio::test]
async fn replace_enable_disable_and_delete_are_announced() {
    let mut f = Fixture::new();
    f.create("r", republish_rule("SELECT * FROM 'a'"))
        .await
        .unwrap();
    let created = f.get("r").await.unwrap()["rule"]["createdAt"].clone();
    f.announced();

    let replace = ReplaceTopicRule {
        rule_name: "r".into(),
        topic_rule_payload: republish_rule("SELECT x FROM 'b/#'"),
    };
    f.rules
        .replace_topic_rule(&f.scope, API, replace)
        .await
        .unwrap();
    let rule = f.get("r").await.unwrap()["rule"].clone();
    assert_eq!(rule["sql"], "SELECT x FROM 'b/#'");
    assert_eq!(rule["createdAt"], created);
    assert_eq!(
        f.rules
            .rule("r")
            .await
            .unwrap()
            .unwrap()
            .topic_pattern
            .as_deref(),
        Some("b/#")
    );

    let name = || RuleName {
        rule_name: "r".into(),
    };
    f.rules.disable_topic_rule(name()).await.unwrap();
    assert_eq!(f.get("r").await.unwrap()["rule"]["ruleDisabled"], true);
    // Already disabled: nothing changes, nothing is announced.
    f.rules.disable_topic_rule(name()).await.unwrap();
    f.rules.enable_topic_rule(name()).await.unwrap();
    assert_eq!(f.get("r").await.unwrap()["rule"]["ruleDisabled"], false);
    f.rules.delete_topic_rule(name()).await.unwrap();
    denied(f.get("r").await);
    let rule = |r: &str| r.to_owned();
    assert_eq!(
        f.announced(),
        [
            RegistryChange::TopicRuleReplaced { rule: rule("r") },
            RegistryChange::TopicRuleDisabled { rule: rule("r") },
            RegistryChange::TopicRuleEnabled { rule: rule("r") },
            RegistryChange::TopicRuleDeleted { rule: rule("r") },
        ]
    );
}

#[tokio::test]
async fn listing_pages_and_filters() {
    let f = Fixture::new();
    for (name, topic) in [
        ("a", "sensors/+/data"),
        ("b", "sensors/#"),
        ("c", "other"),
        ("d", "sensors/+/data"),
        ("e", "x/y"),
    ] {
        f.create(name, republish_rule(&format!("SELECT * FROM '{topic}'")))
            .await
            .unwrap();
    }
    f.rules
        .disable_topic_rule(RuleName {
            rule_name: "d".into(),
        })
        .await
        .unwrap();

    let all = f.list(ListTopicRules::default()).await;
    let first = &all["rules"][0];
    assert_eq!(first["ruleArn"], json!(rule_arn("a")));
    assert_eq!(first["topicPattern"], "sensors/+/data");
    assert_eq!(first["ruleDisabled"], false);
    assert!(first["createdAt"].is_number());
    assert!(all.get("nextToken").is_none());

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = f
            .list(ListTopicRules {
                max_results: Some(2),
                next_token: token,
                ..Default::default()
            })
            .await;
        seen.extend(
            page["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["ruleName"].clone()),
        );
        match page.get("nextToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);

    let disabled = ListTopicRules {
        rule_disabled: Some(true),
        ..Default::default()
    };
    assert_eq!(f.names(disabled).await, ["d"]);
    let by_topic = |topic: &str| ListTopicRules {
        topic: Some(topic.into()),
        ..Default::default()
    };
    assert_eq!(f.names(by_topic("sensors/+/data")).await, ["a", "d"]);
    assert_eq!(f.names(by_topic("sensors/7/data")).await, ["a", "b", "d"]);
    assert!(f.names(by_topic("nothing")).await.is_empty());
    let bad = ListTopicRules {
        next_token: Some("not-ours".into()),
        ..Default::default()
    };
    let e = f.rules.list_topic_rules(&f.scope, bad).await.unwrap_err();
    assert_eq!(e.exception_name(), "InvalidRequestException");
}

#[tokio::test]
async fn rules_are_tagged_at_creation_and_by_arn_through_the_registry() {
    let f = Fixture::new();
    f.create_tagged(
        "r",
        republish_rule("SELECT * FROM 'a'"),
        Some("env=prod&team=a%20b"),
    )
    .await
    .unwrap();
    let arn = rule_arn("r");
    assert_eq!(
        f.tags(&arn).await,
        json!([{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a b"}])
    );
    let tag = TagResource {
        resource_arn: arn.clone(),
        tags: vec![Tag {
            key: "owner".into(),
            value: "me".into(),
        }],
    };
    f.registry.tag_resource(&f.scope, tag).await.unwrap();
    let untag = UntagResource {
        resource_arn: arn.clone(),
        tag_keys: vec!["env".into()],
    };
    f.registry.untag_resource(&f.scope, untag).await.unwrap();
    assert_eq!(
        f.tags(&arn).await,
        json!([{"Key": "owner", "Value": "me"}, {"Key": "team", "Value": "a b"}])
    );
    let reserved = f
        .create_tagged("r2", republish_rule("SELECT * FROM 'a'"), Some("aws:x=1"))
        .await;
    assert_eq!(
        reserved.unwrap_err().exception_name(),
        "InvalidRequestException"
    );

    // A rule created again under the name starts without the old one's tags.
    f.rules
        .delete_topic_rule(RuleName {
            rule_name: "r".into(),
        })
        .await
        .unwrap();
    f.create("r", republish_rule("SELECT * FROM 'a'"))
        .await
        .unwrap();
    assert_eq!(f.tags(&arn).await, json!([]));
    let missing = ListTagsForResource {
        resource_arn: rule_arn("gone"),
        next_token: None,
    };
    let e = f
        .registry
        .list_tags_for_resource(&f.scope, missing)
        .await
        .unwrap_err();
    assert_eq!(e.exception_name(), "ResourceNotFoundException");
}

/// What an HTTP endpoint received.
#[derive(Debug)]
struct Hit {
    uri: Uri,
    headers: HeaderMap,
    body: Value,
}

/// An HTTP endpoint on a free port that reports every request it gets.
async fn endpoint() -> (String, mpsc::UnboundedReceiver<Hit>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = tx.send(Hit { uri, headers, body });
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_http_destination_is_confirmed_by_the_token_it_was_sent() {
    let mut f = Fixture::new();
    let _running = f.run_confirmations();
    let (base, mut received) = endpoint().await;
    let url = format!("{base}/hook");

    let out = f.create_destination(&url).await.unwrap();
    let d = &out["topicRuleDestination"];
    let arn = d["arn"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:iot:eu-west-1:123456789012:ruledestination/http/"),
        "{arn}"
    );
    assert_eq!(d["status"], "IN_PROGRESS");
    assert_eq!(d["httpUrlProperties"], json!({"confirmationUrl": url}));

    let request = next(&mut received).await;
    let token = request.body["confirmationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(request.uri.path(), "/hook");
    assert_eq!(
        request.uri.query(),
        Some(format!("confirmationToken={token}").as_str())
    );
    assert_eq!(
        request.headers["x-amz-rules-engine-message-type"],
        "DestinationConfirmation"
    );
    assert_eq!(
        request.headers["x-amz-rules-engine-destination-arn"],
        arn.as_str()
    );
    assert_eq!(
        request.body,
        json!({"arn": arn, "confirmationToken": token,
               "enableUrl": format!("{API}/confirmdestination/{token}"),
               "messageType": "DestinationConfirmation"})
    );

    // Not confirmed yet: it cannot be enabled.
    assert!(invalid(f.update(&arn, "ENABLED").await).contains("confirmed"));
    assert!(invalid(f.confirm("forged", false).await).contains("not valid"));
    // Confirmed through the API, it is DISABLED until enabled.
    f.confirm(&token, false).await.unwrap();
    assert_eq!(f.status(&arn).await, "DISABLED");
    assert_eq!(
        f.rules.http_destination_status(&url).await.unwrap(),
        Some(DestinationStatus::Disabled)
    );
    f.update(&arn, "ENABLED").await.unwrap();
    assert_eq!(f.status(&arn).await, "ENABLED");
    f.update(&arn, "DISABLED").await.unwrap();
    assert_eq!(f.status(&arn).await, "DISABLED");
    // Confirming again changes nothing.
    f.confirm(&token, true).await.unwrap();
    assert_eq!(f.status(&arn).await, "DISABLED");

    // IN_PROGRESS sends a new request with a new token; the enableUrl confirms and enables.
    f.update(&arn, "IN_PROGRESS").await.unwrap();
    assert_eq!(f.status(&arn).await, "IN_PROGRESS");
    let again = next(&mut received).await;
    let new_token = again.body["confirmationToken"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert!(invalid(f.confirm(&token, true).await).contains("not valid"));
    f.confirm(&new_token, true).await.unwrap();
    assert_eq!(f.status(&arn).await, "ENABLED");
    assert_eq!(
        f.rules.http_destination_status(&url).await.unwrap(),
        Some(DestinationStatus::Enabled)
    );

    match f.create_destination(&url).await {
        Err(e @ RulesError::AlreadyExists { .. }) => {
            assert_eq!(e.exception_fields()["resourceArn"], json!(arn));
        }
        other => panic!("{other:?}"),
    }
    let listed = f
        .rules
        .list_topic_rule_destinations(&f.scope, ListTopicRuleDestinations::default())
        .await
        .unwrap();
    let summary = &listed["destinationSummaries"][0];
    assert_eq!(summary["arn"], json!(arn));
    assert_eq!(summary["status"], "ENABLED");
    assert_eq!(summary["httpUrlSummary"], json!({"confirmationUrl": url}));

    let id = arn.rsplit('/').next().unwrap().to_owned();
    let changed = RegistryChange::TopicRuleDestinationChanged {
        destination: id.clone(),
    };
    let announced = f.announced();
    assert_eq!(announced.len(), 6, "{announced:?}");
    assert!(announced.iter().all(|c| *c == changed));

    let req = || DestinationArn { arn: arn.clone() };
    f.rules
        .delete_topic_rule_destination(&f.scope, req())
        .await
        .unwrap();
    assert_eq!(
        f.announced(),
        [RegistryChange::TopicRuleDestinationDeleted { destination: id }]
    );
    assert_eq!(
        denied(f.rules.get_topic_rule_destination(&f.scope, req()).await),
        format!("Access to TopicRuleDestination '{arn}' was denied")
    );
    assert_eq!(f.rules.http_destination_status(&url).await.unwrap(), None);
    assert!(invalid(f.confirm(&new_token, true).await).contains("not valid"));
    // The URL is free again.
    f.create_destination(&url).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_confirmation_url_puts_the_destination_in_error() {
    let mut f = Fixture::new();
    let _running = f.run_confirmations();
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let out = f.create_destination(&url).await.unwrap();
    let arn = out["topicRuleDestination"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut changes = f.rules.subscribe_changes();
    // The failure is recorded after the request fails: wait for its announcement.
    tokio::time::timeout(WAIT, changes.recv())
        .await
        .unwrap()
        .unwrap();
    let d = f.destination(&arn).await.unwrap();
    assert_eq!(d["status"], "ERROR");
    assert!(
        d["statusReason"]
            .as_str()
            .unwrap()
            .contains("could not be delivered"),
        "{d}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unconfirmed_token_expires_after_three_days() {
    let f = Fixture::with_clock(Clock::following_tokio(1_700_000_000_000));
    let out = f
        .create_destination("https://example.com/hook")
        .await
        .unwrap();
    let arn = out["topicRuleDestination"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    // The service is not running: read the token the request would carry from the store.
    let token = {
        let store = f.rules.store();
        let page = store
            .list(crate::kinds::DESTINATION_TOKEN, "", None, 10)
            .await
            .unwrap();
        page.records[0].key.clone()
    };
    tokio::time::advance(Duration::from_secs(3 * 24 * 3600)).await;
    let d = f.destination(&arn).await.unwrap();
    assert_eq!(d["status"], "ERROR");
    assert!(d["statusReason"].as_str().unwrap().contains("expired"));
    assert!(invalid(f.confirm(&token, false).await).contains("expired"));
    // A new confirmation request starts the clock again.
    f.update(&arn, "IN_PROGRESS").await.unwrap();
    assert_eq!(f.status(&arn).await, "IN_PROGRESS");
}

#[tokio::test]
async fn http_actions_create_the_destination_their_confirmation_url_lacks() {
    let mut f = Fixture::new();
    let _running = f.run_confirmations();
    let (base, mut received) = endpoint().await;
    let http_rule = |url: String, confirmation: &str| {
        json!({"sql": "SELECT * FROM 'a'", "actions": [{"http": {
            "url": url, "confirmationUrl": confirmation}}]})
    };
    let hook = format!("{base}/hook");
    f.create("h1", http_rule(format!("{hook}/${{topic()}}"), &hook))
        .await
        .unwrap();
    let request = next(&mut received).await;
    assert_eq!(request.uri.path(), "/hook");
    assert_eq!(
        f.rules.http_destination_status(&hook).await.unwrap(),
        Some(DestinationStatus::InProgress)
    );
    // A second rule under the same confirmation URL shares the destination.
    f.create("h2", http_rule(format!("{hook}/b"), &hook))
        .await
        .unwrap();
    let listed = f
        .rules
        .list_topic_rule_destinations(&f.scope, ListTopicRuleDestinations::default())
        .await
        .unwrap();
    assert_eq!(listed["destinationSummaries"].as_array().unwrap().len(), 1);
    let token = request.body["confirmationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    f.confirm(&token, true).await.unwrap();
    assert_eq!(
        f.rules.http_destinations().await.unwrap(),
        [(hook.clone(), DestinationStatus::Enabled)]
    );
    let kinds: Vec<_> = f
        .announced()
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap()["change"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "topic_rule_created",
            "topic_rule_destination_changed",
            "topic_rule_created",
            "topic_rule_destination_changed"
        ]
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), received.recv())
            .await
            .is_err(),
        "only one confirmation request"
    );
}

#[tokio::test]
async fn vpc_destinations_are_enabled_at_once_and_statuses_move_as_aws_allows() {
    let f = Fixture::new();
    let vpc = json!({"subnetIds": ["subnet-1"], "securityGroups": ["sg-1"], "vpcId": "vpc-1",
                     "roleArn": "arn:aws:iam::123456789012:role/r"});
    let req: CreateTopicRuleDestination =
        serde_json::from_value(json!({"destinationConfiguration": {"vpcConfiguration": vpc}}))
            .unwrap();
    let out = f
        .rules
        .create_topic_rule_destination(&f.scope, API, req)
        .await
        .unwrap();
    let d = &out["topicRuleDestination"];
    let arn = d["arn"].as_str().unwrap().to_owned();
    assert!(arn.contains(":ruledestination/vpc/"), "{arn}");
    assert_eq!(d["status"], "ENABLED");
    assert_eq!(d["vpcProperties"], vpc);
    assert!(invalid(f.update(&arn, "IN_PROGRESS").await).contains("IN_PROGRESS"));
    assert!(invalid(f.update(&arn, "ERROR").await).contains("ERROR"));
    f.update(&arn, "DISABLED").await.unwrap();
    assert_eq!(f.status(&arn).await, "DISABLED");

    let neither: CreateTopicRuleDestination =
        serde_json::from_value(json!({"destinationConfiguration": {}})).unwrap();
    let e = f
        .rules
        .create_topic_rule_destination(&f.scope, API, neither)
        .await;
    assert!(invalid(e).contains("exactly one"));
    assert!(invalid(f.create_destination("ftp://x").await).contains("https://"));
    let foreign = "arn:aws:iot:eu-west-1:123456789012:thing/t";
    assert!(invalid(f.destination(foreign).await.map(|_| json!({}))).contains("not the ARN"));
    let unknown = "arn:aws:iot:eu-west-1:123456789012:ruledestination/http/0000";
    denied(f.destination(unknown).await);
}
