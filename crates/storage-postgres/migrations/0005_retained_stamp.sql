-- Retained messages in a cluster: every node may write the same topic, so each row keeps the
-- stamp of its write — (received_at_ms, stamp_node), the receiving node's id — and a write
-- replaces a row only when its stamp is not older, so concurrent writers converge on the
-- same message whatever order their group commits reach the database in.
-- Rows written before this migration have the empty node id: any node's write of the same
-- millisecond replaces them.
ALTER TABLE broker_retained ADD COLUMN stamp_node TEXT COLLATE "C" NOT NULL DEFAULT '';
