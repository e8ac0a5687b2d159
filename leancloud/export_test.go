package leancloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// got is what a Reader returned: each record as "line/index objectId-or-msg-id",
// each skip as "line/index !reason".
func readAll(t *testing.T, rd *Reader) []string {
	t.Helper()
	var out []string
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatal("no end")
		}
		rec, err := rd.Next()
		if err == io.EOF {
			return out
		}
		var sk *Skipped
		if errors.As(err, &sk) {
			if sk.Pos.File != rd.Name() {
				t.Fatalf("skip %v: file %q", sk, sk.Pos.File)
			}
			out = append(out, fmt.Sprintf("%s !%s", at(sk.Pos), sk.Reason))
			continue
		}
		if err != nil {
			// Up to the line: the rest is encoding/json's wording.
			msg := err.Error()
			if strings.Contains(msg, "(at byte") {
				msg = strings.Join(strings.SplitN(msg, ":", 3)[:2], ":")
			}
			out = append(out, "fatal "+msg)
			if _, again := rd.Next(); again != err {
				t.Fatalf("after a fatal error Next returned %v", again)
			}
			return out
		}
		var id struct {
			ObjectID string `json:"objectId"`
			MsgID    string `json:"msg-id"`
		}
		if err := json.Unmarshal(rec.Raw, &id); err != nil {
			t.Fatalf("%v: record %s: %v", rec.Pos, rec.Raw, err)
		}
		out = append(out, at(rec.Pos)+" "+id.ObjectID+id.MsgID)
	}
}

func at(p Position) string {
	if p.Index >= 0 {
		return fmt.Sprintf("%d/%d", p.Line, p.Index)
	}
	return fmt.Sprint(p.Line)
}

