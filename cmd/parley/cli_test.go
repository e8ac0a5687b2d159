package main

import (
	"bytes"
	"context"
	"github.com/parley-im/parley/internal/slogtext"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer written by a running server and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCmd runs the command line as main does, to its end.
func runCmd(t *testing.T, environ map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a server would stop at once; these commands do not serve
	code = run(ctx, args, env(environ), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"-version"}, {"version"}, {"-addr", ":1", "-version"}, {"--version"}} {
		code, out, errOut := runCmd(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "parley ") || !strings.Contains(out, runtime.Version()) || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and the version with Go's", args, code, out, errOut)
		}
	}
	if code, _, _ := runCmd(t, nil, "version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
	// -version is a flag without a variable: PARLEY_VERSION does not turn
	// a server into a version printer.
	if _, err := parseConfig(nil, env(map[string]string{"PARLEY_VERSION": "true"})); err != nil {
		t.Errorf("PARLEY_VERSION=true: %v", err)
	}

	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "39ec68b1f00d"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	want := "parley v1.2.3 (revision 39ec68b1f00d, 2026-12-01T10:00:00Z, modified), go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH
	if got := versionOf(info, true); got != want {
		t.Errorf("versionOf:\n got %q\nwant %q", got, want)
	}
	if got := versionOf(nil, false); !strings.HasPrefix(got, "parley (devel), go") {
		t.Errorf("versionOf without build info: %q", got)
	}
}

