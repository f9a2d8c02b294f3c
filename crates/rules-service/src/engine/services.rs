//! The context rules and their actions' substitution templates evaluate in: the message's
//! context plus the lookups Ferrite serves — `get_dynamodb` from the dynamoDB actions'
//! PostgreSQL tables, `get_thing_shadow` and `get_registry_data` through [`Lookups`],
//! `aws_lambda` from the function endpoints of `[aws.functions]` (or Lambda's Invoke API when
//! `[targets.lambda]` forwards), `get_secret` from
//! `[secrets]`.
//!
//! SQL functions are synchronous and lookups are not. A rule whose SQL calls a service is
//! evaluated on a blocking thread ([`on_blocking_thread`]) that blocks on each lookup; a
//! template that calls one renders inside an action's task, which steps aside with
//! `block_in_place` (the server's runtime is multi-threaded) so the other tasks of its worker
//! thread move on. Every lookup is bounded by [`LOOKUP_TIMEOUT`]. Rules and templates that
//! call no service never block.

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrite_auth::custom::client;
use ferrite_rules::functions::{DynamoDbQuery, RegistryApi, SecretValue};
use ferrite_rules::{FnContext, FnError, SqlVersion, Value};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::EngineConfig;
use super::actions::forward::Forward;
use super::actions::{dynamodb, lambda};
use super::clients::Clients;
use super::context::RuleContext;
use super::tables::{Item, TableName};
use crate::lookups::Lookups;

/// How long one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Secrets Manager's largest secret.
const MAX_SECRET_BYTES: u64 = 65_536;

/// What lookups need, shared by every evaluation.
pub(crate) struct Services {
    pub config: Arc<EngineConfig>,
    pub clients: Arc<Clients>,
    /// Shadows and the registry; without them those lookups are unavailable.
    pub lookups: Option<Arc<dyn Lookups>>,
    /// The runtime lookups run on.
    pub handle: Handle,
}

thread_local! {
    /// Set while a thread of the blocking pool evaluates a rule: it may block outright.
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (on a thread of the blocking pool) with lookups allowed to block it.
pub(crate) fn on_blocking_thread<R>(f: impl FnOnce() -> R) -> R {
    BLOCKING.set(true);
    let out = f();
    BLOCKING.set(false);
    out
}

/// The lookups a rule's context serves (its message side is in [`super::context`]).
impl RuleContext {
    fn services(&self, function: &'static str) -> Result<&Services, FnError> {
        self.services
            .as_deref()
            .ok_or(FnError::Unavailable(function))
    }

    /// Waits for `lookup`, at most [`LOOKUP_TIMEOUT`], where this thread may wait.
    fn block_on<T>(
        &self,
        function: &'static str,
        lookup: impl Future<Output = Result<T, String>>,
    ) -> Result<T, FnError> {
        let handle = &self.services(function)?.handle;
        let bounded =
            || handle.block_on(async { tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await });
        let waited = if BLOCKING.get() {
            bounded()
        } else {
            match Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(RuntimeFlavor::CurrentThread) => {
                    return Err(FnError::failed(
                        function,
                        "lookups in substitution templates need a multi-threaded runtime",
                    ));
                }
                Ok(_) => tokio::task::block_in_place(bounded),
                Err(_) => bounded(),
            }
        };
        waited
            .map_err(|_| FnError::failed(function, "the lookup did not finish in time"))?
            .map_err(|e| FnError::failed(function, e))
    }

    fn lookups(&self, function: &'static str) -> Result<&dyn Lookups, FnError> {
        self.services(function)?
            .lookups
            .as_deref()
            .ok_or(FnError::Unavailable(function))
    }

    /// A function's answer: its JSON, or the text of a body that is not JSON.
    fn answer(&self, body: &[u8]) -> Value {
        ferrite_rules::json::from_json_slice(body, self.sql_version())
            .unwrap_or_else(|_| Value::from(&*String::from_utf8_lossy(body)))
    }

    fn to_value(&self, json: Option<serde_json::Value>) -> Value {
        json.map_or(Value::Undefined, |j| {
            ferrite_rules::json::from_serde(&j, self.sql_version())
        })
    }
}

