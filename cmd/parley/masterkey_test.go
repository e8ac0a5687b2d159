package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

// A first start that cannot listen keeps no master key it never showed;
// the start that listens prints the generated key (before the address), and
// `parley master-key` prints the same key again from the database.
func TestGeneratedMasterKeyIsPrintedOnceListening(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "parley.db")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	var out bytes.Buffer
	cfg := server.Config{Addr: taken.Addr().String(), DB: dbPath, Out: &out}
	if srv, err := server.Start(context.Background(), cfg); err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("started on a port in use")
	}
	if strings.Contains(out.String(), "master key") {
		t.Errorf("a start that failed to listen printed:\n%s", out.String())
	}
	if err := printMasterKey([]string{"-db", dbPath}, env(nil), &bytes.Buffer{}); err == nil {
		t.Error("parley master-key after a failed start: a key no one was shown")
	}

	out.Reset()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer srv.Shutdown(ctx)
	key := srv.MasterKey
	if len(key) < server.MinMasterKeyLen {
		t.Errorf("generated master key %q is shorter than %d characters", key, server.MinMasterKeyLen)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := "parley: generated master key (shown once; it is kept in " + dbPath + "): " + key
	wantApp := "parley: generated app key for the LeanCloud-compatible API (shown once; it is kept in " + dbPath + "): " + srv.AppKey
	if len(lines) != 3 || lines[0] != want || lines[1] != wantApp || !strings.HasPrefix(lines[2], "parley: listening on "+srv.Addr.String()) {
		t.Errorf("printed:\n%s\nwant the line %q, then %q, then the listening address", out.String(), want, wantApp)
	}

	// parley master-key, beside the running server: -db, then PARLEY_DB.
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"-db", dbPath}, nil},
		{nil, map[string]string{"PARLEY_DB": dbPath}},
		{[]string{"-db", dbPath}, map[string]string{"PARLEY_DB": filepath.Join(dir, "other.db")}},
	} {
		var printed bytes.Buffer
		if err := printMasterKey(tc.args, env(tc.env), &printed); err != nil {
			t.Fatalf("master-key %v %v: %v", tc.args, tc.env, err)
		}
		if printed.String() != key+"\n" {
			t.Errorf("master-key %v %v printed %q, want %q", tc.args, tc.env, printed.String(), key+"\n")
		}
	}
}

// parley master-key creates no database and says why it has no key.
func TestMasterKeyCommandErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.db")
	if err := printMasterKey([]string{"-db", missing}, env(nil), &bytes.Buffer{}); err == nil {
		t.Error("no error for a missing database")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("parley master-key created %s", missing)
	}

	// A server given its key keeps none in the database.
	dbPath := filepath.Join(dir, "parley.db")
	srv, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", DB: dbPath, MasterKey: "given-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown(context.Background())
	err = printMasterKey([]string{"-db", dbPath}, env(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "keeps no master key") {
		t.Errorf("database without a kept key: %v", err)
	}
}

// server.Start itself refuses a short master key, whoever configures it.
func TestServerRefusesShortMasterKey(t *testing.T) {
	_, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), MasterKey: "a"})
	if err == nil || !strings.Contains(err.Error(), "at least 16 characters") {
		t.Errorf("master key \"a\": %v", err)
	}
}
