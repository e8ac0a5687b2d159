-- Text messages are most messages, and a history page of texts is best read
-- from messages_by_conversation, skipping the few others. Indexing them by
-- type as well cost a third of a send's time in SQLite (one more B-tree page
-- written per message), so the type index now holds every other type only.
DROP INDEX messages_by_conversation_type;
CREATE INDEX messages_by_conversation_type ON messages(conversation_id, type, mid) WHERE type <> -1;
