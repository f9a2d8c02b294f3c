-- Retained deletes in a cluster are tombstones: rows with an empty payload, stamped like puts
-- (0005), so that an older put arriving later loses to the delete. They are purged once older
-- than a horizon (`RETAINED_TOMBSTONE_HORIZON_MS`); this index finds them without reading the
-- retained messages proper.
CREATE INDEX broker_retained_tombstones ON broker_retained (received_at_ms)
    WHERE octet_length(payload) = 0;
