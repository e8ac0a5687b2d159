package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/store"
)

// fakeProvider records what it is asked to send and answers as told.
type fakeProvider struct {
	mu     sync.Mutex
	sent   []push.Notification
	answer func(push.Notification) push.Result
}

func (f *fakeProvider) Name() string        { return "fake" }
func (f *fakeProvider) Platforms() []string { return []string{"ios", "android"} }
func (f *fakeProvider) Send(_ context.Context, n push.Notification) push.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, n)
	if f.answer != nil {
		return f.answer(n)
	}
	return push.Result{}
}

func (f *fakeProvider) take() []push.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.sent
	f.sent = nil
	return out
}

type pushWorld struct {
	s     *Service
	p     *fakeProvider
	clock *time.Time
	hub   *events.Hub
}

// pushService is a Service with push on through a fake provider, a clock
// the test moves, conversations "c" (tom, jerry, mary) and "room" (a chat
// room), and devices for jerry (ios) and mary (android).
func pushService(t *testing.T) *pushWorld {
	t.Helper()
	p := &fakeProvider{}
	s, clock := clockedService(t, Config{Push: &PushConfig{Providers: []push.Provider{p}}})
	db := s.db
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.InsertConversation(&store.Conversation{ID: "c", Kind: KindNormal, Attributes: "{}", CreatedAt: 1, UpdatedAt: 1}, []string{"tom", "jerry", "mary"}); err != nil {
			return err
		}
		if err := tx.InsertConversation(&store.Conversation{ID: "room", Kind: KindChatRoom, Attributes: "{}", CreatedAt: 1, UpdatedAt: 1}, nil); err != nil {
			return err
		}
		for _, d := range []store.Device{{Token: "jerry-phone", ClientID: "jerry", Platform: "ios"}, {Token: "mary-phone", ClientID: "mary", Platform: "android"}} {
			if err := tx.PutDevice(&d); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pushWorld{s: s, p: p, clock: clock, hub: s.hub}
}

// run lets the worker do everything due now.
func (w *pushWorld) run(t *testing.T) []push.Notification {
	t.Helper()
	ctx := context.Background()
	for w.s.pushJobs(ctx) {
	}
	for w.s.pushDeliveries(ctx) {
	}
	return w.p.take()
}

func (w *pushWorld) send(t *testing.T, from string, req SendRequest) {
	t.Helper()
	if _, _, err := w.s.Send(context.Background(), Principal{ClientID: from}, "c", req); err != nil {
		t.Fatal(err)
	}
}

func text(s string) SendRequest { return SendRequest{Content: Content{Type: intp(TypeText), Text: s}} }

// Offline members with a device get the template, their badge their unread
// total when the notification is prepared (both messages here: the device
// shows the latest count whichever push arrives last); the sender and
// online members get nothing.
func TestPushGoesToOfflineMembers(t *testing.T) {
	w := pushService(t)
	// Mary is online: a stream is attached.
	if _, _, err := w.hub.Attach("mary-session", "mary", ""); err != nil {
		t.Fatal(err)
	}
	w.send(t, "tom", text("one"))
	w.send(t, "tom", text("two"))
	got := w.run(t)
	if len(got) != 2 {
		t.Fatalf("%d notifications, want 2 (jerry's, twice): %+v", len(got), got)
	}
	for i, n := range got {
		want := map[string]any{"alert": "New message from tom", "badge": float64(2)}
		if n.Token != "jerry-phone" || n.Platform != "ios" || n.ConvID != "c" || !reflect.DeepEqual(n.Payload, want) {
			t.Errorf("notification %d: %+v, want jerry's with %v", i, n, want)
		}
	}
}

// No push for a transient message, a muted member, a chat room or a
// message to a system conversation; pushData replaces the template.
func TestPushRules(t *testing.T) {
	w := pushService(t)
	ctx := context.Background()
	w.send(t, "tom", SendRequest{Content: Content{Type: intp(TypeText), Text: "typing"}, Transient: true})
	if got := w.run(t); len(got) != 0 {
		t.Errorf("a transient message was pushed: %+v", got)
	}
	if _, err := w.s.Mute(ctx, Principal{ClientID: "mary"}, "c", true); err != nil {
		t.Fatal(err)
	}
	req := text("hi")
	req.PushData = map[string]any{"alert": map[string]any{"title": "Tom", "body": "hi"}, "sound": "default", "url": "app://c"}
	w.send(t, "tom", req)
	got := w.run(t)
	if len(got) != 1 || got[0].Token != "jerry-phone" {
		t.Fatalf("got %+v, want jerry's only (mary muted the conversation)", got)
	}
	if want := req.PushData; !reflect.DeepEqual(got[0].Payload, map[string]any{"alert": map[string]any{"title": "Tom", "body": "hi"}, "sound": "default", "url": "app://c"}) {
		t.Errorf("payload %v, want pushData %v", got[0].Payload, want)
	}
}

// A dead token is unregistered; a delivery that fails for now is retried
// after the provider's Retry-After, and given up after the retry period.
func TestPushFailures(t *testing.T) {
	w := pushService(t)
	ctx := context.Background()
	w.p.answer = func(n push.Notification) push.Result {
		if n.Token == "mary-phone" {
			return push.Result{Dead: true, Err: errors.New("Unregistered")}
		}
		return push.Result{Retry: true, RetryAfter: 2 * time.Hour, Err: errors.New("503")}
	}
	w.send(t, "tom", text("hi"))
	if got := w.run(t); len(got) != 2 {
		t.Fatalf("%d sends, want 2", len(got))
	}
	ds, err := store.Devices(ctx, w.s.db.R(), "mary")
	if err != nil || len(ds) != 0 {
		t.Errorf("mary's devices after a dead token: %+v %v", ds, err)
	}
	*w.clock = w.clock.Add(time.Hour)
	if got := w.run(t); len(got) != 0 {
		t.Errorf("retried before the provider's Retry-After: %+v", got)
	}
	*w.clock = w.clock.Add(90 * time.Minute)
	w.p.answer = nil
	if got := w.run(t); len(got) != 1 || got[0].Token != "jerry-phone" {
		t.Errorf("after Retry-After: %+v, want jerry's again", got)
	}
	if got := w.run(t); len(got) != 0 {
		t.Errorf("a sent notification went again: %+v", got)
	}

	// Failing for good: retried with backoff, then given up after 7 days.
	w.p.answer = func(push.Notification) push.Result { return push.Result{Retry: true, Err: errors.New("timeout")} }
	w.send(t, "tom", text("again"))
	sends := len(w.run(t))
	for i := 0; i < 1000 && w.clock.Before(time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)); i++ {
		*w.clock = w.clock.Add(time.Hour)
		sends += len(w.run(t))
	}
	if at, ok, err := store.NextPushAt(ctx, w.s.db.R()); err != nil || ok {
		t.Errorf("still queued after 8 days (next at %d, %v)", at, err)
	}
	// Backed off to an hour (and up to a tenth more), tried every hour.
	if sends < 7*24/2 || sends > 7*24+2 {
		t.Errorf("%d attempts over 7 days, want about one an hour once backed off", sends)
	}
}

