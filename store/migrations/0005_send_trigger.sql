-- A stored message advances its conversation and its sender's read position
-- inside SQLite, so that a send costs one statement from Go, not three.
CREATE TRIGGER messages_advance AFTER INSERT ON messages WHEN NEW.private = 0 BEGIN
    UPDATE conversations SET last_seq = NEW.seq, last_message_at = NEW.timestamp
        WHERE id = NEW.conversation_id;
    UPDATE members SET read_seq = NEW.seq, read_at = NEW.timestamp
        WHERE conversation_id = NEW.conversation_id AND client_id = NEW.from_id;
END;
