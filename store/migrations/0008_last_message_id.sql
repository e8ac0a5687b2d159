-- The newest public message of each conversation, kept by the send trigger,
-- so that an unread summary (or a query withLastMessage) reads each
-- conversation's last message by primary key instead of searching for it.
ALTER TABLE conversations ADD COLUMN last_mid INTEGER;
UPDATE conversations SET last_mid =
    (SELECT max(mid) FROM messages WHERE conversation_id = conversations.id AND private = 0);
DROP TRIGGER messages_advance;
CREATE TRIGGER messages_advance AFTER INSERT ON messages WHEN NEW.private = 0 BEGIN
    UPDATE conversations SET last_seq = NEW.seq, last_message_at = NEW.timestamp, last_mid = NEW.mid
        WHERE id = NEW.conversation_id;
    UPDATE members SET read_seq = NEW.seq, read_at = NEW.timestamp
        WHERE conversation_id = NEW.conversation_id AND client_id = NEW.from_id;
END;
