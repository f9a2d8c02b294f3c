//! How CreateTopicRule and ReplaceTopicRule check a rule's SQL and its actions' templates:
//! through [`SqlCheck`], which [`CompilingCheck`] implements with the engine's own compiler, so
//! the API accepts exactly what the engine runs (tests may plug in another check).

use ferrite_rules_sql::SqlVersion;
use ferrite_topic::{TopicLimits, validate_topic_filter};

/// What the rule API needs to know of a statement it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlInfo {
    /// The `FROM` topic filter, unquoted; `None` when the statement has no `FROM` (a rule used
    /// only through Basic Ingest).
    pub topic_pattern: Option<String>,
    /// The functions the statement calls, lowercase, each once, so that the API can refuse
    /// those Ferrite cannot serve.
    pub functions: Vec<String>,
}

/// Why a statement was refused; the message is the client's (AWS's SqlParseException).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlParseError {
    pub message: String,
}

impl SqlParseError {
    pub fn new(message: impl Into<String>) -> SqlParseError {
        SqlParseError {
            message: message.into(),
        }
    }
}

/// Checks rule SQL for the API.
pub trait SqlCheck: Send + Sync + 'static {
    /// A whole statement (`topicRulePayload.sql`).
    fn check(&self, sql: &str, version: SqlVersion) -> Result<SqlInfo, SqlParseError>;

    /// One expression: the inside of a `${...}` substitution template in an action of the
    /// rule `sql` (whose SET variables it may use). Only [`SqlInfo::functions`] is meaningful.
    fn check_expression(
        &self,
        sql: &str,
        expr: &str,
        version: SqlVersion,
    ) -> Result<SqlInfo, SqlParseError>;
}

/// The real check: the statement is parsed and bound for its SQL version by the rules engine's
/// compiler (`ferrite_rules::compile`), exactly as the engine will run it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompilingCheck;

impl SqlCheck for CompilingCheck {
    fn check(&self, sql: &str, version: SqlVersion) -> Result<SqlInfo, SqlParseError> {
        let compiled =
            ferrite_rules::compile(sql, version).map_err(|e| SqlParseError::new(e.to_string()))?;
        if let Some(pattern) = compiled.topic_filter() {
            validate_topic_filter(pattern, &TopicLimits::default()).map_err(|e| {
                SqlParseError::new(format!("Invalid topic filter '{pattern}' in FROM: {e}"))
            })?;
        }
        Ok(SqlInfo {
            topic_pattern: compiled.topic_filter().map(str::to_owned),
            functions: lowercase(compiled.functions()),
        })
    }

    fn check_expression(
        &self,
        sql: &str,
        expr: &str,
        version: SqlVersion,
    ) -> Result<SqlInfo, SqlParseError> {
        let compiled =
            ferrite_rules::compile(sql, version).map_err(|e| SqlParseError::new(e.to_string()))?;
        let template = compiled
            .template(&format!("${{{expr}}}"))
            .map_err(|e| SqlParseError::new(e.to_string()))?;
        Ok(SqlInfo {
            topic_pattern: None,
            functions: lowercase(template.functions()),
        })
    }
}

fn lowercase(names: &[&'static str]) -> Vec<String> {
    names.iter().map(|f| f.to_ascii_lowercase()).collect()
}