// The _receiversOffline hook decides: whom (offlinePeers, force for those
// who muted the conversation), what (pushMessage), or nothing (skip); it
// gets LeanCloud's parameters.
func TestPushAsksReceiversOffline(t *testing.T) {
	var answer string
	var got []map[string]any
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var params map[string]any
		json.NewDecoder(r.Body).Decode(&params)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/1.1/functions/_receiversOffline" {
			got = append(got, params)
		}
		io.WriteString(w, `{"result":`+answer+`}`)
	}))
	defer srv.Close()
	w := pushService(t)
	w.s.hooks = hooks.New(hooks.Config{URL: srv.URL, AppID: "app", MasterKey: "master-key-0123456789"})
	w.s.cfg.Hooks = w.s.hooks
	t.Cleanup(func() { w.s.hooks.Close(context.Background()) })
	ctx := context.Background()
	if _, err := w.s.Mute(ctx, Principal{ClientID: "mary"}, "c", true); err != nil {
		t.Fatal(err)
	}

	answer = `{"offlinePeers":["mary"],"force":true,"pushMessage":"{\"alert\":\"Tom wrote\",\"sound\":\"bell\"}"}`
	w.send(t, "tom", text("hi"))
	sent := w.run(t)
	if len(sent) != 1 || sent[0].Token != "mary-phone" || !reflect.DeepEqual(sent[0].Payload, map[string]any{"alert": "Tom wrote", "sound": "bell"}) {
		t.Errorf("pushed %+v, want mary's (forced though muted) with the hook's pushMessage", sent)
	}
	mu.Lock()
	if len(got) != 1 || got[0]["fromPeer"] != "tom" || got[0]["convId"] != "c" || !reflect.DeepEqual(got[0]["offlinePeers"], []any{"jerry"}) ||
		got[0]["content"] == nil || got[0]["timestamp"] == nil {
		t.Errorf("the hook got %v", got)
	}
	mu.Unlock()

	answer = `{"skip":true}`
	w.send(t, "tom", text("again"))
	if sent := w.run(t); len(sent) != 0 {
		t.Errorf("skip: pushed %+v", sent)
	}
}
