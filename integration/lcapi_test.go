package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

const lcAppID = "lc-app-id"

// lcHeaders are LeanCloud's credentials in one of the ways its clients
// send them.
type lcHeaders func(h *harness) http.Header

func lcMasterKey(h *harness) http.Header {
	return http.Header{"X-LC-Id": {lcAppID}, "X-LC-Key": {h.srv.MasterKey + ",master"}}
}

func lcAppKey(h *harness) http.Header {
	return http.Header{"X-LC-Id": {lcAppID}, "X-LC-Key": {h.srv.AppKey}}
}

func lcSign(key, suffix string, at time.Time) http.Header {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	sum := md5.Sum([]byte(ts + key))
	return http.Header{"X-LC-Id": {lcAppID}, "X-LC-Sign": {hex.EncodeToString(sum[:]) + "," + ts + suffix}}
}

func lcMasterSign(h *harness) http.Header { return lcSign(h.srv.MasterKey, ",master", time.Now()) }

func lcLegacyMaster(h *harness) http.Header {
	return http.Header{"X-AVOSCloud-Application-Id": {lcAppID}, "X-AVOSCloud-Master-Key": {h.srv.MasterKey}}
}

// lc calls the LeanCloud-compatible API and decodes the answer into out
// (when not nil), expecting status.
func lc(t *testing.T, h *harness, hdr http.Header, method, path string, body any, status int, out any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, h.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, status)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return b
}

type lcErr struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
}

func lcExpectError(t *testing.T, h *harness, hdr http.Header, method, path string, body any, status, code int) lcErr {
	t.Helper()
	var e lcErr
	lc(t, h, hdr, method, path, body, status, &e)
	if e.Code != code || e.Error == "" {
		t.Fatalf("%s %s: error %+v, want code %d", method, path, e, code)
	}
	return e
}

