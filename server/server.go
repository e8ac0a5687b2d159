// Package server wires Parley together — store, hub, rules, HTTP surface —
// and runs it until its context ends, shutting down in the order that loses
// nothing. cmd/parley runs it; tests start it on a loopback port.
package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/store"
	"github.com/parley-im/parley/web"
)

// Config is every server setting (README, "Configuration").
type Config struct {
	Addr         string
	DB           string
	AppID        string
	MasterKey    string // empty: generated on first start and kept in the database; else at least MinMasterKeyLen characters
	AuthMode     string
	OfflineGrace time.Duration
	CORSOrigins  []string
	// CORSMasterKey allows browsers to send X-Master-Key cross-origin.
	CORSMasterKey bool
	DBSync        string
	SessionTTL    time.Duration
	Heartbeat     time.Duration
	// RoomWindow paces busy chat rooms (default 50 ms; see events.Options).
	RoomWindow time.Duration
	Log        *slog.Logger
	// MaxUpload is the size limit of one uploaded file (default 20 MiB);
	// files are kept in files/ beside the database file.
	MaxUpload int64
	// Retention is how long messages are kept (0: for ever); a background
	// job purges older ones shortly after start and then hourly.
	Retention time.Duration
	// DisableRecall refuses message recall.
	DisableRecall bool
	// QueryTimeout is how long a conversation query may run (default 2 s;
	// see handlers.Config).
	QueryTimeout time.Duration
	// Now is the clock (default time.Now); tests inject their own to cross
	// hours-long rules in milliseconds.
	Now func() time.Time
	// Rate limits a minute (0: off): sends and history reads per client,
	// logins per IP address.
	RateSends, RateLogins, RateHistory int
	// MaxStreams bounds the event streams open at once (0: from the file
	// descriptor limit, see DefaultMaxStreams); MaxClientStreams one
	// client's (0: 32); MaxClientSessions a client's live sessions (0: 64).
	MaxStreams, MaxClientStreams, MaxClientSessions int
	// PlainSend serves every send through the operation's general request
	// machinery instead of its fast path (tests compare the two).
	PlainSend bool
	// MetricsAddr, when set, is the address /metrics is served on instead
	// of Addr (which then answers it 404), so that it can stay private.
	MetricsAddr string
	// Registerer is where the server's metrics are registered (default
	// prometheus.DefaultRegisterer, which /metrics serves as
	// promhttp.Handler does). Servers on one registry share its series:
	// give each server in a process a registry of its own
	// (prometheus.NewRegistry()) to keep their counts apart. /metrics then
	// serves Gatherer, by default the Registerer itself, which must then be
	// a Gatherer too (as a *prometheus.Registry is).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Out receives the lines meant for the operator (listening address, a
	// generated master key).
	Out io.Writer
}

// Server is a started Parley.
type Server struct {
	Addr      net.Addr
	MasterKey string
	// MetricsAddr is where /metrics is served when Config.MetricsAddr is
	// set (nil otherwise: on Addr).
	MetricsAddr net.Addr

	cfg  Config
	log  *slog.Logger
	db   *store.DB
	hub  *events.Hub
	svc  *handlers.Service
	api  *api.Server
	http *http.Server
	ln   net.Listener
	done chan error

	metrics     *http.Server // nil: /metrics is served on Addr
	metricsDone chan error

	shutdownOnce   sync.Once
	shutdownErr    error
	stopBackground context.CancelFunc
	background     sync.WaitGroup
}

// Start opens the database and starts serving.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if err := CheckMasterKey(cfg.MasterKey); err != nil {
		return nil, err
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.DefaultRegisterer
	}
	if cfg.Gatherer == nil && cfg.Registerer != prometheus.DefaultRegisterer {
		g, ok := cfg.Registerer.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("server: the metrics Registerer is no Gatherer: set Config.Gatherer to what /metrics serves")
		}
		cfg.Gatherer = g
	}
	s := &Server{cfg: cfg, log: cfg.Log}
	db, err := store.Open(cfg.DB, store.Options{Synchronous: cfg.DBSync, Log: cfg.Log, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	s.db = db
	// Listen before a master key is generated: a start that cannot listen
	// (the port is taken) must not keep a key it never showed.
	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.Addr = s.ln.Addr()
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			s.ln.Close()
			db.Close()
			return nil, fmt.Errorf("metrics: %w", err)
		}
		s.MetricsAddr = metricsLn.Addr()
	}
	generated, err := s.init(ctx)
	if err != nil {
		if s.hub != nil {
			s.hub.Close()
		}
		if metricsLn != nil {
			metricsLn.Close()
		}
		s.ln.Close()
		db.Close()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: event streams are long-lived; each stream write
		// has its own deadline instead.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if generated {
		fmt.Fprintf(cfg.Out, "parley: generated master key (shown once; it is kept in %s): %s\n", cfg.DB, s.MasterKey)
	}
	fmt.Fprintf(cfg.Out, "parley: listening on %s (database %s)\n", s.Addr, cfg.DB)
	s.done = make(chan error, 1)
	go func() { s.done <- s.http.Serve(s.ln) }()
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", api.MetricsHandler(cfg.Registerer, cfg.Gatherer))
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		s.metricsDone = make(chan error, 1)
		go func() { s.metricsDone <- s.metrics.Serve(metricsLn) }()
		s.log.Info("metrics listening", "addr", s.MetricsAddr.String())
	}
	bg, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		s.svc.RunSweeper(bg, time.Minute)
	}()
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		s.svc.RunRetention(bg, cfg.Retention, retentionFirst, time.Hour)
	}()
	return s, nil
}