impl FnContext for RuleContext {
    fn sql_version(&self) -> SqlVersion {
        self.version
    }
    fn topic(&self) -> &str {
        RuleContext::topic(self)
    }
    fn topic_level(&self, i: usize) -> Value {
        RuleContext::topic_level(self, i)
    }
    fn kept_topic_level(&self, i: usize) -> Option<&Value> {
        RuleContext::kept_topic_level(self, i)
    }
    fn client_id(&self) -> Option<&str> {
        RuleContext::client_id(self)
    }
    fn principal(&self) -> Option<&str> {
        self.msg.origin.principal.as_deref()
    }
    fn source_ip(&self) -> Option<IpAddr> {
        self.msg.origin.source_ip
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }
    fn trace_id(&self) -> Option<&str> {
        RuleContext::trace_id(self)
    }
    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
    fn payload_format_indicator(&self) -> Option<u8> {
        self.msg.properties.payload_format_indicator
    }
    fn content_type(&self) -> Option<&str> {
        self.msg.properties.content_type.as_deref()
    }
    fn response_topic(&self) -> Option<&str> {
        self.msg.properties.response_topic.as_deref()
    }
    fn correlation_data(&self) -> Option<&[u8]> {
        self.msg.properties.correlation_data.as_deref()
    }
    fn user_properties(&self) -> &[(String, String)] {
        &self.msg.properties.user_properties
    }

    /// The shadow as GetThingShadow answers it; `Undefined` when the thing has no such
    /// shadow, so a WHERE on it filters rather than fails. The role is not checked: Ferrite
    /// has no IAM.
    fn get_thing_shadow(
        &self,
        thing_name: &str,
        shadow_name: Option<&str>,
        _role_arn: &str,
    ) -> Result<Value, FnError> {
        const F: &str = "get_thing_shadow";
        let lookups = self.lookups(F)?;
        let shadow = self.block_on(F, lookups.thing_shadow(thing_name, shadow_name))?;
        Ok(self.to_value(shadow))
    }

    /// DescribeThing's or ListThingGroupsForThing's response; `Undefined` for a thing that
    /// does not exist.
    fn get_registry_data(
        &self,
        api: RegistryApi,
        thing_name: &str,
        _role_arn: &str,
    ) -> Result<Value, FnError> {
        const F: &str = "get_registry_data";
        let lookups = self.lookups(F)?;
        let data = self.block_on(F, lookups.registry_data(api, thing_name))?;
        Ok(self.to_value(data))
    }

    /// Invokes the function's endpoint synchronously (`x-amz-invocation-type:
    /// RequestResponse`) with `input` as the event, and returns what it answers: its JSON, or
    /// the text of a body that is not JSON. An `Undefined` input makes no call.
    fn aws_lambda(&self, function_arn: &str, input: &Value) -> Result<Value, FnError> {
        const F: &str = "aws_lambda";
        let services = self.services(F)?;
        let Some(event) = ferrite_rules::json::to_serde(input) else {
            return Ok(Value::Undefined);
        };
        let body = bytes::Bytes::from(event.to_string());
        let targets = &services.config.targets;
        if let Some(forward) =
            Forward::for_section(&targets.lambda.forward_endpoint, &targets.forward)
        {
            let answer = self.block_on(F, async {
                let call = lambda::invoke_call(function_arn, "RequestResponse", body);
                forward.call(call).await.map_err(|e| e.message)
            })?;
            return Ok(self.answer(&answer));
        }
        let url = ferrite_auth::custom::function_url(&services.config.functions, function_arn)
            .ok_or_else(|| {
                FnError::failed(
                    F,
                    format!(
                        "no endpoint is known for the Lambda function {function_arn}: map its \
                         ARN or name to the URL of the HTTP endpoint that plays it in \
                         [aws.functions]"
                    ),
                )
            })?;
        let response = self.block_on(F, async {
            let headers = [
                ("content-type", "application/json"),
                ("x-amz-invocation-type", "RequestResponse"),
            ];
            client::post(&url, &headers, body)
                .await
                .map_err(|e| e.to_string())
        })?;
        if !(200..300).contains(&response.status) {
            return Err(FnError::failed(
                F,
                format!("{url} answered HTTP status {}", response.status),
            ));
        }
        Ok(self.answer(&response.body))
    }

    /// The secret `[secrets]` holds under the name (or Secrets Manager ARN) `secret_id`;
    /// files are read now, so a rotated file is seen at once.
    fn get_secret(&self, secret_id: &str, _role_arn: &str) -> Result<SecretValue, FnError> {
        const F: &str = "get_secret";
        let services = self.services(F)?;
        let Some((name, secret)) = ferrite_config::find_secret(&services.config.secrets, secret_id)
        else {
            return Err(FnError::failed(
                F,
                format!(
                    "Secrets Manager can't find the specified secret {secret_id} (add it to \
                     [secrets])"
                ),
            ));
        };
        if let Some(text) = &secret.string {
            return Ok(SecretValue::String(text.clone()));
        }
        let (path, binary) = match (&secret.string_file, &secret.binary_file) {
            (Some(path), _) => (path, false),
            (None, Some(path)) => (path, true),
            (None, None) => {
                return Err(FnError::failed(
                    F,
                    format!("the secret {name} has no value"),
                ));
            }
        };
        let bytes = self.block_on(F, read_secret_file(path))?;
        if binary {
            return Ok(SecretValue::Binary(bytes.into()));
        }
        String::from_utf8(bytes)
            .map(SecretValue::String)
            .map_err(|_| {
                FnError::failed(
                    F,
                    format!("the string file of the secret {name} is not UTF-8"),
                )
            })
    }

