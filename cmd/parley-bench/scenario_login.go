package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/parley-im/parley/store"
)

var (
	loginConvs  = flag.Int("conversations", 1000, "login: conversations the client is in, each with unread messages")
	loginUnread = flag.Int("unread", 5, "login: unread messages in each of the client's conversations")
)

func init() {
	register(&Scenario{
		Name: "login",
		Help: "a client in -conversations conversations (default 1,000), each with -unread unread messages, logs in and opens its stream, " +
			"again and again: time until the complete unread summary has arrived",
		Concurrency: 1,
		NoBaseline:  true, // one client's round trips: no ratio to a flat-out ceiling
		Run:         runLogin,
	})
}

const (
	loginClient = "login-client"
	loginPeers  = 50 // the other members come from this many clients
)

func runLogin(env *Env) error {
	ctx, rep := env.Ctx, env.Report
	n, k := *loginConvs, *loginUnread
	if n < 1 || k < 1 {
		return errors.New("login needs at least one conversation and one unread message in each")
	}
	rep.Param("conversations", n)
	rep.Param("unread_per_conversation", k)
	rep.Param("offline_messages", "unread (the default: the stream opens with the unread summary)")
	path, err := env.DBPath()
	if err != nil {
		return err
	}
	progress("login: seeding %d conversations with %d unread messages each into %s", n, k, path)
	start := time.Now()
	if err := seedLogin(ctx, path, n, k); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(start)
	rep.Metric("seed_seconds", "seeding time", seedTime.Seconds(), "s")
	var dbBytes int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			dbBytes += fi.Size()
		}
	}
	rep.Metric("db_mib", "database file", float64(dbBytes)/(1<<20), "MiB")

	c, err := env.StartServer()
	if err != nil {
		return err
	}
	// One round outside the window checks that the summary is complete.
	if _, err := loginOnce(ctx, c, n, k); err != nil {
		return err
	}
	w := newWindow(time.Now().Add(env.Warmup), env.Duration)
	env.ProfileWindow(w.Start(), env.Duration)
	cpu := env.CPUWindow(w)
	progress("login: %d client(s) log in and open the stream again and again for %s + %s warm-up", env.Concurrency, env.Duration, env.Warmup)
	type out struct {
		total, login, hello, summary Hist
		bytes                        int64
		errs                         int64
		first                        string
	}
	outs := make([]out, env.Concurrency)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func(o *out) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(w.End()) {
				t, err := loginOnce(ctx, c, n, k)
				if !w.in(t.start.UnixNano()) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					o.errs++
					if o.first == "" {
						o.first = err.Error()
					}
					continue
				}
				o.total.Record(t.summary.Sub(t.start))
				o.login.Record(t.loggedIn.Sub(t.start))
				o.hello.Record(t.hello.Sub(t.loggedIn))
				o.summary.Record(t.summary.Sub(t.hello))
				o.bytes = t.bytes
			}
		}(&outs[i])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var total, login, hello, summary Hist
	var errs, size int64
	var first string
	for i := range outs {
		total.Merge(&outs[i].total)
		login.Merge(&outs[i].login)
		hello.Merge(&outs[i].hello)
		summary.Merge(&outs[i].summary)
		errs += outs[i].errs
		size = max(size, outs[i].bytes)
		if first == "" {
			first = outs[i].first
		}
	}
	d := env.Duration.Seconds()
	rep.Metric("logins", "logins in the window (each a fresh session)", float64(total.Count()), "")
	rep.Metric("ops_per_sec", "logins with a complete summary per second", float64(total.Count())/d, "logins/s")
	rep.Metric("p50_ms", "login to complete unread summary p50", total.Quantile(0.5), "ms")
	rep.Metric("p99_ms", "login to complete unread summary p99", total.Quantile(0.99), "ms")
	rep.Metric("max_ms", "login to complete unread summary max", total.MaxMs(), "ms")
	rep.Metric("login_p50_ms", "of which POST /v1/sessions p50", login.Quantile(0.5), "ms")
	rep.Metric("login_p99_ms", "of which POST /v1/sessions p99", login.Quantile(0.99), "ms")
	rep.Metric("hello_p50_ms", "of which stream open to hello p50", hello.Quantile(0.5), "ms")
	rep.Metric("hello_p99_ms", "of which stream open to hello p99", hello.Quantile(0.99), "ms")
	rep.Metric("summary_p50_ms", "of which hello to complete summary p50", summary.Quantile(0.5), "ms")
	rep.Metric("summary_p99_ms", "of which hello to complete summary p99", summary.Quantile(0.99), "ms")
	rep.Metric("summary_kib", "unread summary event size", float64(size)/1024, "KiB")
	rep.Metric("errors", "failed rounds", float64(errs), "")
	if first != "" {
		rep.Note("first error: %s", first)
	}
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_mib", "server RSS", float64(rss)/1024, "MiB")
	}
	env.ReportCPU(cpu)
	rep.TargetFigure(fmt.Sprintf("login: complete unread summary of %d conversations under 20 ms (p99)", n), "p99_ms", 20, true)
	return nil
}

