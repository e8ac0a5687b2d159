package integration

import (
	"github.com/parley-im/parley/internal/slogtext"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

// accessLine is one line of the access log, its attributes by key.
type accessLine map[string]string

// accessLines parses the "request" and "stream ended" lines of a text log.
func accessLines(t *testing.T, log string) []accessLine {
	t.Helper()
	var out []accessLine
	for _, line := range strings.Split(log, "\n") {
		l := accessLine(slogtext.Parse(line))
		if l["msg"] == "request" || l["msg"] == "stream ended" {
			out = append(out, l)
		}
	}
	return out
}

// rawDo sends a request and returns the answer with its body read.
func rawDo(t *testing.T, method, url, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// The access log has one line per request with its method, route pattern
// (never the raw path, which holds ids, nor a query with ?token=), status,
// duration, caller and request id; an event stream logs once, when it
// ends. X-Request-Id is taken from the request when sane and echoed, or
// made up. Off, nothing is logged and no id is given.
func TestAccessLog(t *testing.T) {
	h := start(t, func(c *server.Config) { c.AccessLog = true })
	tom := h.login("Tom")
	jerry := h.login("Jerry")
	conv := tom.createConv("Jerry")
	send := h.base + "/v1/conversations/" + conv.Id + "/messages"

	given := rawDo(t, "POST", send, `{"type":-1,"text":"hi"}`, "Authorization", "Bearer "+tom.Token, "X-Request-Id", "req-42.a:b")
	if given.StatusCode != 201 {
		t.Fatalf("send: %d", given.StatusCode)
	}
	if id := given.Header.Get("X-Request-Id"); id != "req-42.a:b" {
		t.Errorf("a sane X-Request-Id comes back as %q", id)
	}
	made := map[string]string{}
	for what, bad := range map[string]string{"spaces": "two words", "quotes": `a"b`, "too long": strings.Repeat("x", 129)} {
		resp := rawDo(t, "GET", h.base+"/v1/conversations/"+conv.Id, "", "Authorization", "Bearer "+tom.Token, "X-Request-Id", bad)
		id := resp.Header.Get("X-Request-Id")
		if id == "" || id == bad {
			t.Errorf("X-Request-Id with %s: answered %q, want a new one", what, id)
		}
		made[id] = what
	}
	if len(made) != 3 {
		t.Errorf("made-up request ids are not unique: %v", made)
	}
	if resp := rawDo(t, "GET", h.base+"/v1/conversations/"+conv.Id+"/messages?limit=1", "", "X-Master-Key", h.srv.MasterKey); resp.StatusCode != 200 {
		t.Errorf("master history: %d", resp.StatusCode)
	}
	rawDo(t, "DELETE", h.base+"/v1/nosuch/"+conv.Id, "")

	st := jerry.open(tokenQuery())
	st.close()
	var lines []accessLine
	deadline := time.Now().Add(waitTimeout)
	for {
		lines = accessLines(t, h.logs.String())
		n := 0
		for _, l := range lines {
			if l["msg"] == "stream ended" {
				n++
			}
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	log := h.logs.String()
	for _, secret := range []string{tom.Token, jerry.Token, h.srv.MasterKey, conv.Id, "token="} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %.24q", secret)
		}
	}
	find := func(match func(accessLine) bool) []accessLine {
		var out []accessLine
		for _, l := range lines {
			if match(l) {
				out = append(out, l)
			}
		}
		return out
	}
	check := func(what string, l accessLine, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s: %s=%q, want %q (line %v)", what, k, l[k], v, l)
			}
		}
		if d, err := time.ParseDuration(l["duration"]); err != nil || d <= 0 {
			t.Errorf("%s: duration %q", what, l["duration"])
		}
		if l["request_id"] == "" {
			t.Errorf("%s: no request_id", what)
		}
	}
	if sends := find(func(l accessLine) bool { return l["request_id"] == "req-42.a:b" }); len(sends) != 1 {
		t.Errorf("lines of the send with the given request id: %d, want 1\n%s", len(sends), log)
	} else {
		check("send", sends[0], map[string]string{"level": "INFO", "msg": "request", "method": "POST",
			"route": "/v1/conversations/{id}/messages", "status": "201", "client": "Tom"})
	}
	for id, what := range made {
		if got := find(func(l accessLine) bool { return l["request_id"] == id }); len(got) != 1 {
			t.Errorf("lines with the made-up request id %s (%s): %d, want 1", id, what, len(got))
		} else {
			check("read", got[0], map[string]string{"method": "GET", "route": "/v1/conversations/{id}", "status": "200", "client": "Tom"})
		}
	}
	if got := find(func(l accessLine) bool {
		return l["route"] == "/v1/conversations/{id}/messages" && l["method"] == "GET"
	}); len(got) != 1 {
		t.Errorf("lines of the master's history read: %d, want 1", len(got))
	} else {
		check("master", got[0], map[string]string{"status": "200", "client": "master"})
	}
	if got := find(func(l accessLine) bool { return l["route"] == "/v1/sessions" }); len(got) != 2 {
		t.Errorf("lines of the logins: %d, want 2", len(got))
	} else {
		check("login", got[0], map[string]string{"method": "POST", "status": "201", "client": "-"})
	}
	if got := find(func(l accessLine) bool { return l["status"] == "405" }); len(got) != 1 {
		t.Errorf("lines of the unknown path: %d, want 1", len(got))
	} else {
		check("unknown", got[0], map[string]string{"method": "DELETE", "route": "unmatched", "client": "-"})
	}
	if got := find(func(l accessLine) bool { return l["route"] == "/v1/events" }); len(got) != 1 {
		t.Errorf("lines of the stream: %d, want 1 (when it ends)\n%s", len(got), log)
	} else {
		check("stream", got[0], map[string]string{"msg": "stream ended", "method": "GET", "status": "200", "client": "Jerry"})
	}

	off := start(t)
	u := off.login("Tom")
	if resp := rawDo(t, "GET", off.base+"/v1/unread", "", "Authorization", "Bearer "+u.Token, "X-Request-Id", "abc"); resp.Header.Get("X-Request-Id") != "" {
		t.Errorf("access log off: X-Request-Id %q", resp.Header.Get("X-Request-Id"))
	}
	if got := accessLines(t, off.logs.String()); len(got) != 0 {
		t.Errorf("access log off: %d lines, e.g. %v", len(got), got[0])
	}
}

