package push_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/push/pushtest"
)

func newAPNs(t *testing.T) (*pushtest.APNs, push.Provider) {
	t.Helper()
	f := pushtest.NewAPNs(t)
	p, err := push.NewAPNs(f.Config())
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func TestAPNsAlertObjectBadgeSoundCustom(t *testing.T) {
	f, p := newAPNs(t)
	if p.Name() != "apns" || !reflect.DeepEqual(p.Platforms(), []string{"ios"}) {
		t.Fatalf("name %q platforms %v", p.Name(), p.Platforms())
	}
	const id = "6f1e0a52-3a8b-4c1e-9d4f-2b7c8e9a0b1c"
	r := p.Send(t.Context(), push.Notification{
		Token:    "a1b2c3",
		Platform: "ios",
		Payload: map[string]any{
			"alert":  map[string]any{"title": "Ann", "body": "hello"},
			"badge":  float64(3), // as a JSON decode gives it
			"sound":  "default",
			"convId": "c1",
			"n":      7,
		},
		ConvID: "c1",
		ID:     id,
	})
	if r != (push.Result{}) {
		t.Fatalf("result %+v", r)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	got := reqs[0]
	if got.Token != "a1b2c3" || got.Sandbox || got.Proto != "HTTP/2.0" {
		t.Errorf("token %q sandbox %v proto %s", got.Token, got.Sandbox, got.Proto)
	}
	if got.KeyID != f.KeyID || got.Issuer != f.TeamID {
		t.Errorf("kid %q iss %q", got.KeyID, got.Issuer)
	}
	for h, want := range map[string]string{
		"apns-topic": f.Topic, "apns-push-type": "alert", "apns-priority": "10", "apns-id": id,
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s: %q, want %q", h, v, want)
		}
	}
	want := map[string]any{
		"aps": map[string]any{
			"alert":     map[string]any{"title": "Ann", "body": "hello"},
			"badge":     float64(3),
			"sound":     "default",
			"thread-id": "c1",
		},
		"convId": "c1",
		"n":      float64(7),
	}
	if !reflect.DeepEqual(got.Payload, want) {
		t.Errorf("payload\n got %v\nwant %v", got.Payload, want)
	}
}

func TestAPNsDevProfileGoesToSandbox(t *testing.T) {
	f, p := newAPNs(t)
	r := p.Send(t.Context(), push.Notification{
		Token:   "dev-token",
		Payload: map[string]any{"alert": "hi", "_profile": "dev"},
		ID:      "not-a-uuid",
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := f.Requests()[0]
	if !got.Sandbox {
		t.Error("went to the production host")
	}
	if got.Header.Get("apns-id") != "" {
		t.Errorf("apns-id %q sent for an id that is not a UUID", got.Header.Get("apns-id"))
	}
	want := map[string]any{"aps": map[string]any{"alert": "hi"}}
	if !reflect.DeepEqual(got.Payload, want) {
		t.Errorf("payload %v, want %v", got.Payload, want)
	}
}

func TestAPNsBackgroundWithoutAlert(t *testing.T) {
	f, p := newAPNs(t)
	// An unresolved "Increment" is no badge, not a failed push.
	r := p.Send(t.Context(), push.Notification{Token: "t", Payload: map[string]any{"k": "v", "badge": "Increment"}, ConvID: "c1"})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := f.Requests()[0]
	if got.Header.Get("apns-push-type") != "background" || got.Header.Get("apns-priority") != "5" {
		t.Errorf("push type %q priority %q", got.Header.Get("apns-push-type"), got.Header.Get("apns-priority"))
	}
	want := map[string]any{"aps": map[string]any{"content-available": float64(1)}, "k": "v"}
	if !reflect.DeepEqual(got.Payload, want) {
		t.Errorf("payload %v, want %v", got.Payload, want)
	}
}

func TestAPNsAnswers(t *testing.T) {
	date := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name       string
		reply      pushtest.Reply
		dead       bool
		retry      bool
		retryAfter [2]time.Duration // bounds, inclusive
	}{
		{"410 Unregistered", pushtest.Reply{Status: 410, Reason: "Unregistered"}, true, false, [2]time.Duration{}},
		{"400 BadDeviceToken", pushtest.Reply{Status: 400, Reason: "BadDeviceToken"}, true, false, [2]time.Duration{}},
		{"400 DeviceTokenNotForTopic is permanent", pushtest.Reply{Status: 400, Reason: "DeviceTokenNotForTopic"}, false, false, [2]time.Duration{}},
		{"400 BadMessageId is permanent", pushtest.Reply{Status: 400, Reason: "BadMessageId"}, false, false, [2]time.Duration{}},
		{"413 PayloadTooLarge is permanent", pushtest.Reply{Status: 413, Reason: "PayloadTooLarge"}, false, false, [2]time.Duration{}},
		{"503 seconds", pushtest.Reply{Status: 503, Reason: "ServiceUnavailable", RetryAfter: "7"}, false, true, [2]time.Duration{7 * time.Second, 7 * time.Second}},
		{"429 date", pushtest.Reply{Status: 429, Reason: "TooManyRequests", RetryAfter: date}, false, true, [2]time.Duration{100 * time.Second, 2 * time.Minute}},
		{"403 ExpiredProviderToken", pushtest.Reply{Status: 403, Reason: "ExpiredProviderToken"}, false, true, [2]time.Duration{}},
		{"500 without Retry-After", pushtest.Reply{Status: 500, Reason: "InternalServerError"}, false, true, [2]time.Duration{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newAPNs(t)
			f.Answer("tok", tc.reply)
			r := p.Send(t.Context(), push.Notification{Token: "tok", Payload: map[string]any{"alert": "x"}})
			if r.Dead != tc.dead || r.Retry != tc.retry || r.Err == nil {
				t.Fatalf("result %+v", r)
			}
			if r.RetryAfter < tc.retryAfter[0] || r.RetryAfter > tc.retryAfter[1] {
				t.Errorf("RetryAfter %v, want in %v", r.RetryAfter, tc.retryAfter)
			}
			// The script is used up: the token is answered as usual again.
			if r := p.Send(t.Context(), push.Notification{Token: "tok", Payload: map[string]any{"alert": "x"}}); r.Err != nil {
				t.Errorf("second send: %+v", r)
			}
		})
	}
}

func TestAPNsWrongTeamIsRefused(t *testing.T) {
	f := pushtest.NewAPNs(t)
	cfg := f.Config()
	cfg.TeamID = "OTHERTEAM1"
	p, err := push.NewAPNs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Send(t.Context(), push.Notification{Token: "tok", Payload: map[string]any{"alert": "x"}})
	if r.Dead || r.Retry || r.Err == nil {
		t.Fatalf("result %+v", r)
	}
	if got := f.Requests()[0].Reply; got.Status != 403 || got.Reason != "InvalidProviderToken" {
		t.Errorf("fake answered %+v", got)
	}
}

func TestAPNsSignedByAnotherKeyIsRefused(t *testing.T) {
	f := pushtest.NewAPNs(t)
	cfg := f.Config()
	cfg.KeyFile = writeP8(t)
	p, err := push.NewAPNs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Send(t.Context(), push.Notification{Token: "tok", Payload: map[string]any{"alert": "x"}}); r.Err == nil || r.Retry || r.Dead {
		t.Fatalf("result %+v", r)
	}
}

func TestNewAPNsRefusesBadConfig(t *testing.T) {
	f := pushtest.NewAPNs(t)
	notPEM := filepath.Join(t.TempDir(), "key.p8")
	if err := os.WriteFile(notPEM, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*push.APNsConfig){
		"no file":  func(c *push.APNsConfig) { c.KeyFile = filepath.Join(t.TempDir(), "missing.p8") },
		"not PEM":  func(c *push.APNsConfig) { c.KeyFile = notPEM },
		"no topic": func(c *push.APNsConfig) { c.Topic = "" },
		"no kid":   func(c *push.APNsConfig) { c.KeyID = "" },
	} {
		cfg := f.Config()
		mod(&cfg)
		if _, err := push.NewAPNs(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// writeP8 writes a new P-256 key as a .p8 file.
func writeP8(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other.p8")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
