//! DynamoDB tables played by PostgreSQL tables: what the `dynamoDB` and `dynamoDBv2` actions
//! write and `get_dynamodb` reads. An item is a JSON object of attributes; a table holds it
//! as follows.
//!
//! - Each top-level attribute goes to the column of the same name, converted to the column's
//!   type by PostgreSQL's own `jsonb_populate_record` (a JSON string into `text`, a number
//!   into `numeric` or `integer`, anything into `jsonb`). An attribute that cannot be
//!   converted fails the write.
//! - A `jsonb` column named `item` (unless an attribute of that name claims it) receives the
//!   whole item, so attributes without a column of their own are kept and an item reads back
//!   whole.
//! - The table's primary key plays the item's key: a put replaces the item with the same key
//!   (`INSERT ... ON CONFLICT DO UPDATE`, columns the item does not name reset to their
//!   defaults, as PutItem drops attributes), an update sets only the named attributes and
//!   creates the item when it is missing (UpdateItem). A table without a primary key only
//!   appends.
//! - A lookup matches each key attribute against its column, or else inside `item`
//!   (`item @> {...}`), and returns the row as an item: the non-null columns over `item`'s
//!   attributes.
//!
//! Tables are created on first use when missing: the `dynamoDB` action creates
//! `(hash key column, [range key column,] payload column jsonb, PRIMARY KEY (keys))`; the
//! `dynamoDBv2` action, which knows no key, creates `(item jsonb NOT NULL)`. Users who want
//! PutItem's replace-by-key semantics for v2, or typed columns to query, create the table
//! themselves beforehand. Table layouts are read from the catalog once and cached; any
//! failed statement forgets the cache, so a table altered meanwhile is read again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value as Json};
use sqlx::{PgPool, Row};

/// An item: attribute name → value.
pub(crate) type Item = Map<String, Json>;

/// The `jsonb` column that receives the whole item.
pub(crate) const ITEM_COLUMN: &str = "item";
/// PostgreSQL truncates longer identifiers silently, which would write to another name.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Why a table operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct TableError {
    pub message: String,
    /// The database may answer later (unreachable, overloaded, a creation race).
    pub retry: bool,
}

impl TableError {
    fn permanent(message: impl Into<String>) -> TableError {
        TableError {
            message: message.into(),
            retry: false,
        }
    }

    fn sql(table: &TableName, e: sqlx::Error) -> TableError {
        let retry = match &e {
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // Connection exceptions, lack of resources, operator intervention,
                // serialization failures and lock timeouts pass; so does a concurrent
                // CREATE TABLE losing its race (duplicate table, or the type's unique index).
                ["08", "53", "57", "40", "55"].contains(&code.get(..2).unwrap_or_default())
                    || code == "42P07"
                    || code == "23505"
            }),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            _ => false,
        };
        TableError {
            message: format!("table {}: {e}", table.display),
            retry,
        }
    }
}

/// A PostgreSQL identifier, quoted; names PostgreSQL would truncate or cannot hold are
/// refused rather than written somewhere else.
pub(crate) fn quote_ident(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("an empty name cannot be a PostgreSQL identifier".into());
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "{name} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte identifiers"
        ));
    }
    if name.contains('\0') {
        return Err(format!("{name:?} contains a NUL character"));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// A table as SQL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    /// Quoted, possibly schema-qualified.
    pub sql: String,
    /// As configured, for messages.
    pub display: String,
}

impl TableName {
    /// The PostgreSQL table playing the DynamoDB table `dynamo`: its mapping in
    /// `[targets.dynamodb].tables` (which may name a schema, `schema.table`), or else the
    /// same name as one identifier (DynamoDB names may contain dots), in the connection's
    /// `search_path`.
    pub fn resolve(dynamo: &str, tables: &BTreeMap<String, String>) -> Result<TableName, String> {
        let (sql, display) = match tables.get(dynamo) {
            Some(mapped) => {
                let sql = match mapped.split_once('.') {
                    Some((schema, table)) => {
                        format!("{}.{}", quote_ident(schema)?, quote_ident(table)?)
                    }
                    None => quote_ident(mapped)?,
                };
                (sql, mapped.clone())
            }
            None => {
                let sql = quote_ident(dynamo).map_err(|e| {
                    format!(
                        "{e}: map table {dynamo} to a shorter name in [targets.dynamodb] tables"
                    )
                })?;
                (sql, dynamo.to_owned())
            }
        };
        Ok(TableName { sql, display })
    }
}

