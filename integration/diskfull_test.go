package integration

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/store"
)

// A full disk is no server failure: a write it refuses answers 503
// SERVICE_UNAVAILABLE with Retry-After (never 500), and /readyz says "disk
// full" until a write succeeds again. The disk is "filled" with SQLite's
// max_page_count on the writer's connection, which makes SQLite answer a
// write that needs one more page with a real SQLITE_FULL.
func TestDiskFull(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	h.login("Jerry")
	conv := tom.createConv("Jerry")

	limitPages := func(extra string) {
		t.Helper()
		err := h.srv.DB().Write(ctx(t), func(tx *store.Tx) error {
			_, err := tx.Exec("PRAGMA max_page_count = " + extra)
			return err
		}, nil)
		if err != nil {
			t.Fatalf("max_page_count: %v", err)
		}
	}
	var pages int
	if err := h.srv.DB().Write(ctx(t), func(tx *store.Tx) error { return tx.Get(&pages, "PRAGMA page_count") }, nil); err != nil {
		t.Fatal(err)
	}
	limitPages(strconv.Itoa(pages)) // SQLite keeps the pages it has; no new one

	post := func(path, body string, viaRouter bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, h.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tom.Token)
		if viaRouter {
			req.Header.Set("Origin", "https://app.example") // not the send fast path
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	full := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		p := problemOf(t, what, resp, body, http.StatusServiceUnavailable, client.SERVICEUNAVAILABLE)
		if !strings.Contains(deref(p.Detail), "disk is full") {
			t.Errorf("%s: detail %q does not say the disk is full", what, deref(p.Detail))
		}
		if ra := resp.Header.Get("Retry-After"); ra != "30" {
			t.Errorf("%s: Retry-After %q, want 30", what, ra)
		}
	}
	ready := func() (int, string) {
		t.Helper()
		resp, err := http.Get(h.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Sends fill the pages left; then the disk is full.
	text := `{"type":-1,"text":"` + strings.Repeat("x", 4000) + `"}`
	send := "/v1/conversations/" + conv.Id + "/messages"
	for i := 0; ; i++ {
		resp, body := post(send, text, false)
		if resp.StatusCode == http.StatusCreated {
			if i == 1000 {
				t.Fatal("a thousand sends and the disk is not full")
			}
			continue
		}
		full("a send (fast path) on a full disk", resp, body)
		break
	}
	if status, body := ready(); status != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") {
		t.Errorf("/readyz on a full disk: %d %s", status, body)
	}
	resp, body := post(send, text, true)
	full("a send (through the operation) on a full disk", resp, body)
	resp, body = post("/v1/conversations", `{"members":["Jerry"],"name":"`+strings.Repeat("n", 100)+`","attributes":{"a":"`+strings.Repeat("a", 3000)+`"}}`, false)
	full("a new conversation on a full disk", resp, body)

	// Room again: writes succeed, and the server is ready.
	limitPages("1073741823")
	tom.sendText(conv.Id, "there is room again")
	if status, body := ready(); status != http.StatusOK {
		t.Errorf("/readyz after a write succeeded: %d %s", status, body)
	}
}
