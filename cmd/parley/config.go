package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/server"
)

// config is every server setting; each is a flag and a PARLEY_* variable
// (the flag's name in upper case with - as _). A flag given on the command
// line wins over the environment.
type config struct {
	Addr           string
	DB             string
	AppID          string
	MasterKey      string
	MasterKeyFile  string // read into MasterKey by parseConfig
	AppKey         string
	AuthMode       string
	OfflineGrace   time.Duration
	CORSOrigins    string
	CORSMasterKey  bool
	DBSync         string
	SessionTTL     time.Duration
	Heartbeat      time.Duration
	RoomWindow     time.Duration
	LogLevel       string
	Pprof          string
	MetricsAddr    string
	MaxUpload      byteSize
	Retention      time.Duration
	AllowRecall    bool
	QueryTimeout   time.Duration
	RateSends      int
	RateLogins     int
	RateHistory    int
	MaxStreams     int
	ClientStreams  int
	ClientSessions int
	AccessLog      bool
	Push           server.PushSettings
	HooksURL       string
	HookKey        string
	HooksTimeout   time.Duration
	HooksFail      string

	// nonDefault lists the settings given a value other than their default
	// (flag name and value, secrets masked), for the start's log line.
	nonDefault []string
}

const usage = `Usage:
  parley [flags]                 serve
  parley master-key [-db file]   print the master key kept in the database
  parley openapi [-out dir]      write the OpenAPI documents
  parley import leancloud ...    import a LeanCloud app (parley import leancloud -h)
  parley version                 print the version (as does parley -version)

Every flag is also an environment variable, shown beside it: PARLEY_ and
the flag's name in upper case, - as _. A flag given wins over the variable.
Durations are written 10s, 5m, 168h (units ns, us, ms, s, m, h).

Flags:
`

// errVersion is parseConfig's answer to -version.
var errVersion = errors.New("version asked for")

// noEnv are the flags without an environment variable.
var noEnv = map[string]bool{"version": true}

// secretFlags are the settings whose values are never shown.
var secretFlags = map[string]bool{"master-key": true, "hook-key": true, "app-key": true}

// envName is the variable of a flag.
func envName(flag string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// durationFlag is a time.Duration flag whose error says what a duration
// looks like.
type durationFlag time.Duration

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a duration: write a number and a unit, e.g. 10s, 5m, 168h")
	}
	*d = durationFlag(v)
	return nil
}

// String is the duration as Go writes it, without zero minutes and seconds
// after hours (168h, not 168h0m0s).
func (d *durationFlag) String() string {
	s := time.Duration(*d).String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
		if t, ok := strings.CutSuffix(s, "h0m"); ok {
			s = t + "h"
		}
	}
	return s
}

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationFlag)(p), name, usage)
}

// printUsage writes the usage: the commands, then each flag with its
// variable, meaning and default.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	fs.VisitAll(func(f *flag.Flag) {
		typ, meaning := flag.UnquoteUsage(f)
		switch f.Value.(type) {
		case *durationFlag:
			typ = "duration"
		case *byteSize:
			if typ == "value" {
				typ = "size"
			}
		}
		line := "  -" + f.Name
		if typ != "" {
			line += " " + typ
		}
		if !noEnv[f.Name] {
			line += "  (" + envName(f.Name) + ")"
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			if typ == "string" {
				meaning += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				meaning += " (default " + f.DefValue + ")"
			}
		}
		fmt.Fprintln(w, "    \t"+strings.ReplaceAll(meaning, "\n", "\n    \t"))
	})
}

func parseConfig(args []string, getenv func(string) string) (*config, error) {
	return parseConfigTo(args, getenv, os.Stderr)
}

