-- Offline push is durable: a message's push job is written in the same
-- transaction as the message, so a crash between the commit and the push
-- loses nothing. A worker turns each job into one delivery per device
-- (after the app's _receiversOffline hook had its say) and sends those,
-- retrying until it succeeds, the provider refuses for good, or a week has
-- passed.
CREATE TABLE push_jobs (
    id              INTEGER PRIMARY KEY,
    mid             INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    offline         TEXT NOT NULL, -- JSON array: members offline when it was sent
    push_data       TEXT,          -- the sender's pushData, JSON, or NULL
    created_at      INTEGER NOT NULL
);

CREATE TABLE push_deliveries (
    id          INTEGER PRIMARY KEY,
    token       TEXT NOT NULL,
    platform    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    payload     TEXT NOT NULL, -- JSON: alert, badge, sound, _profile, custom keys
    conversation_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX push_deliveries_due ON push_deliveries(next_at);