type lcConv struct {
	ObjectID  string         `json:"objectId"`
	Name      string         `json:"name"`
	M         []string       `json:"m"`
	C         string         `json:"c"`
	Attr      map[string]any `json:"attr"`
	Tr        bool           `json:"tr"`
	Unique    bool           `json:"unique"`
	Lm        *struct{ ISO string }
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

type lcRecord struct {
	MsgID     string `json:"msg-id"`
	ConvID    string `json:"conv-id"`
	From      string `json:"from"`
	Timestamp int64  `json:"timestamp"`
	Data      string `json:"data"`
	Bin       *bool  `json:"bin"`
	IsConv    bool   `json:"is-conv"`
	IsRoom    *bool  `json:"is-room"`
	To        string `json:"to"`
	FromIP    *string
}

func isISO(s string) bool {
	_, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	return err == nil
}

func withLCApp(c *server.Config) { c.AppID = lcAppID }

func TestLeanCloudRESTAuth(t *testing.T) {
	h := start(t, withLCApp)
	path := "/1.2/rtm/conversations"
	// Every way of giving the master key.
	for name, hdr := range map[string]lcHeaders{"X-LC-Key": lcMasterKey, "X-LC-Sign": lcMasterSign, "legacy": lcLegacyMaster,
		"legacy sign": func(h *harness) http.Header {
			s := lcSign(h.srv.MasterKey, ",master", time.Now())
			return http.Header{"X-AVOSCloud-Application-Id": {lcAppID}, "X-AVOSCloud-Request-Sign": s["X-LC-Sign"]}
		},
		"legacy key": func(h *harness) http.Header {
			return http.Header{"X-AVOSCloud-Application-Id": {lcAppID}, "X-AVOSCloud-Application-Key": {h.srv.MasterKey + ",master"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var out struct{ Results []lcConv }
			lc(t, h, hdr(h), "GET", path, nil, 200, &out)
			if out.Results == nil {
				t.Error("no results array")
			}
		})
	}
	unauthorized := func(what string, hdr http.Header) {
		t.Helper()
		e := lcExpectError(t, h, hdr, "GET", path, nil, 401, 401)
		if e.Error != "Unauthorized." {
			t.Errorf("%s: error %q", what, e.Error)
		}
	}
	unauthorized("no headers", http.Header{})
	unauthorized("bad key", http.Header{"X-LC-Id": {lcAppID}, "X-LC-Key": {"wrong-key-wrong-key,master"}})
	unauthorized("app key marked master", http.Header{"X-LC-Id": {lcAppID}, "X-LC-Key": {h.srv.AppKey + ",master"}})
	unauthorized("wrong app id", http.Header{"X-LC-Id": {"other"}, "X-LC-Key": {h.srv.MasterKey + ",master"}})
	unauthorized("no app id", http.Header{"X-LC-Key": {h.srv.MasterKey + ",master"}})
	unauthorized("stale sign", lcSign(h.srv.MasterKey, ",master", time.Now().Add(-16*time.Minute)))
	unauthorized("future sign", lcSign(h.srv.MasterKey, ",master", time.Now().Add(16*time.Minute)))
	unauthorized("sign with the wrong key", lcSign(h.srv.AppKey, ",master", time.Now()))
	unauthorized("bad sign", http.Header{"X-LC-Id": {lcAppID}, "X-LC-Sign": {"00000000000000000000000000000000," + strconv.FormatInt(time.Now().UnixMilli(), 10) + ",master"}})
	// The app key authenticates, but is not enough for master-key operations.
	for name, hdr := range map[string]http.Header{"key": lcAppKey(h), "sign": lcSign(h.srv.AppKey, "", time.Now())} {
		e := lcExpectError(t, h, hdr, "GET", path, nil, 401, 119)
		if !strings.Contains(e.Error, "master key") {
			t.Errorf("app %s on a master-only endpoint: %q", name, e.Error)
		}
	}
	// Unserved operations say so, after authentication.
	lcExpectError(t, h, lcMasterKey(h), "GET", "/1.2/rtm/stats", nil, 501, 4308)
	lcExpectError(t, h, lcMasterKey(h), "POST", "/1.2/rtm/conversations/x/nonsense", nil, 501, 4308)
	lcExpectError(t, h, lcMasterKey(h), "GET", "/1.1/rtm/messages/history", nil, 501, 4308)
	lcExpectError(t, h, http.Header{}, "GET", "/1.2/rtm/stats", nil, 401, 401)
}

func TestLeanCloudRESTConversations(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	jerry := h.login("Jerry")
	js := jerry.open()
	defer js.close()

	var conv lcConv
	lc(t, h, m, "POST", "/1.2/rtm/conversations", map[string]any{
		"name": "My First Conversation", "m": []string{"Tom", "Jerry"}, "unique": true, "c": "Tom",
		"attr": map[string]any{"topic": "cheese"}, "level": 3,
	}, 200, &conv)
	if conv.ObjectID == "" || conv.Name != "My First Conversation" || !conv.Unique || conv.C != "Tom" ||
		len(conv.M) != 2 || conv.Attr["topic"] != "cheese" || conv.Attr["level"] != 3.0 || !isISO(conv.CreatedAt) || !isISO(conv.UpdatedAt) {
		t.Fatalf("created %+v", conv)
	}
	js.expect("invited")
	js.expect("membersjoined")
	// unique: the same member set answers the same conversation.
	var again lcConv
	lc(t, h, m, "POST", "/1.2/rtm/conversations", map[string]any{"m": []string{"Jerry", "Tom"}, "unique": true}, 200, &again)
	if again.ObjectID != conv.ObjectID {
		t.Errorf("unique create: %s, want %s", again.ObjectID, conv.ObjectID)
	}
	var room lcConv
	lc(t, h, lcMasterSign(h), "POST", "/1.2/rtm/conversations", map[string]any{"name": "lobby", "tr": true}, 200, &room)
	if !room.Tr || room.M != nil {
		t.Errorf("chat room %+v", room)
	}

	id := conv.ObjectID
	var got lcConv
	got = lcConv{}
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+id, nil, 200, &got)
	if got.ObjectID != id || got.Name != conv.Name || got.CreatedAt != conv.CreatedAt {
		t.Errorf("get %+v", got)
	}
	lcExpectError(t, h, m, "GET", "/1.2/rtm/conversations/nosuchconversation", nil, 400, 4401)

	var list struct{ Results []lcConv }
	lc(t, h, m, "GET", "/1.2/rtm/conversations?where="+url.QueryEscape(`{"m":"Jerry"}`)+"&limit=10&skip=0", nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ObjectID != id || list.Results[0].Attr["topic"] != "cheese" || len(list.Results[0].M) != 2 {
		t.Errorf("query: %+v", list.Results)
	}
	lc(t, h, m, "GET", "/1.2/rtm/conversations?where="+url.QueryEscape(`{"tr":true}`), nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ObjectID != room.ObjectID {
		t.Errorf("query tr: %+v", list.Results)
	}
	lcExpectError(t, h, m, "GET", "/1.2/rtm/conversations?where="+url.QueryEscape(`{"m":{"$bogus":1}}`), nil, 400, 4310)

	var up struct{ UpdatedAt, ObjectID string }
	lc(t, h, m, "PUT", "/1.2/rtm/conversations/"+id, map[string]any{"name": "renamed", "attr.topic": "mice"}, 200, &up)
	if up.ObjectID != id || !isISO(up.UpdatedAt) {
		t.Errorf("update answered %+v", up)
	}
	js.expect("infoupdated")
	got = lcConv{}
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+id, nil, 200, &got)
	if got.Name != "renamed" || got.Attr["topic"] != "mice" || got.Attr["level"] != 3.0 {
		t.Errorf("after update %+v", got)
	}
	lc(t, h, m, "PUT", "/1.2/rtm/conversations/"+id, map[string]any{"attr": map[string]any{"only": true}}, 200, &up)
	js.expect("infoupdated")
	got = lcConv{}
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+id, nil, 200, &got)
	if len(got.Attr) != 1 || got.Attr["only"] != true {
		t.Errorf("attr replaced: %+v", got.Attr)
	}
	lcExpectError(t, h, m, "PUT", "/1.2/rtm/conversations/"+id, map[string]any{"m": []string{"x"}}, 400, 1)

	lc(t, h, m, "POST", "/1.2/rtm/conversations/"+id+"/members", map[string]any{"client_ids": []string{"Mary"}}, 200, &up)
	js.expect("membersjoined")
	got = lcConv{}
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+id, nil, 200, &got)
	if len(got.M) != 3 {
		t.Errorf("after add: %v", got.M)
	}
	lc(t, h, m, "DELETE", "/1.2/rtm/conversations/"+id+"/members", map[string]any{"client_ids": []string{"Mary", "Tom"}}, 200, &up)
	js.expect("membersleft")
	got = lcConv{}
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+id, nil, 200, &got)
	if len(got.M) != 1 || got.M[0] != "Jerry" {
		t.Errorf("after remove: %v", got.M)
	}
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations", "not an object", 400, 107)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations", map[string]any{"m": []string{"Jerry"}, "c": "a:b"}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations", map[string]any{"m": make([]string, 0)}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations/"+id+"/members", map[string]any{"client_ids": []string{}}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations/nosuchconversation/members", map[string]any{"client_ids": []string{"Mary"}}, 400, 4401)
}

