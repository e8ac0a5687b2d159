package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
)

// History pages back from the newest messages and forward from any message,
// always in ascending order, with hasMore telling whether to go on.
func TestHistoryPaging(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")

	// 10 messages: texts at 0, 3, 6, 9 are custom type 7, the rest text.
	var all []client.Message
	for i := range 10 {
		req := textMsg(fmt.Sprintf("m%d", i))
		if i%3 == 0 {
			req = client.SendRequest{Type: ptr(int64(7)), Fields: &map[string]any{"n": i}, Text: ptr(fmt.Sprintf("m%d", i))}
		}
		sender := tom
		if i%2 == 1 {
			sender = jerry
		}
		all = append(all, sender.send(conv.Id, req))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Id <= all[i-1].Id {
			t.Fatalf("message ids do not sort in send order: %s then %s", all[i-1].Id, all[i].Id)
		}
	}
	texts := func(p client.HistoryPage) string {
		var s []string
		for _, m := range *p.Messages {
			s = append(s, deref(m.Text))
		}
		return strings.Join(s, ",")
	}
	check := func(what string, p client.HistoryPage, want string, more bool) {
		t.Helper()
		if got := texts(p); got != want || p.HasMore != more {
			t.Errorf("%s: got [%s] hasMore %v, want [%s] hasMore %v", what, got, p.HasMore, want, more)
		}
	}
	lim := func(n int64) *int64 { return &n }

	// The default page holds everything here.
	p := jerry.history(conv.Id, client.ListMessagesParams{})
	check("default page", p, "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9", false)
	for i, m := range *p.Messages {
		if !sameJSON(t, m, all[i]) {
			t.Errorf("history message %d is %+v, sent %+v", i, m, all[i])
		}
	}

	// Back from the newest.
	p = jerry.history(conv.Id, client.ListMessagesParams{Limit: lim(4)})
	check("newest 4", p, "m6,m7,m8,m9", true)
	p = jerry.history(conv.Id, client.ListMessagesParams{Limit: lim(4), Before: &(*p.Messages)[0].Id})
	check("4 before m6", p, "m2,m3,m4,m5", true)
	p = jerry.history(conv.Id, client.ListMessagesParams{Limit: lim(4), Before: &(*p.Messages)[0].Id})
	check("4 before m2", p, "m0,m1", false)
	p = jerry.history(conv.Id, client.ListMessagesParams{Limit: lim(4), Before: &all[0].Id})
	check("before the first", p, "", false)
	p = jerry.history(conv.Id, client.ListMessagesParams{Limit: lim(2), Before: &all[2].Id})
	check("exactly the rest before m2", p, "m0,m1", false)

	// Forward from the first.
	p = tom.history(conv.Id, client.ListMessagesParams{Limit: lim(4), After: &all[0].Id})
	check("4 after m0", p, "m1,m2,m3,m4", true)
	last := (*p.Messages)[3].Id
	p = tom.history(conv.Id, client.ListMessagesParams{Limit: lim(4), After: &last})
	check("4 after m4", p, "m5,m6,m7,m8", true)
	last = (*p.Messages)[3].Id
	p = tom.history(conv.Id, client.ListMessagesParams{Limit: lim(4), After: &last})
	check("4 after m8", p, "m9", false)
	p = tom.history(conv.Id, client.ListMessagesParams{Limit: lim(4), After: &all[9].Id})
	check("after the last", p, "", false)
	p = tom.history(conv.Id, client.ListMessagesParams{Limit: lim(3), After: &all[6].Id})
	check("exactly the rest after m6", p, "m7,m8,m9", false)

	// Limits 1 and 1000 are fine.
	check("limit 1", tom.history(conv.Id, client.ListMessagesParams{Limit: lim(1)}), "m9", true)
	check("limit 1000", tom.history(conv.Id, client.ListMessagesParams{Limit: lim(1000)}), "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9", false)

	// The type filter, alone and with cursors.
	p = tom.history(conv.Id, client.ListMessagesParams{Type: ptr("7")})
	check("type 7", p, "m0,m3,m6,m9", false)
	for _, m := range *p.Messages {
		if deref(m.Type) != 7 || deref(m.Fields)["n"] == nil {
			t.Errorf("type 7 page has %+v", m)
		}
	}
	p = tom.history(conv.Id, client.ListMessagesParams{Type: ptr("7"), Limit: lim(2), Before: &all[9].Id})
	check("2 of type 7 before m9", p, "m3,m6", true)
	p = tom.history(conv.Id, client.ListMessagesParams{Type: ptr("-1"), Limit: lim(3), After: &all[4].Id})
	check("3 texts after m4", p, "m5,m7,m8", false)
	check("type -2", tom.history(conv.Id, client.ListMessagesParams{Type: ptr("-2")}), "", false)

	// Out of range and unknown cursors.
	bad := func(what string, params client.ListMessagesParams, status int, code client.ProblemCode) {
		t.Helper()
		expectProblem(t, what, status, code)(h.c.ListMessagesWithResponse(ctx(t), conv.Id, &params, tom.auth()))
	}
	bad("limit 0", client.ListMessagesParams{Limit: lim(0)}, http.StatusBadRequest, client.INVALIDREQUEST)
	bad("limit 1001", client.ListMessagesParams{Limit: lim(1001)}, http.StatusBadRequest, client.INVALIDREQUEST)
	bad("limit -1", client.ListMessagesParams{Limit: lim(-1)}, http.StatusBadRequest, client.INVALIDREQUEST)
	bad("type x", client.ListMessagesParams{Type: ptr("x")}, http.StatusBadRequest, client.INVALIDREQUEST)
	bad("before and after", client.ListMessagesParams{Before: &all[5].Id, After: &all[1].Id}, http.StatusBadRequest, client.INVALIDREQUEST)
	bad("unknown before", client.ListMessagesParams{Before: ptr("00000000001")}, http.StatusNotFound, client.MESSAGENOTFOUND)
	bad("garbage before", client.ListMessagesParams{Before: ptr("no-such-id")}, http.StatusNotFound, client.MESSAGENOTFOUND)
	bad("unknown after", client.ListMessagesParams{After: ptr("zzzzzzzzzzz")}, http.StatusNotFound, client.MESSAGENOTFOUND)

	// A message of another conversation is unknown in this one.
	other := tom.createConv("Mary")
	elsewhere := tom.sendText(other.Id, "elsewhere")
	bad("before a message of another conversation", client.ListMessagesParams{Before: &elsewhere.Id}, http.StatusNotFound, client.MESSAGENOTFOUND)
}

