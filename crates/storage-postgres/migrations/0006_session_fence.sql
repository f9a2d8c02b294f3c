-- Fencing a session's writes (ARCHITECTURE.md, "Sessions and take-over"): the broker's group
-- commit writes a session's rows only while its node still holds the session by the claim the
-- writes were made under.
--
-- owner_since_epoch is the epoch at which owner_node's unbroken run of claims began: a node
-- that claims a client id again while holding it keeps its run (its writes of the earlier
-- claim still apply), a claim or an adoption by another node starts a new one (the earlier
-- owner's late writes no longer apply, even once the session comes back).
--
-- handover_node, when set, is the node a claim took the session from while that node still
-- flushes it (the claimant asked it to let go and waits for its answer): its writes of the run
-- handover_since_epoch ..= handover_until_epoch still apply until the claimant seals the
-- claim — after the answer, or after giving up on one — and only then loads the session.
-- Adoption takes a gone node's sessions without a hand-over.
-- Rows claimed before this migration start their run at their current epoch.
ALTER TABLE broker_session_owners
    ADD COLUMN owner_since_epoch BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN handover_node TEXT COLLATE "C",
    ADD COLUMN handover_since_epoch BIGINT,
    ADD COLUMN handover_until_epoch BIGINT;
UPDATE broker_session_owners SET owner_since_epoch = owner_epoch;
ALTER TABLE broker_session_owners ADD CONSTRAINT broker_session_owners_since_check
    CHECK (owner_since_epoch > 0 AND owner_since_epoch <= owner_epoch);
