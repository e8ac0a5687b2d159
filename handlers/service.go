// Package handlers holds Parley's IM rules: one file per resource, each
// operation a method of Service that takes the caller and plain arguments and
// returns plain results or an *Error. Nothing here knows about HTTP.
//
// The rules hand code to the packages below them, which call it on their
// own goroutines (their package documents say what such code may not do):
//
//   - A store.DB.Write's fn runs on the store's writer goroutine; the
//     conversation cache (convcache.go) is confined to it: fn reads and
//     fills it, and DB.OnReset empties it there when a transaction is lost.
//   - A Write's after func publishes the write's events, on the store's
//     announcer goroutine in commit order: the hub never blocks, and after
//     never writes to the database itself; work that does (a receipt, a
//     will) starts a goroutine.
//   - receiptHook is an event's events.Event.OnWritten: it runs on a stream
//     writer or a hub worker, so confirmDelivered's write runs on a
//     goroutine of its own.
//   - SessionGone is what the server's events.Options.OnGone runs, on a
//     goroutine the server starts (and its shutdown waits for), not on the
//     hub's janitor.
package handlers

import (
	"cmp"
	"context"
	"crypto/subtle"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/store"
)

// Config is the part of the server settings the rules depend on.
type Config struct {
	AppID      string
	MasterKey  string
	AuthMode   string        // open, signature, jwt
	SessionTTL time.Duration // lifetime of a session and its token
	JWTSecret  []byte        // signs session tokens
	Now        func() time.Time
	// FilesDir is where uploaded files are kept (empty: uploads fail).
	FilesDir string
	// MaxUpload is the size limit of one uploaded file (default DefaultMaxUpload).
	MaxUpload int64
	// DisableRecall refuses message recall.
	DisableRecall bool
	// Rate limits a minute (0: off): sends and history reads per client
	// across its sessions, logins per IP address.
	RateSends, RateLogins, RateHistory int
	// MaxSessionsPerClient bounds a client's live sessions (default
	// DefaultMaxSessionsPerClient): a login beyond it ends the oldest.
	MaxSessionsPerClient int
	// QueryTimeout is how long a conversation query may run (default
	// DefaultQueryTimeout).
	QueryTimeout time.Duration
	// Registerer is where the rules' metrics are registered (nil: nowhere;
	// they still count). A server passes its own.
	Registerer prometheus.Registerer
	// Push turns offline push on (nil: off).
	Push *PushConfig
	// Hooks calls the app's hook server (nil: no hooks; see hooks.go).
	Hooks *hooks.Client
	// HookContent converts content to LeanCloud's form and back for the
	// hooks (nil: Parley's own JSON). The server sets leancloud.HookContent.
	HookContent HookContent
}

// Limits of the contract.
const (
	MaxClientIDLen      = 64
	MaxNormalMembers    = 500
	MaxContentBytes     = 5120
	MaxAttributesBytes  = 16 << 10
	DefaultHistoryLimit = 20
	MaxHistoryLimit     = 1000
	MaxClientMessageID  = 128
	MaxConversationName = 1024
	maxTagLen           = 64
	// DefaultMaxSessionsPerClient is how many live sessions a client keeps
	// by default: devices and tabs, with room to spare.
	DefaultMaxSessionsPerClient = 64
	defaultSessionTTLDay        = 7
)

// Service implements the operations.
type Service struct {
	cfg Config
	db  *store.DB
	hub *events.Hub
	log *slog.Logger
	now func() time.Time

	sessions   sync.Map // session id → *sessionState
	tokens     sync.Map // token → verifiedToken
	tokenCount atomic.Int64
	// sessionCount counts the entries of sessions, to bound it.
	sessionCount atomic.Int64
	cache        *convCache
	words        atomic.Pointer[wordFilter] // nil until a list is set

	sendLimit, loginLimit, historyLimit *limiter // nil: off

	queries      *querySlots // see queryslots.go
	queryTimeout time.Duration

	push   *pusher       // nil: offline push is off (push.go)
	hooks  *hooks.Client // nil: no hooks
	online sync.Map      // session id → onlineSession, those _clientOnline told of

	// probeAfter is how long after a write failed on a full disk Ready
	// tries a write itself (DiskFullRetry).
	probeAfter time.Duration
}

// New wires a Service.
func New(cfg Config, db *store.DB, hub *events.Hub, log *slog.Logger) *Service {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = defaultSessionTTLDay * 24 * time.Hour
	}
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.MaxSessionsPerClient <= 0 {
		cfg.MaxSessionsPerClient = DefaultMaxSessionsPerClient
	}
	rateLimited := newRateLimited(cfg.Registerer)
	s := &Service{cfg: cfg, db: db, hub: hub, log: log, now: now, cache: newConvCache(10_000), probeAfter: DiskFullRetry, hooks: cfg.Hooks,
		sendLimit:    newLimiter(limitSends, cfg.RateSends, rateLimited),
		loginLimit:   newLimiter(limitLogins, cfg.RateLogins, rateLimited),
		historyLimit: newLimiter(limitHistory, cfg.RateHistory, rateLimited),
	}
	s.push = newPusher(cfg.Push, cfg.Registerer)
	s.queryTimeout = cmp.Or(max(cfg.QueryTimeout, 0), DefaultQueryTimeout)
	readers := 4
	if db != nil {
		db.OnReset(s.cache.reset)
		readers = db.Readers()
	}
	s.queries = newQuerySlots(readers, s.queryTimeout)
	return s
}

// Principal is who makes a request: a client's session, or the application's
// backend holding the master key.
type Principal struct {
	ClientID  string
	SessionID string
	Master    bool
	// IP is the address the request came from (hooks' sourceIP), if known.
	IP string
}

// CheckMasterKey compares a presented master key in constant time.
func (s *Service) CheckMasterKey(key string) bool {
	return key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.MasterKey)) == 1
}

func (s *Service) nowMs() int64 { return s.now().UnixMilli() }

// bg is the context of work done inside a write transaction, which the
// writer runs to completion whatever happens to the request.
var bg = context.Background()

// publish encodes data once and appends it to the event logs of the given
// clients' sessions, except the session named by except.
func (s *Service) publish(name events.Name, data any, to []string, except string) {
	ev, err := events.New(name, data)
	if err != nil {
		s.log.Error("encode event", "event", name, "err", err)
		return
	}
	s.hub.Publish(ev, to, except)
}
