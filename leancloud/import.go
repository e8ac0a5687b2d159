package leancloud

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/store"
)

// ImportOptions say what Import reads.
type ImportOptions struct {
	Conversations string   // a `_Conversation` export, "" for none
	MemberInfos   string   // a `_ConversationMemberInfo` export, "" for none
	Messages      []string // history files, or directories of them (read recursively)
	// DryRun reads and converts everything and stores nothing: Import's db
	// may be nil. Messages then count as imported when their conversation
	// is in Conversations.
	DryRun bool
	// BatchSize is how many messages one transaction stores (default 2000).
	BatchSize int
	// Now is the clock (default time.Now): when an imported conversation
	// with no createdAt was created, and whether a temporary one expired.
	Now func() time.Time
	// Report gets each record skipped and each field not kept, as it
	// happens (nil: the summary only counts them); one call at a time, but
	// history files are read several at once, so in no set order across
	// them.
	Report func(Problem)
	// Progress, when set, is kept up to date as Import goes, for a
	// progress display to poll.
	Progress *ImportProgress
}

// Problem is a record Import skipped, or a field of a record it imported
// but could not keep (Skipped false).
type Problem struct {
	Pos     Position
	Cause   string // a short name of the kind of problem, which the summary counts by
	Reason  string
	Skipped bool // the whole record was left out
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Reason }

// Causes of problems.
const (
	CauseUnreadable       = "unreadable record"
	CauseConversation     = "conversation refused"
	CauseMemberInfo       = "member info refused"
	CauseNoConversation   = "conversation not imported"
	CauseMessage          = "message refused"
	CauseContent          = "content refused"
	CauseFieldNotKept     = "field not kept"
	CauseExpiredTemporary = "temporary conversation expired"
)

// ImportProgress is how far an import has got; every field is safe to read
// while Import runs.
type ImportProgress struct {
	Phase         atomic.Value // string: "conversations", "member infos", "messages", "done"
	BytesRead     atomic.Int64 // of the files, all phases together
	BytesTotal    atomic.Int64
	Conversations atomic.Int64 // read and converted
	MemberInfos   atomic.Int64
	Messages      atomic.Int64
	Skipped       atomic.Int64
}

// ImportStats is what an import did.
type ImportStats struct {
	Conversations         int64 // new conversations stored
	ConversationsExisting int64 // already in the database, left as they were
	Members               int64 // memberships of the new conversations
	MemberInfos           int64 // roles stored or updated
	MemberInfosExisting   int64 // roles stored already
	Messages              int64 // new messages stored
	MessagesExisting      int64 // stored already, by an earlier import
	Problems              map[string]int64
	Elapsed               time.Duration
}

// Skipped is how many records were left out.
func (s *ImportStats) Skipped() int64 {
	var n int64
	for cause, k := range s.Problems {
		if cause != CauseFieldNotKept {
			n += k
		}
	}
	return n
}

// Import reads LeanCloud's exports and history files and stores what they
// hold in db, through the store's writer: conversations in batches of 500,
// then member roles, then messages in batches of BatchSize, each batch one
// transaction. It keeps ids (conversations' objectId, messages' msg-id),
// senders and timestamps. What is stored already is left as it is, so an
// import may run again, or again after being interrupted: it stores only
// what is missing. A record that cannot be read or converted is reported
// and skipped; an error is returned only when the import cannot go on (a
// file that cannot be opened, a database error, ctx ending), with the
// stats of what it did until then.
func Import(ctx context.Context, db *store.DB, opt ImportOptions) (ImportStats, error) {
	im := &importer{db: db, opt: opt, known: map[string]bool{}, lastAt: map[string]int64{},
		stats: ImportStats{Problems: map[string]int64{}}}
	if im.opt.BatchSize <= 0 {
		im.opt.BatchSize = 2000
	}
	if im.opt.Now == nil {
		im.opt.Now = time.Now
	}
	if im.opt.Progress == nil {
		im.opt.Progress = &ImportProgress{}
	}
	if db == nil && !opt.DryRun {
		return im.stats, errors.New("leancloud: Import needs a database unless it is a dry run")
	}
	start := time.Now()
	err := im.run(ctx)
	im.stats.Elapsed = time.Since(start)
	im.opt.Progress.Phase.Store("done")
	return im.stats, err
}