// scrape returns the text of /metrics.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	return string(b)
}

// sample is the value of the series named exactly (name{labels}), -1 when absent.
func sample(metrics, series string) float64 {
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// notMetrics are parley_ names in the documents that are no metric.
var notMetrics = map[string]bool{
	"parley_regexp": true, // the SQL function of $regex
}

// Every metric the README and BENCHMARKS name is in /metrics of a server
// that has served nothing yet: a rate or an alert on it works from the
// start.
func TestDocumentedMetricsExistFromTheStart(t *testing.T) {
	var names []string
	seen := map[string]bool{}
	for _, doc := range []string{"../README.md", "../BENCHMARKS.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range regexp.MustCompile(`parley_[a-z_]*[a-z]`).FindAllString(string(b), -1) {
			if !seen[n] && !notMetrics[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) < 5 {
		t.Fatalf("found only %v in the documents", names)
	}
	h := start(t)
	m := scrape(t, h.base)
	for _, n := range names {
		family := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(n, suffix); ok && !strings.Contains(m, "# TYPE "+n+" ") {
				family = f
			}
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(family) + `(_bucket|_sum|_count)?(\{| )`).MatchString(m) {
			t.Errorf("%s is documented but has no series in /metrics of a fresh server", n)
		}
	}
}

// Requests are counted by route pattern, method and status, and timed by
// route and method; event streams are timed apart, and raw paths (ids)
// never become labels.
func TestHTTPMetrics(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	jerry := h.login("Jerry")
	conv := tom.createConv("Jerry")
	const (
		sent    = `parley_http_requests_total{method="POST",route="/v1/conversations/{id}/messages",status="201"}`
		refused = `parley_http_requests_total{method="POST",route="/v1/conversations/{id}/messages",status="404"}`
		timed   = `parley_http_request_duration_seconds_count{method="POST",route="/v1/conversations/{id}/messages"}`
		stream  = `parley_http_requests_total{method="GET",route="/v1/events",status="200"}`
		streamT = `parley_http_stream_duration_seconds_count`
		unknown = `parley_http_requests_total{method="DELETE",route="unmatched",status="405"}`
		other   = `parley_http_requests_total{method="OTHER",route="unmatched",status="405"}`
	)
	before := scrape(t, h.base)
	for _, s := range []string{sent, timed, stream, streamT} {
		if sample(before, s) < 0 {
			t.Errorf("%s is not in /metrics before the first request", s)
		}
	}
	if strings.Contains(before, `parley_http_request_duration_seconds_count{method="GET",route="/v1/events"}`) {
		t.Error("event streams are timed with the requests")
	}

	tom.sendText(conv.Id, "one")
	tom.sendText(conv.Id, "two")
	rawDo(t, "POST", h.base+"/v1/conversations/nosuch/messages", `{"type":-1,"text":"x"}`, "Authorization", "Bearer "+tom.Token)
	rawDo(t, "DELETE", h.base+"/v1/nosuch/"+conv.Id, "")
	rawDo(t, "BREW", h.base+"/v1/sessions", "")
	st := jerry.open()
	st.close()

	var after string
	deadline := time.Now().Add(waitTimeout)
	for {
		after = scrape(t, h.base)
		grown := sample(after, stream)-max(sample(before, stream), 0) >= 1 && sample(after, streamT)-max(sample(before, streamT), 0) >= 1
		if grown || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	delta := func(s string) float64 { return sample(after, s) - max(sample(before, s), 0) }
	for s, want := range map[string]float64{sent: 2, refused: 1, timed: 3, stream: 1, streamT: 1, unknown: 1, other: 1} {
		if got := delta(s); got < want {
			t.Errorf("%s grew by %v, want %v", s, got, want)
		}
	}
	if strings.Contains(after, conv.Id) || strings.Contains(after, "nosuch") || strings.Contains(after, "BREW") {
		t.Error("a raw path or method is a label in /metrics")
	}
}
