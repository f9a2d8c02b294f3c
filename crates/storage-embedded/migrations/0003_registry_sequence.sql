-- The registry's sequence (RegistryStore::next_sequence): one row holding the last number
-- handed out. Clearing the registry leaves it alone, so numbers are never handed out twice.

CREATE TABLE registry_sequence (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);

INSERT INTO registry_sequence (id, value) VALUES (1, 0);
