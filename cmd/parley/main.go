// Command parley is the Parley server. `parley` serves; `parley openapi`
// writes the OpenAPI document generated from the code; `parley master-key`
// prints the master key kept in the database; `parley import leancloud`
// imports a LeanCloud app's conversations and history.
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
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/parley-im/parley/api"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command: it dispatches the subcommands, or serves until ctx
// ends, and returns the exit code (0; 1 when serving failed; 2 for a bad
// command line).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "openapi":
			err := writeOpenAPI(args[1:], stdout)
			return exitCode(stderr, "parley openapi", err)
		case "master-key":
			err := printMasterKey(args[1:], getenv, stdout)
			return exitCode(stderr, "parley master-key", err)
		case "import":
			err := importCommand(ctx, args[1:], getenv, stdout, stderr)
			return exitCode(stderr, "parley import", err)
		case "version":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "parley version: unexpected argument %q\n", args[1])
				return 2
			}
			fmt.Fprintln(stdout, version())
			return 0
		}
	}
	cfg, err := parseConfigTo(args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, version())
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "parley:", err)
		return 2
	}
	if err := serve(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	return 0
}

// exitCode reports a subcommand's error: none or -h is 0, a bad command
// line 2, a failure 1.
func exitCode(stderr io.Writer, cmd string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, cmd+":", err)
		return 2
	}
	fmt.Fprintln(stderr, cmd+":", err)
	return 1
}

// errUsage marks an error of the command line.
var errUsage = errors.New("usage")

// usageError is a command-line error: flag's, or an argument too many.
type usageError struct{ error }

func (usageError) Is(target error) bool { return target == errUsage }
func (e usageError) Unwrap() error      { return e.error }

// version is the binary's version: its module version (v1.2.3 when built
// by go install at a version, (devel) from a clone), the VCS revision and
// time it was built from when the build recorded them, and Go's version.
func version() string { return versionOf(debug.ReadBuildInfo()) }

func versionOf(info *debug.BuildInfo, ok bool) string {
	v, goVersion := "(devel)", runtime.Version()
	var rev, at string
	modified := false
	if ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	out := "parley " + v
	if rev != "" {
		out += " (revision " + rev
		if at != "" {
			out += ", " + at
		}
		if modified {
			out += ", modified"
		}
		out += ")"
	}
	return out + ", " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// parseSub parses a subcommand's flags: -h writes its usage (head, then
// the flags) to out and returns flag.ErrHelp; a bad flag is a usageError.
func parseSub(fs *flag.FlagSet, args []string, out io.Writer, head string) error {
	fs.SetOutput(io.Discard) // the error is returned, the usage printed on -h only
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(out, head)
		fs.SetOutput(out)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usageError{fmt.Errorf("%w (-h lists the flags)", err)}
	}
	return nil
}

// writeOpenAPI writes openapi.json, openapi.yaml and openapi-3.0.yaml; -h
// writes the usage to stdout.
func writeOpenAPI(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	out := fs.String("out", "openapi", "`directory` to write the documents to (it must exist)")
	if err := parseSub(fs, args, stdout, "Usage: parley openapi [-out dir]\n\nWrites openapi.json, openapi.yaml (OpenAPI 3.1) and openapi-3.0.yaml, generated\nfrom the code.\n\n"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
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
	if err := parseSub(fs, args, out, "Usage: parley master-key [-db file]\n\nPrints the master key the server generated on its first start and keeps in\nits database (read-only; beside a running server or not).\n\n"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
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

func serve(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	logOut := newBufferedLog(stderr)
	defer logOut.close()
	log := slog.New(flushingHandler{slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}), logOut})
	if cfg.Pprof != "" {
		servePprof(cfg.Pprof, log)
	}
	srv, err := server.Start(ctx, server.Config{
		Addr: cfg.Addr, DB: cfg.DB, AppID: cfg.AppID, MasterKey: cfg.MasterKey, AppKey: cfg.AppKey, AuthMode: cfg.AuthMode,
		OfflineGrace: cfg.OfflineGrace, CORSOrigins: cfg.corsOrigins(), CORSMasterKey: cfg.CORSMasterKey, DBSync: cfg.DBSync,
		SessionTTL: cfg.SessionTTL, Heartbeat: cfg.Heartbeat, RoomWindow: cfg.RoomWindow, DisableRecall: !cfg.AllowRecall, Log: log, Out: stdout,
		MaxUpload: int64(cfg.MaxUpload), Retention: cfg.Retention, MetricsAddr: cfg.MetricsAddr, QueryTimeout: cfg.QueryTimeout,
		RateSends: cfg.RateSends, RateLogins: cfg.RateLogins, RateHistory: cfg.RateHistory,
		MaxStreams: cfg.MaxStreams, MaxClientStreams: cfg.ClientStreams, MaxClientSessions: cfg.ClientSessions,
		AccessLog: cfg.AccessLog, Push: cfg.Push,
		HooksURL: cfg.HooksURL, HookKey: cfg.HookKey, HooksTimeout: cfg.HooksTimeout, HooksFailClosed: cfg.HooksFail == "closed",
	})
	if err != nil {
		return err
	}
	logStart(log, cfg, srv)
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

// logStart says what the server runs with: its version, auth mode,
// database and sync mode, where the master key came from (never the key)
// and each setting that is not its default.
func logStart(log *slog.Logger, cfg *config, srv *server.Server) {
	key := "from database" // generated by an earlier start
	switch {
	case cfg.MasterKeyFile != "":
		key = "from file"
	case cfg.MasterKey != "":
		key = "given"
	case srv.MasterKeyGenerated:
		key = "generated"
	}
	var settings []any
	for i := 0; i+1 < len(cfg.nonDefault); i += 2 {
		settings = append(settings, slog.String(cfg.nonDefault[i], cfg.nonDefault[i+1]))
	}
	log.Info("parley started", "version", version(), "addr", srv.Addr.String(), "auth_mode", cfg.AuthMode,
		"db", cfg.DB, "db_sync", cfg.DBSync, "master_key", key, "access_log", cfg.AccessLog,
		slog.Group("settings", settings...))
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
