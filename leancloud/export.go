package leancloud

// The reading half of `parley import leancloud`: LeanCloud's export files
// (LeanCloud's IM REST history API and dashboard export) read as a stream of records, each with the
// place it came from, and turned into typed rows. Nothing here writes to a
// database; a record that cannot be read or converted is handed back as a
// *Skipped (file, line, reason) and the reading goes on.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxLineBytes is the longest JSON line read; a longer line is
// skipped (reported) and the lines after it are read.
const DefaultMaxLineBytes = 64 << 20

// Format is how an export file lays out its records, detected from its
// first non-blank bytes.
type Format int

const (
	// FormatUnknown: nothing read yet, or an empty file.
	FormatUnknown Format = iota
	// FormatJSONLines: one JSON object per line (the dashboard's export,
	// with or without `#` header lines). A line holding a JSON array or a
	// {"results": [...]} page is read as its elements.
	FormatJSONLines
	// FormatArray: a JSON array of objects (the REST history API's
	// answer), read element by element; several arrays may follow each other.
	FormatArray
	// FormatResults: JSON objects that span lines: {"results": [...]}
	// wrappers (the dashboard import format, Scan pages), read element by
	// element, or records pretty-printed one after the other.
	FormatResults
)

func (f Format) String() string {
	switch f {
	case FormatJSONLines:
		return "JSON lines"
	case FormatArray:
		return "JSON array"
	case FormatResults:
		return `{"results": [...]}`
	}
	return "unknown"
}

// FileType is a dashboard export's `#filetype:` header line, e.g.
// `#filetype:JSON-streaming {"type":"Class","class":"_User"}`.
type FileType struct {
	Name  string // "JSON-streaming"
	Type  string // "Class"
	Class string // "_User"
	Line  string // the whole line as read
}

// Position is where a record was read: its file, the line it starts on
// (1-based) and, for an element of a JSON array or of a "results" array,
// its index in that array (0-based); Index is -1 for a record that is not
// an array element.
type Position struct {
	File  string
	Line  int
	Index int
}

func (p Position) String() string {
	if p.Index >= 0 {
		return fmt.Sprintf("%s:%d: element %d", p.File, p.Line, p.Index)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Record is one JSON object of an export file, not yet interpreted.
type Record struct {
	Pos Position
	Raw json.RawMessage
}

// Skipped is a record that was not read or not converted, and why. Reader.Next
// and the Read functions return or report it and go on with the next record.
type Skipped struct {
	Pos    Position
	Reason string
}

func (s *Skipped) Error() string { return s.Pos.String() + ": " + s.Reason }

// Reader reads the records of one export file, streaming: memory stays
// bounded by the largest record (and MaxLineBytes for JSON lines), not by
// the file.
//
// Next returns each record in turn; a *Skipped error for a record that
// cannot be read (the next call goes on with the one after it); io.EOF at
// the end; any other error is fatal and returned again by later calls.
type Reader struct {
	// MaxLineBytes bounds a JSON line (DefaultMaxLineBytes when zero); set
	// it before the first Next.
	MaxLineBytes int

	name   string
	br     *bufio.Reader
	closer io.Closer

	started  bool
	format   Format
	filetype *FileType
	headers  []string
	err      error // sticky: fatal error or io.EOF

	// JSON lines
	lines   bool
	line    int // lines consumed so far
	buf     []byte
	pending []pendingRecord

	// streamed JSON values
	dec     *json.Decoder
	cnt     *countingReader
	nlw     newlineCounter
	inArray bool
	inWrap  bool
	index   int
}

type pendingRecord struct {
	rec    Record
	reason string
}

// NewReader reads the export file called name (used in positions) from r.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, br: bufio.NewReaderSize(r, 64<<10)}
}

// Open opens an export file; Close closes it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rd := NewReader(f, path)
	rd.closer = f
	return rd, nil
}

// Close closes the file opened by Open; it does nothing for NewReader.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// Name is the file name given to NewReader or Open.
func (r *Reader) Name() string { return r.name }

// Format is the layout detected by the first Next.
func (r *Reader) Format() Format { return r.format }