// parseConfigTo is parseConfig writing the usage asked for with -h to out.
// A bad flag is an error that says so; the usage is not repeated with it.
func parseConfigTo(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // flag's own messages: the error is returned
	fs.Usage = func() {}
	var version bool
	fs.BoolVar(&version, "version", false, "print the version and exit")
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.DB, "db", "./data/parley.db", "SQLite database file, created on first start")
	fs.StringVar(&c.AppID, "app-id", "parley", "application id, used in signatures")
	fs.StringVar(&c.MasterKey, "master-key", "", "master key, at least 16 characters (default: generated on first start, kept in the database, printed once the server listens; parley master-key prints it again)")
	fs.StringVar(&c.AppKey, "app-key", "", "LeanCloud's app key for the compatible API (X-LC-Key), at least 16 characters (default: generated on first start, kept in the database, printed once the server listens)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "", "read the master key from this `file` (trailing whitespace trimmed); keeps it out of ps")
	fs.StringVar(&c.AuthMode, "auth-mode", "open", "login mode: open, signature or jwt")
	durationVar(fs, &c.OfflineGrace, "offline-grace", 10*time.Second, "how long a dropped stream keeps its session online")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "*", "origins browser apps may call from (comma list)")
	fs.BoolVar(&c.CORSMasterKey, "cors-master-key", false, "let those browser apps send the master key: X-Master-Key, or LeanCloud's X-LC-Key/X-LC-Sign with ,master (the master key belongs on servers, not in browsers)")
	fs.StringVar(&c.DBSync, "db-sync", "full", "SQLite synchronous mode: full (a 201 survives power loss) or normal (survives a crash)")
	durationVar(fs, &c.SessionTTL, "session-ttl", 7*24*time.Hour, "lifetime of a session and its token")
	durationVar(fs, &c.Heartbeat, "heartbeat", 15*time.Second, "interval of heartbeat comments on idle streams")
	durationVar(fs, &c.RoomWindow, "room-window", 50*time.Millisecond, "a busy chat room's messages reach each stream at most once per window, several to a write")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.AllowRecall, "allow-recall", true, "let senders (and the master key) recall messages")
	c.MaxUpload = 20 << 20
	fs.Var(&c.MaxUpload, "max-upload", "`size` limit of one uploaded file, in bytes or with a unit (KiB, MiB, GiB, KB, MB, GB)")
	durationVar(fs, &c.Retention, "retention", 180*24*time.Hour, "how long messages are kept before a background job purges them; 0 keeps them for ever")
	fs.IntVar(&c.RateSends, "rate-sends", 0, "messages a client may send per minute, across its sessions (0: no limit)")
	fs.IntVar(&c.RateLogins, "rate-logins", 0, "logins per minute from one IP address (0: no limit)")
	fs.IntVar(&c.RateHistory, "rate-history", 0, "history queries a client may make per minute (0: no limit)")
	fs.IntVar(&c.MaxStreams, "max-streams", 0, "event streams open at once (0: from the file descriptor limit, keeping a quarter of it for the rest)")
	fs.IntVar(&c.ClientStreams, "max-client-streams", 32, "event streams one client may hold open at once, across its sessions")
	fs.IntVar(&c.ClientSessions, "max-client-sessions", 64, "live sessions one client may hold; a login beyond it ends the oldest")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this separate address only (e.g. 127.0.0.1:9090); empty: on -addr")
	durationVar(fs, &c.QueryTimeout, "query-timeout", 2*time.Second, "how long a conversation query may run before it is interrupted and answers INVALID_QUERY")
	fs.StringVar(&c.Pprof, "pprof", "", "serve net/http/pprof on this separate address (e.g. 127.0.0.1:6060); off when empty")
	fs.BoolVar(&c.AccessLog, "access-log", true, "log one line per request at info level (an event stream's when it ends) and answer each with an X-Request-Id")
	fs.StringVar(&c.Push.Template, "push-template", handlers.DefaultPushTemplate, "offline push content (JSON) when neither the hook nor the message's pushData gives one; ${convId}, ${timestamp} and ${fromClientId} are replaced, \"badge\":\"Increment\" is the receiver's unread total")
	fs.StringVar(&c.Push.GatewayURL, "push-gateway-url", "", "`url` of a push gateway in gorush's format (its full endpoint, e.g. http://gorush:8088/api/push); empty: off")
	fs.StringVar(&c.Push.APNsKeyFile, "apns-key-file", "", "APNs token key (.p8) `file`; APNs is on when this, -apns-key-id, -apns-team-id and -apns-topic are given")
	fs.StringVar(&c.Push.APNsKeyID, "apns-key-id", "", "APNs key id of the .p8 key")
	fs.StringVar(&c.Push.APNsTeamID, "apns-team-id", "", "Apple developer team id")
	fs.StringVar(&c.Push.APNsTopic, "apns-topic", "", "APNs topic: the app's bundle id")
	fs.StringVar(&c.Push.APNsURL, "apns-url", "", "APNs `url` (default Apple's production host; _profile dev pushes go to its sandbox)")
	fs.StringVar(&c.Push.FCMCredentials, "fcm-credentials", "", "FCM service-account JSON key `file`; FCM is on when given")
	fs.StringVar(&c.Push.FCMURL, "fcm-url", "", "FCM `url` (default Google's host)")
	fs.StringVar(&c.HooksURL, "hooks-url", "", "base URL of the app's hook server (a LeanEngine app: Parley calls {URL}/1.1/functions/_messageReceived…); empty: no hooks")
	fs.StringVar(&c.HookKey, "hook-key", "", "the hook server's hook key (LEANCLOUD_APP_HOOK_KEY), sent as X-LC-Hook-Key")
	durationVar(fs, &c.HooksTimeout, "hooks-timeout", 3*time.Second, "how long one call of a hook may take")
	fs.StringVar(&c.HooksFail, "hooks-fail", "open", "a before-hook that fails or times out: open (the action goes ahead) or closed (refused with 503 HOOK_FAILED)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(out, fs)
			return nil, err
		}
		return nil, fmt.Errorf("%w (parley -h lists the flags)", err)
	}
	if version {
		return nil, errVersion
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil || noEnv[f.Name] {
			return
		}
		env := envName(f.Name)
		if v := getenv(env); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: invalid value %q: %w", env, v, e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	fs.VisitAll(func(f *flag.Flag) {
		if v := f.Value.String(); v != f.DefValue && !noEnv[f.Name] {
			if secretFlags[f.Name] {
				v = "(given)"
			}
			c.nonDefault = append(c.nonDefault, f.Name, v)
		}
	})
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.MasterKeyFile != "" {
		if c.MasterKey != "" {
			return nil, fmt.Errorf("master-key and master-key-file are both set: give the key one way")
		}
		b, err := os.ReadFile(c.MasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("master-key-file: %w", err)
		}
		if c.MasterKey = strings.TrimRightFunc(string(b), unicode.IsSpace); c.MasterKey == "" {
			return nil, fmt.Errorf("master-key-file: %s is empty", c.MasterKeyFile)
		}
	}
	if err := server.CheckMasterKey(c.MasterKey); err != nil {
		return nil, fmt.Errorf("%w (leave it unset to have one generated)", err)
	}
	if err := server.CheckAppKey(c.AppKey); err != nil {
		return nil, fmt.Errorf("%w (leave it unset to have one generated)", err)
	}
	switch c.AuthMode {
	case "open", "signature", "jwt":
	default:
		return nil, fmt.Errorf("auth-mode must be open, signature or jwt, not %q", c.AuthMode)
	}
	if c.OfflineGrace <= 0 || c.SessionTTL <= 0 || c.Heartbeat <= 0 || c.RoomWindow <= 0 || c.QueryTimeout <= 0 {
		return nil, fmt.Errorf("offline-grace, session-ttl, heartbeat, room-window and query-timeout must be positive")
	}
	if c.RateSends < 0 || c.RateLogins < 0 || c.RateHistory < 0 || c.MaxStreams < 0 || c.ClientStreams <= 0 || c.ClientSessions <= 0 {
		return nil, fmt.Errorf("rate limits and max-streams must not be negative (0: off); max-client-streams and max-client-sessions must be positive")
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
	switch c.HooksFail {
	case "open", "closed":
	default:
		return nil, fmt.Errorf("hooks-fail must be open or closed, not %q", c.HooksFail)
	}
	if c.HooksTimeout <= 0 {
		return nil, fmt.Errorf("hooks-timeout must be positive")
	}
	if c.HooksURL != "" {
		if u, err := url.Parse(c.HooksURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("hooks-url must be an http(s) URL, not %q", c.HooksURL)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if err := c.Push.Check(); err != nil {
		return nil, err
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
