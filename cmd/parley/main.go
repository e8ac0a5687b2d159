// Command parley is the Parley server. `parley` serves; `parley openapi`
// writes the OpenAPI document generated from the code; `parley master-key`
// prints the master key kept in the database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/store"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "openapi" {
		if err := writeOpenAPI(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "parley openapi:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "master-key" {
		err := printMasterKey(os.Args[2:], os.Getenv, os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley master-key:", err)
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

// printMasterKey prints the master key generated on the first start and
// kept in the database (-db, or PARLEY_DB), for the operator who missed the
// printout. It opens the database read-only, beside a running server or not.
func printMasterKey(args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("master-key", flag.ContinueOnError)
	db := fs.String("db", "./data/parley.db", "SQLite database `file` of the server (or PARLEY_DB)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "db" })
	if v := getenv("PARLEY_DB"); v != "" && !given {
		*db = v
	}
	key, ok, err := store.ReadSetting(*db, server.MasterKeySetting)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s keeps no master key: the server was given its key (PARLEY_MASTER_KEY or PARLEY_MASTER_KEY_FILE), or has not started on it yet", *db)
	}
	_, err = fmt.Fprintln(out, key)
	return err
}

func serve(ctx context.Context, cfg *config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if cfg.Pprof != "" {
		servePprof(cfg.Pprof, log)
	}
	srv, err := server.Start(ctx, server.Config{
		Addr: cfg.Addr, DB: cfg.DB, AppID: cfg.AppID, MasterKey: cfg.MasterKey, AuthMode: cfg.AuthMode,
		OfflineGrace: cfg.OfflineGrace, CORSOrigins: cfg.corsOrigins(), CORSMasterKey: cfg.CORSMasterKey, DBSync: cfg.DBSync,
		SessionTTL: cfg.SessionTTL, Heartbeat: cfg.Heartbeat, RoomWindow: cfg.RoomWindow, DisableRecall: !cfg.AllowRecall, Log: log, Out: os.Stdout,
		MaxUpload: int64(cfg.MaxUpload), Retention: cfg.Retention, MetricsAddr: cfg.MetricsAddr, QueryTimeout: cfg.QueryTimeout,
		RateSends: cfg.RateSends, RateLogins: cfg.RateLogins, RateHistory: cfg.RateHistory,
		MaxStreams: cfg.MaxStreams, MaxClientStreams: cfg.ClientStreams, MaxClientSessions: cfg.ClientSessions,
	})
	if err != nil {
		return err
	}
	select {
	case err := <-srv.Wait():
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// servePprof serves the runtime profiles on their own listener, never on the
// API's address: profiling is opt-in and meant for loopback.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		log.Info("pprof listening", "addr", addr)
		if err := http.ListenAndServe(addr, mux); err != nil {
			log.Error("pprof", "err", err)
		}
	}()
}
