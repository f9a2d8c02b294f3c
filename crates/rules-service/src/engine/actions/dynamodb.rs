//! `dynamoDB` and `dynamoDBv2`: items written to PostgreSQL tables (`engine::tables` says how
//! a table holds an item). The database is `[targets.dynamodb].url`, or `storage.url` when
//! that is PostgreSQL; table names map through `[targets.dynamodb].tables`.
//!
//! `dynamoDB` writes the item `{hashKeyField: hashKeyValue, [rangeKeyField: rangeKeyValue,]
//! payloadField: payload}` with `operation` INSERT (PutItem, the default), UPDATE (UpdateItem:
//! only the payload attribute changes) or DELETE (DeleteItem). Key values are templates; a
//! NUMBER key must render as a number. The payload is the action's JSON (the SELECT output,
//! or the error message for an error action); a payload that is not JSON is stored as a
//! string (base64 when it is not UTF-8). `dynamoDBv2` puts the payload's top-level
//! attributes as the item, so the payload must be a JSON object.
//!
//! With `[targets.dynamodb].forward_endpoint` both call DynamoDB's API at that endpoint
//! instead (`dynamodb_api` says what they send), the table named by `tableName` rendered as a
//! template per message, as AWS's API allows.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferrite_rules::{CompiledSql, Template};
use serde_json::Value;

use super::dynamodb_api;
use super::forward::Forward;
use super::{Action, ActionError, BoxFuture, Deps, Job};
use crate::engine::EngineConfig;
use crate::engine::clients::Clients;
use crate::engine::tables::{self, Database, Item, KeyType, TableError, TableName};

/// How long one write may take, connecting included.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The database DynamoDB tables live in, for actions and `get_dynamodb`.
pub(crate) fn database(clients: &Clients, config: &EngineConfig) -> Result<Arc<Database>, String> {
    let url = &config.targets.dynamodb.url;
    let url = if !url.is_empty() {
        url
    } else if config.storage_url.starts_with("postgres://")
        || config.storage_url.starts_with("postgresql://")
    {
        &config.storage_url
    } else {
        return Err(
            "no PostgreSQL database for DynamoDB tables: set [targets.dynamodb] url (storage.url \
             is not PostgreSQL)"
                .into(),
        );
    };
    clients.database(url)
}

fn action_error(e: TableError) -> ActionError {
    ActionError {
        message: e.message,
        retry: e.retry,
    }
}

/// Runs a write with [`WRITE_TIMEOUT`] (a timeout is worth retrying).
async fn bounded<T>(write: impl Future<Output = Result<T, TableError>>) -> Result<T, ActionError> {
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| ActionError::transient("the database did not answer in time"))?
        .map_err(action_error)
}

/// The payload as an attribute value: its JSON, or else a string.
fn payload_value(payload: &[u8]) -> Value {
    match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => match std::str::from_utf8(payload) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => Value::String(STANDARD.encode(payload)),
        },
    }
}

/// The table and the database, resolved per job so a database named wrongly fails the job
/// (and the error action hears of it) rather than the rule.
struct Target {
    dynamo_name: String,
    config: Arc<EngineConfig>,
    clients: Arc<Clients>,
}

impl Target {
    fn resolve(&self) -> Result<(Arc<Database>, TableName), ActionError> {
        let db = database(&self.clients, &self.config).map_err(ActionError::permanent)?;
        let table = TableName::resolve(&self.dynamo_name, &self.config.targets.dynamodb.tables)
            .map_err(ActionError::permanent)?;
        Ok((db, table))
    }
}

/// Where an action's items go.
enum Destination {
    /// PostgreSQL tables.
    Tables(Target),
    /// DynamoDB's API; `table` renders the table name.
    Forward { forward: Forward, table: Template },
}

impl Destination {
    fn build(table: &str, sql: &CompiledSql, deps: &Deps) -> Result<Destination, String> {
        let targets = &deps.config.targets;
        Ok(
            match Forward::for_section(&targets.dynamodb.forward_endpoint, &targets.forward) {
                Some(forward) => Destination::Forward {
                    forward,
                    table: sql.template(table).map_err(|e| e.to_string())?,
                },
                None => Destination::Tables(Target {
                    dynamo_name: table.to_owned(),
                    config: deps.config.clone(),
                    clients: deps.clients.clone(),
                }),
            },
        )
    }
}

/// Sends a DynamoDB API request rendered for `job` into the table `table` renders.
async fn forward_call(
    forward: &Forward,
    table: &Template,
    job: &Job,
    request: impl FnOnce(&str) -> Result<(String, Value), ActionError>,
) -> Result<(), ActionError> {
    let table = render(table, job)?;
    if table.is_empty() {
        return Err(ActionError::permanent("the table name is empty"));
    }
    let (target, input) = request(&table)?;
    forward
        .json_call("dynamodb", dynamodb_api::JSON_VERSION, &target, &input)
        .await
        .map(drop)
}

struct Key {
    field: String,
    value: Template,
    ty: KeyType,
}

impl Key {
    fn build(config: &Value, prefix: &str, sql: &CompiledSql) -> Result<Option<Key>, String> {
        let Some(field) = config[format!("{prefix}Field")].as_str() else {
            return Ok(None);
        };
        let value = config[format!("{prefix}Value")]
            .as_str()
            .ok_or_else(|| format!("{prefix}Field needs a {prefix}Value"))?;
        Ok(Some(Key {
            field: field.to_owned(),
            value: sql.template(value).map_err(|e| e.to_string())?,
            ty: KeyType::parse(config[format!("{prefix}Type")].as_str())?,
        }))
    }