type importer struct {
	db  *store.DB
	opt ImportOptions
	// mu guards stats.Problems, known and lastAt, and calls opt.Report:
	// history files are read on several goroutines.
	mu    sync.Mutex
	stats ImportStats
	// known says whether a conversation exists (imported now, or stored
	// before); lastAt is its lm, for FinishImport.
	known  map[string]bool
	lastAt map[string]int64
}

func (im *importer) run(ctx context.Context) error {
	files, err := historyFiles(im.opt.Messages)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range append([]string{im.opt.Conversations, im.opt.MemberInfos}, files...) {
		if f == "" {
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("leancloud: %w", err)
		}
		total += st.Size()
	}
	im.opt.Progress.BytesTotal.Store(total)
	if im.opt.Conversations != "" {
		im.opt.Progress.Phase.Store("conversations")
		if err := im.conversations(ctx); err != nil {
			return err
		}
	}
	if im.opt.MemberInfos != "" {
		im.opt.Progress.Phase.Store("member infos")
		if err := im.memberInfos(ctx); err != nil {
			return err
		}
	}
	if len(files) > 0 {
		im.opt.Progress.Phase.Store("messages")
		return im.messages(ctx, files)
	}
	return nil
}

// historyFiles expands directories into the files under them, in name
// order, leaving out hidden files and a puller's checkpoint.json.
func historyFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("leancloud: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		from := len(out)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if path != p && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && name != CheckpointFile {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("leancloud: %w", err)
		}
		slices.SortFunc(out[from:], byPage)
	}
	return out, nil
}

// byPage orders a directory's files by name, and a conversation's pages
// that a pull saved oldest first (see pageOf).
func byPage(a, b string) int {
	pa, na := pageOf(a)
	pb, nb := pageOf(b)
	return cmp.Or(strings.Compare(pa, pb), cmp.Compare(nb, na))
}

// pageOf splits a history file a pull saved, NAME.N.json (HistoryFile;
// N counts pages from the newest), into NAME and N; N is -1 for other
// names. historyFiles reads a conversation's pages oldest first: within a
// page, messages are stored in LeanCloud's order, (timestamp, msg-id), and
// so are messages of one millisecond split between two pages.
func pageOf(path string) (string, int) {
	base := strings.TrimSuffix(path, ".json")
	i := strings.LastIndexByte(base, '.')
	if i < 0 || base == path {
		return path, -1
	}
	n, err := strconv.Atoi(base[i+1:])
	if err != nil || n < 0 {
		return path, -1
	}
	return base[:i], n
}

// open opens an export file whose reading counts into the progress.
func (im *importer) open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("leancloud: %w", err)
	}
	r := NewReader(&progressReader{f, &im.opt.Progress.BytesRead}, path)
	r.closer = f
	return r, nil
}

