-- Messages are ordered by (timestamp, mid), as the contract has it, and
-- history pages walk that order, by message id (before, after) or by time
-- (beforeTime, afterTime): the message indexes are keyed by timestamp
-- instead of mid. An index of a table with an INTEGER PRIMARY KEY ends with
-- the rowid, here mid, so each of them holds a conversation's messages in
-- (timestamp, mid) order. They replace the indexes by mid rather than join
-- them: a third message index cost a send a quarter more of the writer's
-- time (one more B-tree page written per message; BenchmarkQueuedSend).
DROP INDEX messages_by_conversation;
DROP INDEX messages_by_conversation_type;
CREATE INDEX messages_by_time ON messages(conversation_id, timestamp);
CREATE INDEX messages_by_time_type ON messages(conversation_id, type, timestamp) WHERE type <> -1;
