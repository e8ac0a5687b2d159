package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/store"
)

func runImportCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(context.Background(), append([]string{"import", "leancloud"}, args...), env(nil), &out, &errOut)
	return code, out.String(), errOut.String()
}

var testdata = func(name string) string { return filepath.Join("..", "..", "leancloud", "testdata", name) }

// From files: the summary says what was stored and what was skipped by
// cause, each skipped record is listed with its file and line, and the
// same command again stores nothing new.
func TestImportCommandFromFiles(t *testing.T) {
	db := filepath.Join(t.TempDir(), "parley.db")
	args := []string{"-db", db, "-conversations", testdata("_Conversation.0.jsonl"),
		"-member-infos", testdata("_ConversationMemberInfo.0.jsonl"), "-messages", testdata("history.json")}
	code, out, errOut := runImportCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"conversations  3 new, 0 already there", "member roles   2 new or updated",
		"skipped        9 records", "6  unreadable record", "3  conversation not imported"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "skipped "+testdata("_Conversation.0.jsonl")+":6: missing \"objectId\"") {
		t.Errorf("the skipped records are not listed by file and line:\n%s", errOut)
	}
	code, out, _ = runImportCmd(t, args...)
	if code != 0 || !strings.Contains(out, "conversations  0 new, 3 already there") || !strings.Contains(out, "member roles   0 new or updated, 2 already there") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

// A dry run leaves no database behind; an import while the database is in
// use (a server runs on it) is refused and says why; a command line that
// cannot work is a usage error (exit 2) that says what is missing.
func TestImportCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "parley.db")
	code, out, errOut := runImportCmd(t, "-db", db, "-dry-run", "-conversations", testdata("_Conversation.0.jsonl"))
	if code != 0 || !strings.Contains(out, "Dry run") || !strings.Contains(out, "conversations  3 new") {
		t.Errorf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("the dry run created %s: %v", db, err)
	}

	held, err := store.Open(db, store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runImportCmd(t, "-db", db, "-conversations", testdata("_Conversation.0.jsonl"))
	held.Close()
	if code != 1 || !strings.Contains(errOut, "in use by another Parley process") {
		t.Errorf("import into a database in use: exit %d, %s", code, errOut)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to import"},
		{[]string{"-server", "https://x.example.com", "-app-id", "a"}, "-server needs -app-id, -master-key"},
		{[]string{"-server", "https://x.example.com", "-app-id", "a", "-master-key", "k", "-save", dir, "-messages", dir}, "either -server or files"},
		{[]string{"-save", dir, "-messages", dir}, "go with -server"},
	} {
		code, _, errOut := runImportCmd(t, append([]string{"-db", db}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	var out2, errOut2 syncBuffer
	if code := run(context.Background(), []string{"import", "mongodb"}, env(nil), &out2, &errOut2); code != 2 {
		t.Errorf("import mongodb: exit %d, %s", code, errOut2.String())
	}
}