type progressReader struct {
	r io.Reader
	n *atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

func (im *importer) problem(pos Position, cause, reason string, skipped bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.stats.Problems[cause]++
	if skipped {
		im.opt.Progress.Skipped.Add(1)
	}
	if im.opt.Report != nil {
		im.opt.Report(Problem{Pos: pos, Cause: cause, Reason: reason, Skipped: skipped})
	}
}

func (im *importer) unreadable(sk *Skipped) { im.problem(sk.Pos, CauseUnreadable, sk.Reason, true) }

// reason is what an error from the handlers' rules says, without its code.
func reason(err error) string {
	var he *handlers.Error
	if errors.As(err, &he) {
		return he.Detail
	}
	return err.Error()
}

// conversationBatch is how many conversations one transaction stores.
const conversationBatch = 500

type pendingConversation struct {
	row     *store.Conversation
	members []string
	muted   []string
}

func (im *importer) conversations(ctx context.Context) error {
	r, err := im.open(im.opt.Conversations)
	if err != nil {
		return err
	}
	defer r.Close()
	now := im.opt.Now().UnixMilli()
	var batch []pendingConversation
	err = ReadConversations(r, func(pos Position, c Conversation) error {
		im.opt.Progress.Conversations.Add(1)
		in := handlers.ImportedConversation{ID: c.ID, Kind: c.Kind, Name: c.Name, Creator: c.Creator,
			Muted: c.MutedMembers, Attributes: c.Attributes, Unique: c.Unique,
			CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, TTL: c.TTL / 1000}
		if c.Kind == KindNormal || c.Kind == KindTemporary {
			in.Members = c.Members // LeanCloud ignores m of chat rooms and system conversations
		}
		in.Attributes = im.customFields(pos, c)
		row, members, muted, err := handlers.ImportConversation(in, now)
		if err != nil {
			cause := CauseConversation
			var he *handlers.Error
			if errors.As(err, &he) && he.Code == handlers.CodeConversationNotFound {
				cause = CauseExpiredTemporary
			}
			im.problem(pos, cause, fmt.Sprintf("conversation %s: %s", c.ID, reason(err)), true)
			return nil
		}
		im.lastAt[c.ID] = c.LastMessageAt
		if c.LastMessageAt > 0 {
			// Kept also when no message of the conversation is imported
			// (LeanCloud's history may have aged out): FinishImport only
			// runs for conversations that got messages.
			lm := c.LastMessageAt
			row.LastMessageAt = &lm
		}
		batch = append(batch, pendingConversation{row, members, muted})
		if len(batch) == conversationBatch {
			err = im.storeConversations(ctx, batch)
			batch = batch[:0]
		}
		return err
	}, im.unreadable)
	if err != nil {
		return err
	}
	return im.storeConversations(ctx, batch)
}

// customFields are a conversation's attributes: attr, and the custom
// top-level fields that apps set through the REST API and the JS SDK
// (which reads them beside name), unless attr has a key of the same name.
// ACL has no meaning in Parley, whose rules decide who sees what.
func (im *importer) customFields(pos Position, c Conversation) map[string]json.RawMessage {
	if len(c.Extra) == 0 {
		return c.Attributes
	}
	attrs := make(map[string]json.RawMessage, len(c.Attributes)+len(c.Extra))
	for k, v := range c.Attributes {
		attrs[k] = v
	}
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch _, dup := attrs[k]; {
		case k == "ACL":
		case dup:
			im.problem(pos, CauseFieldNotKept, fmt.Sprintf("conversation %s: field %q: attr has a key of the same name, which is kept", c.ID, k), false)
		case k == "" || strings.ContainsAny(k, ".$\"\\") || len([]rune(k)) > 128:
			im.problem(pos, CauseFieldNotKept, fmt.Sprintf("conversation %s: field %q: not a valid attribute key", c.ID, k), false)
		default:
			attrs[k] = c.Extra[k]
		}
	}
	return attrs
}