// FileType is the last `#filetype:` header line read so far, or nil.
func (r *Reader) FileType() *FileType { return r.filetype }

// Headers are the `#` lines read so far (the filetype line included).
func (r *Reader) Headers() []string { return r.headers }

// Next returns the next record; see Reader.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	if !r.started {
		r.started = true
		if err := r.start(); err != nil {
			r.err = err
			return Record{}, err
		}
	}
	var (
		rec Record
		err error
	)
	if r.lines {
		rec, err = r.nextLine()
	} else {
		rec, err = r.nextValue()
	}
	if err != nil {
		var sk *Skipped
		if !errors.As(err, &sk) {
			r.err = err
		}
	}
	return rec, err
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// start skips a byte order mark and blank lines and detects the format.
func (r *Reader) start() error {
	if b, _ := r.br.Peek(len(bom)); bytes.Equal(b, bom) {
		r.br.Discard(len(bom))
	}
	var c byte
	for {
		b, err := r.br.ReadByte()
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		if b == '\n' {
			r.line++
			continue
		}
		if b == ' ' || b == '\t' || b == '\r' {
			continue
		}
		r.br.UnreadByte()
		c = b
		break
	}
	switch c {
	case '#':
		r.format, r.lines = FormatJSONLines, true
		return nil
	case '{', '[':
	default:
		return fmt.Errorf("%s:%d: not a LeanCloud export: it starts with %q, not '#', '{' or '['", r.name, r.line+1, c)
	}
	// JSON lines when the first line holds a whole JSON value (or a broken
	// one: then reported and skipped); streamed values when it is only the
	// start of one (`{`, `[`, `{"results": [`, or a line longer than the
	// read buffer).
	p, _ := r.br.Peek(r.br.Size())
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		p = p[:i]
	}
	var v json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(p)).Decode(&v); err == io.ErrUnexpectedEOF {
		r.lines = false
		r.cnt = &countingReader{r: r.br}
		r.dec = json.NewDecoder(r.cnt)
		r.dec.UseNumber()
	} else {
		r.lines = true
	}
	switch {
	case c == '[':
		r.format = FormatArray
	case r.lines:
		r.format = FormatJSONLines
	default:
		r.format = FormatResults
	}
	return nil
}

