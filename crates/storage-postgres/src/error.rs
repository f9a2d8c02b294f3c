//! This backend's errors, and their mapping onto the shared `StorageError`.
//!
//! Messages carry a short context ("commit: upsert queue") and PostgreSQL's own message, never
//! bound parameter values, so payloads and client data do not leak into logs. URLs are shown
//! only through [`redact_url`].

use ferrite_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum PgStoreError {
    #[error("invalid PostgreSQL url {url}: {source}")]
    Url { url: String, source: sqlx::Error },
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot connect to PostgreSQL at {url}: no answer within {after:?}")]
    ConnectTimeout {
        url: String,
        after: std::time::Duration,
    },
    #[error("postgres: {context}: {source}")]
    Sql {
        context: &'static str,
        source: sqlx::Error,
    },
    #[error("queue seq {0} exceeds the storable maximum {max}", max = ferrite_storage::QueuedMessage::MAX_SEQ)]
    SeqOutOfRange(u64),
    #[error("{field} contains a NUL character, which PostgreSQL text cannot store")]
    NulInText { field: &'static str },
    #[error("the connection's search_path names no existing schema; create the schema first")]
    NoSchema,
    #[error("registry record kept changing under {attempts} attempts to lock it")]
    Contended { attempts: u32 },
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("stored data is corrupt: {table}.{column}: {what}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        what: String,
    },
}

impl PgStoreError {
    pub(crate) fn sql(context: &'static str) -> impl FnOnce(sqlx::Error) -> PgStoreError {
        move |source| PgStoreError::Sql { context, source }
    }

    /// Whether the connection this error came from can no longer be trusted (gone, or in an
    /// unknown protocol or transaction state), so the writer must replace it.
    pub(crate) fn breaks_connection(&self) -> bool {
        match self {
            PgStoreError::Sql { source, .. } | PgStoreError::Connect { source, .. } => {
                is_connection_error(source)
            }
            _ => false,
        }
    }

    /// A serialization failure or deadlock: the transaction was rolled back and running it
    /// again may succeed (another node wrote the same rows).
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            PgStoreError::Sql { source: sqlx::Error::Database(db), .. }
                if matches!(db.code().as_deref(), Some("40001" | "40P01"))
        )
    }
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

fn is_connection_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 57P01-57P03: the server is shutting down or starting.
        sqlx::Error::Database(_) => sqlstate(err).is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl From<PgStoreError> for StorageError {
    fn from(err: PgStoreError) -> StorageError {
        let message = err.to_string();
        match &err {
            PgStoreError::Connect { .. }
            | PgStoreError::ConnectTimeout { .. }
            | PgStoreError::Contended { .. }
            | PgStoreError::SchemaTooNew { .. } => StorageError::Unavailable(message),
            PgStoreError::Corrupt { .. } => StorageError::Corrupt(message),
            PgStoreError::Sql { source, .. } => match source {
                sqlx::Error::PoolClosed => StorageError::Closed,
                sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::Decode(_)
                | sqlx::Error::ColumnNotFound(_)
                | sqlx::Error::TypeNotFound { .. } => StorageError::Corrupt(message),
                _ if is_connection_error(source) => StorageError::Unavailable(message),
                _ => match sqlstate(source).as_deref() {
                    // 53: insufficient resources (disk full, too many connections);
                    // 40: rolled back by a conflict, worth retrying.
                    Some(code) if code.starts_with("53") || code.starts_with("40") => {
                        StorageError::Unavailable(message)
                    }
                    // XX001/XX002: PostgreSQL found corrupted data or index pages.
                    Some("XX001" | "XX002") => StorageError::Corrupt(message),
                    _ => StorageError::Backend(message),
                },
            },
            PgStoreError::Url { .. }
            | PgStoreError::SeqOutOfRange(_)
            | PgStoreError::NulInText { .. }
            | PgStoreError::NoSchema => StorageError::Backend(message),
        }
    }
}

/// The URL as it may be shown: the password (in the user info or a `password=` parameter) is
/// replaced by `***`. Works on any string, so a malformed URL is still shown safely.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The user info ends at the last '@' before the query: a password typed with a raw '/'
    // or '@' (invalid, but it happens) is still hidden whole.
    let query_start = rest.find(['?', '#']).unwrap_or(rest.len());
    let (before_query, tail) = rest.split_at(query_start);
    let before_query = match before_query.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => before_query.to_owned(),
    };
    let tail = match tail.strip_prefix('?') {
        Some(query) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
            format!("?{}{fragment}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{before_query}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        for (url, shown) in [
            (
                "postgres://u:secret@db:5432/x",
                "postgres://u:***@db:5432/x",
            ),
            ("postgresql://u@db/x", "postgresql://u@db/x"),
            ("postgres://db/x", "postgres://db/x"),
            ("postgres://u:p%40ss@db", "postgres://u:***@db"),
            (
                "postgres://db/x?user=u&password=secret&sslmode=disable",
                "postgres://db/x?user=u&password=***&sslmode=disable",
            ),
            ("postgres://u:se@cret@db/x", "postgres://u:***@db/x"),
            ("postgres://u:s/ecret@db/x", "postgres://u:***@db/x"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