// History by time (beforeTime, afterTime: ms, bounds excluded), as
// LeanCloud's queryMessages by timestamp: beforeTime alone pages back,
// afterTime alone forward, both give the newest limit inside the range; and
// every page, by time or by id, is in (timestamp, id) order, even after the
// server's clock stepped back. Ids and times do not mix; a time given as a
// message id is no message, and says so.
func TestHistoryByTime(t *testing.T) {
	clk := newFakeClock()
	h := start(t, withClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")

	t0 := clk.Now().UnixMilli()
	at := func(ms int64) time.Time { return time.UnixMilli(t0 + ms) }
	// Sent in this order, at these times (ms after t0): m4 after the clock
	// stepped back; m1 and m2 in the same millisecond. In (timestamp, id)
	// order: m0 m4 m1 m2 m3 m5. m1 and m3 are of type 7.
	sent := map[string]client.Message{}
	for i, off := range []int64{0, 10, 10, 20, 5, 30} {
		clk.Set(at(off))
		text := fmt.Sprintf("m%d", i)
		req := textMsg(text)
		if i == 1 || i == 3 {
			req = client.SendRequest{Type: ptr(int64(7)), Fields: &map[string]any{"n": i}, Text: &text}
		}
		sender := tom
		if i%2 == 1 {
			sender = jerry
		}
		m := sender.send(conv.Id, req)
		if m.Timestamp != t0+off {
			t.Fatalf("%s sent at %d, want %d", text, m.Timestamp, t0+off)
		}
		sent[text] = m
	}
	clk.Set(at(1000))
	texts := func(p client.HistoryPage) string {
		var s []string
		for _, m := range *p.Messages {
			s = append(s, deref(m.Text))
		}
		return strings.Join(s, ",")
	}
	ms := func(off int64) *int64 { v := t0 + off; return &v }
	lim := func(n int64) *int64 { return &n }
	for _, c := range []struct {
		what   string
		params client.ListMessagesParams
		want   string
		more   bool
	}{
		{"everything", client.ListMessagesParams{}, "m0,m4,m1,m2,m3,m5", false},
		{"newest 2", client.ListMessagesParams{Limit: lim(2)}, "m3,m5", true},
		{"beforeTime", client.ListMessagesParams{BeforeTime: ms(20), Limit: lim(2)}, "m1,m2", true},
		{"beforeTime excludes its bound", client.ListMessagesParams{BeforeTime: ms(10)}, "m0,m4", false},
		{"beforeTime, exactly the rest", client.ListMessagesParams{BeforeTime: ms(10), Limit: lim(2)}, "m0,m4", false},
		{"beforeTime before everything", client.ListMessagesParams{BeforeTime: ms(0)}, "", false},
		{"afterTime", client.ListMessagesParams{AfterTime: ms(0), Limit: lim(2)}, "m4,m1", true},
		{"afterTime excludes its bound", client.ListMessagesParams{AfterTime: ms(10)}, "m3,m5", false},
		{"afterTime, exactly the rest", client.ListMessagesParams{AfterTime: ms(5), Limit: lim(4)}, "m1,m2,m3,m5", false},
		{"afterTime after everything", client.ListMessagesParams{AfterTime: ms(30)}, "", false},
		{"afterTime 0: the oldest", client.ListMessagesParams{AfterTime: ptr(int64(0)), Limit: lim(1)}, "m0", true},
		{"range: the newest inside", client.ListMessagesParams{AfterTime: ms(0), BeforeTime: ms(30), Limit: lim(2)}, "m2,m3", true},
		{"range, all fit", client.ListMessagesParams{AfterTime: ms(0), BeforeTime: ms(30), Limit: lim(4)}, "m4,m1,m2,m3", false},
		{"range, bounds excluded", client.ListMessagesParams{AfterTime: ms(5), BeforeTime: ms(20)}, "m1,m2", false},
		{"range with a type", client.ListMessagesParams{AfterTime: ms(0), BeforeTime: ms(30), Type: ptr("7")}, "m1,m3", false},
		{"afterTime with texts", client.ListMessagesParams{AfterTime: ms(5), Type: ptr("-1"), Limit: lim(1)}, "m2", true},
		// Ids page in the same order.
		{"before m1 (sent before m4)", client.ListMessagesParams{Before: ptr(sent["m1"].Id)}, "m0,m4", false},
		{"after m4 (sent after m3)", client.ListMessagesParams{After: ptr(sent["m4"].Id), Limit: lim(2)}, "m1,m2", true},
		{"after m1, the same millisecond", client.ListMessagesParams{After: ptr(sent["m1"].Id)}, "m2,m3,m5", false},
	} {
		if p := jerry.history(conv.Id, c.params); texts(p) != c.want || p.HasMore != c.more {
			t.Errorf("%s: got [%s] hasMore %v, want [%s] hasMore %v", c.what, texts(p), p.HasMore, c.want, c.more)
		}
	}

	// Paging back through everything by time, from the oldest of each page.
	var pages []string
	params := client.ListMessagesParams{Limit: lim(2)}
	for range 10 {
		p := tom.history(conv.Id, params)
		pages = append(pages, texts(p))
		if !p.HasMore {
			break
		}
		params.BeforeTime = &(*p.Messages)[0].Timestamp
	}
	if got := strings.Join(pages, " | "); got != "m3,m5 | m1,m2 | m0,m4" {
		t.Errorf("paging back by time: %s", got)
	}

	bad := func(what string, params client.ListMessagesParams, status int, code client.ProblemCode) client.Problem {
		t.Helper()
		r, err := h.c.ListMessagesWithResponse(ctx(t), conv.Id, &params, tom.auth())
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return problemOf(t, what, r.HTTPResponse, r.Body, status, code)
	}
	id := sent["m2"].Id
	for what, params := range map[string]client.ListMessagesParams{
		"before and beforeTime": {Before: &id, BeforeTime: ms(20)},
		"after and afterTime":   {After: &id, AfterTime: ms(0)},
		"before and afterTime":  {Before: &id, AfterTime: ms(0)},
		"after and beforeTime":  {After: &id, BeforeTime: ms(20)},
		"negative beforeTime":   {BeforeTime: ptr(int64(-1))},
		"negative afterTime":    {AfterTime: ptr(int64(-5))},
	} {
		bad(what, params, http.StatusBadRequest, client.INVALIDREQUEST)
	}
	for _, name := range []string{"before", "after"} {
		stamp := fmt.Sprint(t0 + 20)
		params := client.ListMessagesParams{Before: &stamp}
		if name == "after" {
			params = client.ListMessagesParams{After: &stamp}
		}
		p := bad("a time as "+name, params, http.StatusNotFound, client.MESSAGENOTFOUND)
		if !strings.Contains(deref(p.Detail), name+"Time") {
			t.Errorf("a time as %s: the detail %q does not point at %sTime", name, deref(p.Detail), name)
		}
	}
	for _, query := range []string{"beforeTime=soon", "afterTime=1.5", "beforeTimestamp=1795449600000", "since=1795449600000"} {
		req, _ := http.NewRequest(http.MethodGet, h.base+"/v1/conversations/"+conv.Id+"/messages?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tom.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		problemOf(t, query, resp, body, http.StatusBadRequest, client.INVALIDREQUEST)
	}
}

// A re-send with the same clientMessageId returns the original message with
// 200, stores nothing new and delivers nothing twice.
func TestIdempotentSend(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js := jerry.open()

	req := textMsg("only once")
	req.ClientMessageId = ptr("c0ffee-1")
	first := tom.send(conv.Id, req)
	if deref(first.ClientMessageId) != "c0ffee-1" {
		t.Errorf("clientMessageId %q", deref(first.ClientMessageId))
	}
	if got := js.expectText("only once"); !sameJSON(t, got.Message, first) {
		t.Errorf("delivered %+v, sent %+v", got.Message, first)
	}

	// The re-send, from another session of Tom as after a reconnect, even
	// with different content: the original comes back.
	again := h.login("Tom")
	retry := textMsg("only once (retried)")
	retry.ClientMessageId = ptr("c0ffee-1")
	r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, retry, again.auth())
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusOK {
		t.Fatalf("re-send: %d %s, want 200", r.StatusCode(), r.Body)
	}
	if r.JSON200 == nil || !sameJSON(t, *r.JSON200, first) {
		t.Fatalf("re-send returned %s, want the original %+v", r.Body, first)
	}

	// The same key from another client, or in another conversation, is
	// another message.
	jreq := textMsg("Jerry's own")
	jreq.ClientMessageId = ptr("c0ffee-1")
	jm := jerry.send(conv.Id, jreq)
	if jm.Id == first.Id {
		t.Error("another client's clientMessageId matched Tom's message")
	}
	elsewhere := tom.createConv("Mary")
	if em := tom.send(elsewhere.Id, req); em.Id == first.Id || em.ConversationId != elsewhere.Id {
		t.Error("the clientMessageId of another conversation matched")
	}

	// Concurrent re-sends: all get the original.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, req, tom.auth())
			if err != nil {
				t.Error(err)
				return
			}
			if r.StatusCode() != http.StatusOK || r.JSON200 == nil || r.JSON200.Id != first.Id {
				t.Errorf("concurrent re-send: %d %s", r.StatusCode(), r.Body)
			}
		}()
	}
	wg.Wait()

	// Jerry's stream got nothing twice: the next message is the marker.
	tom.sendText(conv.Id, "marker")
	js.expectText("marker")

	p := jerry.history(conv.Id, client.ListMessagesParams{})
	var ids []string
	for _, m := range *p.Messages {
		ids = append(ids, deref(m.Text))
	}
	if strings.Join(ids, "|") != "only once|Jerry's own|marker" {
		t.Errorf("history %v, want the message once, Jerry's, the marker", ids)
	}
}

