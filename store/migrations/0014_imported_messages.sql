-- Messages imported from LeanCloud keep LeanCloud's message id (msg-id)
-- beside the integer mid, which stays the key: the API shows a message's
-- lc_id when it has one. An app's history is imported once per
-- conversation however often the import runs: the unique index makes a
-- repeated message a no-op. Parley's own messages leave it NULL, which the
-- partial index does not hold, so a send writes no entry of it.
--
-- An imported message's mid is handed out when it is imported, like any
-- message's: mids say when a message arrived in Parley, which is what
-- retention counts from (store.PurgeMessagesBefore), while its timestamp is
-- when LeanCloud received it, which is what history orders by.
ALTER TABLE messages ADD COLUMN lc_id TEXT;
CREATE UNIQUE INDEX messages_lc_id ON messages(conversation_id, lc_id) WHERE lc_id IS NOT NULL;

-- Imported history is old and counts as read: it takes no sequence number
-- (seq 0, never above a read position), and it does not move its
-- conversation's last message nor its sender's read position, which the
-- importer sets once per conversation instead (Tx.FinishImport).
DROP TRIGGER messages_advance;
CREATE TRIGGER messages_advance AFTER INSERT ON messages WHEN NEW.private = 0 AND NEW.lc_id IS NULL BEGIN
    UPDATE conversations SET last_seq = NEW.seq, last_message_at = NEW.timestamp, last_mid = NEW.mid
        WHERE id = NEW.conversation_id;
    UPDATE members SET read_seq = NEW.seq, read_at = NEW.timestamp
        WHERE conversation_id = NEW.conversation_id AND client_id = NEW.from_id;
END;

-- LeanCloud's member roles (_ConversationMemberInfo), kept as imported for
-- the roles of members: role is Owner, Manager or Member, info_id the
-- row's objectId (the info-id of LeanCloud's REST API).
CREATE TABLE member_infos (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    role            TEXT NOT NULL,
    info_id         TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, client_id)
) WITHOUT ROWID;
