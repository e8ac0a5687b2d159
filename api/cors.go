package api

import (
	"net/http"
	"slices"
	"strings"
)

const (
	corsAllowHeaders = "Authorization, Content-Type, Last-Event-ID"
	corsAllowMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
)

// cors lets browser apps on the allowed origins call the API. No cookies
// are used, so credentials are never allowed. X-Master-Key is allowed only
// when masterKey says so: the master key belongs on the app's servers, and
// no browser app (the demo included) needs it. extra are further headers
// to allow (the LeanCloud-compatible API's; that API keeps the master key
// out of browsers itself, since its X-LC-Key carries either key).
func cors(origins []string, masterKey bool, extra []string) func(http.Handler) http.Handler {
	any := len(origins) == 0 || slices.Contains(origins, "*")
	allowHeaders := corsAllowHeaders
	if masterKey {
		allowHeaders += ", X-Master-Key"
	}
	for _, h := range extra {
		allowHeaders += ", " + h
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin")
			allowed := any || slices.ContainsFunc(origins, func(o string) bool { return strings.EqualFold(o, origin) })
			if allowed {
				if any {
					h.Set("Access-Control-Allow-Origin", "*")
				} else {
					h.Set("Access-Control-Allow-Origin", origin)
				}
				h.Set("Access-Control-Expose-Headers", "Retry-After, Location, X-Request-Id")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if allowed {
					h.Set("Access-Control-Allow-Methods", corsAllowMethods)
					h.Set("Access-Control-Allow-Headers", allowHeaders)
					h.Set("Access-Control-Max-Age", "600")
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
