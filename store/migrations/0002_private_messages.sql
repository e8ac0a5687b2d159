-- A message a client sends to a system conversation is for the app backend
-- only: no other subscriber sees it.
ALTER TABLE messages ADD COLUMN private INTEGER NOT NULL DEFAULT 0;

-- The sweeper finds expired temporary conversations by this index.
CREATE INDEX conversations_expiry ON conversations(expires_at) WHERE expires_at IS NOT NULL;
