package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashLosesNoAcknowledgedMessage builds the real binary, SIGKILLs it
// while 16 clients send as fast as they can, restarts it on the same
// database and checks that every send answered 201 is in history exactly
// once, with its content, and that nothing in history is duplicated or was
// never sent.
func TestCrashLosesNoAcknowledgedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the real binary; skipped with -short")
	}
	bin := buildParley(t)
	for _, mode := range []string{"full", "normal"} {
		t.Run("db-sync="+mode, func(t *testing.T) {
			crashDuringSends(t, bin, mode)
		})
	}
}

const (
	crashClients  = 4
	crashSenders  = 16
	crashAckFloor = 2000 // acknowledged sends before the kill
)

// sendRecord is one send as the client saw it.
type sendRecord struct {
	sender, n int
	cmid      string // clientMessageId
	text      string
	conv      string
	from      string
	acked     bool   // answered 201
	id        string // message id of an acknowledged send
	unknown   bool   // no answer: in flight when the process died
}

func crashDuringSends(t *testing.T, bin, dbSync string) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "parley.db")

	p := startParley(t, bin, dir, "run1", "-db", dbPath, "-db-sync", dbSync)
	c := newCrashClient(p.base)

	// Log in a few clients and give every pair of senders a conversation
	// that all clients are members of.
	tokens := make([]string, crashClients)
	clientIDs := make([]string, crashClients)
	for i := range tokens {
		clientIDs[i] = fmt.Sprintf("crash-%d-客户", i)
		var res struct{ Token, ClientID string }
		c.mustDo(t, "POST", "/v1/sessions", "", map[string]any{"clientId": clientIDs[i]}, http.StatusCreated, &res)
		if res.ClientID != clientIDs[i] || res.Token == "" {
			t.Fatalf("login %d: got %+v", i, res)
		}
		tokens[i] = res.Token
	}
	convs := make([]string, crashSenders/2)
	for i := range convs {
		var conv struct{ ID string }
		c.mustDo(t, "POST", "/v1/conversations", tokens[i%crashClients],
			map[string]any{"members": clientIDs, "name": fmt.Sprintf("crash %d", i)}, http.StatusCreated, &conv)
		convs[i] = conv.ID
	}

	var (
		acked   atomic.Int64
		killed  atomic.Bool
		killNow = make(chan struct{})
		mu      sync.Mutex
		records []*sendRecord
		early   []string // failures before the kill
		wg      sync.WaitGroup
	)
	record := func(r *sendRecord) {
		mu.Lock()
		records = append(records, r)
		mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for s := 0; s < crashSenders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			client := s % crashClients
			conv := convs[s/2]
			for n := 0; ; n++ {
				if time.Now().After(deadline) {
					return
				}
				r := &sendRecord{
					sender: s, n: n, conv: conv, from: clientIDs[client],
					cmid: fmt.Sprintf("s%02d-%06d", s, n),
					text: fmt.Sprintf("sender %d message %d — 你好 <&> %s", s, n, strings.Repeat("x", n%50)),
				}
				record(r)
				var msg struct {
					ID              string `json:"id"`
					Text            string `json:"text"`
					ClientMessageID string `json:"clientMessageId"`
				}
				status, err := c.do("POST", "/v1/conversations/"+url.PathEscape(conv)+"/messages", tokens[client],
					map[string]any{"type": -1, "text": r.text, "clientMessageId": r.cmid}, &msg)
				mu.Lock()
				switch {
				case err == nil && status == http.StatusCreated:
					r.acked, r.id = true, msg.ID
					if msg.Text != r.text || msg.ClientMessageID != r.cmid || msg.ID == "" {
						early = append(early, fmt.Sprintf("%s: 201 with wrong body %+v", r.cmid, msg))
					}
				case errors.As(err, new(*transportError)) && killed.Load():
					r.unknown = true
				default:
					early = append(early, fmt.Sprintf("%s: status %d, err %v", r.cmid, status, err))
				}
				mu.Unlock()
				if !r.acked {
					return
				}
				if acked.Add(1) == crashAckFloor {
					close(killNow)
				}
			}
		}(s)
	}

	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	select {
	case <-killNow:
	case <-sendersDone: // every sender failed before the kill
	case <-time.After(time.Until(deadline)):
		t.Errorf("only %d sends acknowledged in 30s", acked.Load())
	}
	killed.Store(true)
	p.kill(t)
	wg.Wait()
	c.http.CloseIdleConnections()
	if len(early) > 0 {
		t.Fatalf("%d sends failed before the kill, first: %s\nserver log:\n%s", len(early), early[0], p.logTail())
	}

	var nAcked, nUnknown int
	for _, r := range records {
		if r.acked {
			nAcked++
		}
		if r.unknown {
			nUnknown++
		}
	}
	t.Logf("db-sync=%s: %d sends acknowledged, %d in flight at the kill", dbSync, nAcked, nUnknown)
	if nUnknown == 0 {
		t.Fatalf("no send was in flight when the process was killed: the test did not test a crash during sends")
	}

	// Restart on the same database; the session tokens still work.
	p2 := startParley(t, bin, dir, "run2", "-db", dbPath, "-db-sync", dbSync)
	defer p2.stop(t)
	c2 := newCrashClient(p2.base)

	type histMsg struct {
		ID              string `json:"id"`
		ConversationID  string `json:"conversationId"`
		From            string `json:"from"`
		Type            int    `json:"type"`
		Text            string `json:"text"`
		ClientMessageID string `json:"clientMessageId"`
	}
	byCMID := map[string]*sendRecord{}
	for _, r := range records {
		byCMID[r.cmid] = r
	}
	seenID := map[string]bool{}
	found := map[string]histMsg{} // by clientMessageId
	for _, conv := range convs {
		var all []histMsg
		before := ""
		for {
			q := "?limit=1000"
			if before != "" {
				q += "&before=" + url.QueryEscape(before)
			}
			var page struct {
				Messages []histMsg `json:"messages"`
				HasMore  bool      `json:"hasMore"`
			}
			c2.mustDo(t, "GET", "/v1/conversations/"+url.PathEscape(conv)+"/messages"+q, tokens[0], nil, http.StatusOK, &page)
			all = append(page.Messages, all...)
			if !page.HasMore || len(page.Messages) == 0 {
				break
			}
			before = page.Messages[0].ID
		}
		for i, m := range all {
			if i > 0 && !(all[i-1].ID < m.ID) {
				t.Errorf("history of %s out of order: %s then %s", conv, all[i-1].ID, m.ID)
			}
			if seenID[m.ID] {
				t.Errorf("message id %s twice in history", m.ID)
			}
			seenID[m.ID] = true
			r := byCMID[m.ClientMessageID]
			switch {
			case r == nil:
				t.Errorf("history holds a message that was never sent: %+v", m)
				continue
			case r.conv != conv || r.from != m.From || r.text != m.Text || m.Type != -1 || m.ConversationID != conv:
				t.Errorf("message %s differs from what was sent:\n got %+v\nsent %+v", m.ClientMessageID, m, *r)
			case !r.acked && !r.unknown:
				t.Errorf("message %s is in history but its send failed", m.ClientMessageID)
			}
			if _, dup := found[m.ClientMessageID]; dup {
				t.Errorf("clientMessageId %s twice in history", m.ClientMessageID)
			}
			found[m.ClientMessageID] = m
		}
	}

	// Every acknowledged send is there, under the id it was answered with;
	// each sender's messages have ids in the order they were sent.
	lost := 0
	lastID := map[int]string{}
	for _, r := range records {
		m, ok := found[r.cmid]
		if r.acked {
			if !ok {
				lost++
				if lost <= 5 {
					t.Errorf("acknowledged message %s (id %s) lost in the crash", r.cmid, r.id)
				}
				continue
			}
			if m.ID != r.id {
				t.Errorf("acknowledged message %s answered with id %s, history has %s", r.cmid, r.id, m.ID)
			}
		}
		if ok {
			if prev := lastID[r.sender]; prev != "" && !(prev < m.ID) {
				t.Errorf("sender %d: message %d has id %s, not after the previous %s", r.sender, r.n, m.ID, prev)
			}
			lastID[r.sender] = m.ID
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged messages lost", lost, nAcked)
	}

	// The sends that were in flight can be retried safely: one that made it
	// comes back as the original (200), one that did not is sent now (201).
	for _, r := range records {
		if !r.unknown {
			continue
		}
		var msg histMsg
		status, err := c2.do("POST", "/v1/conversations/"+url.PathEscape(r.conv)+"/messages", tokens[r.sender%crashClients],
			map[string]any{"type": -1, "text": r.text, "clientMessageId": r.cmid}, &msg)
		if err != nil {
			t.Fatalf("retry %s: %v", r.cmid, err)
		}
		if prev, ok := found[r.cmid]; ok {
			if status != http.StatusOK || msg.ID != prev.ID {
				t.Errorf("retry of %s, which is in history as %s: status %d id %s, want 200 and the original", r.cmid, prev.ID, status, msg.ID)
			}
		} else if status != http.StatusCreated || msg.Text != r.text {
			t.Errorf("retry of %s, which is not in history: status %d %+v, want 201", r.cmid, status, msg)
		}
	}
}

