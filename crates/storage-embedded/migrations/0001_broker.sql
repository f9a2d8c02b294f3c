-- Broker state: retained messages and persistent sessions (record, subscriptions, queue).
-- Plain rowid tables on purpose: payloads can be large, and SQLite recommends WITHOUT ROWID
-- only for small rows. Booleans and enums are small integers; timestamps are Unix ms.

CREATE TABLE retained (
    topic          TEXT    NOT NULL PRIMARY KEY,
    payload        BLOB    NOT NULL,
    qos            INTEGER NOT NULL,
    retain         INTEGER NOT NULL,
    properties     BLOB    NOT NULL,
    received_at_ms INTEGER NOT NULL,
    expires_at_ms  INTEGER
);

CREATE TABLE sessions (
    client_id            TEXT    NOT NULL PRIMARY KEY,
    expiry_interval_secs INTEGER NOT NULL,
    disconnected_at_ms   INTEGER,
    data                 BLOB    NOT NULL
);

-- No foreign key to sessions: the broker owns consistency, and DeleteSession cascades
-- explicitly so that the order of ops inside a batch never trips a constraint.
CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    filter    TEXT NOT NULL,
    options   BLOB NOT NULL,
    PRIMARY KEY (client_id, filter)
);

-- state: 0 = pending, 1 = released (QoS 2 PUBREL sent).
CREATE TABLE queue (
    client_id      TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    state          INTEGER NOT NULL,
    topic          TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    qos            INTEGER NOT NULL,
    retain         INTEGER NOT NULL,
    properties     BLOB    NOT NULL,
    received_at_ms INTEGER NOT NULL,
    expires_at_ms  INTEGER,
    PRIMARY KEY (client_id, seq)
);
