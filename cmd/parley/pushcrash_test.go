package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// pushGateway is a gorush-format gateway that holds every request until it
// is opened, then answers each with success, recording the messages.
type pushGateway struct {
	srv     *httptest.Server
	mu      sync.Mutex
	open    bool
	opened  chan struct{}
	arrived chan struct{} // one per request, while held
	changed chan struct{} // a message was recorded
	seen    map[string]int
}

func newPushGateway(t *testing.T) *pushGateway {
	g := &pushGateway{opened: make(chan struct{}), arrived: make(chan struct{}, 1000), changed: make(chan struct{}, 1), seen: map[string]int{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Notifications []struct {
				Tokens  []string `json:"tokens"`
				Message string   `json:"message"`
			} `json:"notifications"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		if !open {
			select {
			case g.arrived <- struct{}{}:
			default:
			}
			select {
			case <-g.opened:
			case <-r.Context().Done():
				return // the server died with the request in flight
			}
		}
		g.mu.Lock()
		for _, n := range req.Notifications {
			g.seen[n.Message]++
		}
		g.mu.Unlock()
		select {
		case g.changed <- struct{}{}:
		default:
		}
		io.WriteString(w, `{"counts":1,"logs":[],"success":"ok"}`)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *pushGateway) openUp() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
	close(g.opened)
}

func (g *pushGateway) count(msg string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen[msg]
}

// TestCrashLosesNoPushNotification: messages to an offline member are
// acknowledged while the push gateway holds every request; the server is
// SIGKILLed with pushes in flight and queued, and once restarted on the
// same database it sends every one of them.
func TestCrashLosesNoPushNotification(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the real binary; skipped with -short")
	}
	bin := buildParley(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "parley.db")
	gw := newPushGateway(t)
	args := []string{"-db", dbPath, "-push-gateway-url", gw.srv.URL + "/api/push"}
	p := startParley(t, bin, dir, "first", args...)
	c := newCrashClient(p.base)
	var tom, jerry struct {
		Token string `json:"token"`
	}
	c.mustDo(t, "POST", "/v1/sessions", "", map[string]string{"clientId": "Tom"}, http.StatusCreated, &tom)
	c.mustDo(t, "POST", "/v1/sessions", "", map[string]string{"clientId": "Jerry"}, http.StatusCreated, &jerry)
	c.mustDo(t, "POST", "/v1/devices", jerry.Token, map[string]string{"platform": "android", "token": "jerrys-phone"}, http.StatusOK, nil)
	var conv struct {
		ID string `json:"id"`
	}
	c.mustDo(t, "POST", "/v1/conversations", tom.Token, map[string]any{"members": []string{"Jerry"}}, http.StatusCreated, &conv)
	const n = 20
	for i := range n {
		c.mustDo(t, "POST", "/v1/conversations/"+conv.ID+"/messages", tom.Token, map[string]any{
			"type": -1, "text": "hi", "pushData": map[string]any{"alert": fmt.Sprintf("m%d", i)}}, http.StatusCreated, nil)
	}
	select {
	case <-gw.arrived: // a push is in flight, held by the gateway
	case <-time.After(20 * time.Second):
		t.Fatalf("no push reached the gateway:\n%s", p.logTail())
	}
	p.kill(t)

	gw.openUp()
	p = startParley(t, bin, dir, "second", args...)
	deadline := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("m%d", i)
		for gw.count(msg) == 0 {
			select {
			case <-gw.changed:
			case <-deadline:
				t.Fatalf("the push of %s never reached the gateway after the restart:\n%s", msg, p.logTail())
			}
		}
	}
	p.stop(t)
}
