package main

import (
	"errors"
	"flag"
	"github.com/parley-im/parley/server"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// TestConfigDefaults checks the defaults of the README's Configuration table.
func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		Addr:          ":8080",
		DB:            "./data/parley.db",
		AppID:         "parley",
		MasterKey:     "", // generated on first start
		AuthMode:      "open",
		OfflineGrace:  10 * time.Second,
		CORSOrigins:   "*",
		CORSMasterKey: false, // the master key belongs on servers
		MetricsAddr:   "",    // /metrics on Addr
		DBSync:        "full",
		SessionTTL:    7 * 24 * time.Hour,
		Heartbeat:     15 * time.Second,
		RoomWindow:    50 * time.Millisecond,
		LogLevel:      "info",
		MaxUpload:     20 << 20,
		Retention:     180 * 24 * time.Hour,
		AllowRecall:   true,
		QueryTimeout:  2 * time.Second,
		AccessLog:     true,
		// Push off: no provider; the contract's template.
		Push:         server.PushSettings{Template: `{"alert":"New message from ${fromClientId}","badge":"Increment"}`},
		HooksTimeout: 3 * time.Second,
		HooksFail:    "open",
		// Rate limits off; streams bounded by the fd limit (0 here).
		ClientStreams:  32,
		ClientSessions: 64,
	}
	got := *c
	got.Pprof = "" // not part of the contract's table
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if o := c.corsOrigins(); !reflect.DeepEqual(o, []string{"*"}) {
		t.Errorf("default CORS origins %q, want [*]", o)
	}
}

