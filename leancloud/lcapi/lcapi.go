// Package lcapi is LeanCloud's IM server REST API (`/1.2/rtm/...`, and the
// `/1.1` prefix its SDKs call) on Parley's rules: LeanCloud's headers,
// field names, `{code, error}` bodies and numeric codes (LEANCLOUD.md §1),
// translated onto the operations of handlers.Service, called with the
// master key's Principal. No IM rule lives here: this package only
// translates requests in and answers out.
//
// What is served: §1.2–§1.4 (routes.go), clients (clients.go), the global
// endpoints (global.go), the legacy /1.1 API and the SDKs' own /1.1
// endpoints (v11.go, each a rewrite onto its /1.2 counterpart);
// docs/leancloud-rest.md lists them. What Parley cannot do answers
// HTTP 501 with code 4308 naming the feature, and every other path under
// the mounted prefixes notSupported: never a silent success.
package lcapi

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
)

// Options configures the API.
type Options struct {
	Service *handlers.Service
	// AppID is PARLEY_APP_ID, which X-LC-Id must equal.
	AppID string
	// AppKey and MasterKey are the keys X-LC-Key and X-LC-Sign carry.
	AppKey, MasterKey string
	// Now is the clock X-LC-Sign's timestamp is checked against (default
	// time.Now).
	Now func() time.Time
	Log *slog.Logger
	// BrowserMasterKey accepts the master key in cross-origin requests
	// (PARLEY_CORS_MASTER_KEY; see errMasterFromBrowser).
	BrowserMasterKey bool
}

// SignWindow is how far an X-LC-Sign timestamp may be from the server's
// clock, either way.
const SignWindow = 15 * time.Minute

// API serves LeanCloud's IM REST API.
type API struct {
	opt Options
}

// New builds the API.
func New(opt Options) *API {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &API{opt: opt}
}

// Mounts are the API's routers by the prefix each is mounted at (chi's
// Mount: each router sees the path below its prefix).
func (a *API) Mounts() map[string]http.Handler {
	return map[string]http.Handler{"/1.2": a.v12(), "/1.1": a.v11()}
}

func (a *API) base() chi.Router {
	r := chi.NewRouter()
	r.Use(a.authenticate)
	r.NotFound(notSupported)
	r.MethodNotAllowed(notSupported)
	return r
}

// v12 is /1.2: §1.2 of LEANCLOUD.md, the core so far.
func (a *API) v12() http.Handler {
	r := a.base()
	r.Route("/rtm/conversations", func(r chi.Router) {
		r.Use(masterOnly, a.onlyKinds(normalKinds))
		r.Post("/", a.createConversation)
		r.Get("/", a.queryConversations)
		r.Get("/{id}", a.getConversation)
		r.Put("/{id}", a.updateConversation)
		r.Post("/{id}/members", a.addMembers)
		r.Delete("/{id}/members", a.removeMembers)
		r.Post("/{id}/messages", a.sendMessage)
		r.Get("/{id}/messages", a.history)
		a.conversationRoutes(r)
		r.NotFound(notSupported)
		r.MethodNotAllowed(notSupported)
	})
	r.Route("/rtm/chatrooms", a.chatrooms)
	r.Route("/rtm/service-conversations", a.serviceConversations)
	r.Route("/rtm/clients", a.clientRoutes) // clients.go
	a.globalRoutes(r)                       // global.go
	return r
}

// v11 is /1.1: the legacy API and the SDKs' own endpoints (v11.go).
func (a *API) v11() http.Handler {
	r := a.base()
	a.v11Routes(r)
	return r
}

// level is what a request's credentials allow.
type level int

const (
	levelNone   level = iota
	levelApp          // the app key
	levelMaster       // the master key
)

type ctxKey struct{}

// Header names: LeanCloud's, and the legacy ones LeanEngine's middleware
// still reads (LEANCLOUD.md §1.1).
var (
	idHeaders   = []string{"X-LC-Id", "X-AVOSCloud-Application-Id"}
	keyHeaders  = []string{"X-LC-Key", "X-AVOSCloud-Application-Key"}
	signHeaders = []string{"X-LC-Sign", "X-AVOSCloud-Request-Sign"}
)

func header(r *http.Request, names []string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// authenticate reads LeanCloud's credentials: the app id, then a request
// sign, else a key (`key` or `key,master`), else the legacy master key
// header. Anything wrong or missing answers 401.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lvl := levelNone
		if id := header(r, idHeaders); id != "" && equal(id, a.opt.AppID) {
			lvl = a.credentials(r)
		}
		if lvl == levelNone {
			writeError(w, errUnauthorized)
			return
		}
		if lvl == levelMaster && fromBrowser(r) && !a.opt.BrowserMasterKey {
			writeError(w, errMasterFromBrowser)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, lvl)))
	})
}

func (a *API) credentials(r *http.Request) level {
	if sign := header(r, signHeaders); sign != "" {
		return a.checkSign(sign)
	}
	if key := header(r, keyHeaders); key != "" {
		if k, ok := strings.CutSuffix(key, ",master"); ok {
			if equal(k, a.opt.MasterKey) {
				return levelMaster
			}
			return levelNone
		}
		if equal(key, a.opt.AppKey) {
			return levelApp
		}
		return levelNone
	}
	if key := r.Header.Get("X-AVOSCloud-Master-Key"); key != "" && equal(key, a.opt.MasterKey) {
		return levelMaster
	}
	return levelNone
}

// checkSign checks `md5(timestamp+key),timestamp[,master]`: the md5 in
// lower-case hex, the timestamp in ms within SignWindow of now.
func (a *API) checkSign(v string) level {
	parts := strings.Split(v, ",")
	lvl, key := levelApp, a.opt.AppKey
	switch {
	case len(parts) == 3 && parts[2] == "master":
		lvl, key = levelMaster, a.opt.MasterKey
	case len(parts) != 2:
		return levelNone
	}
	ts, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return levelNone
	}
	if d := a.opt.Now().Sub(time.UnixMilli(ts)); d > SignWindow || d < -SignWindow {
		return levelNone
	}
	sum := md5.Sum([]byte(parts[1] + key))
	if !equal(strings.ToLower(parts[0]), hex.EncodeToString(sum[:])) {
		return levelNone
	}
	return lvl
}

// equal compares secrets in constant time; an empty expected value matches
// nothing.
func equal(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// masterOnly refuses the app key.
func masterOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lvl, _ := r.Context().Value(ctxKey{}).(level); lvl != levelMaster {
			writeError(w, errMasterRequired)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// principal is the master key's, from the request's address.
func principal(r *http.Request) handlers.Principal {
	return handlers.Principal{Master: true, IP: handlers.PeerIP(r.RemoteAddr)}
}
