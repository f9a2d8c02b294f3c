//! The context rules that call other services evaluate in: the message's context plus the
//! lookups Ferrite serves (`get_dynamodb` from the dynamoDB actions' PostgreSQL tables).
//! SQL functions are synchronous, so such rules are evaluated on a blocking thread
//! (`RulesEngine::run_rule`) and each lookup blocks that thread on its async query, bounded
//! by a timeout; rules that call no service never come here.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrite_rules::functions::{DynamoDbQuery, MessageContext};
use ferrite_rules::{FnContext, FnError, SqlVersion, Value};
use tokio::runtime::Handle;

use super::EngineConfig;
use super::actions::dynamodb;
use super::clients::Clients;
use super::tables::{Item, TableName};

/// How long one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What lookups need, shared by every evaluation.
pub(crate) struct Services {
    pub config: Arc<EngineConfig>,
    pub clients: Arc<Clients>,
}

/// A message's context with the services behind it. Built on a thread that may block.
pub(crate) struct ServiceContext<'a> {
    pub base: &'a MessageContext,
    pub services: &'a Services,
    pub handle: Handle,
}

impl ServiceContext<'_> {
    /// Blocks on `lookup`, at most [`LOOKUP_TIMEOUT`].
    fn block_on<T>(
        &self,
        function: &'static str,
        lookup: impl Future<Output = Result<T, String>>,
    ) -> Result<T, FnError> {
        self.handle
            .block_on(tokio::time::timeout(LOOKUP_TIMEOUT, lookup))
            .map_err(|_| FnError::failed(function, "the lookup did not finish in time"))?
            .map_err(|e| FnError::failed(function, e))
    }
}

impl FnContext for ServiceContext<'_> {
    fn sql_version(&self) -> SqlVersion {
        self.base.sql_version()
    }
    fn topic(&self) -> &str {
        self.base.topic()
    }
    fn client_id(&self) -> Option<&str> {
        self.base.client_id()
    }
    fn principal(&self) -> Option<&str> {
        self.base.principal()
    }
    fn source_ip(&self) -> Option<IpAddr> {
        self.base.source_ip()
    }
    fn account_id(&self) -> &str {
        self.base.account_id()
    }
    fn trace_id(&self) -> Option<&str> {
        self.base.trace_id()
    }
    fn timestamp_ms(&self) -> i64 {
        self.base.timestamp_ms()
    }
    fn payload_format_indicator(&self) -> Option<u8> {
        self.base.payload_format_indicator()
    }
    fn content_type(&self) -> Option<&str> {
        self.base.content_type()
    }
    fn response_topic(&self) -> Option<&str> {
        self.base.response_topic()
    }
    fn correlation_data(&self) -> Option<&[u8]> {
        self.base.correlation_data()
    }
    fn user_properties(&self) -> &[(String, String)] {
        self.base.user_properties()
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
        let services = self.services;
        let item = self.block_on("get_dynamodb", async {
            let db = dynamodb::database(&services.clients, &services.config)?;
            let table =
                TableName::resolve(query.table_name, &services.config.targets.dynamodb.tables)?;
            db.get_item(&table, &key).await.map_err(|e| e.message)
        })?;
        Ok(item.map_or(Value::Undefined, |item| {
            ferrite_rules::json::from_serde(&item, self.sql_version())
        }))
    }
}
