-- Control-plane documents (things, types, groups, ... and the links between them), one row
-- each; see ferrite_storage::RegistryStore. Keys sort with BINARY collation, as Rust strings.

CREATE TABLE registry (
    kind    TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    version INTEGER NOT NULL,
    doc     TEXT    NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