// Concurrent first sends with one clientMessageId store exactly one message.
func TestIdempotentConcurrentFirstSend(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	req := textMsg("race")
	req.ClientMessageId = ptr("race-1")

	var mu sync.Mutex
	created, ids := 0, map[string]bool{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, req, tom.auth())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.StatusCode() == http.StatusCreated && r.JSON201 != nil:
				created++
				ids[r.JSON201.Id] = true
			case r.StatusCode() == http.StatusOK && r.JSON200 != nil:
				ids[r.JSON200.Id] = true
			default:
				t.Errorf("send: %d %s", r.StatusCode(), r.Body)
			}
		}()
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Errorf("%d sends created a message, %d distinct ids; want 1 and 1", created, len(ids))
	}
	if p := tom.history(conv.Id, client.ListMessagesParams{}); len(*p.Messages) != 1 {
		t.Errorf("history holds %d messages, want 1", len(*p.Messages))
	}
}

// Every built-in type and an application type is accepted and comes back
// as sent.
func TestMessageTypes(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js := jerry.open()
	file := &client.File{Url: "https://example.com/cat.png", Name: ptr("cat.png"), MimeType: ptr("image/png"), Size: ptr(int64(20480))}
	reqs := []client.SendRequest{
		textMsg("text"),
		{Type: ptr(int64(-2)), File: file, Text: ptr("a cat")},
		{Type: ptr(int64(-3)), File: &client.File{Url: "https://example.com/meow.mp3"}},
		{Type: ptr(int64(-4)), File: &client.File{Url: "/v1/files/abc"}},
		{Type: ptr(int64(-5)), Location: &client.Location{Latitude: 31.2304, Longitude: 121.4737}},
		{Type: ptr(int64(-5)), Location: &client.Location{Latitude: -90, Longitude: 180}},
		{Type: ptr(int64(-6)), File: &client.File{Url: "https://example.com/report.pdf"}},
		{Type: ptr(int64(42)), Fields: &map[string]any{"card": map[string]any{"title": "hi"}}},
		{Data: ptr(`{"legacy":true}`)},
		{Type: ptr(int64(-1)), Text: ptr("@Jerry look"), MentionList: &[]string{"Jerry"}, Attributes: &map[string]any{"k": "v"}},
	}
	for i, req := range reqs {
		sent := tom.send(conv.Id, req)
		got := js.expectMessage()
		if !sameJSON(t, got.Message, sent) {
			t.Errorf("message %d: delivered %+v, sent %+v", i, got.Message, sent)
		}
		if deref(sent.Type) != deref(req.Type) || !sameJSON(t, sent.Location, req.Location) || !sameJSON(t, sent.Fields, req.Fields) ||
			!sameJSON(t, sent.Data, req.Data) || !sameJSON(t, sent.File, req.File) {
			t.Errorf("message %d: sent %+v, asked %+v", i, sent, req)
		}
		if wantMentioned := i == len(reqs)-1; got.Mentioned != wantMentioned {
			t.Errorf("message %d: mentioned %v", i, got.Mentioned)
		}
	}
	if p := tom.history(conv.Id, client.ListMessagesParams{}); len(*p.Messages) != len(reqs) {
		t.Errorf("history holds %d messages, want %d", len(*p.Messages), len(reqs))
	}
}