/// The type of a key the `dynamoDB` action names (`hashKeyType`, `rangeKeyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    String,
    Number,
}

impl KeyType {
    pub fn parse(text: Option<&str>) -> Result<KeyType, String> {
        match text {
            None | Some("STRING") => Ok(KeyType::String),
            Some("NUMBER") => Ok(KeyType::Number),
            Some(other) => Err(format!("key type {other} is not STRING or NUMBER")),
        }
    }

    fn sql(self) -> &'static str {
        match self {
            KeyType::String => "text",
            KeyType::Number => "numeric",
        }
    }
}

/// `CREATE TABLE IF NOT EXISTS` for a `dynamoDB` action's table.
pub(crate) fn create_keyed(
    table: &TableName,
    hash: (&str, KeyType),
    range: Option<(&str, KeyType)>,
    payload: &str,
) -> Result<String, String> {
    let mut columns = vec![format!(
        "{} {} NOT NULL",
        quote_ident(hash.0)?,
        hash.1.sql()
    )];
    let mut key = vec![quote_ident(hash.0)?];
    if let Some((name, ty)) = range {
        columns.push(format!("{} {} NOT NULL", quote_ident(name)?, ty.sql()));
        key.push(quote_ident(name)?);
    }
    columns.push(format!("{} jsonb", quote_ident(payload)?));
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))",
        table.sql,
        columns.join(", "),
        key.join(", ")
    ))
}

/// `CREATE TABLE IF NOT EXISTS` for a `dynamoDBv2` action's table, whose key is unknown.
pub(crate) fn create_items(table: &TableName) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({ITEM_COLUMN} jsonb NOT NULL)",
        table.sql
    )
}

#[derive(Debug)]
struct Column {
    name: String,
    /// Part of the primary key.
    key: bool,
    /// Neither generated nor `GENERATED ALWAYS AS IDENTITY`.
    writable: bool,
    jsonb: bool,
}

/// A table's layout, from the catalog.
#[derive(Debug)]
struct Layout {
    columns: Vec<Column>,
}