func TestLeanCloudRESTMessages(t *testing.T) {
	h := start(t, withLCApp)
	m := lcLegacyMaster(h)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js := jerry.open()
	defer js.close()

	// A message sent through /1.2 reaches Jerry's stream, typed.
	var sent struct {
		MsgID     string `json:"msg-id"`
		Timestamp int64  `json:"timestamp"`
	}
	lc(t, h, m, "POST", "/1.2/rtm/conversations/"+conv.Id+"/messages", map[string]any{
		"from_client": "Tom", "message": `{"_lctype":-1,"_lctext":"hello from the backend","_lcattrs":{"a":1}}`,
		"mention_client_ids": []string{"Jerry"}, "priority": "HIGH",
	}, 200, &sent)
	if sent.MsgID == "" || sent.Timestamp == 0 {
		t.Fatalf("sent %+v", sent)
	}
	got := js.expectText("hello from the backend")
	if got.Message.Id != sent.MsgID || got.Message.From != "Tom" || got.Message.Timestamp != sent.Timestamp || !got.Mentioned {
		t.Errorf("Jerry got %+v, want msg-id %s", got, sent.MsgID)
	}
	// An untyped one.
	lc(t, h, m, "POST", "/1.2/rtm/conversations/"+conv.Id+"/messages", map[string]any{"from_client": "Tom", "message": "plain words"}, 200, &sent)
	got = js.expectMessage()
	if deref(got.Message.Data) != "plain words" {
		t.Errorf("untyped: %+v", got.Message)
	}
	// And one from a Parley client, which /1.2 history shows in LeanCloud's form.
	pm := jerry.sendText(conv.Id, "hi from SSE land")

	page := tom.history(conv.Id, client.ListMessagesParams{})
	if len(*page.Messages) != 3 || deref((*page.Messages)[0].Text) != "hello from the backend" {
		t.Fatalf("Parley history: %+v", page.Messages)
	}

	var recs []lcRecord
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+conv.Id+"/messages", nil, 200, &recs)
	if len(recs) != 3 {
		t.Fatalf("history: %+v", recs)
	}
	if recs[0].MsgID != pm.Id || recs[0].From != "Jerry" || recs[0].Data != `{"_lctype":-1,"_lctext":"hi from SSE land"}` ||
		recs[0].ConvID != conv.Id || recs[0].To != conv.Id || !recs[0].IsConv || recs[0].Bin == nil || *recs[0].Bin ||
		recs[0].IsRoom == nil || *recs[0].IsRoom || recs[0].FromIP != nil {
		t.Errorf("newest record %+v", recs[0])
	}
	if recs[1].Data != "plain words" || recs[2].Data != `{"_lctype":-1,"_lctext":"hello from the backend","_lcattrs":{"a":1}}` {
		t.Errorf("records %+v", recs)
	}
	// Paging: newest first from a cursor, and reversed.
	hist := func(q string) []string {
		t.Helper()
		var rs []lcRecord
		lc(t, h, m, "GET", "/1.2/rtm/conversations/"+conv.Id+"/messages?"+q, nil, 200, &rs)
		ids := make([]string, len(rs))
		for i, r := range rs {
			ids[i] = r.MsgID
		}
		return ids
	}
	id1, id2, id3 := recs[2].MsgID, recs[1].MsgID, recs[0].MsgID
	t1, t3 := recs[2].Timestamp, recs[0].Timestamp
	cur := func(ts int64, id string) string {
		return "timestamp=" + strconv.FormatInt(ts, 10) + "&msgid=" + url.QueryEscape(id)
	}
	till := func(ts int64, id string) string {
		return "&till_timestamp=" + strconv.FormatInt(ts, 10) + "&till_msgid=" + url.QueryEscape(id)
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"limit=1", []string{id3}},
		{cur(t3, id3) + "&limit=1", []string{id2}},
		{cur(t3, id3), []string{id2, id1}},
		{cur(t3, id3) + till(t1, id1), []string{id2}},
		{cur(t3, id3) + till(t1, id1) + "&include_start=true", []string{id3, id2}},
		{cur(t3, id3) + till(t1, id1) + "&include_stop=true", []string{id2, id1}},
		{"reversed=true", []string{id1, id2, id3}},
		{"reversed=true&" + cur(t1, id1) + till(t3, id3), []string{id2}},
		{"reversed=true&" + cur(t1, id1) + till(t3, id3) + "&include_start=true", []string{id1, id2}},
		{"reversed=true&" + cur(t1, id1) + till(t3, id3) + "&include_stop=true", []string{id2, id3}},
		{"type=-1", []string{id3, id1}},
	} {
		if got := hist(tc.q); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: %v, want %v", tc.q, got, tc.want)
		}
	}
	lcExpectError(t, h, m, "GET", "/1.2/rtm/conversations/"+conv.Id+"/messages?limit=1001", nil, 400, 1)

	// Errors in LeanCloud's codes.
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations/nosuchconversation/messages", map[string]any{"from_client": "Tom", "message": "x"}, 400, 4401)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations/"+conv.Id+"/messages", map[string]any{"message": "x"}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations/"+conv.Id+"/messages", map[string]any{"from_client": "Tom", "message": strings.Repeat("x", 6000)}, 400, 4109)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/conversations/"+conv.Id+"/messages", map[string]any{"from_client": "Tom", "message": "x", "no_sync": true}, 501, 4308)
}
