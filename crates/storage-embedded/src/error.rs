//! Mapping of SQLite errors onto the shared `StorageError`.
//!
//! Messages carry a short context ("commit: insert retained") and SQLite's own message, never
//! bound parameter values, so payloads and client data do not leak into logs.

use ferrite_storage::StorageError;
use rusqlite::ErrorCode;

/// Converts a rusqlite error, classifying it so callers can tell retryable unavailability
/// (busy, locked, cannot open, disk full) from corruption and from plain backend failures.
pub(crate) fn sql_error(context: &str, err: rusqlite::Error) -> StorageError {
    let message = format!("sqlite: {context}: {err}");
    match &err {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure => StorageError::Unavailable(message),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StorageError::Corrupt(message),
            _ => StorageError::Backend(message),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StorageError::Corrupt(message),
        _ => StorageError::Backend(message),
    }
}

/// Shorthand for `map_err(|e| sql_error(context, e))`.
pub(crate) trait SqlContext<T> {
    fn ctx(self, context: &str) -> Result<T, StorageError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, context: &str) -> Result<T, StorageError> {
        self.map_err(|err| sql_error(context, err))
    }
}
