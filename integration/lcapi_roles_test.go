package integration

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

type lcClientPage struct {
	ClientIDs []string `json:"client_ids"`
	Next      *string  `json:"next"`
}

type lcMemberInfo struct {
	ClientID string `json:"clientId"`
	ObjectID string `json:"objectId"`
	Role     string `json:"role"`
}

// §1.2 rows 16–17, 22–24: temporary and permanent silences, seen as
// Parley's MEMBER_SILENCED.
func TestLCSilenceds(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom, mary := h.login("Tom"), h.login("Mary")
	conv := tom.createConv("Jerry", "Mary", "Spike")
	silenced := func(what string) {
		t.Helper()
		rs, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("may I?"), mary.auth())
		expectProblem(t, what, http.StatusForbidden, client.MEMBERSILENCED)(rs, err)
	}
	var out map[string]any

	lc(t, h, m, "POST", lcConvPath(conv.Id, "temporary-silenceds"), map[string]any{"client_id": "Mary", "ttl": 50}, 200, &out)
	if len(out) != 0 {
		t.Errorf("temporary silence answered %v", out)
	}
	silenced("a member silenced for 50 s")
	r, err := h.c.ListMembersWithResponse(ctx(t), conv.Id, tom.auth())
	if err != nil || r.JSON200 == nil {
		t.Fatalf("members: %v", err)
	}
	for _, x := range deref(r.JSON200.Members) {
		if x.ClientId == "Mary" && (x.SilencedUntil == nil || *x.SilencedUntil <= 0) {
			t.Errorf("Mary silenced until %v", x.SilencedUntil)
		}
	}
	lc(t, h, m, "DELETE", lcConvPath(conv.Id, "temporary-silenceds")+"?client_id=Mary", nil, 200, &out)
	mary.sendText(conv.Id, "free again")
	for _, bad := range []map[string]any{{"client_id": "Mary"}, {"client_id": "Mary", "ttl": 0}, {"client_id": "Mary", "ttl": 86401}, {"ttl": 50}} {
		lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "temporary-silenceds"), bad, 400, 1)
	}
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id, "temporary-silenceds"), nil, 400, 1)

	// Permanent: until lifted; listed a page at a time.
	lc(t, h, m, "POST", lcConvPath(conv.Id, "permanent-silenceds"), map[string]any{"client_ids": []string{"Mary", "Jerry", "Spike"}}, 200, &out)
	silenced("a member silenced until lifted")
	var page lcClientPage
	lc(t, h, m, "GET", lcConvPath(conv.Id, "permanent-silenceds")+"?limit=2", nil, 200, &page)
	if fmt.Sprint(page.ClientIDs) != "[Jerry Mary]" || page.Next == nil {
		t.Fatalf("first page %+v", page)
	}
	next := *page.Next
	page = lcClientPage{}
	lc(t, h, m, "GET", lcConvPath(conv.Id, "permanent-silenceds")+"?limit=2&next="+next, nil, 200, &page)
	if fmt.Sprint(page.ClientIDs) != "[Spike]" || page.Next != nil {
		t.Fatalf("second page %+v %q", page, deref(page.Next))
	}
	page = lcClientPage{}
	lc(t, h, m, "GET", lcConvPath(conv.Id, "permanent-silenceds"), nil, 200, &page)
	if len(page.ClientIDs) != 3 || page.Next != nil {
		t.Errorf("default page %+v", page)
	}
	lc(t, h, m, "DELETE", lcConvPath(conv.Id, "permanent-silenceds"), map[string]any{"client_ids": []string{"Mary"}}, 200, &out)
	mary.sendText(conv.Id, "thanks")
	lcExpectError(t, h, m, "GET", lcConvPath(conv.Id, "permanent-silenceds")+"?limit=0", nil, 400, 1)
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "permanent-silenceds"), map[string]any{"client_ids": []string{}}, 400, 1)
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "permanent-silenceds"), map[string]any{"client_ids": []string{"a:b"}}, 400, 1)

	// The 500 limit (Jerry and Spike are two), LeanCloud's code when full.
	var many []string
	for i := 0; i < 498; i++ {
		many = append(many, fmt.Sprintf("c%03d", i))
	}
	for len(many) > 0 {
		n := min(len(many), 50) // Parley's most per call
		lc(t, h, m, "POST", lcConvPath(conv.Id, "permanent-silenceds"), map[string]any{"client_ids": many[:n]}, 200, &out)
		many = many[n:]
	}
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "permanent-silenceds"), map[string]any{"client_ids": []string{"Mary"}}, 400, 4561)

	app := lcAppKey(h)
	for _, c := range []struct{ method, path string }{
		{"POST", "temporary-silenceds"}, {"DELETE", "temporary-silenceds"},
		{"POST", "permanent-silenceds"}, {"DELETE", "permanent-silenceds"}, {"GET", "permanent-silenceds"},
	} {
		lcExpectError(t, h, app, c.method, lcConvPath(conv.Id, c.path), nil, 401, 119)
	}
}

