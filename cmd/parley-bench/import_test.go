package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The import scenario's generated export is what LeanCloud hands out: the
// right counts, parseable files, records newest first from the
// conversation's members, the content mix; and the same bytes every time.
func TestImportExportGenerated(t *testing.T) {
	const convs, messages = 20, 500
	dir := t.TempDir()
	f, err := generateLeanCloudExport(dir, convs, messages)
	if err != nil {
		t.Fatal(err)
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{24}$`)
	msgID := regexp.MustCompile(`^[A-Za-z0-9]{22}$`)

	type convRow struct {
		ObjectID  string   `json:"objectId"`
		Name      string   `json:"name"`
		Creator   string   `json:"c"`
		Members   []string `json:"m"`
		Muted     []string `json:"mu"`
		Attr      map[string]any
		LM        struct{ Type, ISO string } `json:"lm"`
		CreatedAt string                     `json:"createdAt"`
	}
	members := map[string][]string{}
	readLines(t, f.Conversations, `{"type":"Class","class":"_Conversation"}`, func(line []byte) {
		var c convRow
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !hexID.MatchString(c.ObjectID) || len(c.Members) < 2 || len(c.Members) > 20 || c.Creator != c.Members[0] || c.CreatedAt == "" {
			t.Errorf("conversation %s", line)
		}
		if members[c.ObjectID] != nil {
			t.Errorf("objectId %s twice", c.ObjectID)
		}
		members[c.ObjectID] = c.Members
	})
	if len(members) != convs {
		t.Fatalf("%d conversations, want %d", len(members), convs)
	}
	infos := 0
	readLines(t, f.MemberInfos, `{"type":"Class","class":"_ConversationMemberInfo"}`, func(line []byte) {
		var mi struct{ ObjectID, Cid, ClientID, Role string }
		if err := json.Unmarshal(line, &mi); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !hexID.MatchString(mi.ObjectID) || members[mi.Cid] == nil || mi.ClientID != members[mi.Cid][0] || mi.Role != "Owner" {
			t.Errorf("member info %s", line)
		}
		infos++
	})
	if infos != convs {
		t.Errorf("%d member infos, want %d", infos, convs)
	}

	entries, err := os.ReadDir(f.Messages)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != convs {
		t.Errorf("%d history files, want %d", len(entries), convs)
	}
	total := 0
	kinds := map[string]int{}
	ids := map[string]bool{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".0.json")
		if !ok || members[id] == nil {
			t.Fatalf("history file %s is not <convId>.0.json of a conversation", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(f.Messages, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var recs []struct {
			Timestamp int64  `json:"timestamp"`
			ConvID    string `json:"conv-id"`
			Data      string `json:"data"`
			From      string `json:"from"`
			MsgID     string `json:"msg-id"`
			IsConv    bool   `json:"is-conv"`
			To        string `json:"to"`
			Bin       *bool  `json:"bin"`
			FromIP    string `json:"from-ip"`
		}
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for i, r := range recs {
			if r.ConvID != id || r.To != id || !r.IsConv || r.Bin == nil || *r.Bin || r.FromIP == "" ||
				!msgID.MatchString(r.MsgID) || !slices.Contains(members[id], r.From) {
				t.Errorf("%s[%d]: %+v", e.Name(), i, r)
			}
			if i > 0 && r.Timestamp >= recs[i-1].Timestamp {
				t.Errorf("%s[%d]: not newest first", e.Name(), i)
			}
			if r.Timestamp < importEnd-importSpanDays*86_400_000 || r.Timestamp >= importEnd {
				t.Errorf("%s[%d]: timestamp %d out of range", e.Name(), i, r.Timestamp)
			}
			if ids[r.MsgID] {
				t.Errorf("msg-id %s twice", r.MsgID)
			}
			ids[r.MsgID] = true
			var content struct {
				Type int    `json:"_lctype"`
				Text string `json:"_lctext"`
				File *struct {
					URL string `json:"url"`
				} `json:"_lcfile"`
				Loc *struct{ Latitude, Longitude float64 } `json:"_lcloc"`
			}
			if json.Unmarshal([]byte(r.Data), &content) != nil {
				kinds["plain"]++
				continue
			}
			switch {
			case content.Type == -1 && len(content.Text) >= 16 && len(content.Text) <= 120:
				kinds["text"]++
			case (content.Type == -2 || content.Type == -6) && content.File != nil && content.File.URL != "":
				kinds[map[int]string{-2: "image", -6: "file"}[content.Type]]++
			case content.Type == -5 && content.Loc != nil:
				kinds["location"]++
			case content.Type == 3:
				kinds["custom"]++
			default:
				t.Errorf("%s[%d]: content %s", e.Name(), i, r.Data)
			}
		}
		total += len(recs)
	}
	if total != messages {
		t.Errorf("%d messages, want %d", total, messages)
	}
	for _, k := range []string{"text", "image", "file", "location", "custom", "plain"} {
		if kinds[k] == 0 {
			t.Errorf("no %s messages (%v)", k, kinds)
		}
	}
	if share := float64(kinds["text"]) / messages; share < 0.7 || share > 0.9 {
		t.Errorf("text share %.2f, want about 0.8 (%v)", share, kinds)
	}

	// Deterministic: a second generation writes the same bytes.
	if a, b := dirHash(t, dir), dirHash(t, regen(t, convs, messages)); a != b {
		t.Error("two generations differ")
	}
}

func regen(t *testing.T, convs, messages int) string {
	dir := t.TempDir()
	if _, err := generateLeanCloudExport(dir, convs, messages); err != nil {
		t.Fatal(err)
	}
	return dir
}

func dirHash(t *testing.T, dir string) string {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		h.Write([]byte(rel))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(h.Sum(nil))
}

// readLines checks a dashboard export's header line and hands over the
// others.
func readLines(t *testing.T, path, class string, each func([]byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != "#filetype:JSON-streaming "+class {
		t.Fatalf("%s: header %q", path, sc.Text())
	}
	for sc.Scan() {
		each(sc.Bytes())
	}
}
