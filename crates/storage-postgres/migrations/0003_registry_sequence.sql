-- The registry's sequence (RegistryStore::next_sequence). A PostgreSQL sequence hands out
-- increasing numbers to every node of a cluster without locking, and clearing the registry
-- leaves it alone, so numbers are never handed out twice.

CREATE SEQUENCE registry_sequence AS BIGINT START WITH 1;