    /// The item from the table the dynamoDB actions write (same database, same table
    /// mapping); `Undefined` when there is none. The role is not checked: Ferrite has no IAM.
    fn get_dynamodb(&self, query: &DynamoDbQuery<'_>) -> Result<Value, FnError> {
        let mut key = Item::new();
        let mut add = |name: &str, value: &Value| match ferrite_rules::json::to_serde(value) {
            Some(v) => {
                key.insert(name.to_owned(), v);
                true
            }
            None => false,
        };
        if !add(query.partition_key_name, query.partition_key_value) {
            return Ok(Value::Undefined);
        }
        if let Some((name, value)) = query.sort_key
            && !add(name, value)
        {
            return Ok(Value::Undefined);
        }
        let services = self.services("get_dynamodb")?;
        let item = self.block_on("get_dynamodb", async {
            let db = dynamodb::database(&services.clients, &services.config)?;
            let table =
                TableName::resolve(query.table_name, &services.config.targets.dynamodb.tables)?;
            db.get_item(&table, &key).await.map_err(|e| e.message)
        })?;
        Ok(self.to_value(item))
    }
}

/// A secret's file, refused past Secrets Manager's size limit. The error names the file but
/// never shows its contents.
async fn read_secret_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read the secret file {}: {e}", path.display());
    let len = tokio::fs::metadata(path).await.map_err(cannot)?.len();
    if len > MAX_SECRET_BYTES {
        return Err(format!(
            "the secret file {} is larger than {MAX_SECRET_BYTES} bytes",
            path.display()
        ));
    }
    tokio::fs::read(path).await.map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::actions::test_endpoint::{endpoint, keys, next};
    use crate::engine::context::test_context;

    fn config(lambda_forward: &str) -> EngineConfig {
        let mut targets = ferrite_config::TargetsConfig::default();
        targets.lambda.forward_endpoint = lambda_forward.to_owned();
        targets.forward = keys();
        EngineConfig {
            account_id: "123456789012".into(),
            region: "eu-central-1".into(),
            match_options: ferrite_topic::MatchOptions::default(),
            targets,
            functions: Default::default(),
            storage_url: String::new(),
            data_dir: std::env::temp_dir(),
            secrets: Default::default(),
            backpressure: std::time::Duration::from_millis(100),
        }
    }

    fn context(config: EngineConfig) -> RuleContext {
        test_context(
            "t",
            0,
            Some(Arc::new(Services {
                config: Arc::new(config),
                clients: Arc::default(),
                lookups: None,
                handle: Handle::current(),
            })),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_lambda_forwarded_invokes_synchronously_and_returns_the_answer() {
        let (url, mut rx, answer) = endpoint().await;
        *answer.lock() = (200, "application/json", r#"{"score": 7}"#.into());
        let ctx = context(config(&url));
        let input =
            ferrite_rules::json::from_serde(&serde_json::json!({"rpm": 1}), ctx.sql_version());
        let out = tokio::task::spawn_blocking(move || {
            on_blocking_thread(|| {
                ctx.aws_lambda("arn:aws:lambda:eu-central-1:1:function:f", &input)
            })
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            ferrite_rules::json::to_serde(&out),
            Some(serde_json::json!({"score": 7}))
        );
        let hit = next(&mut rx).await;
        assert_eq!(hit.verified.unwrap().service, "lambda");
        assert_eq!(hit.headers["x-amz-invocation-type"], "RequestResponse");
    }

    #[tokio::test]
    async fn lookups_without_services_or_outside_blocking_threads_fail_clearly() {
        let plain = test_context("t", 0, None);
        assert_eq!(
            plain.get_secret("s", "r").unwrap_err(),
            FnError::Unavailable("get_secret")
        );
        // A template lookup on a current-thread runtime cannot step aside: it fails the
        // action with the reason instead of stalling the runtime.
        let mut cfg = config("");
        cfg.secrets.insert(
            "in-a-file".into(),
            ferrite_config::SecretConfig {
                string_file: Some("/nonexistent".into()),
                ..Default::default()
            },
        );
        let ctx = context(cfg);
        let e = ctx.get_secret("in-a-file", "r").unwrap_err().to_string();
        assert!(e.contains("multi-threaded runtime"), "{e}");
        let e = ctx.get_thing_shadow("t", None, "r").unwrap_err();
        assert_eq!(e, FnError::Unavailable("get_thing_shadow"));
        let e = ctx.get_secret("missing", "r").unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let e = ctx
            .aws_lambda("f", &Value::from("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[aws.functions]"), "{e}");
    }
}
