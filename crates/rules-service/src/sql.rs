//! The seam through which CreateTopicRule and ReplaceTopicRule check a rule's SQL: the server
//! wires the real parser (`ferrite-rules-sql`) behind [`SqlCheck`]; until that lands,
//! [`ScanningCheck`] stands in.

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

    /// One expression: the inside of a `${...}` substitution template in an action. Only
    /// [`SqlInfo::functions`] is meaningful.
    fn check_expression(&self, expr: &str, version: SqlVersion) -> Result<SqlInfo, SqlParseError>;
}

/// TEMPORARY stand-in until `ferrite-rules-sql`'s parser is wired in its place: a scan that
/// requires `SELECT` (or `SET`) first and a quoted, valid topic filter after a top-level
/// `FROM` (when there is one), collects the names of the functions called, and accepts
/// everything else. Expressions are never refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanningCheck;

impl SqlCheck for ScanningCheck {
    fn check(&self, sql: &str, _version: SqlVersion) -> Result<SqlInfo, SqlParseError> {
        let tokens = scan(sql)?;
        match tokens.first() {
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("select") || w.eq_ignore_ascii_case("set") => {}
            Some(_) => {
                return Err(SqlParseError::new(
                    "Expected SELECT at the start of the statement.",
                ));
            }
            None => return Err(SqlParseError::new("The SQL statement is empty.")),
        }
        let mut depth = 0usize;
        let mut topic_pattern = None;
        let mut iter = tokens.iter().peekable();
        while let Some(token) = iter.next() {
            match token {
                Token::Open => depth += 1,
                Token::Close => depth = depth.saturating_sub(1),
                Token::Word(w) if depth == 0 && w.eq_ignore_ascii_case("from") => {
                    let pattern = match iter.next() {
                        Some(Token::Quoted(text)) => text.clone(),
                        _ => {
                            return Err(SqlParseError::new(
                                "Expected a quoted topic filter after FROM.",
                            ));
                        }
                    };
                    validate_topic_filter(&pattern, &TopicLimits::default()).map_err(|e| {
                        SqlParseError::new(format!("Invalid topic filter '{pattern}' in FROM: {e}"))
                    })?;
                    topic_pattern = Some(pattern);
                    break;
                }
                _ => {}
            }
        }
        Ok(SqlInfo {
            topic_pattern,
            functions: functions(&tokens),
        })
    }

    fn check_expression(&self, expr: &str, _version: SqlVersion) -> Result<SqlInfo, SqlParseError> {
        Ok(SqlInfo {
            topic_pattern: None,
            functions: scan(expr).map(|t| functions(&t)).unwrap_or_default(),
        })
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Other,
}

/// Words, quoted text, parentheses and everything else, one character at a time. A quote
/// inside quoted text is written twice.
fn scan(sql: &str) -> Result<Vec<Token>, SqlParseError> {
    let mut tokens = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '\'' | '"' | '`' => {
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => {
                            if chars.peek().is_some_and(|&(_, n)| n == c) {
                                chars.next();
                                text.push(c);
                            } else {
                                break;
                            }
                        }
                        Some((_, other)) => text.push(other),
                        None => {
                            return Err(SqlParseError::new(format!(
                                "Unterminated quoted text starting at offset {at}."
                            )));
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = c.to_string();
                while let Some(&(_, n)) = chars.peek() {
                    if !(n.is_alphanumeric() || n == '_') {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
            _ => tokens.push(Token::Other),
        }
    }
    Ok(tokens)
}

/// Words directly followed by `(`, lowercase, each once in order of appearance.
fn functions(tokens: &[Token]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for pair in tokens.windows(2) {
        if let [Token::Word(w), Token::Open] = pair {
            let name = w.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str) -> Result<SqlInfo, SqlParseError> {
        ScanningCheck.check(sql, SqlVersion::V2016_03_23)
    }

    #[test]
    fn the_from_topic_filter_and_the_functions_called() {
        let info = check(
            "SELECT temp, topic(2) AS id, (SELECT v FROM a) AS x FROM 'sensors/+/data' \
             WHERE Upper(name) = 'FROM'",
        )
        .unwrap();
        assert_eq!(info.topic_pattern.as_deref(), Some("sensors/+/data"));
        assert_eq!(info.functions, ["topic", "upper"]);
        let info = check("select * from \"a/#\"").unwrap();
        assert_eq!(info.topic_pattern.as_deref(), Some("a/#"));
        // Basic Ingest rules may leave FROM out.
        assert_eq!(check("SELECT *").unwrap().topic_pattern, None);
        let quoted = check("SELECT 'it''s' FROM 'a/b'").unwrap();
        assert_eq!(quoted.topic_pattern.as_deref(), Some("a/b"));
    }

    #[test]
    fn refused_statements() {
        for bad in [
            "",
            "   ",
            "UPDATE x",
            "SELECT * FROM a/b",
            "SELECT * FROM 'a/b",
            "SELECT * FROM 'a/#/b'",
            "SELECT * FROM",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn expressions_name_their_functions() {
        let info = ScanningCheck
            .check_expression("machinelearning_predict('m', 'r', *)", SqlVersion::Beta)
            .unwrap();
        assert_eq!(info.functions, ["machinelearning_predict"]);
    }
}
