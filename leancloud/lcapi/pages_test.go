package lcapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-im/parley/handlers"
)

// listClients fills a LeanCloud page from as many of Parley's pages (100
// clientIds each) as it takes, and hands back the last clientId as next
// when more follow.
func TestListClientsPages(t *testing.T) {
	var all []string
	for i := 0; i < 250; i++ {
		all = append(all, fmt.Sprintf("c%03d", i))
	}
	calls := 0
	list := func(_ *http.Request, _, after string) (*handlers.ClientList, error) {
		calls++
		i := 0
		for i < len(all) && all[i] <= after {
			i++
		}
		page := &handlers.ClientList{ClientIDs: all[i:min(i+100, len(all))]}
		if i+100 < len(all) {
			page.Next = page.ClientIDs[len(page.ClientIDs)-1]
		}
		return page, nil
	}
	a := New(Options{})
	get := func(query string) (clientPage, int) {
		t.Helper()
		calls = 0
		w := httptest.NewRecorder()
		a.listClients(list)(w, httptest.NewRequest("GET", "/x?"+query, nil))
		var p clientPage
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s: %v in %s", query, err, w.Body)
		}
		return p, w.Code
	}
	for _, c := range []struct {
		query       string
		first, last string
		n, calls    int
		next        string
	}{
		{"", "c000", "c009", 10, 1, "c009"},
		{"limit=100", "c000", "c099", 100, 1, "c099"},
		{"limit=250", "c000", "c249", 250, 3, ""},
		{"limit=120&next=c009", "c010", "c129", 120, 2, "c129"},
		{"limit=1000&next=c200", "c201", "c249", 49, 1, ""},
		{"next=c249", "", "", 0, 1, ""},
	} {
		p, code := get(c.query)
		if code != 200 || len(p.ClientIDs) != c.n || p.Next != c.next || calls != c.calls ||
			(c.n > 0 && (p.ClientIDs[0] != c.first || p.ClientIDs[c.n-1] != c.last)) {
			t.Errorf("%q: %d, %d ids, next %q, %d calls; want %d ids %s…%s, next %q, %d calls",
				c.query, code, len(p.ClientIDs), p.Next, calls, c.n, c.first, c.last, c.next, c.calls)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		if _, code := get(q); code != 400 {
			t.Errorf("%s: %d", q, code)
		}
	}
}

func TestInfoIDs(t *testing.T) {
	imported := handlers.MemberInfo{ClientID: "Tom", InfoID: "5a5d7433c3422b31ed845e76"}
	if got := infoID("conv", imported); got != imported.InfoID {
		t.Errorf("imported row: %s", got)
	}
	a, b := infoID("conv", handlers.MemberInfo{ClientID: "Tom"}), infoID("conv", handlers.MemberInfo{ClientID: "Jerry"})
	if len(a) != 24 || strings.Trim(a, "0123456789abcdef") != "" || a == b || a != infoID("conv", handlers.MemberInfo{ClientID: "Tom"}) ||
		a == infoID("conv2", handlers.MemberInfo{ClientID: "Tom"}) {
		t.Errorf("derived ids %s %s", a, b)
	}
	for in, want := range map[string]string{"Manager": "manager", "owner": "owner", "MEMBER": "member"} {
		if got, e := parseRole(in); e != nil || got != want {
			t.Errorf("role %s: %s %v", in, got, e)
		}
	}
	if _, e := parseRole("Admin"); e == nil || e.Code != 4321 {
		t.Errorf("role Admin: %+v", e)
	}
}