// §1.2 rows 18–21: member infos are Parley's roles.
func TestLCMemberInfos(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry", "Mary")

	var up lcUpdated
	lc(t, h, m, "POST", lcConvPath(conv.Id, "member-infos"), map[string]any{"clientId": "Jerry", "role": "Manager"}, 200, &up)
	if len(up.ObjectID) != 24 || !isISO(up.UpdatedAt) {
		t.Fatalf("member info answered %+v", up)
	}
	if got := h.roles(tom, conv.Id); got["Jerry"] != "manager" {
		t.Errorf("Parley's roles %v", got)
	}
	var list struct{ Results []lcMemberInfo }
	lc(t, h, m, "GET", lcConvPath(conv.Id, "member-infos"), nil, 200, &list)
	if len(list.Results) != 3 || list.Results[0] != (lcMemberInfo{"Tom", list.Results[0].ObjectID, "Owner"}) ||
		list.Results[1] != (lcMemberInfo{"Jerry", up.ObjectID, "Manager"}) || list.Results[2].Role != "Member" {
		t.Errorf("member infos %+v", list.Results)
	}
	lc(t, h, m, "GET", lcConvPath(conv.Id, "member-infos")+"?role=Manager", nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ClientID != "Jerry" {
		t.Errorf("managers %+v", list.Results)
	}
	lc(t, h, m, "GET", lcConvPath(conv.Id, "member-infos")+"?skip=1&limit=1", nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ClientID != "Jerry" {
		t.Errorf("skip 1 limit 1: %+v", list.Results)
	}

	// PUT by info id changes the role; DELETE makes it Member again.
	var again lcUpdated
	lc(t, h, m, "PUT", lcConvPath(conv.Id, "member-infos", up.ObjectID), map[string]any{"clientId": "Jerry", "role": "Member"}, 200, &again)
	if again.ObjectID != up.ObjectID {
		t.Errorf("PUT answered %+v, want objectId %s", again, up.ObjectID)
	}
	if got := h.roles(tom, conv.Id); got["Jerry"] != "member" {
		t.Errorf("roles after PUT %v", got)
	}
	lc(t, h, m, "PUT", lcConvPath(conv.Id, "member-infos", up.ObjectID), map[string]any{"role": "Manager"}, 200, &again)
	var out map[string]any
	lc(t, h, m, "DELETE", lcConvPath(conv.Id, "member-infos", up.ObjectID), nil, 200, &out)
	if got := h.roles(tom, conv.Id); got["Jerry"] != "member" {
		t.Errorf("roles after DELETE %v", got)
	}

	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "member-infos"), map[string]any{"clientId": "Jerry", "role": "Boss"}, 400, 4321)
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "member-infos"), map[string]any{"clientId": "Jerry"}, 400, 1)
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "member-infos"), map[string]any{"clientId": "Spike", "role": "Manager"}, 400, 4317)
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "member-infos", "000000000000000000000000"), map[string]any{"role": "Manager"}, 404, 101)
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "member-infos", up.ObjectID), map[string]any{"clientId": "Mary", "role": "Manager"}, 400, 1)
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id, "member-infos", "000000000000000000000000"), nil, 404, 101)
	lcExpectError(t, h, m, "GET", lcConvPath(conv.Id, "member-infos")+"?limit=0", nil, 400, 1)
	// The owner stays owner until it hands ownership over.
	lc(t, h, m, "GET", lcConvPath(conv.Id, "member-infos")+"?role=Owner", nil, 200, &list)
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id, "member-infos", list.Results[0].ObjectID), nil, 403, 4320)

	app := lcAppKey(h)
	lcExpectError(t, h, app, "POST", lcConvPath(conv.Id, "member-infos"), nil, 401, 119)
	lcExpectError(t, h, app, "GET", lcConvPath(conv.Id, "member-infos"), nil, 401, 119)
	lcExpectError(t, h, app, "PUT", lcConvPath(conv.Id, "member-infos", up.ObjectID), nil, 401, 119)
	lcExpectError(t, h, app, "DELETE", lcConvPath(conv.Id, "member-infos", up.ObjectID), nil, 401, 119)
}

// §1.2 rows 25–27: blacklists are Parley's blocks.
func TestLCBlacklists(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom, spike := h.login("Tom"), h.login("Spike")
	conv := tom.createConv("Jerry", "Spike")
	var out map[string]any
	lc(t, h, m, "POST", lcConvPath(conv.Id, "blacklists"), map[string]any{"client_ids": []string{"Spike", "Butch"}}, 200, &out)
	var members lcResult[[]string]
	lc(t, h, m, "GET", lcConvPath(conv.Id, "members"), nil, 200, &members)
	if len(members.Result) != 2 {
		t.Errorf("members after the block %v", members.Result)
	}
	expectProblem(t, "a blocked client joins", http.StatusForbidden, client.CLIENTBLOCKED)(
		h.c.JoinConversationWithResponse(ctx(t), conv.Id, client.Signed{}, spike.auth()))
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "members"), map[string]any{"client_ids": []string{"Spike"}}, 400, 4548)

	var page lcClientPage
	lc(t, h, m, "GET", lcConvPath(conv.Id, "blacklists")+"?limit=1", nil, 200, &page)
	if fmt.Sprint(page.ClientIDs) != "[Butch]" || page.Next == nil || *page.Next != "Butch" {
		t.Fatalf("first page %+v", page)
	}
	page = lcClientPage{}
	lc(t, h, m, "GET", lcConvPath(conv.Id, "blacklists")+"?limit=1&next=Butch", nil, 200, &page)
	if fmt.Sprint(page.ClientIDs) != "[Spike]" || page.Next != nil {
		t.Fatalf("second page %+v %q", page, deref(page.Next))
	}
	lc(t, h, m, "DELETE", lcConvPath(conv.Id, "blacklists"), map[string]any{"client_ids": []string{"Spike"}}, 200, &out)
	lc(t, h, m, "POST", lcConvPath(conv.Id, "members"), map[string]any{"client_ids": []string{"Spike"}}, 200, nil)
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "blacklists"), map[string]any{}, 400, 1)
	lcExpectError(t, h, m, "POST", lcConvPath("nosuchconversation", "blacklists"), map[string]any{"client_ids": []string{"x"}}, 400, 4401)

	app := lcAppKey(h)
	for _, method := range []string{"POST", "DELETE", "GET"} {
		lcExpectError(t, h, app, method, lcConvPath(conv.Id, "blacklists"), nil, 401, 119)
	}
}
