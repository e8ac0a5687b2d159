package lcapi

import (
	"io"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-chi/chi/v5"
)

// A /1.1 request rewritten as /1.2's: the path parameters chi's handlers
// read, the route path onlyKinds reads, the new query and body; the
// original request is left as it was.
func TestRewrite(t *testing.T) {
	r := httptest.NewRequest("POST", "/rtm/patch/message?x=1", nil)
	r2, err := rewrite(r, [][2]string{{"id", "conv 1"}, {"mid", "m1"}}, url.Values{"from_client": {"Tom"}},
		map[string]any{"timestamp": 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := chi.URLParam(r2, "id"); got != "conv 1" {
		t.Errorf("id %q", got)
	}
	if got := chi.URLParam(r2, "mid"); got != "m1" {
		t.Errorf("mid %q", got)
	}
	if got := chi.RouteContext(r2.Context()).RoutePath; got != "/conv%201" {
		t.Errorf("route path %q", got)
	}
	if got := r2.URL.RawQuery; got != "from_client=Tom" {
		t.Errorf("query %q", got)
	}
	if b, _ := io.ReadAll(r2.Body); string(b) != `{"timestamp":5}` {
		t.Errorf("body %s", b)
	}
	if r.URL.RawQuery != "x=1" || chi.RouteContext(r.Context()) != nil {
		t.Errorf("the original request changed: %q", r.URL.RawQuery)
	}
	// Without a query or a body, r's query stays and there is no body.
	r3, err := rewrite(r, nil, nil, nil)
	if err != nil || r3.URL.RawQuery != "x=1" {
		t.Errorf("query %q, %v", r3.URL.RawQuery, err)
	}
}

// clientFilter: absent, one clientId, or $in.
func TestClientFilter(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"null", nil, true},
		{`"Tom"`, []string{"Tom"}, true},
		{`{"$in":["Tom","Jerry"]}`, []string{"Tom", "Jerry"}, true},
		{`{"$ne":"Tom"}`, nil, false},
		{`3`, nil, false},
	} {
		set, ok := clientFilter([]byte(c.raw))
		if ok != c.ok || len(set) != len(c.want) {
			t.Errorf("%s: %v %v", c.raw, set, ok)
			continue
		}
		for _, id := range c.want {
			if !set[id] {
				t.Errorf("%s: %v lacks %s", c.raw, set, id)
			}
		}
	}
}
