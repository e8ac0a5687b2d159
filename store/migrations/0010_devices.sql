-- Devices registered for offline push: a push token belongs to one client
-- at a time (the last to register it).
CREATE TABLE devices (
    token      TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    platform   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX devices_by_client ON devices(client_id);