func TestReaderFormats(t *testing.T) {
	// The dashboard's header line (LeanCloud's dashboard export, "数据导出"):
	const header = `#filetype:JSON-streaming {"type":"Class","class":"_Conversation"}`
	tests := []struct {
		name   string
		in     string
		format Format
		want   []string
	}{
		{"empty", "", FormatUnknown, nil},
		{"blank", " \n\r\n\t\n", FormatUnknown, nil},
		{"header JSONL", header + "\n{\"objectId\":\"a\"}\n{\"objectId\":\"b\"}\n",
			FormatJSONLines, []string{"2 a", "3 b"}},
		{"plain JSONL, no final newline", "{\"objectId\":\"a\"}\n{\"objectId\":\"b\"}",
			FormatJSONLines, []string{"1 a", "2 b"}},
		{"blank lines, other headers", "\n\n#exported by lean\n" + header + "\n\n{\"objectId\":\"a\"}\n\n\n{\"objectId\":\"b\"}\n\n",
			FormatJSONLines, []string{"6 a", "9 b"}},
		{"CRLF", header + "\r\n{\"objectId\":\"a\"}\r\n\r\n{\"objectId\":\"b\"}\r\n",
			FormatJSONLines, []string{"2 a", "4 b"}},
		{"BOM", "\uFEFF" + header + "\n{\"objectId\":\"a\"}\n", FormatJSONLines, []string{"2 a"}},
		{"BOM, plain JSONL", "\uFEFF{\"objectId\":\"a\"}\n", FormatJSONLines, []string{"1 a"}},
		{"malformed line in the middle", "{\"objectId\":\"a\"}\n{\"objectId\":\"b\",\n{\"objectId\":\"c\"}\n7\n{\"objectId\":\"d\"} {}\n{\"objectId\":\"e\"}\n",
			FormatJSONLines, []string{"1 a", "2 !invalid JSON: unexpected end of JSON input (at byte 16)", "3 c",
				"4 !not a JSON object", "5 !invalid JSON: invalid character '{' after top-level value (at byte 18)", "6 e"}},
		{"array on one line", `[{"msg-id":"m1"},{"msg-id":"m2"}]`, FormatArray, []string{"1/0 m1", "1/1 m2"}},
		{"array over lines", "\n[\n  {\"msg-id\":\"m1\"},\n  {\n    \"msg-id\": \"m2\"\n  },\n  3\n]\n",
			FormatArray, []string{"3/0 m1", "4/1 m2", "7/2 !array element is not a JSON object"}},
		{"arrays one after the other", "[\n{\"msg-id\":\"m1\"}\n]\n[\n{\"msg-id\":\"m2\"}\n]\n",
			FormatArray, []string{"2/0 m1", "5/0 m2"}},
		{"JSONL of arrays", "[{\"msg-id\":\"m1\"},{\"msg-id\":\"m2\"}]\r\n[{\"msg-id\":\"m3\"}, \"x\"]\n",
			FormatArray, []string{"1/0 m1", "1/1 m2", "2/0 m3", "2/1 !array element is not a JSON object"}},
		{"CRLF array", "[\r\n{\"msg-id\":\"m1\"},\r\n{\"msg-id\":\"m2\"}\r\n]\r\n", FormatArray, []string{"2/0 m1", "3/1 m2"}},
		{"results wrapper", "{\"results\": [\n {\"objectId\":\"a\"},\n {\"objectId\":\"b\"}\n], \"cursor\": null}\n",
			FormatResults, []string{"2/0 a", "3/1 b"}},
		{"results wrapper, cursor first", "{\n\"cursor\":\"pQRhIrac3AEpLzCA\",\n\"results\":[{\"objectId\":\"a\"}]}",
			FormatResults, []string{"3/0 a"}},
		{"results on one line", `{"results":[{"objectId":"a"},{"objectId":"b"}],"cursor":"pQRhIrac3AEpLzCA"}`,
			FormatJSONLines, []string{"1/0 a", "1/1 b"}},
		{"record with a results field", `{"objectId":"a","results":[1]}`, FormatJSONLines, []string{"1 a"}},
		{"pretty-printed records", "{\n  \"objectId\": \"a\",\n  \"n\": 1.50\n}\n{\n  \"objectId\": \"b\"\n}\n",
			FormatResults, []string{"1 a", "5 b"}},
		{"empty results", "{\n\"results\": []\n}\n{\n\"results\": null}\n", FormatResults, nil},
		{"not an export", "objectId,name\n", FormatUnknown, []string{`fatal x:1: not a LeanCloud export: it starts with 'o', not '#', '{' or '['`}},
		{"truncated array", "[\n{\"msg-id\":\"m1\"},\n{\"msg-id\":", FormatArray,
			[]string{"2/0 m1", "fatal x:3: unexpected end of JSON"}},
		{"broken array", "[\n{\"msg-id\":\"m1\"}\n{\"msg-id\":\"m2\"}]", FormatArray,
			[]string{"2/0 m1", "fatal x:3"}},
		{"results is an object", "{\n\"results\": {}}", FormatResults, []string{`fatal x:2: "results" is an object, not an array`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := NewReader(strings.NewReader(tt.in), "x")
			got := readAll(t, rd)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if rd.Format() != tt.format {
				t.Errorf("format %v, want %v", rd.Format(), tt.format)
			}
		})
	}
}

func TestReaderHeader(t *testing.T) {
	rd := NewReader(strings.NewReader("#filetype:JSON-streaming {\"type\":\"Class\",\"class\":\"_User\"}\n#other\n{\"objectId\":\"a\"}\n"), "_User.0.jsonl")
	readAll(t, rd)
	ft := rd.FileType()
	if ft == nil || ft.Name != "JSON-streaming" || ft.Type != "Class" || ft.Class != "_User" {
		t.Fatalf("filetype %+v", ft)
	}
	if len(rd.Headers()) != 2 || rd.Headers()[1] != "#other" {
		t.Fatalf("headers %q", rd.Headers())
	}
	// A class refused by the Read functions.
	rd = NewReader(strings.NewReader("#filetype:JSON-streaming {\"type\":\"Class\",\"class\":\"_User\"}\n{\"objectId\":\"a\"}\n"), "_User.0.jsonl")
	err := ReadConversations(rd, func(Position, Conversation) error { t.Fatal("read"); return nil }, func(*Skipped) {})
	if err == nil || !strings.Contains(err.Error(), "holds _User rows, not _Conversation") {
		t.Fatalf("err %v", err)
	}
}

