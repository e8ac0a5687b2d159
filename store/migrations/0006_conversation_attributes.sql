-- An index of custom attributes, so that conversation queries filtering on
-- them (store/where.go) look rows up instead of parsing every
-- conversation's JSON.
--
-- For each conversation, one row per value a query path can reach: each
-- attribute at every object path ("a", "a.b" in nested objects, at most 8
-- levels, as many as a query may name), typed as json_type names it ('text',
-- 'integer', 'real', 'true', 'false', 'null', 'object', 'array'), and one
-- row per scalar element of an array, under the array's key. value is the
-- SQL value of a text or a number, '' for the other types (the type alone
-- says what they are). Keys no query can name (empty, holding . " \ $ or
-- NUL, or longer than 128 bytes) are left out with everything under them, so
-- that a dotted key is never ambiguous. value has no type: no affinity, so
-- the text '1' stays text and 1 stays a number, as in the JSON.
CREATE TABLE conversation_attributes (
    key             TEXT NOT NULL,
    type            TEXT NOT NULL,
    value           NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (key, type, value, conversation_id)
) WITHOUT ROWID;
CREATE INDEX conversation_attributes_by_conversation ON conversation_attributes(conversation_id);

-- Inserting (id, attributes) into conversation_attributes_reindex makes
-- that conversation's rows those of the attributes, touching only the rows
-- that change: a PATCH of one attribute rewrites its rows, not all of them.
-- The rows come from SQLite's JSON functions, which read the attributes
-- exactly as the queries' json_type and json_extract do; malformed
-- attributes have none. One difference: of an object's repeated keys, each
-- has rows where json_extract reads the first only. No handler stores
-- either (they write Go maps). The trigger collects the new rows in
-- conversation_attributes_new, empty between statements.
CREATE TABLE conversation_attributes_new (
    key   TEXT NOT NULL,
    type  TEXT NOT NULL,
    value NOT NULL
);
CREATE VIEW conversation_attributes_reindex (conversation_id, attributes) AS
    SELECT id, attributes FROM conversations;
CREATE TRIGGER conversation_attributes_reindex INSTEAD OF INSERT ON conversation_attributes_reindex BEGIN
    INSERT INTO conversation_attributes_new (key, type, value)
    SELECT DISTINCT key, type, CASE WHEN type IN ('text', 'integer', 'real') THEN atom ELSE '' END FROM (
        -- Every value under a key a query can name (node), and the scalar
        -- elements of arrays, under their array's key (elem).
        WITH RECURSIVE node(key, depth, type, atom, json, elem) AS (
            SELECT e.key, 1, e.type, e.atom, e.value, 0
            FROM json_each(CASE WHEN json_valid(NEW.attributes, 6) THEN NEW.attributes ELSE '{}' END) AS e
            WHERE typeof(e.key) = 'text' AND e.key <> '' AND length(CAST(e.key AS BLOB)) <= 128
              AND instr(e.key, '.') = 0 AND instr(e.key, '"') = 0 AND instr(e.key, '\') = 0
              AND instr(e.key, '$') = 0 AND instr(e.key, char(0)) = 0
            UNION ALL
            SELECT CASE WHEN node.type = 'array' THEN node.key ELSE node.key || '.' || e.key END,
                   node.depth + 1, e.type, e.atom, e.value, node.type = 'array'
            FROM node, json_each(CASE WHEN node.elem = 0 AND node.type IN ('array', 'object')
                                      THEN node.json ELSE '[]' END) AS e
            WHERE node.type = 'array'
               OR node.depth < 8 AND e.key <> '' AND length(CAST(e.key AS BLOB)) <= 128
              AND instr(e.key, '.') = 0 AND instr(e.key, '"') = 0 AND instr(e.key, '\') = 0
              AND instr(e.key, '$') = 0 AND instr(e.key, char(0)) = 0
        )
        SELECT key, type, atom FROM node WHERE NOT (elem AND type IN ('array', 'object'))
    );
    -- The conversation's rows are read by conversation_attributes_by_conversation
    -- (one page, mostly); only those that change are written.
    DELETE FROM conversation_attributes WHERE conversation_id = NEW.conversation_id
        AND (key, type, value) NOT IN (SELECT key, type, value FROM conversation_attributes_new);
    INSERT INTO conversation_attributes (key, type, value, conversation_id)
        SELECT key, type, value, NEW.conversation_id FROM conversation_attributes_new
        WHERE (key, type, value) NOT IN (SELECT key, type, value FROM conversation_attributes
                                         WHERE conversation_id = NEW.conversation_id);
    DELETE FROM conversation_attributes_new;
END;

-- Every statement that writes a conversation keeps its rows, in its own
-- transaction; deleting the conversation deletes them (ON DELETE CASCADE).
CREATE TRIGGER conversation_attributes_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversation_attributes_reindex VALUES (NEW.id, NEW.attributes);
END;
CREATE TRIGGER conversation_attributes_update AFTER UPDATE OF attributes ON conversations
WHEN OLD.attributes IS NOT NEW.attributes BEGIN
    INSERT INTO conversation_attributes_reindex VALUES (NEW.id, NEW.attributes);
END;

-- The conversations stored before this migration.
INSERT INTO conversation_attributes_reindex SELECT id, attributes FROM conversations;

-- Queries list conversations newest first by default (ORDER BY
-- last_message_at DESC, id): walking this index answers a page without
-- sorting the table, and QueryConversations walks it to probe attribute
-- lookups in that order (INDEXED BY: it is not partial, so that every
-- query can use it).
CREATE INDEX conversations_by_last_message ON conversations(last_message_at DESC, id);
