package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// Message is one stored message. Body holds the content fields as JSON; the
// columns beside it are what queries filter and order on.
type Message struct {
	MID             int64   `db:"mid"`
	ConversationID  string  `db:"conversation_id"`
	Seq             int64   `db:"seq"`
	From            string  `db:"from_id"`
	Type            int     `db:"type"`
	Body            string  `db:"body"`
	ClientMessageID *string `db:"client_message_id"`
	Timestamp       int64   `db:"timestamp"`
	PatchedAt       *int64  `db:"patched_at"`
	Recalled        bool    `db:"recalled"`
	// Private messages are seen by their sender and the app backend only.
	Private bool `db:"private"`
	// Receipt: the sender asked for a delivery receipt (one-to-one
	// conversations).
	Receipt bool `db:"receipt"`
	// Priority is the chat-room priority as sent: high, normal, low or "".
	Priority string `db:"priority"`
	// LCID is the id the message had in LeanCloud, for imported messages
	// (nil for Parley's own): the id the API shows for it.
	LCID *string `db:"lc_id"`
	// Mentions lists the clients the message mentions, "*" for everyone;
	// stored beside the message on insert.
	Mentions []string `db:"-"`
}

// midGen hands out message ids: the send time in milliseconds shifted left
// by 12 bits plus a counter, strictly increasing even if the clock steps
// back, so ids sort in send order and still say roughly when they were made.
type midGen struct {
	mu   sync.Mutex
	last int64
	// imported says that some message keeps an imported (LeanCloud) id.
	imported atomic.Bool
}

func (g *midGen) next(nowMs int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := nowMs << 12
	if id <= g.last {
		id = g.last + 1
	}
	g.last = id
	return id
}

// NextMessageID returns a fresh message id for a message sent at nowMs; it is
// also how transient messages, which are never stored, get theirs.
func (db *DB) NextMessageID(nowMs int64) int64 { return db.mids.next(nowMs) }

// initMessageIDs starts the database's ids after the newest stored one, so
// that ids keep increasing across restarts.
func (db *DB) initMessageIDs() error {
	var max sql.NullInt64
	if err := db.write.Get(&max, "SELECT max(mid) FROM messages"); err != nil {
		return err
	}
	db.mids.mu.Lock()
	if max.Int64 > db.mids.last {
		db.mids.last = max.Int64
	}
	db.mids.mu.Unlock()
	var imported []int
	if err := db.write.Select(&imported, "SELECT 1 FROM messages WHERE lc_id IS NOT NULL LIMIT 1"); err != nil {
		return err
	}
	db.mids.imported.Store(len(imported) > 0)
	return nil
}

// HasImportedIDs reports whether any message keeps an imported id: until
// one does, a message id is only ever one of Parley's own, and resolving
// it needs no lookup among imported ids.
func (db *DB) HasImportedIDs() bool { return db.mids.imported.Load() }

