-- Broker state: retained messages and persistent sessions (record, subscriptions, queue).
-- Tables are prefixed "broker_" because a cluster keeps all of Ferrite's durable state in
-- one database (or schema), and later stores add their own tables beside these.
-- Keys use the "C" collation: byte order, the same on every server whatever its locale, and
-- cheaper to compare. Timestamps are Unix ms, as in the embedded store.

CREATE TABLE broker_retained (
    topic          TEXT COLLATE "C" PRIMARY KEY,
    payload        BYTEA    NOT NULL,
    qos            SMALLINT NOT NULL CHECK (qos BETWEEN 0 AND 255),
    retain         BOOLEAN  NOT NULL,
    properties     BYTEA    NOT NULL,
    received_at_ms BIGINT   NOT NULL,
    expires_at_ms  BIGINT
);

CREATE TABLE broker_sessions (
    client_id            TEXT COLLATE "C" PRIMARY KEY,
    -- A u32 in the model; BIGINT because PostgreSQL has no unsigned types.
    expiry_interval_secs BIGINT NOT NULL CHECK (expiry_interval_secs BETWEEN 0 AND 4294967295),
    disconnected_at_ms   BIGINT,
    data                 BYTEA  NOT NULL
);

-- No foreign key to broker_sessions: the broker owns consistency, and DeleteSession cascades
-- explicitly, so the order of ops inside a batch never trips a constraint.
CREATE TABLE broker_subscriptions (
    client_id TEXT COLLATE "C" NOT NULL,
    filter    TEXT COLLATE "C" NOT NULL,
    options   BYTEA NOT NULL,
    PRIMARY KEY (client_id, filter)
);

-- state: 0 = pending, 1 = released (QoS 2 PUBREL sent).
CREATE TABLE broker_queue (
    client_id      TEXT COLLATE "C" NOT NULL,
    seq            BIGINT   NOT NULL CHECK (seq >= 0),
    state          SMALLINT NOT NULL CHECK (state IN (0, 1)),
    topic          TEXT     NOT NULL,
    payload        BYTEA    NOT NULL,
    qos            SMALLINT NOT NULL CHECK (qos BETWEEN 0 AND 255),
    retain         BOOLEAN  NOT NULL,
    properties     BYTEA    NOT NULL,
    received_at_ms BIGINT   NOT NULL,
    expires_at_ms  BIGINT,
    PRIMARY KEY (client_id, seq)
);
