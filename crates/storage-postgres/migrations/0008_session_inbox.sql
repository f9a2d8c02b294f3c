-- Messages another node stored for a persistent session it does not hold, because the node
-- holding it did not confirm in time that it stored them (ARCHITECTURE.md, "Acknowledgement
-- across nodes"). The node that holds the session next moves them into broker_queue with its
-- own sequence numbers: broker_queue's numbers belong to one writer per session. body is the
-- cluster's own encoding of the message; id orders the rows of a client.
CREATE TABLE broker_inbox (
    id        BIGSERIAL PRIMARY KEY,
    client_id TEXT COLLATE "C" NOT NULL,
    topic     TEXT NOT NULL,
    body      BYTEA NOT NULL
);
CREATE INDEX broker_inbox_client ON broker_inbox (client_id, id);
