package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
)

// query runs GET /v1/conversations as u (nil: with the master key) and
// expects 200.
func (h *harness) query(u *user, p client.QueryConversationsParams) []client.Conversation {
	h.t.Helper()
	auth := h.master()
	if u != nil {
		auth = u.auth()
	}
	r, err := h.c.QueryConversationsWithResponse(ctx(h.t), &p, auth)
	okStatus(h.t, "query "+deref(p.Where), http.StatusOK, r, err)
	if r.JSON200.Results == nil {
		h.t.Fatalf("query %s: no results array: %s", deref(p.Where), r.Body)
	}
	return *r.JSON200.Results
}

func ids(cs []client.Conversation) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Id)
	}
	return out
}

// The query language end to end, through the generated client: aliases,
// operators, attributes, sort, paging, compact, withLastMessage, and
// INVALID_QUERY naming the offending part.
func TestQueryConversations(t *testing.T) {
	clk := newFakeClock()
	h := start(t, withClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	step := func() { clk.Advance(time.Second) }

	a := tom.create(client.CreateConversationRequest{Members: &[]string{"Jerry"}, Name: ptr("Cheese club"),
		Attributes: &map[string]any{"topic": "cheese", "level": 3, "tags": []string{"x", "y"}, "vip": true, "nested": map[string]any{"k": "v"}}})
	step()
	b := jerry.create(client.CreateConversationRequest{Members: &[]string{"Mary"}, Name: ptr("cats"),
		Attributes: &map[string]any{"topic": "Mice", "level": 7.5, "vip": false}})
	step()
	c := tom.create(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom), Name: ptr("Live"),
		Attributes: &map[string]any{"level": "high"}})
	step()
	d := h.createWithMaster(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem), Name: ptr("News"),
		Attributes: &map[string]any{"topic": nil}})
	tom.join(d.Id)
	step()
	tmp := tom.create(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &[]string{"Jerry"}, Name: ptr("Cheese tmp"),
		Attributes: &map[string]any{"topic": "cheese"}})
	step()

	// Messages set lastMessageAt: b, then a, then d; c never.
	jerry.sendText(b.Id, "meow")
	step()
	lastOfA := tom.sendText(a.Id, "brie?")
	step()
	r, err := h.c.AdminSendMessageWithResponse(ctx(t), d.Id, client.AdminSendInputBody{From: "newsroom", Type: ptr(int64(-1)), Text: ptr("headline")}, h.master())
	okStatus(t, "admin send", http.StatusCreated, r, err)
	tom.sendText(tmp.Id, "in the temporary one")
	aTime := lastOfA.Timestamp

	byID := map[string]string{a.Id: "a", b.Id: "b", c.Id: "c", d.Id: "d", tmp.Id: "tmp"}
	names := func(cs []client.Conversation) string {
		var out []string
		for _, c := range cs {
			n, ok := byID[c.Id]
			if !ok {
				n = c.Id
			}
			out = append(out, n)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		where, sort string
		want        string
	}{
		{``, ``, "d a b c"},            // default sort -lastMessageAt; never-messaged last; no temporary
		{`{}`, `createdAt`, "a b c d"}, // temporary never listed
		{`{"name":"cats"}`, ``, "b"},
		{`{"name":{"$regex":"^c","$options":"i"}}`, `name`, "a b"},
		{`{"name":{"$regex":"^c"}}`, ``, "b"},
		{`{"c":"Tom"}`, `createdAt`, "a c"},
		{`{"creator":"Tom","tr":false}`, ``, "a"},
		{`{"creator":{"$ne":"Tom"}}`, `createdAt`, "b d"},
		{`{"m":"Jerry"}`, `createdAt`, "a b"},
		{`{"m":"Tom"}`, `createdAt`, "a"}, // Jerry sees no system conversation's subscribers
		{`{"members":{"$all":["Tom","Jerry"]}}`, ``, "a"},
		{`{"m":{"$in":["Mary","Nobody"]}}`, ``, "b"},
		{`{"m":{"$nin":["Tom"]}}`, `createdAt`, "b c d"}, // members missing for Jerry match $nin
		{`{"m":["Jerry","Tom"]}`, ``, "a"},
		{`{"tr":true}`, ``, "c"},
		{`{"sys":true}`, ``, "d"},
		{`{"tr":false,"sys":false}`, `createdAt`, "a b"},
		{`{"kind":{"$in":["chatroom","system"]}}`, `-createdAt`, "d c"},
		{`{"kind":"temporary"}`, ``, ""},
		{fmt.Sprintf(`{"lm":{"$gte":%d}}`, aTime), `lm`, "a d"},
		{fmt.Sprintf(`{"lastMessageAt":{"$lt":%d}}`, aTime), ``, "b"},
		{`{"lm":{"$exists":false}}`, ``, "c"},
		{fmt.Sprintf(`{"createdAt":{"$gt":{"__type":"Date","iso":%q}}}`, time.UnixMilli(b.CreatedAt).UTC().Format(time.RFC3339Nano)), `createdAt`, "c d"},
		{`{"topic":"cheese"}`, ``, "a"},
		{`{"attr.topic":"cheese"}`, ``, "a"},
		{`{"attributes.topic":{"$regex":"mice","$options":"i"}}`, ``, "b"},
		{`{"topic":{"$ne":"cheese"}}`, `createdAt`, "b c d"}, // $ne matches a missing attribute
		{`{"topic":{"$nin":["cheese","Mice"]}}`, `createdAt`, "c d"},
		{`{"topic":null}`, `createdAt`, "c d"}, // null matches null and missing
		{`{"topic":{"$exists":true}}`, `createdAt`, "a b d"},
		{`{"level":{"$gt":3}}`, ``, "b"},    // numbers with numbers only
		{`{"level":{"$gte":"a"}}`, ``, "c"}, // strings with strings only
		{`{"tags":"x"}`, ``, "a"},           // an array attribute contains the value
		{`{"tags":{"$all":["y","x"]}}`, ``, "a"},
		{`{"vip":true}`, ``, "a"},
		{`{"vip":false}`, ``, "b"},
		{`{"nested.k":"v"}`, ``, "a"},
		{`{"attr.nested.k":"v"}`, ``, "a"},
		{`{"$or":[{"name":"cats"},{"topic":"cheese"}]}`, `createdAt`, "a b"},
		{`{"$and":[{"m":"Tom"},{"$or":[{"sys":true},{"level":3}]}]}`, `createdAt`, "a"},
		{`{"$or":[{"c":"Jerry"},{"$and":[{"tr":true},{"name":{"$regex":"^L"}}]}]}`, `createdAt`, "b c"},
		{fmt.Sprintf(`{"id":{"$in":[%q,%q,"nope",%q]}}`, a.Id, c.Id, tmp.Id), `-name`, "c a"},
		{`{}`, `level,createdAt`, "d a b c"}, // missing < numbers < strings
		{`{}`, `-name`, "b d c a"},
	}
	for _, tc := range cases {
		p := client.QueryConversationsParams{Limit: ptr(int64(100))}
		if tc.where != "" {
			p.Where = ptr(tc.where)
		}
		if tc.sort != "" {
			p.Sort = ptr(tc.sort)
		}
		if got := names(h.query(jerry, p)); got != tc.want {
			t.Errorf("where %s sort %q: got [%s], want [%s]", tc.where, tc.sort, got, tc.want)
		}
	}

	// The result objects: members (not for chat rooms and system
	// conversations), attributes as stored, no lastMessage unless asked.
	res := h.query(tom, client.QueryConversationsParams{Where: ptr(`{"id":"` + a.Id + `"}`)})
	if len(res) != 1 || !sameSet(deref(res[0].Members), []string{"Tom", "Jerry"}) || res[0].LastMessage != nil ||
		!sameJSON(t, res[0].Attributes, map[string]any{"topic": "cheese", "level": 3, "tags": []string{"x", "y"}, "vip": true, "nested": map[string]any{"k": "v"}}) ||
		deref(res[0].LastMessageAt) != aTime || res[0].Name != "Cheese club" || res[0].Creator != "Tom" {
		t.Errorf("query result %+v", res)
	}
	res = h.query(tom, client.QueryConversationsParams{Where: ptr(`{"tr":true}`)})
	if len(res) != 1 || res[0].Members != nil || res[0].Kind != client.ConversationKindChatroom {
		t.Errorf("a chat room in the results: %+v", res)
	}
	// compact leaves member lists out; withLastMessage adds the newest message.
	res = h.query(tom, client.QueryConversationsParams{Where: ptr(`{"$or":[{"m":"Tom"},{"sys":true}]}`), Compact: ptr(true), WithLastMessage: ptr(true), Sort: ptr("createdAt")})
	if len(res) != 2 {
		t.Fatalf("compact query: %+v", res)
	}
	for _, r := range res {
		if r.Members != nil || r.MutedMembers != nil {
			t.Errorf("compact result %s has members %v %v", r.Id, deref(r.Members), deref(r.MutedMembers))
		}
		if r.LastMessage == nil {
			t.Errorf("withLastMessage: %s has no lastMessage", r.Id)
		}
	}
	if res[0].LastMessage != nil && !sameJSON(t, *res[0].LastMessage, lastOfA) {
		t.Errorf("lastMessage %+v, want %+v", *res[0].LastMessage, lastOfA)
	}
	if res[1].LastMessage != nil && (deref(res[1].LastMessage.Text) != "headline" || res[1].LastMessage.From != "newsroom") {
		t.Errorf("lastMessage of the system conversation %+v", *res[1].LastMessage)
	}

	// limit (default 10, at most 1000) and skip page through the results
	// without overlap.
	for i := 0; i < 12; i++ {
		step()
		h.createWithMaster(client.CreateConversationRequest{Members: &[]string{"Filler"}, Name: ptr(fmt.Sprintf("filler %02d", i)), Attributes: &map[string]any{"filler": i}})
	}
	if got := h.query(nil, client.QueryConversationsParams{}); len(got) != 10 {
		t.Errorf("default limit: %d results, want 10", len(got))
	}
	all := ids(h.query(nil, client.QueryConversationsParams{Where: ptr(`{"filler":{"$exists":true}}`), Sort: ptr("-filler"), Limit: ptr(int64(1000))}))
	if len(all) != 12 {
		t.Fatalf("%d fillers, want 12", len(all))
	}
	var paged []string
	for skip := int64(0); skip < 14; skip += 5 {
		paged = append(paged, ids(h.query(nil, client.QueryConversationsParams{Where: ptr(`{"filler":{"$exists":true}}`), Sort: ptr("-filler"), Limit: ptr(int64(5)), Skip: &skip}))...)
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages %v, want %v", paged, all)
	}
	expectProblem(t, "limit 1001", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Limit: ptr(int64(1001))}, tom.auth()))
	expectProblem(t, "limit 0", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Limit: ptr(int64(0))}, tom.auth()))
	expectProblem(t, "negative skip", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Skip: ptr(int64(-1))}, tom.auth()))
	expectProblem(t, "query without credentials", http.StatusUnauthorized, client.UNAUTHORIZED)(h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{}))

	// Every malformed query is INVALID_QUERY, with a detail naming the part.
	bad := []struct{ where, sort, part string }{
		{`{"name":`, ``, "not valid JSON"},
		{`[1,2]`, ``, "JSON object"},
		{`{"$where":"1"}`, ``, "$where"},
		{`{"name":{"$foo":1}}`, ``, "$foo"},
		{`{"name":{"$regex":"(unclosed"}}`, ``, "where.name.$regex"},
		{`{"name":{"$regex":"x","$options":"q"}}`, ``, "$options"},
		{`{"name":{"$regex":"` + strings.Repeat("a", 300) + `"}}`, ``, "longer than"},
		{`{"name":{"$in":"cats"}}`, ``, "where.name.$in"},
		{`{"$or":{"name":"cats"}}`, ``, "where.$or"},
		{`{"$or":[{"name":"cats"},3]}`, ``, "where.$or[1]"},
		{`{"$and":[{"tr":"yes"}]}`, ``, "where.$and[0].tr"},
		{`{"lm":{"$gt":"yesterday"}}`, ``, "where.lm.$gt"},
		{`{"m":{"$all":[1]}}`, ``, "where.m.$all"},
		{`{"topic":{"$gt":true}}`, ``, "where.topic.$gt"},
		{`{"topic":{"nested":"object"}}`, ``, "where.topic"},
		{`{"a..b":1}`, ``, `"a..b"`},
		{`{"m":{"$exists":"yes"}}`, ``, "where.m.$exists"},
		{strings.Repeat(`{"$or":[`, 10) + `{"a":1}` + strings.Repeat(`]}`, 10), ``, "deeper than"},
		{``, `name,,id`, "sort"},
		{``, `members`, "sort: cannot sort by members"},
		{``, `a..b`, "sort"},
	}
	for _, tc := range bad {
		p := &client.QueryConversationsParams{}
		if tc.where != "" {
			p.Where = ptr(tc.where)
		}
		if tc.sort != "" {
			p.Sort = ptr(tc.sort)
		}
		r, err := h.c.QueryConversationsWithResponse(ctx(t), p, tom.auth())
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("where %s sort %q", tc.where, tc.sort)
		if len(what) > 120 {
			what = what[:120] + "…"
		}
		pr := problemOf(t, what, r.HTTPResponse, r.Body, http.StatusBadRequest, client.INVALIDQUERY)
		if !strings.Contains(deref(pr.Detail), tc.part) {
			t.Errorf("%s: detail %q does not name %q", what, deref(pr.Detail), tc.part)
		}
	}
}