func TestReaderLongLine(t *testing.T) {
	in := "{\"objectId\":\"a\"}\n{\"objectId\":\"" + strings.Repeat("x", 300<<10) + "\"}\n{\"objectId\":\"c\"}\n"
	rd := NewReader(strings.NewReader(in), "x")
	rd.MaxLineBytes = 100 << 10
	got := readAll(t, rd)
	want := []string{"1 a", "2 !line longer than 102400 bytes", "3 c"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestReadConversationsFile(t *testing.T) {
	rd, err := Open("testdata/_Conversation.0.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var convs []Conversation
	var skips []string
	err = ReadConversations(rd, func(p Position, c Conversation) error {
		convs = append(convs, c)
		return nil
	}, func(s *Skipped) { skips = append(skips, s.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	wantSkips := []string{
		"testdata/_Conversation.0.jsonl:4: invalid JSON: unexpected end of JSON input (at byte 55)",
		`testdata/_Conversation.0.jsonl:6: missing "objectId"`,
		`testdata/_Conversation.0.jsonl:7: "m"[1] is a number, not a string`,
		`testdata/_Conversation.0.jsonl:9: bad date "createdAt": "yesterday" is not an ISO 8601 time`,
	}
	if !reflect.DeepEqual(skips, wantSkips) {
		t.Errorf("skips\n%q\nwant\n%q", skips, wantSkips)
	}
	if len(convs) != 3 {
		t.Fatalf("%d conversations", len(convs))
	}
	want := Conversation{
		ID: "5541c02ce4b0f83f4d44414e", Kind: KindNormal, Name: "Tom & Jerry", Creator: "Tom",
		Members: []string{"Tom", "Jerry"}, MutedMembers: []string{"Jerry"},
		Attributes: map[string]json.RawMessage{"type": json.RawMessage(`"private"`), "pinned": json.RawMessage(`true`)},
		Unique:     true, UniqueID: "8a1c5f06f1b3a8e7c0d9a1f2",
		LastMessageAt: 1435541975931, CreatedAt: 1435539600000, UpdatedAt: 1435541975931,
		Extra: map[string]json.RawMessage{"ACL": json.RawMessage(`{"*":{"read":true}}`)},
	}
	if !reflect.DeepEqual(convs[0], want) {
		t.Errorf("got\n%+v\nwant\n%+v", convs[0], want)
	}
	if convs[1].Kind != KindChatRoom || !convs[1].Transient || convs[1].Members != nil {
		t.Errorf("chat room %+v", convs[1])
	}
	if convs[2].Kind != KindSystem || convs[2].Name != "News" {
		t.Errorf("system %+v", convs[2])
	}
}

func TestReadConversationsResults(t *testing.T) {
	rd, err := Open("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var got []string
	err = ReadConversations(rd, func(p Position, c Conversation) error {
		got = append(got, fmt.Sprintf("%v %s %s %v ttl=%d", p, c.ID, c.Kind, c.Members, c.TTL))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"testdata/results.json:4: element 0 5541c02ce4b0f83f4d44414e normal [Tom Jerry] ttl=0",
		"testdata/results.json:11: element 1 _tmp:Jmyl7nyZmv1uCtiQCpQjnw temporary [Tom Mary] ttl=86400",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestParseConversation(t *testing.T) {
	tests := []struct {
		in, err string
		check   func(Conversation) bool
	}{
		{`{"objectId":"a","lm":{"__type":"Date","iso":"2015-06-29T01:39:35.931Z"}}`, "",
			func(c Conversation) bool { return c.LastMessageAt == 1435541975931 && c.Kind == KindNormal }},
		{`{"objectId":"a","createdAt":"2015-06-29T09:39:35.931+08:00","updatedAt":"2015-06-29 01:39:35"}`, "",
			func(c Conversation) bool { return c.CreatedAt == 1435541975931 && c.UpdatedAt == 1435541975000 }},
		{`{"objectId":"a","lm":1435541975931,"m":null,"name":null}`, "",
			func(c Conversation) bool { return c.LastMessageAt == 1435541975931 && c.Members == nil }},
		{`{"objectId":"a","custom":{"x":1}}`, "",
			func(c Conversation) bool { return string(c.Extra["custom"]) == `{"x":1}` }},
		{`{"objectId":""}`, `missing "objectId"`, nil},
		{`{"objectId":7}`, `"objectId" is a number, not a string`, nil},
		{`{"objectId":"a","m":"Tom"}`, `"m" is a string, not an array of strings`, nil},
		{`{"objectId":"a","m":["Tom",""]}`, `"m"[1] is empty`, nil},
		{`{"objectId":"a","mu":[null]}`, `"mu"[0] is a number, not a string`, nil},
		{`{"objectId":"a","attr":[]}`, `"attr" is an array, not an object`, nil},
		{`{"objectId":"a","tr":"yes"}`, `"tr" is a string, not a boolean`, nil},
		{`{"objectId":"a","tr":true,"sys":true}`, `both "tr" (chat room) and "sys" (system) are true`, nil},
		{`{"objectId":"_tmp:x","tr":true}`, `temporary id "_tmp:x" with "tr" or "sys" true`, nil},
		{`{"objectId":"a","lm":{"__type":"Pointer","iso":"2015-06-29T01:39:35.931Z"}}`, `bad date "lm": {"__type":"Pointer","iso":"2015-06-29T01:39:35.931Z"} is not {"__type":"Date","iso":…}`, nil},
		{`{"objectId":"a","updatedAt":"2015-02-30T00:00:00Z"}`, `bad date "updatedAt": "2015-02-30T00:00:00Z" is not an ISO 8601 time`, nil},
		{`{"objectId":"a","lm":-5}`, `bad date "lm": -5: negative`, nil},
		{`[1]`, `not a JSON object`, nil},
	}
	for _, tt := range tests {
		c, err := ParseConversation(json.RawMessage(tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: err %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !tt.check(c) {
			t.Errorf("%s: %+v %v", tt.in, c, err)
		}
	}
}

func TestReadMemberInfos(t *testing.T) {
	rd, err := Open("testdata/_ConversationMemberInfo.0.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var got, skips []string
	err = ReadMemberInfos(rd, func(p Position, m MemberInfo) error {
		got = append(got, fmt.Sprintf("%d %s %s %s %s %d", p.Line, m.ID, m.ConversationID, m.ClientID, m.Role, m.CreatedAt))
		return nil
	}, func(s *Skipped) { skips = append(skips, s.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2 5a3b1c2d4e5f60718293a4b5 5541c02ce4b0f83f4d44414e Tom Owner 1435539600000",
		"3 5a3b1c2d4e5f60718293a4b6 5541c02ce4b0f83f4d44414e Jerry Manager 0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	wantSkips := []string{`testdata/_ConversationMemberInfo.0.jsonl:4: unknown "role" "Admin" (want Owner, Manager or Member)`}
	if !reflect.DeepEqual(skips, wantSkips) {
		t.Errorf("skips %q", skips)
	}
	for in, want := range map[string]string{
		`{"clientId":"a","role":"Member"}`: `missing "cid"`,
		`{"cid":"c","role":"Member"}`:      `missing "clientId"`,
		`{"cid":"c","clientId":"a"}`:       `missing "role"`,
		`{"cid":{"__type":"Pointer","className":"_User","objectId":"u"},"clientId":"a","role":"Member"}`: `"cid" is not a Pointer to _Conversation`,
	} {
		if _, err := ParseMemberInfo(json.RawMessage(in)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", in, err, want)
		}
	}
}

func TestReadHistory(t *testing.T) {
	rd, err := Open("testdata/history.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var got []HistoryRecord
	var skips []string
	err = ReadHistory(rd, func(p Position, h HistoryRecord) error {
		got = append(got, h)
		return nil
	}, func(s *Skipped) { skips = append(skips, s.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	// The example history record of LeanCloud's IM REST guide (global history API).
	want0 := HistoryRecord{
		MsgID: "vdkGm4dtRNmhQ5gqUTFBiA", ConvID: "219946ef32e40c515d33ae6975a5c593",
		From: "u111872755_9d0461adf9c267ae263b3742c60fa", Timestamp: 1408008498571, Data: "今天天气不错！",
		IsConv: true, To: "5541c02ce4b0f83f4d44414e", FromIP: "202.117.15.217",
	}
	if len(got) != 3 {
		t.Fatalf("%d records: %+v", len(got), got)
	}
	if !reflect.DeepEqual(got[0], want0) {
		t.Errorf("got\n%+v\nwant\n%+v", got[0], want0)
	}
	h := got[1]
	if h.AckAt != 1408008500123 || h.Data != `{"_lctype":-1,"_lctext":"hello","_lcattrs":{"k":1}}` ||
		string(h.Extra["patch-timestamp"]) != "1408008600000" || string(h.Extra["mention-all"]) != "false" || len(h.Extra) != 2 {
		t.Errorf("record 1 %+v", h)
	}
	if !got[2].Bin || got[2].Data != "AAECAw==" {
		t.Errorf("record 2 %+v", got[2])
	}
	wantSkips := []string{`testdata/history.json:11: element 3: bad "timestamp" "soon": not a whole number`}
	if !reflect.DeepEqual(skips, wantSkips) {
		t.Errorf("skips %q", skips)
	}
	for in, want := range map[string]string{
		`{"conv-id":"c","from":"a","timestamp":1}`:                                     `missing "msg-id"`,
		`{"msg-id":"m","from":"a","timestamp":1}`:                                      `missing "conv-id"`,
		`{"msg-id":"m","conv-id":"c","timestamp":1}`:                                   `missing "from"`,
		`{"msg-id":"m","conv-id":"c","from":"a"}`:                                      `missing "timestamp"`,
		`{"msg-id":"m","conv-id":"c","from":"a","timestamp":1.5}`:                      `bad "timestamp" 1.5: not a whole number`,
		`{"msg-id":"m","conv-id":"c","from":"a","timestamp":1,"data":5}`:               `"data" is a number, not a string`,
		`{"msg-id":"m","conv-id":"c","from":"a","timestamp":1,"bin":"x"}`:              `"bin" is a string, not a boolean`,
		`{"msg-id":"m","conv-id":"c","from":"a","timestamp":1,"bin":true,"data":"%%"}`: `"bin" is true but "data" is not Base64`,
	} {
		if _, err := ParseHistoryRecord(json.RawMessage(in)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", in, err, want)
		}
	}
	h, err = ParseHistoryRecord(json.RawMessage(`{"msg-id":"m","conv-id":"c","from":"a","timestamp":"1408008498571","ack-at":1.408008498571e12}`))
	if err != nil || h.Timestamp != 1408008498571 || h.AckAt != 1408008498571 {
		t.Errorf("%+v %v", h, err)
	}
}

// generator produces n history records as JSON lines, or as one JSON array
// on one line, or in a {"results": [...]} wrapper, without holding them.
type generator struct {
	n, i   int
	format Format
	buf    []byte
	done   bool
}

func (g *generator) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.done {
			return 0, io.EOF
		}
		switch {
		case g.i == 0 && g.format == FormatArray:
			g.buf = append(g.buf, '[')
		case g.i == 0 && g.format == FormatResults:
			g.buf = append(g.buf, "{\"results\":[\n"...)
		}
		if g.i == g.n {
			g.done = true
			switch g.format {
			case FormatArray:
				g.buf = append(g.buf, "]\n"...)
			case FormatResults:
				g.buf = append(g.buf, "],\"cursor\":null}\n"...)
			}
			continue
		}
		if g.i > 0 && g.format != FormatJSONLines {
			g.buf = append(g.buf, ',')
			if g.format == FormatResults {
				g.buf = append(g.buf, '\n')
			}
		}
		g.buf = fmt.Appendf(g.buf, `{"timestamp":%d,"conv-id":"219946ef32e40c515d33ae6975a5c593","data":"{\"_lctype\":-1,\"_lctext\":\"message number %d of a long history\"}","from":"u111872755_9d0461adf9c267ae263b3742c60fa","msg-id":"vdkGm4dtRNmhQ5gq%06d","is-conv":true,"is-room":false,"to":"5541c02ce4b0f83f4d44414e","bin":false,"from-ip":"202.117.15.217"}`,
			1408008498571+int64(g.i), g.i, g.i)
		if g.format == FormatJSONLines {
			g.buf = append(g.buf, '\n')
		}
		g.i++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// TestReadLarge reads 100k records (about 40 MB) of each layout and checks
// that the heap stays far below the input's size.
func TestReadLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	const n = 100_000
	for _, format := range []Format{FormatJSONLines, FormatArray, FormatResults} {
		t.Run(format.String(), func(t *testing.T) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base, peak := ms.HeapAlloc, uint64(0)
			rd := NewReader(&generator{n: n, format: format}, "big")
			count, last := 0, int64(0)
			err := ReadHistory(rd, func(p Position, h HistoryRecord) error {
				if h.Timestamp <= last {
					return fmt.Errorf("%v: out of order", p)
				}
				last = h.Timestamp
				count++
				if count%10_000 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
				return nil
			}, func(s *Skipped) { t.Errorf("skipped %v", s) })
			if err != nil {
				t.Fatal(err)
			}
			if count != n || rd.Format() != format {
				t.Fatalf("%d records, format %v", count, rd.Format())
			}
			if peak > base+16<<20 {
				t.Errorf("heap grew by %d MiB reading %d records", (peak-base)>>20, n)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"#filetype:JSON-streaming {\"type\":\"Class\",\"class\":\"_Conversation\"}\n{\"objectId\":\"a\",\"m\":[\"x\"]}\n",
		"[{\"msg-id\":\"m\",\"conv-id\":\"c\",\"from\":\"a\",\"timestamp\":1}]",
		"{\"results\":[{\"objectId\":\"a\"}],\"cursor\":null}",
		"{\n\"results\":[\n{\"objectId\":\"a\"},7]}\n{\"objectId\":\"b\"}",
		"\uFEFF\r\n{\"objectId\":\"a\",\"lm\":{\"__type\":\"Date\",\"iso\":\"2015\"}}\r\n{bad\r\n",
		"[\n1,\"x\",{}\n]\n[",
		"{\n\"cid\":{\"__type\":\"Pointer\"},\"results\":null}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := NewReader(strings.NewReader(string(data)), "fuzz")
		rd.MaxLineBytes = 1 << 10
		for i := 0; i < 10_000; i++ {
			rec, err := rd.Next()
			var sk *Skipped
			if errors.As(err, &sk) {
				if sk.Reason == "" || sk.Pos.Line < 1 {
					t.Fatalf("skip without reason or line: %+v", sk)
				}
				continue
			}
			if err != nil {
				return
			}
			if rec.Pos.Line < 1 || !json.Valid(rec.Raw) {
				t.Fatalf("record %+v", rec)
			}
			ParseConversation(rec.Raw)
			ParseMemberInfo(rec.Raw)
			ParseHistoryRecord(rec.Raw)
		}
		t.Fatal("no end after 10000 records")
	})
}

// The one-decoding path of ParseHistoryRecord reads what the key-by-key
// path reads, or leaves the record to it: for records as LeanCloud writes
// them, and for each way a record can differ from that.
func TestPlainHistoryRecordsReadAsKeyByKey(t *testing.T) {
	base := `"msg-id":"qNkRkFWOeSqP65S9fDyHJw","conv-id":"5541c02ce4b0f83f4d44414e","from":"Tom","timestamp":1495431811151`
	for _, raw := range []string{
		`{` + base + `}`,
		`{` + base + `,"data":"{\"_lctype\":-1,\"_lctext\":\"hi\"}","is-conv":true,"is-room":false,"to":"x","from-ip":"1.2.3.4","ack-at":1495431811200,"bin":false}`,
		`{` + base + `,"data":"aGk=","bin":true}`,
		`{` + base + `,"data":{"_lctype":-1}}`,
		`{` + base + `,"patch-timestamp":5}`,
		`{` + base + `,"ack-at":-1}`,
		`{` + base + `,"timestamp":"1495431811151"}`,
		`{` + base + `,"timestamp":1.5e12}`,
		`{` + base + `,"timestamp":-3}`,
		`{` + base + `,"from":null}`,
		`{` + base + `,"from":7}`,
		`{` + base + `,"to":null,"data":null}`,
		`{` + base + `} {}`,
		`{"msg-id":"a","conv-id":"b","from":"c"}`,
		`{"MSG-ID":"a","conv-id":"b","from":"c","timestamp":5}`,
	} {
		want, wantErr := parseHistoryFields(json.RawMessage(raw))
		got, gotErr := ParseHistoryRecord(json.RawMessage(raw))
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%s:\n got %+v, %v\nwant %+v, %v", raw, got, gotErr, want, wantErr)
		}
	}
}
