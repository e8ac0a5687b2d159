-- Uploaded files: the bytes live under the data directory (files/<id>), the
-- facts about them here.
CREATE TABLE files (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    mime_type  TEXT NOT NULL,
    size       INTEGER NOT NULL,
    meta_data  TEXT NOT NULL DEFAULT '{}',
    owner      TEXT NOT NULL DEFAULT '', -- clientId of the uploader; empty for the master key
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
