// Command parley is the Parley server. `parley` serves; `parley openapi`
// writes the OpenAPI document generated from the code.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/store"
	"github.com/parley-im/parley/web"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "openapi" {
		if err := writeOpenAPI(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "parley openapi:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

// writeOpenAPI writes openapi.json, openapi.yaml and openapi-3.0.yaml.
func writeOpenAPI(args []string) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	out := fs.String("out", "openapi", "directory to write the documents to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, body := range api.New(api.Options{}).SpecFiles() {
		if err := os.WriteFile(filepath.Join(*out, name), body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func serve(ctx context.Context, cfg *config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	db, err := store.Open(cfg.DB, store.Options{Synchronous: cfg.DBSync})
	if err != nil {
		return err
	}
	defer db.Close()

	masterKey := cfg.MasterKey
	if masterKey == "" {
		key, created, err := db.SettingOrInit(ctx, "master_key", func() string { return randomHex(24) })
		if err != nil {
			return err
		}
		if created {
			// Printed once, on the start that generated it.
			fmt.Printf("parley: generated master key (shown once; it is kept in %s): %s\n", cfg.DB, key)
		}
		masterKey = key
	}
	secret, _, err := db.SettingOrInit(ctx, "jwt_secret", func() string { return randomHex(32) })
	if err != nil {
		return err
	}

	hub := events.NewHub(events.Options{OfflineGrace: cfg.OfflineGrace})
	svc := handlers.New(handlers.Config{
		AppID: cfg.AppID, MasterKey: masterKey, AuthMode: cfg.AuthMode,
		SessionTTL: cfg.SessionTTL, JWTSecret: []byte(secret),
	}, db, hub, log)
	srv := api.New(api.Options{
		Service: svc, Hub: hub, DB: db, Log: log,
		CORSOrigins: cfg.corsOrigins(), Heartbeat: cfg.Heartbeat, Web: web.Handler(),
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: event streams are long-lived; each stream write
		// has its own deadline instead.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Printf("parley: listening on %s (database %s)\n", ln.Addr(), cfg.DB)
	served := make(chan error, 1)
	go func() { served <- httpServer.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Refuse new connections at once, end every stream cleanly (a final
	// flush, then EOF, so clients resume elsewhere), let in-flight requests
	// finish, then commit what the writer still holds (db.Close, deferred).
	srv.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- httpServer.Shutdown(shutdownCtx) }()
	hub.Close()
	if err := <-done; err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	log.Info("stopped")
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