// init builds the server's parts on the open database; generated reports
// that the master key was generated now, for Start to print once the
// server listens.
func (s *Server) init(ctx context.Context) (generated bool, err error) {
	cfg := s.cfg
	s.MasterKey = cfg.MasterKey
	if s.MasterKey == "" {
		s.MasterKey, generated, err = s.db.SettingOrInit(ctx, MasterKeySetting, func() string { return randomHex(24) })
		if err != nil {
			return false, err
		}
	}
	secret, _, err := s.db.SettingOrInit(ctx, "jwt_secret", func() string { return randomHex(32) })
	if err != nil {
		return false, err
	}
	maxStreams := cfg.MaxStreams
	if maxStreams <= 0 {
		maxStreams = DefaultMaxStreams()
	}
	s.hub = events.NewHub(events.Options{OfflineGrace: cfg.OfflineGrace, Now: cfg.Now, RoomWindow: cfg.RoomWindow,
		MaxStreams: maxStreams, MaxStreamsPerClient: cmp.Or(cfg.MaxClientStreams, 32), Registerer: cfg.Registerer,
		// A session gone past the grace dropped abruptly: send its will.
		// Shutdown waits for these sends before it closes the database.
		OnGone: func(sessionID, clientID string) {
			s.background.Add(1)
			go func() {
				defer s.background.Done()
				s.svc.SessionGone(context.Background(), sessionID, clientID)
			}()
		},
	})
	s.svc = handlers.New(handlers.Config{
		AppID: cfg.AppID, MasterKey: s.MasterKey, AuthMode: cfg.AuthMode,
		SessionTTL: cfg.SessionTTL, JWTSecret: []byte(secret), Now: cfg.Now,
		FilesDir: filepath.Join(filepath.Dir(cfg.DB), "files"), MaxUpload: cfg.MaxUpload, DisableRecall: cfg.DisableRecall,
		RateSends: cfg.RateSends, RateLogins: cfg.RateLogins, RateHistory: cfg.RateHistory,
		MaxSessionsPerClient: cfg.MaxClientSessions, QueryTimeout: cfg.QueryTimeout, Registerer: cfg.Registerer,
	}, s.db, s.hub, s.log)
	if err := s.svc.PrepareFiles(); err != nil {
		return false, err
	}
	if err := s.svc.RestoreWills(ctx); err != nil {
		return false, err
	}
	if err := s.svc.LoadSensitiveWords(ctx); err != nil {
		return false, err
	}
	s.api = api.New(api.Options{
		Service: s.svc, Hub: s.hub, Log: s.log,
		CORSOrigins: cfg.CORSOrigins, CORSMasterKey: cfg.CORSMasterKey, Heartbeat: cfg.Heartbeat, Web: web.Handler(),
		MetricsElsewhere: cfg.MetricsAddr != "", PlainSend: cfg.PlainSend,
		Registerer: cfg.Registerer, Gatherer: cfg.Gatherer,
	})
	return generated, nil
}

// MinMasterKeyLen is the length, in characters, a master key must have at
// least: it keys every signature and login token of the app.
const MinMasterKeyLen = 16

// MasterKeySetting is the settings key under which a generated master key
// is kept in the database (`parley master-key` reads it).
const MasterKeySetting = "master_key"

// CheckMasterKey refuses a given master key too short to be a secret
// (empty is none given: one is generated).
func CheckMasterKey(key string) error {
	if n := utf8.RuneCountInString(key); key != "" && n < MinMasterKeyLen {
		return fmt.Errorf("the master key must be at least %d characters long, not %d", MinMasterKeyLen, n)
	}
	return nil
}

// retentionFirst is when the first retention purge runs after start.
const retentionFirst = 30 * time.Second

// DB is the server's database (tests seed it directly).
func (s *Server) DB() *store.DB { return s.db }

// Hub is the server's event hub (tests drive its janitor with Sweep).
func (s *Server) Hub() *events.Hub { return s.hub }

// Service is the server's rules (tests call the sweeper directly).
func (s *Server) Service() *handlers.Service { return s.svc }

// Wait blocks until the server stops serving on its own (a listener error).
func (s *Server) Wait() <-chan error { return s.done }

// Shutdown stops the server without losing anything: new connections are
// refused at once, every stream ends cleanly (a final flush, then EOF, so
// clients resume elsewhere), in-flight requests finish, and the writer
// commits what it still holds before the database closes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.api.Drain()
	done := make(chan error, 1)
	go func() { done <- s.http.Shutdown(ctx) }()
	s.hub.Close()
	err := <-done
	// Streams taken over from net/http are not part of its shutdown: wait
	// for them to write their last frames.
	err = errors.Join(err, s.api.WaitStreams(ctx))
	s.stopBackground()
	s.background.Wait()
	if e := <-s.done; e != nil && !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	if s.metrics != nil {
		err = errors.Join(err, s.metrics.Shutdown(ctx))
		if e := <-s.metricsDone; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
	}
	return errors.Join(err, s.db.Close())
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
