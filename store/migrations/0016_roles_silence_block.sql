-- Member roles: a conversation's creator is its owner, everyone else a
-- member, unless member_infos says otherwise (imported from LeanCloud's
-- _ConversationMemberInfo, or set since). Roles are kept in lower case.
UPDATE member_infos SET role = lower(role);

-- Silenced members (禁言) read but may not send: until a time (ms), or
-- until lifted (until NULL). Expiry is checked at send time: no sweeper.
CREATE TABLE silenced (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    until           INTEGER,
    by_id           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, client_id)
) WITHOUT ROWID;

-- Blocked clients (黑名单) are kept out: they cannot join nor be added.
CREATE TABLE blocked (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    by_id           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, client_id)
) WITHOUT ROWID;