func TestConfigFlagsAndEnv(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(*config) any // the value under test
		want  any
	}{
		// Every setting of the contract's table, by environment and by flag.
		{"PARLEY_ADDR", nil, map[string]string{"PARLEY_ADDR": "127.0.0.1:9000"}, func(c *config) any { return c.Addr }, "127.0.0.1:9000"},
		{"-addr", []string{"-addr", ":9001"}, nil, func(c *config) any { return c.Addr }, ":9001"},
		{"PARLEY_DB", nil, map[string]string{"PARLEY_DB": "/var/lib/parley/p.db"}, func(c *config) any { return c.DB }, "/var/lib/parley/p.db"},
		{"-db", []string{"-db=x.db"}, nil, func(c *config) any { return c.DB }, "x.db"},
		{"PARLEY_APP_ID", nil, map[string]string{"PARLEY_APP_ID": "myapp"}, func(c *config) any { return c.AppID }, "myapp"},
		{"-app-id", []string{"--app-id", "other"}, nil, func(c *config) any { return c.AppID }, "other"},
		{"PARLEY_MASTER_KEY", nil, map[string]string{"PARLEY_MASTER_KEY": "s3cret-s3cret-s3cret"}, func(c *config) any { return c.MasterKey }, "s3cret-s3cret-s3cret"},
		{"-master-key", []string{"-master-key", "k123456789abcdef"}, nil, func(c *config) any { return c.MasterKey }, "k123456789abcdef"},
		{"-master-key of 16 characters, not bytes", []string{"-master-key", "ключключключключ"}, nil, func(c *config) any { return c.MasterKey }, "ключключключключ"},
		{"PARLEY_AUTH_MODE", nil, map[string]string{"PARLEY_AUTH_MODE": "signature"}, func(c *config) any { return c.AuthMode }, "signature"},
		{"-auth-mode", []string{"-auth-mode", "jwt"}, nil, func(c *config) any { return c.AuthMode }, "jwt"},
		{"PARLEY_OFFLINE_GRACE", nil, map[string]string{"PARLEY_OFFLINE_GRACE": "1m30s"}, func(c *config) any { return c.OfflineGrace }, 90 * time.Second},
		{"-offline-grace", []string{"-offline-grace", "250ms"}, nil, func(c *config) any { return c.OfflineGrace }, 250 * time.Millisecond},
		{"PARLEY_CORS_ORIGINS", nil, map[string]string{"PARLEY_CORS_ORIGINS": "https://a.example, https://b.example,,"},
			func(c *config) any { return c.corsOrigins() }, []string{"https://a.example", "https://b.example"}},
		{"-cors-origins", []string{"-cors-origins", "https://c.example"}, nil, func(c *config) any { return c.corsOrigins() }, []string{"https://c.example"}},
		{"PARLEY_CORS_MASTER_KEY", nil, map[string]string{"PARLEY_CORS_MASTER_KEY": "true"}, func(c *config) any { return c.CORSMasterKey }, true},
		{"-cors-master-key", []string{"-cors-master-key"}, nil, func(c *config) any { return c.CORSMasterKey }, true},
		{"PARLEY_METRICS_ADDR", nil, map[string]string{"PARLEY_METRICS_ADDR": "127.0.0.1:9090"}, func(c *config) any { return c.MetricsAddr }, "127.0.0.1:9090"},
		{"-metrics-addr", []string{"-metrics-addr", ":9091"}, nil, func(c *config) any { return c.MetricsAddr }, ":9091"},
		{"PARLEY_DB_SYNC", nil, map[string]string{"PARLEY_DB_SYNC": "normal"}, func(c *config) any { return c.DBSync }, "normal"},
		{"PARLEY_SESSION_TTL", nil, map[string]string{"PARLEY_SESSION_TTL": "1h"}, func(c *config) any { return c.SessionTTL }, time.Hour},
		{"PARLEY_HEARTBEAT", nil, map[string]string{"PARLEY_HEARTBEAT": "5s"}, func(c *config) any { return c.Heartbeat }, 5 * time.Second},
		{"PARLEY_ROOM_WINDOW", nil, map[string]string{"PARLEY_ROOM_WINDOW": "20ms"}, func(c *config) any { return c.RoomWindow }, 20 * time.Millisecond},
		{"PARLEY_LOG_LEVEL", nil, map[string]string{"PARLEY_LOG_LEVEL": "debug"}, func(c *config) any { return c.LogLevel }, "debug"},
		{"PARLEY_MAX_UPLOAD", nil, map[string]string{"PARLEY_MAX_UPLOAD": "5MiB"}, func(c *config) any { return c.MaxUpload }, byteSize(5 << 20)},
		{"-max-upload bytes", []string{"-max-upload", "1048576"}, nil, func(c *config) any { return c.MaxUpload }, byteSize(1 << 20)},
		{"-max-upload units", []string{"-max-upload=512 KiB"}, nil, func(c *config) any { return c.MaxUpload }, byteSize(512 << 10)},
		{"-max-upload MB", []string{"-max-upload=2mb"}, nil, func(c *config) any { return c.MaxUpload }, byteSize(2 << 20)},
		{"-max-upload G", []string{"-max-upload=1G"}, nil, func(c *config) any { return c.MaxUpload }, byteSize(1 << 30)},
		{"PARLEY_RETENTION", nil, map[string]string{"PARLEY_RETENTION": "720h"}, func(c *config) any { return c.Retention }, 720 * time.Hour},
		{"-retention", []string{"-retention", "24h"}, nil, func(c *config) any { return c.Retention }, 24 * time.Hour},
		{"-retention 0 keeps for ever", []string{"-retention=0"}, nil, func(c *config) any { return c.Retention }, time.Duration(0)},
		{"PARLEY_QUERY_TIMEOUT", nil, map[string]string{"PARLEY_QUERY_TIMEOUT": "5s"}, func(c *config) any { return c.QueryTimeout }, 5 * time.Second},
		{"-query-timeout", []string{"-query-timeout", "500ms"}, nil, func(c *config) any { return c.QueryTimeout }, 500 * time.Millisecond},
		{"PARLEY_HOOKS_URL", nil, map[string]string{"PARLEY_HOOKS_URL": "http://127.0.0.1:3000"}, func(c *config) any { return c.HooksURL }, "http://127.0.0.1:3000"},
		{"-hook-key", []string{"-hook-key", "k"}, nil, func(c *config) any { return c.HookKey }, "k"},
		{"PARLEY_HOOK_KEY", nil, map[string]string{"PARLEY_HOOK_KEY": "k2"}, func(c *config) any { return c.HookKey }, "k2"},
		{"PARLEY_HOOKS_TIMEOUT", nil, map[string]string{"PARLEY_HOOKS_TIMEOUT": "500ms"}, func(c *config) any { return c.HooksTimeout }, 500 * time.Millisecond},
		{"-hooks-fail", []string{"-hooks-fail", "closed"}, nil, func(c *config) any { return c.HooksFail }, "closed"},
		{"PARLEY_HOOKS_FAIL", nil, map[string]string{"PARLEY_HOOKS_FAIL": "closed"}, func(c *config) any { return c.HooksFail }, "closed"},
		{"PARLEY_ACCESS_LOG", nil, map[string]string{"PARLEY_ACCESS_LOG": "false"}, func(c *config) any { return c.AccessLog }, false},
		{"-access-log", []string{"-access-log=false"}, nil, func(c *config) any { return c.AccessLog }, false},

		// The flag wins over the environment.
		{"flag over env: addr", []string{"-addr", ":1"}, map[string]string{"PARLEY_ADDR": ":2"}, func(c *config) any { return c.Addr }, ":1"},
		{"flag over env: duration", []string{"-offline-grace=3s"}, map[string]string{"PARLEY_OFFLINE_GRACE": "4s"}, func(c *config) any { return c.OfflineGrace }, 3 * time.Second},
		{"flag over env: explicit empty master key", []string{"-master-key="}, map[string]string{"PARLEY_MASTER_KEY": "from-env"}, func(c *config) any { return c.MasterKey }, ""},
		{"flag over a bad env value", []string{"-offline-grace=3s"}, map[string]string{"PARLEY_OFFLINE_GRACE": "soon"}, func(c *config) any { return c.OfflineGrace }, 3 * time.Second},
		{"flag over env: auth mode", []string{"-auth-mode", "open"}, map[string]string{"PARLEY_AUTH_MODE": "jwt"}, func(c *config) any { return c.AuthMode }, "open"},

		// The environment fills in only the flags not given.
		{"env beside another flag", []string{"-addr", ":1"}, map[string]string{"PARLEY_DB": "e.db"}, func(c *config) any { return c.Addr + " " + c.DB }, ":1 e.db"},
		{"empty env is unset", nil, map[string]string{"PARLEY_ADDR": ""}, func(c *config) any { return c.Addr }, ":8080"},
		{"unrelated env ignored", nil, map[string]string{"ADDR": ":1", "parley_addr": ":2", "PARLEY_ADDRESS": ":3"}, func(c *config) any { return c.Addr }, ":8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring of the error
	}{
		{"unknown flag", []string{"-nope"}, nil, "nope"},
		{"stray argument", []string{"serve"}, nil, "unexpected argument"},
		{"auth mode flag", []string{"-auth-mode", "none"}, nil, "auth-mode"},
		{"auth mode env", nil, map[string]string{"PARLEY_AUTH_MODE": "OPEN"}, "auth-mode"},
		{"duration flag", []string{"-offline-grace", "ten"}, nil, "offline-grace"},
		{"duration env names the variable", nil, map[string]string{"PARLEY_OFFLINE_GRACE": "10"}, "PARLEY_OFFLINE_GRACE"},
		{"zero grace", []string{"-offline-grace", "0s"}, nil, "positive"},
		{"negative session ttl env", nil, map[string]string{"PARLEY_SESSION_TTL": "-1h"}, "positive"},
		{"zero heartbeat", []string{"-heartbeat=0"}, nil, "positive"},
		{"db sync flag", []string{"-db-sync", "off"}, nil, "db-sync"},
		{"db sync env", nil, map[string]string{"PARLEY_DB_SYNC": "FULL "}, "db-sync"},
		{"log level", []string{"-log-level", "loud"}, nil, "log-level"},
		{"empty db", []string{"-db", ""}, nil, "db"},
		{"max upload not a size", []string{"-max-upload", "big"}, nil, "max-upload"},
		{"max upload unknown unit", nil, map[string]string{"PARLEY_MAX_UPLOAD": "5TB"}, "PARLEY_MAX_UPLOAD"},
		{"max upload negative", []string{"-max-upload=-1"}, nil, "max-upload"},
		{"max upload zero", []string{"-max-upload=0"}, nil, "positive"},
		{"max upload overflow", []string{"-max-upload=9999999999GiB"}, nil, "max-upload"},
		{"negative retention", []string{"-retention=-1h"}, nil, "retention"},
		{"zero query timeout", []string{"-query-timeout=0"}, nil, "query-timeout"},
		{"bad hooks-fail", []string{"-hooks-fail=maybe"}, nil, "hooks-fail"},
		{"zero hooks timeout", []string{"-hooks-timeout=0"}, nil, "hooks-timeout"},
		{"bad hooks url", []string{"-hooks-url=ftp://x"}, nil, "hooks-url"},
		{"retention not a duration", nil, map[string]string{"PARLEY_RETENTION": "180d"}, "PARLEY_RETENTION"},
		{"access log not a bool", nil, map[string]string{"PARLEY_ACCESS_LOG": "maybe"}, "PARLEY_ACCESS_LOG"},
		{"one-character master key", []string{"-master-key", "a"}, nil, "at least 16 characters"},
		{"15-character master key env", nil, map[string]string{"PARLEY_MASTER_KEY": "123456789012345"}, "at least 16 characters"},
		{"missing master key file", []string{"-master-key-file", "/nonexistent/parley.key"}, nil, "master-key-file"},
		{"master key and key file", []string{"-master-key-file", "/nonexistent/parley.key"}, map[string]string{"PARLEY_MASTER_KEY": "0123456789abcdef"}, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, env(tt.env))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigHelp(t *testing.T) {
	if _, err := parseConfig([]string{"-h"}, env(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestByteSizeString(t *testing.T) {
	for _, tt := range []struct {
		v    byteSize
		want string
	}{{0, "0"}, {1, "1"}, {1000, "1000"}, {1 << 10, "1KiB"}, {20 << 20, "20MiB"}, {3 << 30, "3GiB"}, {1<<20 + 1, "1048577"}} {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%d: %q, want %q", int64(tt.v), got, tt.want)
		}
		var back byteSize
		if err := back.Set(tt.want); err != nil || back != tt.v {
			t.Errorf("Set(%q) = %d, %v; want %d", tt.want, back, err, tt.v)
		}
	}
}

// The master key can come from a file, so that it does not show in ps:
// trailing whitespace (the newline of echo, an editor's) is not part of it,
// and a short key in a file is refused like one on the command line.
func TestConfigMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "  0123456789 abcdef\r\n\t \n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flag", []string{"-master-key-file", good}, nil},
		{"env", nil, map[string]string{"PARLEY_MASTER_KEY_FILE": good}},
	} {
		c, err := parseConfig(tc.args, env(tc.env))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.MasterKey != "  0123456789 abcdef" {
			t.Errorf("%s: master key %q", tc.name, c.MasterKey)
		}
	}
	for _, tc := range []struct{ name, content, wantErr string }{
		{"short", "short-key\n", "at least 16 characters"},
		{"empty", "\n", "empty"},
	} {
		_, err := parseConfig([]string{"-master-key-file", file(tc.name, tc.content)}, env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s key file: %v, want an error saying %q", tc.name, err, tc.wantErr)
		}
	}
	_, err := parseConfig([]string{"-master-key", "0123456789abcdef", "-master-key-file", good}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("key and key file: %v", err)
	}
}
