//! What functions may ask of the world: the triggering message's context and the services the
//! external-call functions read.

use std::net::IpAddr;

use bytes::Bytes;
use ferrite_rules_sql::SqlVersion;

use crate::value::Value;

/// A failure that fails the rule (AWS runs the error action), as opposed to the `Undefined` a
/// function returns for bad arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FnError {
    /// The function is known but Ferrite cannot serve it (`machinelearning_predict`, `decode`
    /// with a Protobuf scheme). The binder should refuse it at CreateTopicRule; this is the
    /// answer if it did not.
    #[error("function {0} is not supported")]
    Unsupported(&'static str),
    /// The context has no implementation for this external call.
    #[error("function {0} is not available here")]
    Unavailable(&'static str),
    /// An external call failed (missing permission, missing resource, timeout, bad response).
    #[error("function {function} failed: {message}")]
    Failed {
        function: &'static str,
        message: String,
    },
}

impl FnError {
    pub fn failed(function: &'static str, message: impl Into<String>) -> FnError {
        FnError::Failed {
            function,
            message: message.into(),
        }
    }
}

/// Which registry call `get_registry_data` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistryApi {
    /// The thing's `DescribeThing` response (attributes, thingTypeName, version, …).
    DescribeThing,
    /// The thing's `ListThingGroupsForThing` response (`thingGroups`).
    ListThingGroupsForThing,
}

impl RegistryApi {
    pub fn parse(name: &str) -> Option<RegistryApi> {
        match name {
            "DescribeThing" => Some(RegistryApi::DescribeThing),
            "ListThingGroupsForThing" => Some(RegistryApi::ListThingGroupsForThing),
            _ => None,
        }
    }
}

/// The current value of a secret, before `get_secret` picks from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretValue {
    /// `SecretString`.
    String(String),
    /// `SecretBinary`.
    Binary(Bytes),
}

/// A `get_dynamodb` item lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoDbQuery<'a> {
    pub table_name: &'a str,
    pub partition_key_name: &'a str,
    pub partition_key_value: &'a Value,
    /// The sort key name and value, for tables with a composite key.
    pub sort_key: Option<(&'a str, &'a Value)>,
    pub role_arn: &'a str,
}

/// The context a function runs in: the rule's SQL version, the triggering message, and the
/// services external-call functions read. The message accessors default to "absent" and the
/// service lookups to [`FnError::Unavailable`], so an implementation provides what it has.
///
/// Service lookups are synchronous: an evaluator that serves them from I/O runs the rule on a
/// thread that may block (or prefetches). Pure functions never call them.
pub trait FnContext {
    /// The rule's `awsIotSqlVersion`.
    fn sql_version(&self) -> SqlVersion;

    /// The topic the message was published to, without a Basic Ingest `$aws/rules/{rule}/`
    /// prefix.
    fn topic(&self) -> &str;

    /// `topic(n)`'s value: the level `i` (from 0) of [`FnContext::topic`], `Undefined` beyond
    /// the last. A context that sees one message many times (a rule's WHERE and its
    /// actions' templates) may keep the answer rather than make the string again.
    fn topic_level(&self, i: usize) -> Value {
        super::context::topic_level(self.topic(), i)
    }

    /// The level `i` of [`FnContext::topic_level`] when the context keeps it: an operand
    /// compared or rendered is then read in place, not cloned and dropped.
    fn kept_topic_level(&self, _i: usize) -> Option<&Value> {
        None
    }

    /// The MQTT client id; `None` when the message did not come over MQTT (`clientid()` is
    /// then `"n/a"`).
    fn client_id(&self) -> Option<&str> {
        None
    }

    /// The authenticated principal (certificate id, `roleId:sessionName`, user id, custom
    /// authorizer principal id).
    fn principal(&self) -> Option<&str> {
        None
    }

    /// The publisher's IP address.
    fn source_ip(&self) -> Option<IpAddr> {
        None
    }

