-- Control-plane documents (things, types, groups, ... and the links between them), one row
-- each; see ferrite_storage::RegistryStore. Keys use the "C" collation: listings come back
-- in byte order, as Rust compares strings, whatever the server's locale. `kind` too, so that
-- the primary key's order (which `list` scans and batches lock in) is byte order as well.

CREATE TABLE registry (
    kind    TEXT COLLATE "C" NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    -- A u64 in the model, 1 when created; BIGINT because PostgreSQL has no unsigned types.
    -- 0 marks the placeholder a write batch inserts to lock a record that does not exist
    -- yet; it is deleted or replaced before that transaction commits, so no one else sees it.
    version BIGINT NOT NULL CHECK (version >= 0),
    doc     TEXT   NOT NULL,
    PRIMARY KEY (kind, key)
);