impl Layout {
    fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn key(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.key)
    }

    /// Whether `item` goes whole into the `item` column: the table has one, of type jsonb,
    /// and no attribute of that name claims it.
    fn takes_whole_item(&self, item: &Item) -> bool {
        !item.contains_key(ITEM_COLUMN)
            && self
                .column(ITEM_COLUMN)
                .is_some_and(|c| c.jsonb && c.writable)
    }

    /// The writable columns `item` fills, and the record `jsonb_populate_record` reads them
    /// from.
    fn fill<'a>(
        &'a self,
        table: &TableName,
        item: &Item,
    ) -> Result<(Vec<&'a Column>, Json), TableError> {
        let whole = self.takes_whole_item(item);
        let columns: Vec<&Column> = self
            .columns
            .iter()
            .filter(|c| {
                c.writable && (item.contains_key(&c.name) || (whole && c.name == ITEM_COLUMN))
            })
            .collect();
        if columns.is_empty() {
            return Err(TableError::permanent(format!(
                "table {} has no column for any of the item's attributes ({}) and no jsonb \
                 column {ITEM_COLUMN}",
                table.display,
                item.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut record = item.clone();
        if whole {
            record.insert(ITEM_COLUMN.to_owned(), Json::Object(item.clone()));
        }
        Ok((columns, Json::Object(record)))
    }

    /// The primary key's columns, when `columns` fill all of them; an error names the first
    /// one missing.
    fn conflict_target(
        &self,
        table: &TableName,
        columns: &[&Column],
    ) -> Result<Option<String>, TableError> {
        let key: Vec<&Column> = self.key().collect();
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(missing) = key
            .iter()
            .find(|k| !columns.iter().any(|c| c.name == k.name))
        {
            return Err(TableError::permanent(format!(
                "the item has no value for {}, a key column of table {}",
                missing.name, table.display
            )));
        }
        Ok(Some(idents(key.iter().copied())))
    }
}

/// Quoted names of catalog columns, comma-separated.
fn idents<'a>(columns: impl Iterator<Item = &'a Column>) -> String {
    columns
        .map(|c| quote_ident(&c.name).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One database of DynamoDB tables: a pool and the layouts read so far.
pub(crate) struct Database {
    pool: PgPool,
    layouts: Mutex<HashMap<String, Arc<Layout>>>,
}

impl Database {
    pub fn new(pool: PgPool) -> Database {
        Database {
            pool,
            layouts: Mutex::new(HashMap::new()),
        }
    }

    async fn layout(&self, table: &TableName) -> Result<Option<Arc<Layout>>, TableError> {
        if let Some(layout) = self.layouts.lock().get(&table.sql) {
            return Ok(Some(layout.clone()));
        }
        let rows = sqlx::query(
            "SELECT a.attname::text, \
                    format_type(a.atttypid, a.atttypmod) = 'jsonb', \
                    COALESCE(a.attnum = ANY (i.indkey::int2[]), false), \
                    a.attgenerated = '' AND a.attidentity <> 'a' \
             FROM pg_attribute a \
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind(&table.sql)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| TableError::sql(table, e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let columns = rows
            .iter()
            .map(|r| {
                Ok(Column {
                    name: r.try_get(0)?,
                    jsonb: r.try_get(1)?,
                    key: r.try_get(2)?,
                    writable: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| TableError::sql(table, e))?;
        let layout = Arc::new(Layout { columns });
        self.layouts
            .lock()
            .insert(table.sql.clone(), layout.clone());
        Ok(Some(layout))
    }

    fn forget(&self, table: &TableName) {
        self.layouts.lock().remove(&table.sql);
    }

    /// The table's layout, after creating it with `create` if it does not exist.
    async fn ensure(&self, table: &TableName, create: &str) -> Result<Arc<Layout>, TableError> {
        if let Some(layout) = self.layout(table).await? {
            return Ok(layout);
        }
        sqlx::raw_sql(create)
            .execute(&self.pool)
            .await
            .map_err(|e| TableError::sql(table, e))?;
        tracing::info!(table = %table.display, "created a table for dynamoDB rule actions");
        self.layout(table)
            .await?
            .ok_or_else(|| TableError::permanent(format!("table {} has no columns", table.display)))
    }

    /// Runs `sql` with jsonb parameters; a failure forgets the layout it was built from.
    async fn execute(
        &self,
        table: &TableName,
        sql: &str,
        params: &[Json],
    ) -> Result<u64, TableError> {
        let mut query = sqlx::query(sql);
        for p in params {
            query = query.bind(p.to_string());
        }
        match query.execute(&self.pool).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(e) => {
                self.forget(table);
                Err(TableError::sql(table, e))
            }
        }
    }

    /// PutItem: `item` replaces the item with the same key (creating the table with `create`
    /// first if needed).
    pub async fn put_item(
        &self,
        table: &TableName,
        create: &str,
        item: &Item,
    ) -> Result<(), TableError> {
        let layout = self.ensure(table, create).await?;
        let (columns, record) = layout.fill(table, item)?;
        let names = idents(columns.iter().copied());
        let mut sql = format!(
            "INSERT INTO {t} ({names}) SELECT {names} FROM jsonb_populate_record(NULL::{t}, $1::text::jsonb)",
            t = table.sql
        );
        if let Some(target) = layout.conflict_target(table, &columns)? {
            let others: Vec<String> = layout
                .columns
                .iter()
                .filter(|c| !c.key && c.writable)
                .map(|c| {
                    let q = quote_ident(&c.name).unwrap_or_default();
                    format!("{q} = EXCLUDED.{q}")
                })
                .collect();
            if others.is_empty() {
                sql.push_str(&format!(" ON CONFLICT ({target}) DO NOTHING"));
            } else {
                sql.push_str(&format!(
                    " ON CONFLICT ({target}) DO UPDATE SET {}",
                    others.join(", ")
                ));
            }
        }
        self.execute(table, &sql, &[record]).await.map(drop)
    }

    /// UpdateItem: sets `set` on the item `key` names, creating the item when it is missing.
    /// Needs the table's primary key to be the key's columns.
    pub async fn update_item(
        &self,
        table: &TableName,
        create: &str,
        key: &Item,
        set: &Item,
    ) -> Result<(), TableError> {
        let layout = self.ensure(table, create).await?;
        let mut item = key.clone();
        item.extend(set.clone());
        let whole = layout.takes_whole_item(&item);
        let (columns, record) = layout.fill(table, &item)?;
        let Some(target) = layout.conflict_target(table, &columns)? else {
            return Err(TableError::permanent(format!(
                "table {} has no primary key, so an item cannot be updated by its key",
                table.display
            )));
        };
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !c.key)
            .map(|c| {
                let q = quote_ident(&c.name).unwrap_or_default();
                if whole && c.name == ITEM_COLUMN {
                    format!("{q} = COALESCE(t.{q}, '{{}}'::jsonb) || EXCLUDED.{q}")
                } else {
                    format!("{q} = EXCLUDED.{q}")
                }
            })
            .collect();
        let names = idents(columns.iter().copied());
        let action = if updates.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let sql = format!(
            "INSERT INTO {t} AS t ({names}) SELECT {names} \
             FROM jsonb_populate_record(NULL::{t}, $1::text::jsonb) ON CONFLICT ({target}) {action}",
            t = table.sql
        );
        self.execute(table, &sql, &[record]).await.map(drop)
    }

    /// DeleteItem: removes the item `key` names, if there is one.
    pub async fn delete_item(
        &self,
        table: &TableName,
        create: &str,
        key: &Item,
    ) -> Result<(), TableError> {
        let layout = self.ensure(table, create).await?;
        let (condition, params) = matching(&layout, table, key)?;
        let sql = format!("DELETE FROM {} AS t WHERE {condition}", table.sql);
        self.execute(table, &sql, &params).await.map(drop)
    }

    /// GetItem: the item `key` names, or `None`. The table must exist.
    pub async fn get_item(
        &self,
        table: &TableName,
        key: &Item,
    ) -> Result<Option<Json>, TableError> {
        let Some(layout) = self.layout(table).await? else {
            return Err(TableError::permanent(format!(
                "table {} does not exist",
                table.display
            )));
        };
        let (condition, params) = matching(&layout, table, key)?;
        let sql = format!(
            "SELECT to_jsonb(t)::text FROM {} AS t WHERE {condition} LIMIT 1",
            table.sql
        );
        let mut query = sqlx::query(&sql);
        for p in &params {
            query = query.bind(p.to_string());
        }
        let row = match query.fetch_optional(&self.pool).await {
            Ok(row) => row,
            Err(e) => {
                self.forget(table);
                return Err(TableError::sql(table, e));
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let text: String = row.try_get(0).map_err(|e| TableError::sql(table, e))?;
        let json: Json = serde_json::from_str(&text)
            .map_err(|e| TableError::permanent(format!("table {}: {e}", table.display)))?;
        Ok(Some(as_item(
            json,
            layout.column(ITEM_COLUMN).is_some_and(|c| c.jsonb),
        )))
    }
}

/// A WHERE condition selecting the item `key` names, and its parameters: each key attribute
/// matches its column (converted as writes convert it), or else is looked for in `item`.
fn matching(
    layout: &Layout,
    table: &TableName,
    key: &Item,
) -> Result<(String, Vec<Json>), TableError> {
    let mut conditions = Vec::new();
    let mut by_column = Item::new();
    let mut in_item = Item::new();
    for (name, value) in key {
        if layout.column(name).is_some() {
            by_column.insert(name.clone(), value.clone());
        } else if layout.column(ITEM_COLUMN).is_some_and(|c| c.jsonb) {
            in_item.insert(name.clone(), value.clone());
        } else {
            return Err(TableError::permanent(format!(
                "table {} has no column {name} and no jsonb column {ITEM_COLUMN}",
                table.display
            )));
        }
    }
    let mut params = Vec::new();
    if !by_column.is_empty() {
        params.push(Json::Object(by_column.clone()));
        let p = params.len();
        for name in by_column.keys() {
            let q = quote_ident(name).map_err(TableError::permanent)?;
            conditions.push(format!(
                "t.{q} = (jsonb_populate_record(NULL::{}, ${p}::text::jsonb)).{q}",
                table.sql
            ));
        }
    }
    if !in_item.is_empty() {
        params.push(Json::Object(in_item));
        conditions.push(format!("t.{ITEM_COLUMN} @> ${}::text::jsonb", params.len()));
    }
    if conditions.is_empty() {
        return Err(TableError::permanent("an item lookup needs a key"));
    }
    Ok((conditions.join(" AND "), params))
}

/// A row (as `to_jsonb` gives it) as an item: `item`'s attributes, then the columns that
/// hold a value (a NULL column is an attribute the item does not have).
fn as_item(row: Json, has_item_column: bool) -> Json {
    let Json::Object(mut columns) = row else {
        return row;
    };
    let mut item = match has_item_column
        .then(|| columns.remove(ITEM_COLUMN))
        .flatten()
    {
        Some(Json::Object(attributes)) => attributes,
        _ => Item::new(),
    };
    for (name, value) in columns {
        if !value.is_null() {
            item.insert(name, value);
        }
    }
    Json::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_are_quoted_or_refused() {
        assert_eq!(quote_ident("plain").unwrap(), "\"plain\"");
        assert_eq!(quote_ident("we\"ird.name").unwrap(), "\"we\"\"ird.name\"");
        assert!(quote_ident("").is_err());
        assert!(quote_ident(&"x".repeat(64)).is_err());
        assert!(quote_ident(&"x".repeat(63)).is_ok());
        assert!(quote_ident("a\0b").is_err());
    }

    #[test]
    fn table_names_map_through_the_config_or_stay_one_identifier() {
        let mut tables = BTreeMap::new();
        tables.insert("Readings".to_owned(), "iot.readings".to_owned());
        let mapped = TableName::resolve("Readings", &tables).unwrap();
        assert_eq!(mapped.sql, "\"iot\".\"readings\"");
        let same = TableName::resolve("my.table", &tables).unwrap();
        assert_eq!(same.sql, "\"my.table\"");
        let long = TableName::resolve(&"t".repeat(100), &tables).unwrap_err();
        assert!(long.contains("[targets.dynamodb] tables"), "{long}");
    }

    #[test]
    fn keyed_tables_have_the_keys_as_primary_key() {
        let t = TableName::resolve("T", &BTreeMap::new()).unwrap();
        let sql = create_keyed(
            &t,
            ("id", KeyType::String),
            Some(("ts", KeyType::Number)),
            "payload",
        )
        .unwrap();
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS \"T\" (\"id\" text NOT NULL, \"ts\" numeric NOT NULL, \
             \"payload\" jsonb, PRIMARY KEY (\"id\", \"ts\"))"
        );
    }

    #[test]
    fn rows_read_back_as_items() {
        let row = json!({"id": "a", "n": null, "item": {"id": "a", "x": 1}, "temp": 20});
        assert_eq!(as_item(row, true), json!({"id": "a", "x": 1, "temp": 20}));
        let row = json!({"id": "a", "payload": {"t": 1}, "n": null});
        assert_eq!(as_item(row, false), json!({"id": "a", "payload": {"t": 1}}));
    }
}

/// The operations against a real PostgreSQL (`FERRITE_TEST_POSTGRES_URL`), each test in a
/// schema of its own.
#[cfg(test)]
mod pg_tests {
    use std::str::FromStr;

    use serde_json::json;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;

    struct Scratch {
        db: Database,
        admin: PgPool,
        schema: String,
    }

    async fn scratch(what: &str) -> Option<Scratch> {
        let Ok(url) = std::env::var("FERRITE_TEST_POSTGRES_URL") else {
            eprintln!("!! FERRITE_TEST_POSTGRES_URL is not set: {what} is SKIPPED");
            return None;
        };
        let schema = format!("ferrite_rules_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect");
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .expect("connect to the schema");
        Some(Scratch {
            db: Database::new(pool),
            admin,
            schema,
        })
    }

    impl Scratch {
        async fn sql(&self, sql: &str) {
            sqlx::raw_sql(sql)
                .execute(&self.db.pool)
                .await
                .expect("statement");
        }

        async fn done(self) {
            self.db.pool.close().await;
            sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.schema))
                .execute(&self.admin)
                .await
                .expect("drop schema");
        }
    }

    fn item(v: Json) -> Item {
        v.as_object().cloned().expect("an object")
    }

    fn name(n: &str) -> TableName {
        TableName::resolve(n, &BTreeMap::new()).unwrap()
    }

    #[tokio::test]
    async fn keyed_tables_put_update_get_and_delete_items() {
        let Some(s) = scratch("keyed_tables_put_update_get_and_delete_items").await else {
            return;
        };
        let t = name("Keyed");
        let create = create_keyed(
            &t,
            ("id", KeyType::String),
            Some(("n", KeyType::Number)),
            "payload",
        )
        .unwrap();
        let key = item(json!({"id": "a", "n": 1}));
        s.db.put_item(
            &t,
            &create,
            &item(json!({"id": "a", "n": 1, "payload": {"x": 1}})),
        )
        .await
        .unwrap();
        // The number key matches whether it is given as a number or as text.
        let text_key = item(json!({"id": "a", "n": "1"}));
        assert_eq!(
            s.db.get_item(&t, &text_key).await.unwrap(),
            Some(json!({"id": "a", "n": 1, "payload": {"x": 1}}))
        );
        s.db.update_item(&t, &create, &key, &item(json!({"payload": {"x": 2}})))
            .await
            .unwrap();
        assert_eq!(
            s.db.get_item(&t, &key).await.unwrap(),
            Some(json!({"id": "a", "n": 1, "payload": {"x": 2}}))
        );
        // UpdateItem creates a missing item.
        let other = item(json!({"id": "b", "n": 2}));
        s.db.update_item(&t, &create, &other, &item(json!({"payload": 7})))
            .await
            .unwrap();
        assert_eq!(
            s.db.get_item(&t, &other).await.unwrap(),
            Some(json!({"id": "b", "n": 2, "payload": 7}))
        );
        s.db.delete_item(&t, &create, &key).await.unwrap();
        assert_eq!(s.db.get_item(&t, &key).await.unwrap(), None);
        // A key value the column cannot hold fails for good; so does a missing key.
        let bad =
            s.db.put_item(&t, &create, &item(json!({"id": "c", "n": "many"})))
                .await
                .unwrap_err();
        assert!(!bad.retry, "{bad:?}");
        let missing =
            s.db.put_item(&t, &create, &item(json!({"id": "c", "payload": 1})))
                .await
                .unwrap_err();
        assert!(
            !missing.retry && missing.message.contains("no value for n"),
            "{missing:?}"
        );
        s.done().await;
    }

    #[tokio::test]
    async fn user_tables_take_attributes_by_column_and_the_rest_in_item() {
        let Some(s) = scratch("user_tables_take_attributes_by_column_and_the_rest_in_item").await
        else {
            return;
        };
        s.sql(
            "CREATE TABLE readings (id bigint GENERATED ALWAYS AS IDENTITY, device text PRIMARY KEY, \
             temp double precision, seen timestamptz NOT NULL DEFAULT now(), item jsonb)",
        )
        .await;
        let t = name("readings");
        let unused = create_items(&t);
        s.db.put_item(
            &t,
            &unused,
            &item(json!({"device": "d", "temp": 1.5, "fw": "2"})),
        )
        .await
        .unwrap();
        let got =
            s.db.get_item(&t, &item(json!({"device": "d"})))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(got["temp"], json!(1.5));
        assert_eq!(got["fw"], json!("2"));
        assert!(got["seen"].is_string() && got["id"].is_number(), "{got}");
        // A put replaces the item: attributes it lacks are gone.
        s.db.put_item(&t, &unused, &item(json!({"device": "d", "fw": "3"})))
            .await
            .unwrap();
        let got =
            s.db.get_item(&t, &item(json!({"device": "d"})))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(got.get("temp"), None, "{got}");
        assert_eq!(got["fw"], json!("3"));
        // Found by an attribute that only item holds.
        assert!(
            s.db.get_item(&t, &item(json!({"fw": "3"})))
                .await
                .unwrap()
                .is_some()
        );
        s.done().await;
    }

    #[tokio::test]
    async fn item_tables_append_and_cannot_update_by_key() {
        let Some(s) = scratch("item_tables_append_and_cannot_update_by_key").await else {
            return;
        };
        let t = name("log");
        let create = create_items(&t);
        for n in [1, 2] {
            s.db.put_item(&t, &create, &item(json!({"k": "same", "n": n})))
                .await
                .unwrap();
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM log")
            .fetch_one(&s.db.pool)
            .await
            .unwrap();
        assert_eq!(count, 2);
        let e =
            s.db.update_item(
                &t,
                &create,
                &item(json!({"k": "same"})),
                &item(json!({"n": 3})),
            )
            .await
            .unwrap_err();
        assert!(e.message.contains("no primary key"), "{e:?}");
        // A table without matching columns or item says so.
        s.sql("CREATE TABLE bare (a int)").await;
        let e =
            s.db.get_item(&name("bare"), &item(json!({"k": 1})))
                .await
                .unwrap_err();
        assert!(e.message.contains("no column k"), "{e:?}");
        let e =
            s.db.get_item(&name("missing"), &item(json!({"k": 1})))
                .await
                .unwrap_err();
        assert!(e.message.contains("does not exist"), "{e:?}");
        s.done().await;
    }
}
