// Package web is the built-in demo: a chat client in one page, embedded in
// the binary. Its TypeScript sources (src/) are bundled by esbuild into
// static/app.js, which is committed, so that building Parley needs no Node;
// bundle_test.go fails when the bundle is stale. See package.json.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// csp allows only the page's own files: no inline script or style, no
// third-party origin. The demo renders all data as text, never as HTML.
const csp = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the demo's files. Any other path or method is answered with
// the API's problem document (404 INVALID_REQUEST), so that the demo, mounted
// as the catch-all route, never turns a mistyped API call into a plain-text
// page.
func Handler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead || !isFile(sub, name) {
			notFound(w, r)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func isFile(fsys fs.FS, name string) bool {
	if !fs.ValidPath(name) {
		return false
	}
	st, err := fs.Stat(fsys, name)
	return err == nil && !st.IsDir()
}

func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]any{
		"title":  http.StatusText(http.StatusNotFound),
		"status": http.StatusNotFound,
		"code":   "INVALID_REQUEST",
		"detail": "no such endpoint: " + r.Method + " " + r.URL.Path,
	})
}