// buildParley compiles the command into a temporary directory.
func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type parleyProc struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
}

// startParley runs the binary on a free loopback port and waits for the
// line that says where it listens.
func startParley(t *testing.T, bin, dir, name string, args ...string) *parleyProc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-log-level", "warn"}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &parleyProc{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "parley: listening on "); ok {
				select {
				case addr <- strings.Fields(rest)[0]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.exited:
		t.Fatalf("parley exited before listening:\n%s", p.logTail())
	case <-time.After(20 * time.Second):
		t.Fatalf("parley did not start listening in 20s:\n%s", p.logTail())
	}
	return p
}

// cleanEnv is the test's environment without PARLEY_* settings, so that
// only the flags given configure the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *parleyProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("parley did not die after SIGKILL")
	}
}

// stop shuts the server down gracefully and checks that it exits cleanly.
func (p *parleyProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("parley exited with %d after SIGINT:\n%s", code, p.logTail())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("parley did not stop within 15s of SIGINT")
	}
}

func (p *parleyProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// transportError is a request that got no complete answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return "no answer: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

type crashClient struct {
	base string
	http *http.Client
}

func newCrashClient(base string) *crashClient {
	return &crashClient{base: base, http: &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}}
}

// do sends a JSON request and decodes a 2xx JSON answer into out.
func (c *crashClient) do(method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, &transportError{err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, &transportError{err}
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, nil
}

func (c *crashClient) mustDo(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	status, err := c.do(method, path, token, body, out)
	if err != nil || status != want {
		t.Fatalf("%s %s: status %d (want %d): %v", method, path, status, want, err)
	}
}