    /// The account that owns the rule.
    fn account_id(&self) -> &str;

    /// The message's trace id (a UUID); `None` when it did not come over MQTT.
    fn trace_id(&self) -> Option<&str> {
        None
    }

    /// The rules engine's time for this message, epoch milliseconds (`timestamp()`).
    fn timestamp_ms(&self) -> i64;

    /// MQTT 5 Payload Format Indicator (0 unspecified bytes, 1 UTF-8).
    fn payload_format_indicator(&self) -> Option<u8> {
        None
    }

    /// MQTT 5 Content Type.
    fn content_type(&self) -> Option<&str> {
        None
    }

    /// MQTT 5 Response Topic.
    fn response_topic(&self) -> Option<&str> {
        None
    }

    /// MQTT 5 Correlation Data.
    fn correlation_data(&self) -> Option<&[u8]> {
        None
    }

    /// MQTT 5 User Properties in the order they were sent.
    fn user_properties(&self) -> &[(String, String)] {
        &[]
    }

    /// `get_thing_shadow`: the shadow document (classic when `shadow_name` is `None`).
    fn get_thing_shadow(
        &self,
        thing_name: &str,
        shadow_name: Option<&str>,
        role_arn: &str,
    ) -> Result<Value, FnError> {
        let _ = (thing_name, shadow_name, role_arn);
        Err(FnError::Unavailable("get_thing_shadow"))
    }

    /// `get_registry_data`: the response of the registry call `api` for the thing.
    fn get_registry_data(
        &self,
        api: RegistryApi,
        thing_name: &str,
        role_arn: &str,
    ) -> Result<Value, FnError> {
        let _ = (api, thing_name, role_arn);
        Err(FnError::Unavailable("get_registry_data"))
    }

    /// `aws_lambda`: invokes the function synchronously with `input` as its event and returns
    /// the JSON it answers.
    fn aws_lambda(&self, function_arn: &str, input: &Value) -> Result<Value, FnError> {
        let _ = (function_arn, input);
        Err(FnError::Unavailable("aws_lambda"))
    }

    /// `get_secret`: the secret's current value (`get_secret` itself picks the key and
    /// encodes binaries).
    fn get_secret(&self, secret_id: &str, role_arn: &str) -> Result<SecretValue, FnError> {
        let _ = (secret_id, role_arn);
        Err(FnError::Unavailable("get_secret"))
    }

    /// `get_dynamodb`: the item as an object, `Undefined` when there is none.
    fn get_dynamodb(&self, query: &DynamoDbQuery<'_>) -> Result<Value, FnError> {
        let _ = query;
        Err(FnError::Unavailable("get_dynamodb"))
    }
}

/// A plain message context: every field the trait asks for, no services. For tests, the rule
/// test endpoint, and as the base a real context wraps.
#[derive(Debug, Clone, Default)]
pub struct MessageContext {
    pub sql_version: SqlVersion,
    pub topic: String,
    pub client_id: Option<String>,
    pub principal: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub account_id: String,
    pub trace_id: Option<String>,
    pub timestamp_ms: i64,
    pub payload_format_indicator: Option<u8>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

impl FnContext for MessageContext {
    fn sql_version(&self) -> SqlVersion {
        self.sql_version
    }
    fn topic(&self) -> &str {
        &self.topic
    }
    fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }
    fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }
    fn source_ip(&self) -> Option<IpAddr> {
        self.source_ip
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }
    fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }
    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
    fn payload_format_indicator(&self) -> Option<u8> {
        self.payload_format_indicator
    }
    fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
    fn response_topic(&self) -> Option<&str> {
        self.response_topic.as_deref()
    }
    fn correlation_data(&self) -> Option<&[u8]> {
        self.correlation_data.as_deref()
    }
    fn user_properties(&self) -> &[(String, String)] {
        &self.user_properties
    }
}
