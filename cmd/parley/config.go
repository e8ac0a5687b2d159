package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// config is every server setting; each is a flag and a PARLEY_* variable
// (the flag's name in upper case with - as _). A flag given on the command
// line wins over the environment.
type config struct {
	Addr         string
	DB           string
	AppID        string
	MasterKey    string
	AuthMode     string
	OfflineGrace time.Duration
	CORSOrigins  string
	DBSync       string
	SessionTTL   time.Duration
	Heartbeat    time.Duration
	RoomWindow   time.Duration
	LogLevel     string
	Pprof        string
	MaxUpload    byteSize
	Retention    time.Duration
	AllowRecall  bool
	QueryTimeout time.Duration
}

func parseConfig(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.DB, "db", "./data/parley.db", "SQLite database file, created on first start")
	fs.StringVar(&c.AppID, "app-id", "parley", "application id, used in signatures")
	fs.StringVar(&c.MasterKey, "master-key", "", "master key (default: generated on first start, kept in the database, printed once)")
	fs.StringVar(&c.AuthMode, "auth-mode", "open", "login mode: open, signature or jwt")
	fs.DurationVar(&c.OfflineGrace, "offline-grace", 10*time.Second, "how long a dropped stream keeps its session online")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "*", "origins browser apps may call from (comma list)")
	fs.StringVar(&c.DBSync, "db-sync", "full", "SQLite synchronous mode: full (a 201 survives power loss) or normal (survives a crash)")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 7*24*time.Hour, "lifetime of a session and its token")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 15*time.Second, "interval of heartbeat comments on idle streams")
	fs.DurationVar(&c.RoomWindow, "room-window", 50*time.Millisecond, "a busy chat room's messages reach each stream at most once per window, several to a write")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.AllowRecall, "allow-recall", true, "let senders (and the master key) recall messages")
	c.MaxUpload = 20 << 20
	fs.Var(&c.MaxUpload, "max-upload", "`size` limit of one uploaded file, in bytes or with a unit (KiB, MiB, GiB, KB, MB, GB)")
	fs.DurationVar(&c.Retention, "retention", 180*24*time.Hour, "how long messages are kept before a background job purges them; 0 keeps them for ever")
	fs.DurationVar(&c.QueryTimeout, "query-timeout", 2*time.Second, "how long a conversation query may run before it is interrupted and answers INVALID_QUERY")
	fs.StringVar(&c.Pprof, "pprof", "", "serve net/http/pprof on this separate address (e.g. 127.0.0.1:6060); off when empty")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := "PARLEY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch c.AuthMode {
	case "open", "signature", "jwt":
	default:
		return nil, fmt.Errorf("auth-mode must be open, signature or jwt, not %q", c.AuthMode)
	}
	if c.OfflineGrace <= 0 || c.SessionTTL <= 0 || c.Heartbeat <= 0 || c.RoomWindow <= 0 || c.QueryTimeout <= 0 {
		return nil, fmt.Errorf("offline-grace, session-ttl, heartbeat, room-window and query-timeout must be positive")
	}
	if c.MaxUpload <= 0 {
		return nil, fmt.Errorf("max-upload must be positive")
	}
	if c.Retention < 0 {
		return nil, fmt.Errorf("retention must not be negative (0 keeps messages for ever)")
	}
	if c.DB == "" {
		// SQLite would open a temporary database and lose everything on exit.
		return nil, fmt.Errorf("db must name a file")
	}
	switch c.DBSync {
	case "full", "normal":
	default:
		return nil, fmt.Errorf("db-sync must be full or normal, not %q", c.DBSync)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return c, nil
}

func (c *config) corsOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
