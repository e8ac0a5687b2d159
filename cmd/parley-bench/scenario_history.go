package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/parley-im/parley/store"
)

var (
	historyMessages = flag.Int("messages", 1_000_000, "history: messages to seed into the conversation")
	historySeed     = flag.String("seed", "sql", "history: how to seed: sql (prepared INSERTs in large transactions) or store (store.Tx.InsertMessage)")
)

func init() {
	register(&Scenario{
		Name:        "history",
		Help:        "a page of 20 from a conversation of -messages messages (default 1,000,000, seeded into the database file before the server starts), at the newest end and deep in the past",
		Concurrency: 1,
		Run:         runHistory,
	})
}

const (
	historyConv   = "benchhistory00000000"
	historyReader = "history-reader"
	historyWriter = "history-writer"
	historyPage   = 20
	historyDeepAt = 100 // the deep page is the one before the 100th oldest message
)

func runHistory(env *Env) error {
	ctx, rep := env.Ctx, env.Report
	n := *historyMessages
	if n < historyDeepAt+historyPage {
		return fmt.Errorf("history needs at least %d messages", historyDeepAt+historyPage)
	}
	rep.Param("messages", n)
	rep.Param("seed", *historySeed)
	rep.Param("page", historyPage)
	rep.Param("deep_page", fmt.Sprintf("before=the id of message #%d (the oldest is #1)", historyDeepAt+1))
	path, err := env.DBPath()
	if err != nil {
		return err
	}
	progress("history: seeding %d messages into %s (%s)", n, path, *historySeed)
	start := time.Now()
	mids, err := seedHistory(ctx, path, n, *historySeed)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(start)
	progress("history: seeded in %s (%.0f msgs/s)", seedTime.Round(time.Millisecond), float64(n)/seedTime.Seconds())
	rep.Metric("seed_seconds", "seeding time", seedTime.Seconds(), "s")
	rep.Metric("seed_msgs_per_sec", "seeding rate", float64(n)/seedTime.Seconds(), "msgs/s")
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
	token, err := c.Login(ctx, historyReader)
	if err != nil {
		return err
	}
	base := c.Base + "/v1/conversations/" + url.PathEscape(historyConv) + "/messages?limit=" + strconv.Itoa(historyPage)
	ends := []struct{ key, label, url string }{
		{"newest", "newest page", base},
		{"deep", "deep page", base + "&before=" + formatMessageID(mids[historyDeepAt])},
	}
	auth := "Bearer " + token
	for _, e := range ends {
		if err := checkPage(ctx, c, e.url, token); err != nil {
			return fmt.Errorf("%s: %w", e.label, err)
		}
	}
	all := &sendResult{Latency: &Hist{}}
	cpu := env.CPU()
	for _, e := range ends {
		d := env.Duration / time.Duration(len(ends))
		w := newWindow(time.Now().Add(env.Warmup/time.Duration(len(ends))), d)
		if e.key == "newest" {
			env.ProfileWindow(w.Start(), env.Duration)
		}
		progress("history: %s, %d readers for %s", e.label, env.Concurrency, d)
		res := runGets(ctx, c.HTTP, e.url, auth, env.Concurrency, w)
		if err := ctx.Err(); err != nil {
			return err
		}
		rep.Metric(e.key+"_per_sec", e.label+": pages per second", res.PerSec(), "pages/s")
		rep.Metric(e.key+"_p50_ms", e.label+": latency p50", res.Latency.Quantile(0.5), "ms")
		rep.Metric(e.key+"_p99_ms", e.label+": latency p99", res.Latency.Quantile(0.99), "ms")
		rep.Metric(e.key+"_max_ms", e.label+": latency max", res.Latency.MaxMs(), "ms")
		if res.FirstErr != "" {
			rep.Note("%s: %d errors, first: %s", e.label, res.Errors, res.FirstErr)
		}
		all.OK += res.OK
		all.Errors += res.Errors
		all.Elapsed += res.Elapsed
		all.Latency.Merge(res.Latency)
		rep.TargetFigure(fmt.Sprintf("history: %s within 5 ms (p99)", e.label), e.key+"_p99_ms", 5, true)
	}
	rep.Metric("ops_per_sec", "pages per second (both ends)", all.PerSec(), "pages/s")
	rep.Metric("p50_ms", "page latency p50 (both ends)", all.Latency.Quantile(0.5), "ms")
	rep.Metric("p99_ms", "page latency p99 (both ends)", all.Latency.Quantile(0.99), "ms")
	rep.Metric("errors", "failed requests", float64(all.Errors), "")
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_mib", "server RSS", float64(rss)/1024, "MiB")
	}
	env.ReportCPU(cpu)
	return nil
}