// loginTimes are the moments of one round.
type loginTimes struct {
	start, loggedIn, hello, summary time.Time
	bytes                           int64 // of the summary's data line
}

// loginOnce logs the client in (a fresh session), opens its stream, reads
// until the unread summary has arrived whole, checks that it lists every
// conversation with its count, then closes the stream and logs out (the
// check and the logout are after the times taken).
func loginOnce(ctx context.Context, c *Client, n, k int) (loginTimes, error) {
	var t loginTimes
	t.start = time.Now()
	token, err := c.Login(ctx, loginClient)
	if err != nil {
		return t, err
	}
	t.loggedIn = time.Now()
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		c.Call(lctx, http.MethodDelete, "/v1/sessions/current", token, nil, nil, http.StatusNoContent)
	}()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, c.Base+"/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req, token)
	resp, err := c.Streams.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return t, fmt.Errorf("GET /v1/events: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var event string
	var data []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return t, fmt.Errorf("event stream: %w before the unread summary", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if name, ok := bytes.CutPrefix(line, prefixEvent); ok {
			event = string(name)
			if event == "hello" {
				t.hello = time.Now()
			}
			continue
		}
		if d, ok := bytes.CutPrefix(line, prefixData); ok && event == "unreadmessagescountupdate" {
			t.summary, data = time.Now(), d
			break
		}
	}
	t.bytes = int64(len(data))
	if t.hello.IsZero() {
		return t, errors.New("the unread summary came before hello")
	}
	var sum struct {
		Conversations []struct {
			ConversationID      string `json:"conversationId"`
			UnreadMessagesCount int    `json:"unreadMessagesCount"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		return t, fmt.Errorf("unread summary: %w", err)
	}
	if len(sum.Conversations) != n {
		return t, fmt.Errorf("the unread summary lists %d conversations, want %d", len(sum.Conversations), n)
	}
	for _, e := range sum.Conversations {
		if e.UnreadMessagesCount != k {
			return t, fmt.Errorf("the unread summary says %d unread in %s, want %d", e.UnreadMessagesCount, e.ConversationID, k)
		}
	}
	return t, nil
}

// seedLogin fills a fresh database file, through the store package, with n
// conversations of the client and one to three others (from a pool of
// loginPeers), each with k messages from another member, none read by the
// client: unread = last_seq − read_seq = k everywhere. The messages are a
// second apart, oldest conversation first, ending a minute ago.
func seedLogin(ctx context.Context, path string, n, k int) error {
	db, err := store.Open(path, store.Options{Synchronous: "normal"})
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UnixMilli()
	base := now - 60_000 - int64(n*k)*1000
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for i := lo; i < hi; i++ {
				id := fmt.Sprintf("benchlogin%010d", i)
				members := []string{loginClient}
				for j := 0; j <= i%3; j++ {
					members = append(members, fmt.Sprintf("login-peer%d", (i+j*17)%loginPeers))
				}
				at := base + int64(i*k)*1000
				conv := &store.Conversation{ID: id, Kind: "normal", Name: fmt.Sprintf("login bench %d", i),
					Creator: members[1], Attributes: "{}", CreatedAt: at, UpdatedAt: at}
				if err := tx.InsertConversation(conv, members); err != nil {
					return err
				}
				for j := 0; j < k; j++ {
					m := &store.Message{ConversationID: id, From: members[1+j%(len(members)-1)], Type: -1,
						Body: fmt.Sprintf(`{"type":-1,"text":"unread message %d of conversation %d"}`, j+1, i), Timestamp: at + int64(j)*1000}
					if err := tx.InsertMessage(m); err != nil {
						return err
					}
				}
			}
			return nil
		}, nil)
		if err != nil {
			return err
		}
	}
	return nil
}
