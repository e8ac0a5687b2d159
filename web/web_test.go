package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestServesDemoFiles(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ path, typ, contains string }{
		{"/", "text/html", `<script src="app.js"`},
		{"/app.js", "text/javascript", "new EventSource("},
		{"/app.js", "text/javascript", "/v1/conversations/{id}/messages"}, // the generated client's path templates
		{"/style.css", "text/css", "--accent"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d", tc.path, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.typ) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.typ)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
		if !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
	}
}

func TestUnknownPathIsProblem(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/nope"},
		{http.MethodGet, "/missing.js"},
		{http.MethodGet, "/static/"},
		{http.MethodGet, "/../go.mod"},
		{http.MethodPost, "/"},
		{http.MethodDelete, "/app.js"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(rec.Body.String(), `"code":"INVALID_REQUEST"`) {
			t.Errorf("%s %s: %d %q %s", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

// The page must keep working under its CSP and never render data as HTML: the
// sources (web/src) and the bundle never use HTML sinks or inline styles.
func TestNoInlineCodeOrHTMLInjection(t *testing.T) {
	sink := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|\.style\.|setAttribute\('style'`)
	srcs, _ := filepath.Glob("src/*.ts")
	if len(srcs) == 0 {
		t.Fatal("no TypeScript sources in web/src")
	}
	for _, p := range srcs {
		if strings.HasSuffix(p, ".d.ts") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := sink.Find(b); m != nil {
			t.Errorf("%s contains %q", p, m)
		}
	}
	forbidden := map[string]*regexp.Regexp{
		".html": regexp.MustCompile(`(?i)<script>|<script[^>]*>[^<\s]|\sstyle=|<style|\son[a-z]+=|javascript:`),
		".js":   regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|\.style\.|setAttribute\('style'`),
	}
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for ext, re := range forbidden {
			if strings.HasSuffix(path, ext) {
				b, _ := static.ReadFile(path)
				if m := re.Find(b); m != nil {
					t.Errorf("%s contains %q", path, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The page's controls carry the accessible names that users of screen readers
// (and the end-to-end tests, which find controls by role and name) rely on.
func TestAccessibleNames(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<label for="login-client">Client ID</label>`,
		`<button class="primary">Log in</button>`,
		`aria-label="Conversations"`,
		`>New conversation</button>`,
		`<label for="create-members">Members</label>`,
		`<label for="create-name">Name</label>`,
		`<button class="primary">Create</button>`,
		`>Conversation ID</label>`,
		`<button>Open</button>`,
		`role="log" aria-label="Messages"`,
		`role="status"`,
		`>Message</label>`,
		`id="attach" type="file" class="sr-only" aria-label="Attach"`,
		`>Send</button>`,
		`role="alert"`,
		`<summary>Developer log</summary>`,
		`<label for="add-member-id">Add member</label>`,
		`<button>Add</button>`,
		`<label for="rename-name">Rename</label>`,
		`<button>Save</button>`,
		`>Leave</button>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if strings.Contains(page, `<details id="devlog" class="devlog" open`) {
		t.Error("the developer log must be closed by default")
	}
}