// checkPage makes sure a page URL answers a full page before it is timed.
func checkPage(ctx context.Context, c *Client, u, token string) error {
	var page struct {
		Messages []json.RawMessage `json:"messages"`
		HasMore  bool              `json:"hasMore"`
	}
	if err := c.Call(ctx, http.MethodGet, u[len(c.Base):], token, nil, &page, http.StatusOK); err != nil {
		return err
	}
	if len(page.Messages) != historyPage || !page.HasMore {
		return fmt.Errorf("expected a page of %d with more, got %d (hasMore %v)", historyPage, len(page.Messages), page.HasMore)
	}
	return nil
}

// seedHistory fills a fresh database file with one conversation of n text
// messages, oldest first, through the store package (its schema and
// migrations, its writer), and returns the message ids in order. Message i
// is sent at base+i ms, so ids (ms<<12, as the store makes them) increase and
// lie in the past; the server starts its id generator above the largest.
func seedHistory(ctx context.Context, path string, n int, mode string) ([]int64, error) {
	db, err := store.Open(path, store.Options{Synchronous: "normal"})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	now := time.Now().UnixMilli()
	base := now - int64(n) - 60_000
	conv := &store.Conversation{
		ID: historyConv, Kind: "normal", Name: "parley-bench history", Attributes: "{}",
		CreatedAt: base, UpdatedAt: base,
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertConversation(conv, []string{historyReader, historyWriter})
	}, nil)
	if err != nil {
		return nil, err
	}
	mids := make([]int64, n)
	const batch = 50_000
	body := func(i int) string { return `{"type":-1,"text":"history message ` + strconv.Itoa(i) + `"}` }
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		var fn func(tx *store.Tx) error
		switch mode {
		case "store":
			fn = func(tx *store.Tx) error {
				for i := lo; i < hi; i++ {
					m := &store.Message{ConversationID: historyConv, From: historyWriter, Type: -1, Body: body(i), Timestamp: base + int64(i)}
					if err := tx.InsertMessage(m); err != nil {
						return err
					}
					mids[i] = m.MID
				}
				return nil
			}
		case "sql":
			fn = func(tx *store.Tx) error {
				stmt, err := tx.Prepare(`INSERT INTO messages
					(mid, conversation_id, seq, from_id, type, body, timestamp) VALUES (?, ?, ?, ?, -1, ?, ?)`)
				if err != nil {
					return err
				}
				defer stmt.Close()
				for i := lo; i < hi; i++ {
					ts := base + int64(i)
					mids[i] = ts << 12
					if _, err := stmt.Exec(mids[i], historyConv, i+1, historyWriter, body(i), ts); err != nil {
						return err
					}
				}
				_, err = tx.Exec("UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?", hi, base+int64(hi-1), historyConv)
				return err
			}
		default:
			return nil, fmt.Errorf("-seed must be sql or store, not %q", mode)
		}
		if err := db.Write(ctx, fn, nil); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return mids, nil
}

// formatMessageID writes a message id as the API does (handlers'
// formatMessageID): the integer id in 11 digits of base32hex.
func formatMessageID(mid int64) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	var b [11]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = alphabet[mid&31]
		mid >>= 5
	}
	return string(b[:])
}
