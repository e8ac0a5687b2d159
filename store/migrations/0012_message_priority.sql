-- A message's chat-room priority as sent ('' when none was given), so that
-- history shows what live delivery showed.
ALTER TABLE messages ADD COLUMN priority TEXT NOT NULL DEFAULT '';
