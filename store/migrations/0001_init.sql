-- Parley schema, version 1.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    tag              TEXT NOT NULL DEFAULT '',
    offline_messages TEXT NOT NULL DEFAULT 'unread',
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    ended_at         INTEGER,
    end_reason       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_live_by_client ON sessions(client_id) WHERE ended_at IS NULL;

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    creator         TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',
    is_unique       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_message_at INTEGER,
    last_seq        INTEGER NOT NULL DEFAULT 0,
    member_count    INTEGER NOT NULL DEFAULT 0,
    ttl             INTEGER,
    expires_at      INTEGER
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    joined_at       INTEGER NOT NULL,
    muted           INTEGER NOT NULL DEFAULT 0,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, client_id)
) WITHOUT ROWID;
CREATE INDEX members_by_client ON members(client_id, conversation_id);

-- mid is the message id: a time-ordered integer assigned by the single writer,
-- so ids sort in commit order and history pages walk the primary key.
CREATE TABLE messages (
    mid               INTEGER PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL,
    from_id           TEXT NOT NULL,
    type              INTEGER NOT NULL DEFAULT 0,
    body              TEXT NOT NULL,
    client_message_id TEXT,
    timestamp         INTEGER NOT NULL,
    patched_at        INTEGER,
    recalled          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, mid);
CREATE INDEX messages_by_conversation_type ON messages(conversation_id, type, mid);
CREATE UNIQUE INDEX messages_client_message_id
    ON messages(conversation_id, from_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