    fn value(&self, job: &Job) -> Result<Value, ActionError> {
        let text = render(&self.value, job)?;
        if text.is_empty() {
            return Err(ActionError::permanent(format!(
                "the value of key {} is empty",
                self.field
            )));
        }
        match self.ty {
            KeyType::String => Ok(Value::String(text)),
            KeyType::Number => serde_json::from_str::<serde_json::Number>(text.trim())
                .map(Value::Number)
                .map_err(|_| {
                    ActionError::permanent(format!(
                        "the value of NUMBER key {} is not a number: {text}",
                        self.field
                    ))
                }),
        }
    }
}

fn render(template: &Template, job: &Job) -> Result<String, ActionError> {
    template
        .render(job.selected(), job.raw(), job.ctx())
        .map_err(|e| ActionError::permanent(e.to_string()))
}

/// The `dynamoDB` action.
pub(crate) struct DynamoDb {
    table: String,
    destination: Destination,
    hash: Key,
    range: Option<Key>,
    operation: Option<Template>,
    payload_field: String,
}

impl DynamoDb {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<DynamoDb, String> {
        let table = config["tableName"]
            .as_str()
            .ok_or("dynamoDB needs a tableName")?;
        let hash = Key::build(config, "hashKey", sql)?.ok_or("dynamoDB needs a hashKeyField")?;
        let range = Key::build(config, "rangeKey", sql)?;
        let payload_field = config["payloadField"]
            .as_str()
            .unwrap_or("payload")
            .to_owned();
        let operation = config["operation"]
            .as_str()
            .map(|t| sql.template(t).map_err(|e| e.to_string()))
            .transpose()?;
        Ok(DynamoDb {
            table: table.to_owned(),
            destination: Destination::build(table, sql, deps)?,
            hash,
            range,
            operation,
            payload_field,
        })
    }

    /// The table this action creates when it is missing.
    fn create(&self, table: &TableName) -> Result<String, ActionError> {
        tables::create_keyed(
            table,
            (&self.hash.field, self.hash.ty),
            self.range.as_ref().map(|r| (r.field.as_str(), r.ty)),
            &self.payload_field,
        )
        .map_err(ActionError::permanent)
    }

    fn key(&self, job: &Job) -> Result<Item, ActionError> {
        let mut key = Item::new();
        key.insert(self.hash.field.clone(), self.hash.value(job)?);
        if let Some(range) = &self.range {
            key.insert(range.field.clone(), range.value(job)?);
        }
        Ok(key)
    }
}

impl Action for DynamoDb {
    fn name(&self) -> &'static str {
        "DynamoDBAction"
    }

    fn resource(&self) -> String {
        self.table.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let operation = match &self.operation {
                Some(t) => render(t, job)?.to_ascii_uppercase(),
                None => "INSERT".to_owned(),
            };
            let key = self.key(job)?;
            let target = match &self.destination {
                Destination::Tables(target) => target,
                Destination::Forward { forward, table } => {
                    let payload = dynamodb_api::payload_attribute(&job.payload);
                    return forward_call(forward, table, job, |table| {
                        dynamodb_api::write_request(
                            &operation,
                            table,
                            &key,
                            &self.payload_field,
                            payload,
                        )
                    })
                    .await;
                }
            };
            let mut set = Item::new();
            set.insert(self.payload_field.clone(), payload_value(&job.payload));
            let (db, table) = target.resolve()?;
            let create = self.create(&table)?;
            match operation.as_str() {
                "INSERT" => {
                    let mut item = key;
                    item.extend(set);
                    bounded(db.put_item(&table, &create, &item)).await
                }
                "UPDATE" => bounded(db.update_item(&table, &create, &key, &set)).await,
                "DELETE" => bounded(db.delete_item(&table, &create, &key)).await,
                other => Err(ActionError::permanent(format!(
                    "operation {other} is not INSERT, UPDATE or DELETE"
                ))),
            }
        })
    }
}

/// The `dynamoDBv2` action.
pub(crate) struct DynamoDbV2 {
    table: String,
    destination: Destination,
}

impl DynamoDbV2 {
    pub fn build(config: &Value, sql: &CompiledSql, deps: &Deps) -> Result<DynamoDbV2, String> {
        let table = config["putItem"]["tableName"]
            .as_str()
            .ok_or("dynamoDBv2 needs putItem.tableName")?;
        Ok(DynamoDbV2 {
            table: table.to_owned(),
            destination: Destination::build(table, sql, deps)?,
        })
    }
}

impl Action for DynamoDbV2 {
    fn name(&self) -> &'static str {
        "DynamoDBv2Action"
    }

    fn resource(&self) -> String {
        self.table.clone()
    }

    fn execute<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let Value::Object(item) = payload_value(&job.payload) else {
                return Err(ActionError::permanent(
                    "the payload is not a JSON object, so it has no attributes to write",
                ));
            };
            if item.is_empty() {
                return Err(ActionError::permanent("the payload has no attributes"));
            }
            match &self.destination {
                Destination::Tables(target) => {
                    let (db, table) = target.resolve()?;
                    bounded(db.put_item(&table, &tables::create_items(&table), &item)).await
                }
                Destination::Forward { forward, table } => {
                    forward_call(forward, table, job, |table| {
                        Ok(dynamodb_api::put_item_request(table, &item))
                    })
                    .await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_that_are_not_json_are_kept_as_strings() {
        assert_eq!(payload_value(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(payload_value(b"plain text"), json!("plain text"));
        assert_eq!(payload_value(&[0xff, 0x00]), json!("/wA="));
    }
}
