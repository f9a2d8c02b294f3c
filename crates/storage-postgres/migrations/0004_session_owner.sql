-- Which node of a cluster holds each client id's session (ARCHITECTURE.md, "Sessions and
-- take-over"). A table of its own rather than columns of broker_sessions: a client id is
-- claimed at every CONNECT, also by clean sessions that never get a broker_sessions row, and
-- the broker's group commit rewrites session rows without knowing about owners.
-- A claim is one upsert: owner_node becomes the claimant, owner_epoch grows by one, and
-- previous_node keeps who held it just before (read under the row lock the upsert takes, so
-- concurrent claims each learn the one that preceded them).
CREATE TABLE broker_session_owners (
    client_id     TEXT COLLATE "C" PRIMARY KEY,
    owner_node    TEXT COLLATE "C" NOT NULL,
    owner_epoch   BIGINT NOT NULL CHECK (owner_epoch > 0),
    previous_node TEXT COLLATE "C",
    claimed_at_ms BIGINT NOT NULL
);