// compact=true leaves members and mutedMembers out of every conversation:
// absent, not the empty lists LeanCloud's compact queries return (the README:
// "members (absent for chat rooms and in compact queries)"); the served
// document says so on the parameter.
func TestCompactQueryLeavesMembersOut(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	r, err := h.c.MuteConversationWithResponse(ctx(t), conv.Id, tom.auth())
	okStatus(t, "Tom mutes", http.StatusOK, r, err)
	get := func(compact bool) string {
		t.Helper()
		q, err := h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Where: ptr(`{"m":"Tom"}`), Compact: &compact}, tom.auth())
		okStatus(t, fmt.Sprint("query, compact ", compact), http.StatusOK, q, err)
		return string(q.Body)
	}
	if full := get(false); !strings.Contains(full, `"members":["Jerry","Tom"]`) || !strings.Contains(full, `"mutedMembers":["Tom"]`) {
		t.Errorf("a full query shows no member lists: %s", full)
	}
	compact := get(true)
	if strings.Contains(compact, `"members"`) || strings.Contains(compact, `"mutedMembers"`) || !strings.Contains(compact, conv.Id) ||
		!strings.Contains(compact, `"muted":true`) {
		t.Errorf("a compact query: %s", compact)
	}

	resp, err := http.Get(h.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In, Description string } `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.Paths["/v1/conversations"]["get"].Parameters {
		if p.In == "query" && p.Name == "compact" {
			found = true
			if !strings.Contains(p.Description, "absent") || !strings.Contains(p.Description, "empty lists") {
				t.Errorf("the compact parameter says %q, not that member lists are absent rather than empty", p.Description)
			}
		}
	}
	if !found {
		t.Error("no compact parameter in the document")
	}
}