// parley -h lists every flag with its variable, and the subcommands; the
// README's Configuration table has the same settings. The subcommands
// answer -h with their usage and exit 0.
func TestHelp(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "-h")
	if code != 0 || errOut != "" {
		t.Fatalf("-h: exit %d, stderr %q", code, errOut)
	}
	for _, sub := range []string{"parley master-key", "parley openapi", "parley version"} {
		if !strings.Contains(out, sub) {
			t.Errorf("-h does not mention %q:\n%s", sub, out)
		}
	}
	flagLine := regexp.MustCompile(`(?m)^  -([a-z-]+)(?: [a-z]+)?(?:  \((PARLEY_[A-Z_]+)\))?$`)
	listed := map[string]string{}
	for _, m := range flagLine.FindAllStringSubmatch(out, -1) {
		listed[m[1]] = m[2]
	}
	if len(listed) < 20 {
		t.Fatalf("-h lists %d flags:\n%s", len(listed), out)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(PARLEY_[A-Z_]+)` \\| `-([a-z-]+)` \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		documented[m[2]] = m[1]
	}
	for name, envVar := range listed {
		if name == "version" {
			if envVar != "" {
				t.Errorf("-version has a variable %s", envVar)
			}
			continue
		}
		if want := envName(name); envVar != want {
			t.Errorf("-h: -%s shows variable %q, want %q", name, envVar, want)
		}
		if documented[name] != envVar {
			t.Errorf("-%s (%s) is not in the README's Configuration table", name, envVar)
		}
	}
	for name := range documented {
		if _, ok := listed[name]; !ok {
			t.Errorf("the README documents -%s, which -h does not list", name)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"openapi", "-h"}, "Usage: parley openapi"},
		{[]string{"openapi", "--help"}, "-out directory"},
		{[]string{"master-key", "-h"}, "Usage: parley master-key"},
	} {
		code, out, errOut := runCmd(t, nil, tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	for _, args := range [][]string{{"openapi", "-nope"}, {"openapi", "stray"}, {"master-key", "-nope"}, {"-nope"}} {
		code, out, errOut := runCmd(t, nil, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "nope") && !strings.Contains(errOut, "stray") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and the error", args, code, out, errOut)
		}
		if strings.Contains(errOut, "Usage") {
			t.Errorf("%v: the error comes with the whole usage:\n%s", args, errOut)
		}
	}
}

// A bad duration says what a duration looks like, whether it comes from a
// flag or a variable.
func TestBadDurationSaysWhatADurationIs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		environ map[string]string
		names   string
	}{
		{[]string{"-offline-grace", "10"}, nil, "-offline-grace"},
		{nil, map[string]string{"PARLEY_HEARTBEAT": "abc"}, "PARLEY_HEARTBEAT"},
		{nil, map[string]string{"PARLEY_RETENTION": "180d"}, "PARLEY_RETENTION"},
	} {
		code, _, errOut := runCmd(t, tc.environ, tc.args...)
		if code != 2 || !strings.Contains(errOut, "10s, 5m, 168h") || !strings.Contains(errOut, tc.names) {
			t.Errorf("%v %v: exit %d, %q; want 2, naming %s and saying what a duration looks like", tc.args, tc.environ, code, errOut, tc.names)
		}
	}
}

// serveFor runs the server as main does until it listens, sends a request,
// stops it and returns what it logged.
func serveFor(t *testing.T, environ map[string]string, args ...string) string {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), env(environ), &out, &errOut)
	}()
	addr := regexp.MustCompile(`parley: listening on (\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			resp, err := http.Get("http://" + m[1] + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("%v: exit %d before listening:\n%s", args, code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: not listening after 20s:\n%s", args, errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("%v: exit %d after a graceful stop:\n%s", args, code, errOut.String())
	}
	return errOut.String()
}

// The start's log line says the auth mode, database, sync mode, where the
// master key came from (never the key) and what is not the default; the
// access log is on by default.
func TestStartLogSaysWhatIsInForce(t *testing.T) {
	dir := t.TempDir()
	const key = "s3cret-master-key-0123"
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startLine := func(log string) accessLine {
		for _, line := range strings.Split(log, "\n") {
			if l := accessLine(slogtext.Parse(line)); l["msg"] == "parley started" {
				return l
			}
		}
		t.Fatalf("no start line in:\n%s", log)
		return nil
	}
	check := func(what, log string, want map[string]string, absent ...string) {
		t.Helper()
		l := startLine(log)
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s: %s=%q, want %q\n%s", what, k, l[k], v, log)
			}
		}
		for _, k := range absent {
			if _, ok := l[k]; ok {
				t.Errorf("%s: %s=%q, a default, is listed", what, k, l[k])
			}
		}
		if strings.Contains(log, key) {
			t.Errorf("%s: the log shows the master key", what)
		}
		if !strings.HasPrefix(l["version"], "parley ") {
			t.Errorf("%s: version %q", what, l["version"])
		}
	}

	db := filepath.Join(dir, "a.db")
	log := serveFor(t, nil, "-db", db, "-auth-mode", "signature", "-db-sync", "normal", "-master-key", key, "-rate-sends", "60")
	check("given", log, map[string]string{"auth_mode": "signature", "db": db, "db_sync": "normal", "master_key": "given",
		"access_log": "true", "settings.rate-sends": "60", "settings.auth-mode": "signature", "settings.master-key": "(given)"},
		"settings.heartbeat", "settings.access-log")
	if !regexp.MustCompile(`(?m)msg=request method=GET route=/healthz status=200 .*client=- request_id=`).MatchString(log) {
		t.Errorf("the access log is not on by default:\n%s", log)
	}

	log = serveFor(t, map[string]string{"PARLEY_MASTER_KEY_FILE": keyFile, "PARLEY_ACCESS_LOG": "false", "PARLEY_HEARTBEAT": "5s"}, "-db", filepath.Join(dir, "b.db"))
	check("from file", log, map[string]string{"auth_mode": "open", "db_sync": "full", "master_key": "from file", "access_log": "false",
		"settings.master-key-file": keyFile, "settings.heartbeat": "5s", "settings.access-log": "false"}, "settings.master-key")
	if strings.Contains(log, "msg=request") {
		t.Errorf("PARLEY_ACCESS_LOG=false still logs requests:\n%s", log)
	}

	generated := filepath.Join(dir, "c.db")
	check("generated", serveFor(t, nil, "-db", generated), map[string]string{"master_key": "generated"})
	check("kept", serveFor(t, nil, "-db", generated), map[string]string{"master_key": "from database"})
}

type accessLine map[string]string
