package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

// TestWebDemoInChromium runs web/e2e/demo.spec.mjs: the web demo served by
// a real server, driven in Chromium by playwright-core (issue 17, item 4).
// It is skipped where node, npm or Chromium (CHROMIUM, else
// /usr/bin/chromium) is missing, unless PARLEY_BROWSER_TESTS=required; the
// web packages are installed with `npm ci` in web/ when missing.
//
// The script asks for a server restart with the lines "PARLEY-E2E: STOP"
// and "PARLEY-E2E: START" on its stdout; the test answers "STOPPED" (the
// server is shut down) and "STARTED" (a new server runs on the same
// database and address) on its stdin. Screenshots go to PARLEY_SCREENSHOTS,
// else to a temporary directory of the test.
func TestWebDemoInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser test (-short)")
	}
	required := os.Getenv("PARLEY_BROWSER_TESTS") == "required"
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg + " (PARLEY_BROWSER_TESTS=required makes this fail)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("needs node: %v", err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		unavailable("needs Chromium (set CHROMIUM, or apt-get install chromium): %v", err)
	}
	web, _ := filepath.Abs("../web")
	if err := npmInstalled(web, "playwright-core"); err != nil {
		unavailable("needs the web packages (npm ci in web/): %v", err)
	}
	shots := os.Getenv("PARLEY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if shots, err = filepath.Abs(shots); err != nil {
		t.Fatal(err)
	}

	// The restart must keep the address (the pages reconnect to it): the
	// second server listens where the first one did.
	h := start(t)
	addr := h.srv.Addr.String()
	onAddr := func(c *server.Config) { c.Addr = addr }

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "demo.spec.mjs"))
	cmd.Dir = web
	cmd.Env = append(os.Environ(), "FORCE_COLOR=0", "PARLEY_BASE="+h.base, "PARLEY_SCREENSHOTS="+shots, "CHROMIUM="+chromium)
	var out bytes.Buffer
	cmd.Stderr = &syncWriter{w: &out}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answer := func(line string) {
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Errorf("answering the script: %v", err)
		}
	}
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		line := scanner.Text()
		fmt.Fprintln(cmd.Stderr, line)
		switch strings.TrimSpace(line) {
		case "PARLEY-E2E: STOP":
			h.shutdown()
			answer("STOPPED")
		case "PARLEY-E2E: START":
			h = startOn(t, h.dbPath, onAddr)
			answer("STARTED")
		}
	}
	stdin.Close()
	err = cmd.Wait()
	t.Logf("demo.spec.mjs ran in %v; screenshots in %s", time.Since(started).Round(time.Millisecond), shots)
	if err != nil {
		t.Fatalf("node e2e/demo.spec.mjs: %v\n%s", err, out.String())
	}
	if testing.Verbose() {
		t.Logf("output:\n%s", out.String())
	}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
