//! The embedded storage backend: SQLite with one writer thread and group commit