func (im *importer) storeConversations(ctx context.Context, batch []pendingConversation) error {
	if len(batch) == 0 {
		return nil
	}
	if im.opt.DryRun {
		for _, c := range batch {
			if !im.known[c.row.ID] {
				im.known[c.row.ID] = true
				im.stats.Conversations++
				im.stats.Members += int64(len(c.members))
			}
		}
		return nil
	}
	var added, existing, members int64
	err := im.db.Write(ctx, func(tx *store.Tx) error {
		added, existing, members = 0, 0, 0
		for _, c := range batch {
			ok, err := tx.ImportConversation(c.row, c.members, c.muted)
			if err != nil {
				return fmt.Errorf("conversation %s: %w", c.row.ID, err)
			}
			if ok {
				added++
				members += int64(len(c.members))
			} else {
				existing++
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("leancloud: store conversations: %w", err)
	}
	for _, c := range batch {
		im.known[c.row.ID] = true
	}
	im.stats.Conversations += added
	im.stats.ConversationsExisting += existing
	im.stats.Members += members
	return nil
}

// exists reports whether a conversation is imported or stored already.
func (im *importer) exists(ctx context.Context, id string) (bool, error) {
	im.mu.Lock()
	ok, seen := im.known[id]
	im.mu.Unlock()
	if seen {
		return ok, nil
	}
	if im.db != nil {
		var err error
		if ok, err = store.ConversationExists(ctx, im.db.R(), id); err != nil {
			return false, fmt.Errorf("leancloud: %w", err)
		}
	}
	im.mu.Lock()
	im.known[id] = ok
	im.mu.Unlock()
	return ok, nil
}

func (im *importer) memberInfos(ctx context.Context) error {
	r, err := im.open(im.opt.MemberInfos)
	if err != nil {
		return err
	}
	defer r.Close()
	var batch []*store.MemberInfo
	flush := func() error {
		if len(batch) == 0 || im.opt.DryRun {
			im.stats.MemberInfos += int64(len(batch))
			batch = batch[:0]
			return nil
		}
		var changed int64
		err := im.db.Write(ctx, func(tx *store.Tx) error {
			changed = 0
			for _, mi := range batch {
				ok, err := tx.PutMemberInfo(mi)
				if err != nil {
					return err
				}
				if ok {
					changed++
				}
			}
			return nil
		}, nil)
		if err != nil {
			return fmt.Errorf("leancloud: store member infos: %w", err)
		}
		im.stats.MemberInfos += changed
		im.stats.MemberInfosExisting += int64(len(batch)) - changed
		batch = batch[:0]
		return nil
	}
	err = ReadMemberInfos(r, func(pos Position, m MemberInfo) error {
		im.opt.Progress.MemberInfos.Add(1)
		ok, err := im.exists(ctx, m.ConversationID)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			im.problem(pos, CauseNoConversation, fmt.Sprintf("member info of %s: conversation %s is neither in this import nor in the database", m.ClientID, m.ConversationID), true)
			return nil
		case !handlers.ValidClientID(m.ClientID):
			im.problem(pos, CauseMemberInfo, fmt.Sprintf("member info: clientId %q: %s", m.ClientID, handlers.ClientIDRule), true)
			return nil
		}
		// Unknown times stay 0, so that the same row imported again
		// changes nothing.
		batch = append(batch, &store.MemberInfo{ConversationID: m.ConversationID, ClientID: m.ClientID,
			Role: strings.ToLower(m.Role), InfoID: m.ID, CreatedAt: m.CreatedAt, UpdatedAt: max(m.UpdatedAt, m.CreatedAt)})
		if len(batch) == conversationBatch {
			return flush()
		}
		return nil
	}, im.unreadable)
	if err != nil {
		return err
	}
	return flush()
}

// A chunk is a run of consecutive records of one history file: the unit
// of work of the converting goroutines.
type chunk struct {
	seq   int
	items []chunkItem
}

// chunkItem is a record read (raw) or a record that could not be read
// (skip), and once converted, its message or its problem.
type chunkItem struct {
	pos     Position
	raw     json.RawMessage
	skip    *Skipped
	msg     *store.Message
	problem *Problem
}

// chunkSize is how many records a chunk holds.
const chunkSize = 256

// messages imports the history files: one goroutine reads their records in
// order and cuts them into chunks, one per core converts chunks, and this
// one takes the converted chunks back in order, reports their problems and
// stores their messages in batches. The result is what reading and
// converting everything in order on one goroutine gives — the same
// batches, the same problems in the same order — on every core.
func (im *importer) messages(ctx context.Context, files []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	raw := make(chan *chunk, workers)
	converted := make(chan *chunk, workers)
	var readErr error
	go func() {
		defer close(raw)
		readErr = im.readChunks(ctx, files, raw)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range raw {
				im.convert(ctx, c)
				converted <- c
			}
		}()
	}
	go func() {
		wg.Wait()
		close(converted)
	}()

	var storeErr error
	batch := make([]*store.Message, 0, im.opt.BatchSize)
	pending := map[int]*chunk{}
	next := 0
	for c := range converted {
		if storeErr != nil {
			continue // drain: the readers stop at cancel
		}
		pending[c.seq] = c
		for c := pending[next]; c != nil; c = pending[next] {
			delete(pending, next)
			next++
			for _, it := range c.items {
				if it.problem != nil {
					im.problem(it.problem.Pos, it.problem.Cause, it.problem.Reason, true)
					continue
				}
				batch = append(batch, it.msg)
				if len(batch) == im.opt.BatchSize && storeErr == nil {
					storeErr = im.storeMessages(ctx, batch)
					batch = make([]*store.Message, 0, im.opt.BatchSize)
				}
			}
			if storeErr != nil {
				cancel()
				break
			}
		}
	}
	if storeErr == nil && readErr == nil && ctx.Err() == nil && len(batch) > 0 {
		storeErr = im.storeMessages(ctx, batch)
	}
	switch {
	case storeErr != nil:
		return storeErr
	case readErr != nil && !errors.Is(readErr, context.Canceled):
		return readErr
	}
	return ctx.Err()
}

// readChunks reads the files' records in order into chunks.
func (im *importer) readChunks(ctx context.Context, files []string, out chan<- *chunk) error {
	seq := 0
	c := &chunk{}
	send := func() error {
		select {
		case out <- c:
			seq++
			c = &chunk{seq: seq}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, file := range files {
		r, err := im.open(file)
		if err != nil {
			return err
		}
		err = eachRecord(r, "", func(rec Record, sk *Skipped) error {
			c.items = append(c.items, chunkItem{pos: rec.Pos, raw: rec.Raw, skip: sk})
			if len(c.items) == chunkSize {
				return send()
			}
			return nil
		})
		r.Close()
		if err != nil {
			return err
		}
	}
	if len(c.items) > 0 {
		return send()
	}
	return nil
}

// convert converts a chunk's records in place.
func (im *importer) convert(ctx context.Context, c *chunk) {
	for i := range c.items {
		it := &c.items[i]
		if it.skip != nil {
			it.problem = &Problem{Pos: it.skip.Pos, Cause: CauseUnreadable, Reason: it.skip.Reason, Skipped: true}
			continue
		}
		im.opt.Progress.Messages.Add(1)
		h, err := ParseHistoryRecord(it.raw)
		if err != nil {
			it.problem = &Problem{Pos: it.pos, Cause: CauseUnreadable, Reason: err.Error(), Skipped: true}
			continue
		}
		it.raw = nil
		it.msg, it.problem = im.message(ctx, it.pos, h)
	}
}

// message converts one history record, or says why not.
func (im *importer) message(ctx context.Context, pos Position, h HistoryRecord) (*store.Message, *Problem) {
	refused := func(cause, format string, args ...any) (*store.Message, *Problem) {
		return nil, &Problem{Pos: pos, Cause: cause, Reason: fmt.Sprintf(format, args...), Skipped: true}
	}
	ok, err := im.exists(ctx, h.ConvID)
	if err != nil {
		// The database failed a read: the batch that follows fails too
		// and ends the import; until then, say so here.
		return refused(CauseNoConversation, "message %s: conversation %s: %v", h.MsgID, h.ConvID, err)
	}
	if !ok {
		return refused(CauseNoConversation, "message %s: conversation %s is neither in this import nor in the database", h.MsgID, h.ConvID)
	}
	c, recalled, err := FromLeanCloud(Payload{Data: h.Data, Bin: h.Bin})
	if err != nil {
		return refused(CauseContent, "message %s: %s", h.MsgID, reason(err))
	}
	m, err := handlers.ImportMessage(h.ConvID, h.MsgID, h.From, h.Timestamp, &c, recalled)
	if err != nil {
		return refused(CauseMessage, "message %s: %s", h.MsgID, reason(err))
	}
	return m, nil
}

func (im *importer) storeMessages(ctx context.Context, batch []*store.Message) error {
	if im.opt.DryRun {
		im.stats.Messages += int64(len(batch))
		return nil
	}
	// In conversation order, the index entries each transaction writes are
	// near each other; messages of the same time keep LeanCloud's id order.
	slices.SortFunc(batch, func(a, b *store.Message) int {
		return cmp.Or(strings.Compare(a.ConversationID, b.ConversationID), cmp.Compare(a.Timestamp, b.Timestamp),
			strings.Compare(*a.LCID, *b.LCID))
	})
	var inserted int64
	arrived := im.opt.Now().UnixMilli()
	lastAt := im.lastAt // written by the conversations phase only, before
	err := im.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if inserted, err = tx.ImportMessages(batch, arrived); err != nil {
			return err
		}
		for i, m := range batch {
			if i > 0 && batch[i-1].ConversationID == m.ConversationID {
				continue
			}
			if err := tx.FinishImport(m.ConversationID, lastAt[m.ConversationID]); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("leancloud: store messages: %w", err)
	}
	im.stats.Messages += inserted
	im.stats.MessagesExisting += int64(len(batch)) - inserted
	return nil
}