// InsertMessage assigns m its id and its sequence number in the conversation,
// stores it with its mentions, advances the conversation's lastMessageAt, and
// moves the sender's read position to it: one's own messages are never
// unread. A private message takes no sequence number of its own, so that it
// counts as unread for nobody. It serves seeding and tests, which write
// databases of older schemas too: it leaves out the receipt flag and the
// priority (sends go through QueueMessage, which stores them).
func (t *Tx) InsertMessage(m *Message) error {
	m.MID = t.mids.next(m.Timestamp)
	step := 1
	if m.Private {
		step = 0
	}
	// The seq comes from the conversation row in the same statement; the
	// messages_advance trigger moves last_seq and the sender's read position.
	err := t.Get(&m.Seq, `INSERT INTO messages
		(mid, conversation_id, seq, from_id, type, body, client_message_id, timestamp, private)
		SELECT ?, id, last_seq + ?, ?, ?, ?, ?, ?, ? FROM conversations WHERE id = ?
		RETURNING seq`,
		m.MID, step, m.From, m.Type, m.Body, m.ClientMessageID, m.Timestamp, m.Private, m.ConversationID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil || m.Private {
		return err
	}
	return t.insertMentions(m)
}

// QueueMessage assigns m its id and queues it for Flush, which inserts the
// queued messages of the transaction in as few statements as it can: the
// send path costs one trip into SQLite per batch, not one per message.
// m.Seq must be set (the caller knows the conversation's last seq); the
// messages_advance trigger still moves the conversation and the sender.
func (t *Tx) QueueMessage(m *Message) {
	m.MID = t.mids.next(m.Timestamp)
	t.queued = append(t.queued, m)
}

// flushChunk bounds one INSERT's rows (SQLite allows 32,766 parameters).
const flushChunk = 100

// Flush inserts the queued messages and their mentions.
func (t *Tx) Flush() error {
	for len(t.queued) > 0 {
		chunk := t.queued[:min(len(t.queued), flushChunk)]
		if _, err := t.insertMessages(chunk, ""); err != nil {
			t.queued = nil
			return err
		}
		for _, m := range chunk {
			if m.Private {
				continue
			}
			if err := t.insertMentions(m); err != nil {
				t.queued = nil
				return err
			}
		}
		t.queued = t.queued[len(chunk):]
	}
	t.queued = nil
	return nil
}

// insertMessages inserts msgs (at most flushChunk) in one statement, with
// conflict appended to it, and returns how many rows it inserted.
func (t *Tx) insertMessages(msgs []*Message, conflict string) (int64, error) {
	const columns = 13
	var b strings.Builder
	b.WriteString(`INSERT INTO messages
		(mid, conversation_id, seq, from_id, type, body, client_message_id, timestamp, private, receipt, priority, lc_id, recalled) VALUES `)
	args := make([]any, 0, len(msgs)*columns)
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, m.MID, m.ConversationID, m.Seq, m.From, m.Type, m.Body, m.ClientMessageID, m.Timestamp, m.Private, m.Receipt, m.Priority, m.LCID, m.Recalled)
	}
	b.WriteString(conflict)
	res, err := t.Exec(b.String(), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// GetMessage reads one message of a conversation.
func GetMessage(ctx context.Context, r Reader, convID string, mid int64) (*Message, error) {
	var m Message
	err := sqlx.GetContext(ctx, r, &m, "SELECT * FROM messages WHERE mid = ? AND conversation_id = ?", mid, convID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// insertMentions stores whom a public message mentions.
func (t *Tx) insertMentions(m *Message) error {
	for _, who := range m.Mentions {
		if _, err := t.Exec(`INSERT INTO mentions(conversation_id, client_id, seq, from_id) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, m.ConversationID, who, m.Seq, m.From); err != nil {
			return err
		}
	}
	return nil
}

// SetMentions replaces whom a stored message mentions (m.Mentions, after
// an edit or a recall), so that unread summaries say "mentioned" by what
// the message says now. Private messages have no mentions stored, nor
// imported ones (seq 0: read by everyone).
func (t *Tx) SetMentions(m *Message) error {
	if m.Seq == 0 {
		return nil
	}
	if _, err := t.Exec("DELETE FROM mentions WHERE conversation_id = ? AND seq = ?", m.ConversationID, m.Seq); err != nil {
		return err
	}
	return t.insertMentions(m)
}

// UpdateMessage stores a message's new content (an edit) or its recall.
func (t *Tx) UpdateMessage(m *Message) error {
	_, err := t.Exec("UPDATE messages SET type = ?, body = ?, patched_at = ?, recalled = ? WHERE mid = ?",
		m.Type, m.Body, m.PatchedAt, m.Recalled, m.MID)
	return err
}

// MessageByClientID finds the message a client sent earlier with the same
// clientMessageId in the conversation.
func (t *Tx) MessageByClientID(convID, from, clientMessageID string) (*Message, error) {
	var m Message
	err := t.Get(&m, `SELECT * FROM messages
		WHERE conversation_id = ? AND from_id = ? AND client_message_id = ?`, convID, from, clientMessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MessageVisible reports whether mid is a message of the conversation that
// viewer may see: any message for "", else not another client's private one.
func MessageVisible(ctx context.Context, r Reader, convID string, mid int64, viewer string) (bool, error) {
	var one int
	err := sqlx.GetContext(ctx, r, &one, "SELECT 1 FROM messages WHERE mid = ? AND conversation_id = ? AND (? = '' OR private = 0 OR from_id = ?)",
		mid, convID, viewer, viewer)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// textType is the type of text messages, which the type index leaves out.
const textType = -1

// HistoryQuery selects a page of a conversation's messages, in their order
// (timestamp, mid).
type HistoryQuery struct {
	ConversationID string
	// Before and After bound the page by message ids, exclusive: the
	// messages before (after) that message in the order; 0 means unset.
	Before, After int64
	// BeforeTime and AfterTime bound it by time, exclusive: the messages
	// sent before (after) that time, in ms; nil means unset.
	BeforeTime, AfterTime *int64
	Type                  *int
	Limit                 int
	// Viewer, when set, hides the private messages of everyone else.
	Viewer string
}

// Forward reports whether the page is the oldest messages after its lower
// bound: when it has one and no upper bound. Otherwise it is the newest
// messages within its bounds (before the upper one, or overall).
func (q *HistoryQuery) Forward() bool {
	return (q.After != 0 || q.AfterTime != nil) && q.Before == 0 && q.BeforeTime == nil
}

// History returns up to q.Limit+1 messages in ascending (timestamp, mid)
// order: the oldest ones after the lower bound when the query has only that
// one (paging forward), else the newest ones within its bounds (paging
// back, or the newest overall). The extra row, at the far end from the
// bound paged from, tells the caller whether there are more that way.
func History(ctx context.Context, r Reader, q HistoryQuery) ([]Message, error) {
	query, args := historySQL(q)
	msgs, err := selectMessages(ctx, r, make([]Message, 0, q.Limit+1), query, args...)
	if err != nil {
		return nil, err
	}
	if !q.Forward() { // read newest first
		slices.Reverse(msgs)
	}
	return msgs, nil
}

// historySQL walks messages_by_time (or messages_by_time_type), whose
// entries are in (timestamp, mid) order; a message id cursor is the
// position of that message, read by its primary key.
func historySQL(q HistoryQuery) (string, []any) {
	where := "m.conversation_id = ?"
	args := []any{q.ConversationID}
	switch {
	case q.Type == nil:
	case *q.Type == textType:
		where += " AND m.type = ?" // by messages_by_time: most rows match
		args = append(args, *q.Type)
	default:
		// The literal term lets SQLite use the partial type index.
		where += " AND m.type = ? AND m.type <> -1"
		args = append(args, *q.Type)
	}
	if q.Viewer != "" {
		where += " AND (m.private = 0 OR m.from_id = ?)"
		args = append(args, q.Viewer)
	}
	if q.AfterTime != nil {
		where += " AND m.timestamp > ?"
		args = append(args, *q.AfterTime)
	}
	if q.BeforeTime != nil {
		where += " AND m.timestamp < ?"
		args = append(args, *q.BeforeTime)
	}
	if q.After != 0 {
		where += " AND (m.timestamp, m.mid) > (SELECT timestamp, mid FROM messages WHERE mid = ?)"
		args = append(args, q.After)
	}
	if q.Before != 0 {
		where += " AND (m.timestamp, m.mid) < (SELECT timestamp, mid FROM messages WHERE mid = ?)"
		args = append(args, q.Before)
	}
	order := " ORDER BY m.timestamp DESC, m.mid DESC"
	if q.Forward() {
		order = " ORDER BY m.timestamp, m.mid"
	}
	args = append(args, q.Limit+1)
	return "SELECT " + messageSelect + " FROM messages m WHERE " + where + order + " LIMIT ?", args
}

// messageSelect are the columns of messages m in the order of
// selectMessages.
const messageSelect = "m.mid, m.conversation_id, m.seq, m.from_id, m.type, m.body, m.client_message_id, " +
	"m.timestamp, m.patched_at, m.recalled, m.private, m.priority, m.lc_id"

// selectMessages appends to out the rows of a query of messageSelect,
// scanned field by field: sqlx's scanning by reflection was a third of the
// time of an unread summary's thousand last messages.
func selectMessages(ctx context.Context, r Reader, out []Message, query string, args ...any) ([]Message, error) {
	rows, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		out = append(out, Message{})
		m := &out[len(out)-1]
		if err := rows.Scan(&m.MID, &m.ConversationID, &m.Seq, &m.From, &m.Type, &m.Body, &m.ClientMessageID,
			&m.Timestamp, &m.PatchedAt, &m.Recalled, &m.Private, &m.Priority, &m.LCID); err != nil {
			return out[:len(out)-1], err
		}
	}
	return out, rows.Err()
}

// LastMessages returns the newest public message of each conversation that
// has one, by conversation id.
func LastMessages(ctx context.Context, r Reader, convIDs []string) (map[string]*Message, error) {
	out := map[string]*Message{}
	if len(convIDs) == 0 {
		return out, nil
	}
	rows, err := selectMessages(ctx, r, make([]Message, 0, len(convIDs)), "SELECT "+messageSelect+
		" FROM conversations c JOIN messages m ON m.mid = c.last_mid WHERE c.id IN ("+idParams(len(convIDs))+")",
		idArgs(nil, convIDs)...)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		out[rows[i].ConversationID] = &rows[i]
	}
	return out, nil
}

// DeleteMessage deletes one message of a conversation, with whom it
// mentions, and reports whether it existed. The conversation keeps its
// sequence numbers and read positions, as after a retention purge.
func (t *Tx) DeleteMessage(convID string, mid int64) (bool, error) {
	var m struct {
		Seq     int64 `db:"seq"`
		Private bool  `db:"private"`
	}
	err := t.Get(&m, "SELECT seq, private FROM messages WHERE mid = ? AND conversation_id = ?", mid, convID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Private messages (which share the seq of the public one before them)
	// and imported ones (seq 0) have no mentions stored.
	if !m.Private && m.Seq > 0 {
		if _, err := t.Exec("DELETE FROM mentions WHERE conversation_id = ? AND seq = ?", convID, m.Seq); err != nil {
			return false, err
		}
	}
	_, err = t.Exec("DELETE FROM messages WHERE mid = ?", mid)
	return err == nil, err
}
