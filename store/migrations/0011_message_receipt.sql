-- Whether the sender asked for a delivery receipt, so that a message first
-- delivered by offline push (when its recipient logs in) is confirmed too.
ALTER TABLE messages ADD COLUMN receipt INTEGER NOT NULL DEFAULT 0;
