package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// The app's identity, which Parley and the LeanEngine app share.
const (
	leAppID     = "parley-hooks-test"
	leMasterKey = "hooks-master-key-0123456789"
	leHookKey   = "hooks-hook-key"
)

// leanEngine is a real LeanEngine app (integration/leanengine/app.js, run
// by node with the leanengine SDK) listening on a loopback port.
type leanEngine struct {
	t    *testing.T
	base string
}

// startLeanEngine runs app.js (installing its packages first when needed); the test is skipped when node or the
// installed packages are missing, unless PARLEY_NODE_TESTS=required.
func startLeanEngine(t *testing.T) *leanEngine {
	t.Helper()
	dir, _ := filepath.Abs("leanengine")
	required := os.Getenv("PARLEY_NODE_TESTS") == "required"
	node, err := exec.LookPath("node")
	if err == nil {
		err = npmInstalled(dir, "leanengine")
	}
	if err != nil {
		if required {
			t.Fatalf("node and the packages of integration/leanengine (npm ci there) are needed: %v", err)
		}
		t.Skipf("needs node and `npm ci` in integration/leanengine (PARLEY_NODE_TESTS=required makes this fail): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(node, "app.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"LEANCLOUD_APP_ID="+leAppID, "LEANCLOUD_APP_KEY=any-app-key", // Parley sends the master key only
		"LEANCLOUD_APP_MASTER_KEY="+leMasterKey, "LEANCLOUD_APP_HOOK_KEY="+leHookKey,
		"LEANCLOUD_APP_PORT="+strconv.Itoa(port), "NODE_ENV=production")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("app.js output:\n%s", out.String())
		}
	})
	le := &leanEngine{t: t, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(20 * time.Second) // node's start on a busy machine
	for {
		if resp, err := http.Get(le.base + "/calls"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return le
			}
		}
		select {
		case <-exited:
			t.Fatalf("app.js exited:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("app.js did not listen on %s:\n%s", le.base, out.String())
		}
	}
}

type hookCall struct {
	Hook   string         `json:"hook"`
	Params map[string]any `json:"params"`
}

// calls reads back what the app's hooks were called with.
func (le *leanEngine) calls() []hookCall {
	le.t.Helper()
	resp, err := http.Get(le.base + "/calls")
	if err != nil {
		le.t.Fatal(err)
	}
	defer resp.Body.Close()
	var calls []hookCall
	if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil {
		le.t.Fatal(err)
	}
	return calls
}

