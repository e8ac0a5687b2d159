-- Read and delivery positions per member: unread counts come from read_seq
-- (the conversation's last_seq minus it), receipts from the times.
ALTER TABLE members ADD COLUMN read_at INTEGER;
ALTER TABLE members ADD COLUMN delivered_at INTEGER;

-- Who each message mentions ('*' for everyone), so that an unread summary
-- can say "mentioned" without scanning message bodies.
CREATE TABLE mentions (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    from_id         TEXT NOT NULL,
    PRIMARY KEY (conversation_id, client_id, seq)
) WITHOUT ROWID;

-- One held will message per session, sent if the session drops abruptly.
CREATE TABLE wills (
    session_id      TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    request         TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