func (r *Reader) maxLine() int {
	if r.MaxLineBytes > 0 {
		return r.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

// readLine reads one line without its end; tooLong when it was longer
// than maxLine (its bytes are then dropped). io.EOF only when no byte is left.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	if cap(r.buf) > 1<<20 {
		r.buf = nil
	}
	r.buf = r.buf[:0]
	max, some := r.maxLine(), false
	for {
		frag, err := r.br.ReadSlice('\n')
		some = some || len(frag) > 0
		if !tooLong {
			if len(r.buf)+len(frag) > max+2 { // +2: the line's end, "\r\n"
				tooLong, r.buf = true, r.buf[:0]
			} else {
				r.buf = append(r.buf, frag...)
			}
		}
		switch err {
		case nil:
			return r.buf, tooLong, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if !some {
				return nil, false, io.EOF
			}
			return r.buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}

func (r *Reader) nextLine() (Record, error) {
	for {
		if len(r.pending) > 0 {
			p := r.pending[0]
			r.pending[0] = pendingRecord{}
			r.pending = r.pending[1:]
			if p.reason != "" {
				return Record{}, &Skipped{Pos: p.rec.Pos, Reason: p.reason}
			}
			return p.rec, nil
		}
		line, tooLong, err := r.readLine()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, fmt.Errorf("%s:%d: %w", r.name, r.line+1, err)
		}
		r.line++
		pos := Position{File: r.name, Line: r.line, Index: -1}
		if tooLong {
			return Record{}, &Skipped{Pos: pos, Reason: fmt.Sprintf("line longer than %d bytes", r.maxLine())}
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		switch line[0] {
		case '#':
			r.header(string(line))
			continue
		case '{':
			var raw json.RawMessage
			if err := json.Unmarshal(line, &raw); err != nil {
				return Record{}, &Skipped{Pos: pos, Reason: "invalid JSON: " + jsonError(err)}
			}
			if isPage(raw) {
				var page struct{ Results []json.RawMessage }
				json.Unmarshal(raw, &page)
				r.queue(pos, page.Results)
				continue
			}
			return Record{Pos: pos, Raw: raw}, nil
		case '[':
			var elems []json.RawMessage
			if err := json.Unmarshal(line, &elems); err != nil {
				return Record{}, &Skipped{Pos: pos, Reason: "invalid JSON: " + jsonError(err)}
			}
			r.queue(pos, elems)
			continue
		default:
			return Record{}, &Skipped{Pos: pos, Reason: "not a JSON object"}
		}
	}
}

// queue sets the elements of an array read from one line to be returned.
func (r *Reader) queue(pos Position, elems []json.RawMessage) {
	for i, e := range elems {
		p := pos
		p.Index = i
		pr := pendingRecord{rec: Record{Pos: p, Raw: e}}
		if len(e) == 0 || e[0] != '{' {
			pr.reason = "array element is not a JSON object"
		}
		r.pending = append(r.pending, pr)
	}
}

// isPage tells a {"results": [...]} page on one line from a record: it has a
// "results" array and is not a row (no objectId, no msg-id).
func isPage(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte(`"results"`)) {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	res, ok := m["results"]
	if !ok || len(res) == 0 || res[0] != '[' {
		return false
	}
	_, id := m["objectId"]
	_, mid := m["msg-id"]
	return !id && !mid
}

// header records a `#` line, and the filetype it names.
func (r *Reader) header(line string) {
	r.headers = append(r.headers, line)
	rest, ok := strings.CutPrefix(line, "#filetype:")
	if !ok {
		return
	}
	ft := &FileType{Line: line}
	rest = strings.TrimSpace(rest)
	name, meta, _ := strings.Cut(rest, " ")
	ft.Name = name
	var m struct {
		Type  string `json:"type"`
		Class string `json:"class"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(meta)), &m) == nil {
		ft.Type, ft.Class = m.Type, m.Class
	}
	r.filetype = ft
}

// nextValue reads the next record of streamed JSON values: the elements of
// top-level arrays and of "results" arrays, and top-level objects that are
// not wrappers.
func (r *Reader) nextValue() (Record, error) {
	for {
		switch {
		case r.inArray:
			if r.dec.More() {
				var raw json.RawMessage
				if err := r.dec.Decode(&raw); err != nil {
					return Record{}, r.syntax(err)
				}
				idx := r.index
				r.index++
				pos := Position{File: r.name, Line: r.curLine() - bytes.Count(raw, []byte{'\n'}), Index: idx}
				if len(raw) == 0 || raw[0] != '{' {
					return Record{}, &Skipped{Pos: pos, Reason: "array element is not a JSON object"}
				}
				return Record{Pos: pos, Raw: raw}, nil
			}
			if _, err := r.dec.Token(); err != nil { // ']'
				return Record{}, r.syntax(err)
			}
			r.inArray = false
		case r.inWrap:
			if !r.dec.More() {
				if _, err := r.dec.Token(); err != nil { // '}'
					return Record{}, r.syntax(err)
				}
				r.inWrap = false
				continue
			}
			tok, err := r.dec.Token()
			if err != nil {
				return Record{}, r.syntax(err)
			}
			if key, _ := tok.(string); key == "results" {
				if err := r.openResults(); err != nil {
					return Record{}, err
				}
				continue
			}
			var skip json.RawMessage
			if err := r.dec.Decode(&skip); err != nil {
				return Record{}, r.syntax(err)
			}
		default:
			tok, err := r.dec.Token()
			if err == io.EOF {
				return Record{}, io.EOF
			}
			if err != nil {
				return Record{}, r.syntax(err)
			}
			switch tok {
			case json.Delim('['):
				r.inArray, r.index = true, 0
			case json.Delim('{'):
				rec, ok, err := r.object(r.curLine())
				if err != nil || ok {
					return rec, err
				}
			default:
				return Record{}, &Skipped{Pos: Position{File: r.name, Line: r.curLine(), Index: -1},
					Reason: fmt.Sprintf("top-level %v is neither an object nor an array", tok)}
			}
		}
	}
}

// openResults reads the value of a "results" key: an array is then read
// element by element, null is no elements.
func (r *Reader) openResults() error {
	tok, err := r.dec.Token()
	if err != nil {
		return r.syntax(err)
	}
	switch tok {
	case json.Delim('['):
		r.inArray, r.index = true, 0
		return nil
	case nil:
		return nil
	}
	return fmt.Errorf("%s:%d: \"results\" is not an array", r.name, r.curLine())
}

// object reads a top-level object whose '{' was read on line: a record
// (ok), or a wrapper whose "results" array is then read element by element.
// The keys before "results" are kept until it is known which.
func (r *Reader) object(line int) (rec Record, ok bool, err error) {
	var keys []string
	var vals []json.RawMessage
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return Record{}, false, r.syntax(err)
		}
		key, _ := tok.(string)
		if key == "results" {
			tok, err := r.dec.Token()
			if err != nil {
				return Record{}, false, r.syntax(err)
			}
			switch tok {
			case json.Delim('['):
				r.inWrap, r.inArray, r.index = true, true, 0
				return Record{}, false, nil
			case json.Delim('{'):
				return Record{}, false, fmt.Errorf("%s:%d: \"results\" is an object, not an array", r.name, r.curLine())
			case nil:
				r.inWrap = true
				return Record{}, false, nil
			}
			b, _ := json.Marshal(tok)
			keys, vals = append(keys, key), append(vals, b)
			continue
		}
		var v json.RawMessage
		if err := r.dec.Decode(&v); err != nil {
			return Record{}, false, r.syntax(err)
		}
		keys, vals = append(keys, key), append(vals, v)
	}
	if _, err := r.dec.Token(); err != nil { // '}'
		return Record{}, false, r.syntax(err)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vals[i])
	}
	b.WriteByte('}')
	return Record{Pos: Position{File: r.name, Line: line, Index: -1}, Raw: b.Bytes()}, true, nil
}

func (r *Reader) syntax(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		// At the end of the file: its last line.
		return fmt.Errorf("%s:%d: %s", r.name, r.line+1+r.cnt.n, jsonError(io.ErrUnexpectedEOF))
	}
	return fmt.Errorf("%s:%d: %s", r.name, r.curLine(), jsonError(err))
}

// curLine is the line of the decoder's position: the lines before the
// first value, plus the newlines handed to the decoder, less those it holds
// unread.
func (r *Reader) curLine() int {
	r.nlw.n = 0
	if wt, ok := r.dec.Buffered().(io.WriterTo); ok {
		wt.WriteTo(&r.nlw)
	}
	return r.line + 1 + r.cnt.n - r.nlw.n
}

type countingReader struct {
	r io.Reader
	n int // newlines read
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

type newlineCounter struct{ n int }

func (c *newlineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON"
	}
	return err.Error()
}

// Conversation kinds, as in the /v1 API.
const (
	KindNormal    = "normal"
	KindChatRoom  = "chatroom"
	KindTemporary = "temporary"
	KindSystem    = "system"
)

// TemporaryPrefix starts the ids of temporary conversations (LeanCloud
// does not store them in _Conversation, but a pulled history may name
// them).
const TemporaryPrefix = "_tmp:"

// Conversation is a `_Conversation` row (LeanCloud's conversation class). Dates are ms
// since the epoch, 0 when absent.
type Conversation struct {
	ID            string                     // objectId, kept as the conversation's id
	Kind          string                     // KindNormal, KindChatRoom (tr), KindSystem (sys), KindTemporary (_tmp: id)
	Name          string                     // name
	Creator       string                     // c
	Members       []string                   // m, duplicates dropped, order kept
	MutedMembers  []string                   // mu: members who muted offline push
	Attributes    map[string]json.RawMessage // attr
	Transient     bool                       // tr
	System        bool                       // sys
	Unique        bool                       // unique
	UniqueID      string                     // uniqueId
	LastMessageAt int64                      // lm
	CreatedAt     int64                      // createdAt
	UpdatedAt     int64                      // updatedAt
	TTL           int64                      // ttl (s), temporary conversations
	Extra         map[string]json.RawMessage // every other key (ACL, custom fields, msg…), kept
}

// MemberRole values of `_ConversationMemberInfo.role` (as the JS SDK spells them).
const (
	RoleOwner   = "Owner"
	RoleManager = "Manager"
	RoleMember  = "Member"
)

// MemberInfo is a `_ConversationMemberInfo` row: a member's role.
type MemberInfo struct {
	ID             string // objectId (the REST API's info-id), when present
	ConversationID string // cid (a string or a Pointer to _Conversation)
	ClientID       string // clientId
	Role           string // RoleOwner, RoleManager or RoleMember
	CreatedAt      int64
	UpdatedAt      int64
	Extra          map[string]json.RawMessage
}

// HistoryRecord is one message as LeanCloud's REST history API returns it.
// Times are ms since the epoch.
type HistoryRecord struct {
	MsgID     string // msg-id
	ConvID    string // conv-id
	From      string // from
	Timestamp int64  // timestamp: when the server received it
	Data      string // data: the content (JSON text for typed messages; Base64 when Bin)
	Bin       bool   // bin
	IsConv    bool   // is-conv
	IsRoom    bool   // is-room (v1 model, historical)
	To        string // to
	FromIP    string // from-ip
	AckAt     int64  // ack-at, 0 when never delivered
	Extra     map[string]json.RawMessage
}

// ParseConversation converts a `_Conversation` row; the error says why not.
func ParseConversation(raw json.RawMessage) (Conversation, error) {
	f, err := fieldsOf(raw)
	if err != nil {
		return Conversation{}, err
	}
	var c Conversation
	if c.ID, err = f.str("objectId"); err != nil {
		return c, err
	}
	if c.ID == "" {
		return c, errors.New(`missing "objectId"`)
	}
	if c.Name, err = f.str("name"); err != nil {
		return c, err
	}
	if c.Creator, err = f.str("c"); err != nil {
		return c, err
	}
	if c.Members, err = f.strs("m"); err != nil {
		return c, err
	}
	if c.MutedMembers, err = f.strs("mu"); err != nil {
		return c, err
	}
	if c.Attributes, err = f.object("attr"); err != nil {
		return c, err
	}
	if c.Transient, err = f.boolean("tr"); err != nil {
		return c, err
	}
	if c.System, err = f.boolean("sys"); err != nil {
		return c, err
	}
	if c.Unique, err = f.boolean("unique"); err != nil {
		return c, err
	}
	if c.UniqueID, err = f.str("uniqueId"); err != nil {
		return c, err
	}
	if c.LastMessageAt, err = f.date("lm"); err != nil {
		return c, err
	}
	if c.CreatedAt, err = f.date("createdAt"); err != nil {
		return c, err
	}
	if c.UpdatedAt, err = f.date("updatedAt"); err != nil {
		return c, err
	}
	if c.TTL, err = f.millis("ttl"); err != nil {
		return c, err
	}
	temporary := strings.HasPrefix(c.ID, TemporaryPrefix)
	switch {
	case c.Transient && c.System:
		return c, errors.New(`both "tr" (chat room) and "sys" (system) are true`)
	case temporary && (c.Transient || c.System):
		return c, fmt.Errorf("temporary id %q with \"tr\" or \"sys\" true", c.ID)
	case temporary:
		c.Kind = KindTemporary
	case c.Transient:
		c.Kind = KindChatRoom
	case c.System:
		c.Kind = KindSystem
	default:
		c.Kind = KindNormal
	}
	c.Extra = f.rest()
	return c, nil
}

// ParseMemberInfo converts a `_ConversationMemberInfo` row.
func ParseMemberInfo(raw json.RawMessage) (MemberInfo, error) {
	f, err := fieldsOf(raw)
	if err != nil {
		return MemberInfo{}, err
	}
	var m MemberInfo
	if m.ID, err = f.str("objectId"); err != nil {
		return m, err
	}
	if m.ConversationID, err = f.pointer("cid", "_Conversation"); err != nil {
		return m, err
	}
	if m.ConversationID == "" {
		return m, errors.New(`missing "cid"`)
	}
	if m.ClientID, err = f.str("clientId"); err != nil {
		return m, err
	}
	if m.ClientID == "" {
		return m, errors.New(`missing "clientId"`)
	}
	role, err := f.str("role")
	if err != nil {
		return m, err
	}
	switch strings.ToLower(role) {
	case "owner":
		m.Role = RoleOwner
	case "manager":
		m.Role = RoleManager
	case "member":
		m.Role = RoleMember
	case "":
		return m, errors.New(`missing "role"`)
	default:
		return m, fmt.Errorf("unknown \"role\" %q (want Owner, Manager or Member)", role)
	}
	if m.CreatedAt, err = f.date("createdAt"); err != nil {
		return m, err
	}
	if m.UpdatedAt, err = f.date("updatedAt"); err != nil {
		return m, err
	}
	m.Extra = f.rest()
	return m, nil
}

// ParseHistoryRecord converts one history record.
func ParseHistoryRecord(raw json.RawMessage) (HistoryRecord, error) {
	if h, ok := parsePlainHistoryRecord(raw); ok {
		return h, nil
	}
	return parseHistoryFields(raw)
}

// parseHistoryFields is ParseHistoryRecord key by key.
func parseHistoryFields(raw json.RawMessage) (HistoryRecord, error) {
	f, err := fieldsOf(raw)
	if err != nil {
		return HistoryRecord{}, err
	}
	var h HistoryRecord
	for _, s := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"msg-id", &h.MsgID, true},
		{"conv-id", &h.ConvID, true},
		{"from", &h.From, true},
		{"to", &h.To, false},
		{"from-ip", &h.FromIP, false},
	} {
		if *s.dst, err = f.str(s.key); err != nil {
			return h, err
		}
		if s.required && *s.dst == "" {
			return h, fmt.Errorf("missing %q", s.key)
		}
	}
	if h.Timestamp, err = f.millis("timestamp"); err != nil {
		return h, err
	}
	if h.Timestamp == 0 {
		return h, errors.New(`missing "timestamp"`)
	}
	if h.AckAt, err = f.millis("ack-at"); err != nil {
		return h, err
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"bin", &h.Bin}, {"is-conv", &h.IsConv}, {"is-room", &h.IsRoom}} {
		if *b.dst, err = f.boolean(b.key); err != nil {
			return h, err
		}
	}
	if v, ok := f.take("data"); ok {
		switch v[0] {
		case '"':
			json.Unmarshal(v, &h.Data)
		case '{', '[':
			// Content re-serialised as JSON rather than kept as a string:
			// the JSON text is what LeanCloud stored.
			var b bytes.Buffer
			json.Compact(&b, v)
			h.Data = b.String()
		default:
			return h, fmt.Errorf(`"data" is %s, not a string`, kindOf(v))
		}
	}
	if h.Bin {
		if _, err := base64.StdEncoding.DecodeString(h.Data); err != nil {
			if _, err := base64.RawStdEncoding.DecodeString(h.Data); err != nil {
				return h, errors.New(`"bin" is true but "data" is not Base64`)
			}
		}
	}
	h.Extra = f.rest()
	return h, nil
}

// plainHistoryRecord is a history record as LeanCloud's REST API writes
// it: these keys only, each of its JSON type.
type plainHistoryRecord struct {
	MsgID     string `json:"msg-id"`
	ConvID    string `json:"conv-id"`
	From      string `json:"from"`
	To        string `json:"to"`
	FromIP    string `json:"from-ip"`
	Timestamp int64  `json:"timestamp"`
	AckAt     int64  `json:"ack-at"`
	Data      string `json:"data"`
	Bin       bool   `json:"bin"`
	IsConv    bool   `json:"is-conv"`
	IsRoom    bool   `json:"is-room"`
}

var plainRequired = [][]byte{[]byte(`"msg-id"`), []byte(`"conv-id"`), []byte(`"from"`), []byte(`"timestamp"`)}

// parsePlainHistoryRecord reads a record that is plainHistoryRecord, valid
// as ParseHistoryRecord sees it, in one decoding (most records are: it is a
// third of the time of an import). Any other record is for
// ParseHistoryRecord to read key by key, and to say what is wrong with it.
func parsePlainHistoryRecord(raw json.RawMessage) (HistoryRecord, bool) {
	if bytes.Contains(raw, []byte("null")) {
		return HistoryRecord{}, false // a null key is absent, which decoding does not say
	}
	// Decoding matches keys in any case; the key-by-key path does not.
	for _, key := range plainRequired {
		if !bytes.Contains(raw, key) {
			return HistoryRecord{}, false
		}
	}
	var p plainHistoryRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(&p) != nil || dec.More() || p.MsgID == "" || p.ConvID == "" || p.From == "" || p.Timestamp <= 0 || p.AckAt < 0 || p.Bin {
		return HistoryRecord{}, false
	}
	return HistoryRecord{MsgID: p.MsgID, ConvID: p.ConvID, From: p.From, Timestamp: p.Timestamp, Data: p.Data,
		IsConv: p.IsConv, IsRoom: p.IsRoom, To: p.To, FromIP: p.FromIP, AckAt: p.AckAt}, true
}

// fields are a record's keys not yet taken.
type fields map[string]json.RawMessage

func fieldsOf(raw json.RawMessage) (fields, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("invalid JSON: " + jsonError(err))
	}
	return f, nil
}

// take removes key; ok is false when it is absent or null.
func (f fields) take(key string) (json.RawMessage, bool) {
	v, ok := f[key]
	delete(f, key)
	if !ok || len(v) == 0 || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (f fields) rest() map[string]json.RawMessage {
	if len(f) == 0 {
		return nil
	}
	return f
}

func kindOf(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

func (f fields) str(key string) (string, error) {
	v, ok := f.take(key)
	if !ok {
		return "", nil
	}
	var s string
	if v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return "", fmt.Errorf("%q is %s, not a string", key, kindOf(v))
	}
	return s, nil
}

func (f fields) boolean(key string) (bool, error) {
	v, ok := f.take(key)
	if !ok {
		return false, nil
	}
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is %s, not a boolean", key, kindOf(v))
}

// strs reads an array of non-empty strings, dropping repeats.
func (f fields) strs(key string) ([]string, error) {
	v, ok := f.take(key)
	if !ok {
		return nil, nil
	}
	var elems []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &elems) != nil {
		return nil, fmt.Errorf("%q is %s, not an array of strings", key, kindOf(v))
	}
	out := make([]string, 0, len(elems))
	seen := make(map[string]bool, len(elems))
	for i, e := range elems {
		var s string
		if e[0] != '"' || json.Unmarshal(e, &s) != nil {
			return nil, fmt.Errorf("%q[%d] is %s, not a string", key, i, kindOf(e))
		}
		if s == "" {
			return nil, fmt.Errorf("%q[%d] is empty", key, i)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func (f fields) object(key string) (map[string]json.RawMessage, error) {
	v, ok := f.take(key)
	if !ok {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if v[0] != '{' || json.Unmarshal(v, &m) != nil {
		return nil, fmt.Errorf("%q is %s, not an object", key, kindOf(v))
	}
	return m, nil
}

// pointer reads an id given as a string or as a Parse Pointer
// {"__type":"Pointer","className":class,"objectId":…}.
func (f fields) pointer(key, class string) (string, error) {
	v, ok := f.take(key)
	if !ok {
		return "", nil
	}
	switch v[0] {
	case '"':
		var s string
		json.Unmarshal(v, &s)
		return s, nil
	case '{':
		var p struct {
			Type      string `json:"__type"`
			ClassName string `json:"className"`
			ObjectID  string `json:"objectId"`
		}
		if json.Unmarshal(v, &p) == nil && p.Type == "Pointer" && (p.ClassName == "" || p.ClassName == class) {
			return p.ObjectID, nil
		}
		return "", fmt.Errorf("%q is not a Pointer to %s", key, class)
	}
	return "", fmt.Errorf("%q is %s, not a string or a Pointer", key, kindOf(v))
}

// millis reads a non-negative whole number (ms or s, as the field says),
// also given as a string of digits.
func (f fields) millis(key string) (int64, error) {
	v, ok := f.take(key)
	if !ok {
		return 0, nil
	}
	n, err := wholeNumber(v)
	if err != nil {
		return 0, fmt.Errorf("bad %q %s: %v", key, v, err)
	}
	return n, nil
}

func wholeNumber(v json.RawMessage) (int64, error) {
	s := string(v)
	if v[0] == '"' {
		if json.Unmarshal(v, &s) != nil {
			return 0, errors.New("not a number")
		}
	} else if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, errors.New("not a number")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<62 {
			return 0, errors.New("not a whole number")
		}
		n = int64(fl)
	}
	if n < 0 {
		return 0, errors.New("negative")
	}
	return n, nil
}

// date reads a date: an ISO 8601 string (createdAt, updatedAt), a
// {"__type":"Date","iso":…} object (other dates), or ms since the epoch.
func (f fields) date(key string) (int64, error) {
	v, ok := f.take(key)
	if !ok {
		return 0, nil
	}
	var iso string
	switch v[0] {
	case '"':
		json.Unmarshal(v, &iso)
	case '{':
		var d struct {
			Type string `json:"__type"`
			ISO  string `json:"iso"`
		}
		if json.Unmarshal(v, &d) != nil || (d.Type != "" && d.Type != "Date") || d.ISO == "" {
			return 0, fmt.Errorf(`bad date %q: %s is not {"__type":"Date","iso":…}`, key, v)
		}
		iso = d.ISO
	default:
		n, err := wholeNumber(v)
		if err != nil {
			return 0, fmt.Errorf("bad date %q: %s: %v", key, v, err)
		}
		return n, nil
	}
	ms, err := parseISO(iso)
	if err != nil {
		return 0, fmt.Errorf("bad date %q: %q is not an ISO 8601 time", key, iso)
	}
	return ms, nil
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999", // no zone: UTC
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseISO(s string) (int64, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, l := range isoLayouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, err
}

// ReadConversations reads every record of r as a `_Conversation` row:
// fn gets each conversation, skip each record that was not one (when
// skip is nil, the first such record ends the reading as an error). A file whose `#filetype:` names another class is refused.
// The error is fn's, or a fatal read error.
func ReadConversations(r *Reader, fn func(Position, Conversation) error, skip func(*Skipped)) error {
	return read(r, "_Conversation", ParseConversation, fn, skip)
}

// ReadMemberInfos reads every record of r as a `_ConversationMemberInfo` row.
func ReadMemberInfos(r *Reader, fn func(Position, MemberInfo) error, skip func(*Skipped)) error {
	return read(r, "_ConversationMemberInfo", ParseMemberInfo, fn, skip)
}

// ReadHistory reads every record of r as a history record.
func ReadHistory(r *Reader, fn func(Position, HistoryRecord) error, skip func(*Skipped)) error {
	return read(r, "", ParseHistoryRecord, fn, skip)
}

func read[T any](r *Reader, class string, parse func(json.RawMessage) (T, error), fn func(Position, T) error, skip func(*Skipped)) error {
	return eachRecord(r, class, func(rec Record, sk *Skipped) error {
		if sk == nil {
			v, err := parse(rec.Raw)
			if err == nil {
				return fn(rec.Pos, v)
			}
			sk = &Skipped{Pos: rec.Pos, Reason: err.Error()}
		}
		if skip == nil {
			return sk
		}
		skip(sk)
		return nil
	})
}

// eachRecord calls fn with each record of r, or with the *Skipped of each
// record that cannot be read, until the end of r, an error of fn, or a
// fatal error of r. A file whose `#filetype:` names another class than
// class ("" for message history) is refused.
func eachRecord(r *Reader, class string, fn func(Record, *Skipped) error) error {
	checked := false
	for {
		rec, err := r.Next()
		if !checked && r.filetype != nil {
			checked = true
			if class == "" {
				class = "message history"
			}
			if got := r.filetype.Class; got != "" && got != class {
				return fmt.Errorf("%s: the file holds %s rows, not %s", r.name, got, class)
			}
		}
		var sk *Skipped
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &sk):
			err = fn(Record{}, sk)
		case err != nil:
			return err
		default:
			err = fn(rec, nil)
		}
		if err != nil {
			return err
		}
	}
}