// waitCalls waits until ok holds of the calls of hook (after-hooks come
// when they come) and returns them.
func (le *leanEngine) waitCalls(hook string, ok func([]hookCall) bool) []hookCall {
	le.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var of []hookCall
		for _, c := range le.calls() {
			if c.Hook == hook {
				of = append(of, c)
			}
		}
		if ok(of) {
			return of
		}
		if time.Now().After(deadline) {
			le.t.Fatalf("%s calls: %+v", hook, of)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHooksLeanEngine(t *testing.T) {
	le := startLeanEngine(t)
	h := start(t, func(c *server.Config) {
		c.AppID, c.MasterKey = leAppID, leMasterKey
		c.HooksURL, c.HookKey = le.base, leHookKey
		c.HooksTimeout = 5 * time.Second // node on a shared machine
		c.OfflineGrace = 200 * time.Millisecond
	})
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	js, ms := jerry.open(), mary.open()
	conv := tom.createConv("Jerry", "Mary")
	js.expect("invited")
	js.expectJoined(conv.Id, "Tom", "Jerry", "Mary")
	ms.expect("invited")
	ms.expectJoined(conv.Id, "Tom", "Jerry", "Mary")

	start := le.waitCalls("_conversationStart", func(c []hookCall) bool { return len(c) == 1 })[0].Params
	if fmt.Sprint(start["initBy"]) != "Tom" || !sameJSON(t, start["members"], []string{"Jerry", "Mary", "Tom"}) {
		t.Errorf("_conversationStart %v", start)
	}
	le.waitCalls("_conversationStarted", func(c []hookCall) bool { return len(c) == 1 && c[0].Params["convId"] == conv.Id })

	t.Run("drop", func(t *testing.T) {
		r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("a forbidden word"), tom.auth())
		if err != nil {
			t.Fatal(err)
		}
		resp, body := rawOf(r)
		p := problemOf(t, "a dropped message", resp, body, http.StatusForbidden, client.MESSAGEREJECTED)
		if deref(p.AppCode) != 4401 || deref(p.Detail) != "no forbidden words here" {
			t.Errorf("problem %s", body)
		}
		got := le.waitCalls("_messageReceived", func(c []hookCall) bool { return len(c) == 1 })[0].Params
		want := map[string]any{"fromPeer": "Tom", "convId": conv.Id, "toPeers": []any{"Jerry", "Mary"}, "transient": false,
			"bin": false, "content": `{"_lctype":-1,"_lctext":"a forbidden word"}`, "receipt": false, "system": false, "sourceIP": "127.0.0.1"}
		ts, _ := got["timestamp"].(float64)
		delete(got, "timestamp")
		if !sameJSON(t, got, want) || ts <= 0 {
			t.Errorf("_messageReceived params %v", got)
		}
	})

	t.Run("content rewrite", func(t *testing.T) {
		sent := tom.sendText(conv.Id, "please rewrite me")
		if deref(sent.Text) != "PLEASE REWRITE ME" {
			t.Errorf("the sender got %q", deref(sent.Text))
		}
		js.expectText("PLEASE REWRITE ME")
		ms.expectText("PLEASE REWRITE ME")
		msgs := *jerry.history(conv.Id, client.ListMessagesParams{}).Messages
		if n := len(msgs); n == 0 || deref(msgs[n-1].Text) != "PLEASE REWRITE ME" {
			t.Errorf("history %+v", msgs)
		}
		sentHook := le.waitCalls("_messageSent", func(c []hookCall) bool { return len(c) >= 1 })[0].Params
		if sentHook["msgId"] != sent.Id || sentHook["content"] != `{"_lctype":-1,"_lctext":"PLEASE REWRITE ME"}` ||
			!sameJSON(t, sentHook["onlinePeers"], []string{"Jerry", "Mary"}) {
			t.Errorf("_messageSent %v", sentHook)
		}
	})

	t.Run("toPeers", func(t *testing.T) {
		tom.sendText(conv.Id, "a whisper for Jerry")
		tom.sendText(conv.Id, "for everyone")
		js.expectText("a whisper for Jerry")
		js.expectText("for everyone")
		ms.expectText("for everyone") // nothing live before it
		msgs := *mary.history(conv.Id, client.ListMessagesParams{Limit: ptr(int64(2))}).Messages
		if len(msgs) != 2 || deref(msgs[0].Text) != "a whisper for Jerry" {
			t.Errorf("history keeps the message: %+v", msgs)
		}
	})

	t.Run("conversation rejected", func(t *testing.T) {
		name := "forbidden"
		r, err := h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"Jerry"}, Name: &name}, tom.auth())
		if err != nil {
			t.Fatal(err)
		}
		resp, body := rawOf(r)
		p := problemOf(t, "a rejected conversation", resp, body, http.StatusForbidden, client.OPERATIONREJECTED)
		if deref(p.AppCode) != 4305 || deref(p.Detail) != "no groups of that name" {
			t.Errorf("problem %s", body)
		}
		got := le.waitCalls("_conversationStart", func(c []hookCall) bool { return len(c) == 2 })[1].Params
		if !sameJSON(t, got["attr"], map[string]any{"name": "forbidden", "attr": map[string]any{}}) {
			t.Errorf("_conversationStart attr %v", got["attr"])
		}
	})

	t.Run("clientOffline", func(t *testing.T) {
		// 1: logout.
		ann := h.login("Ann")
		ann.open()
		if r, err := h.c.DeleteCurrentSessionWithResponse(ctx(t), ann.auth()); err != nil || r.StatusCode() != http.StatusNoContent {
			t.Fatalf("logout: %v %v", r, err)
		}
		// 3: replaced by a login with the same tag.
		bob := h.login("Bob", "Mobile")
		bob.open()
		h.login("Bob", "Mobile")
		// 2: dropped, once the grace passed (the janitor's next pass).
		carl := h.login("Carl")
		cs := carl.open()
		cs.close()
		// 4: kicked by the master key.
		dave := h.login("Dave")
		dave.open()
		if n, err := h.srv.Service().KickClient(ctx(t), handlers.Principal{Master: true}, "Dave", ""); err != nil || n != 1 {
			t.Fatalf("kick: %d %v", n, err)
		}
		codes := map[string]float64{}
		le.waitCalls("_clientOffline", func(c []hookCall) bool {
			for _, call := range c {
				codes[fmt.Sprint(call.Params["peerId"])] = call.Params["closeCode"].(float64)
			}
			return len(codes) == 4
		})
		if want := map[string]float64{"Ann": 1, "Bob": 3, "Carl": 2, "Dave": 4}; !sameJSON(t, codes, want) {
			t.Errorf("close codes %v, want %v", codes, want)
		}
		online := le.waitCalls("_clientOnline", func(c []hookCall) bool { return len(c) >= 6 })
		var peers []string
		for _, c := range online {
			peers = append(peers, fmt.Sprint(c.Params["peerId"]))
			if c.Params["reconnect"] != 0.0 {
				t.Errorf("_clientOnline %v: a first stream is no reconnect", c.Params)
			}
		}
		slices.Sort(peers)
		if !slices.Equal(peers, []string{"Ann", "Bob", "Carl", "Dave", "Jerry", "Mary"}) {
			t.Errorf("_clientOnline for %v", peers)
		}
	})
}
