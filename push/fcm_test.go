package push_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/push/pushtest"
)

func newFCM(t *testing.T) (*pushtest.FCM, push.Provider) {
	t.Helper()
	f := pushtest.NewFCM(t)
	p, err := push.NewFCM(f.Config())
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func TestFCMAlertObjectBadgeSoundCustom(t *testing.T) {
	f, p := newFCM(t)
	if p.Name() != "fcm" || !reflect.DeepEqual(p.Platforms(), []string{"android"}) {
		t.Fatalf("name %q platforms %v", p.Name(), p.Platforms())
	}
	n := push.Notification{
		Token:    "android-1",
		Platform: "android",
		Payload: map[string]any{
			"alert":    map[string]any{"title": "Ann", "body": "hello"},
			"badge":    float64(3),
			"sound":    "default",
			"convId":   "c1",
			"n":        float64(7),
			"obj":      map[string]any{"a": true},
			"_profile": "dev", // means nothing to FCM, and is not data
		},
		ConvID: "c1",
	}
	for range 2 {
		if r := p.Send(t.Context(), n); r != (push.Result{}) {
			t.Fatalf("result %+v", r)
		}
	}
	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if g := f.Grants(); g != 1 {
		t.Errorf("%d tokens granted for two sends; want the first reused", g)
	}
	want := map[string]any{
		"token":        "android-1",
		"notification": map[string]any{"title": "Ann", "body": "hello"},
		"android": map[string]any{
			"priority":     "HIGH",
			"notification": map[string]any{"sound": "default", "notification_count": float64(3)},
		},
		"data": map[string]any{"convId": "c1", "n": "7", "obj": `{"a":true}`},
	}
	if !reflect.DeepEqual(reqs[0].Message, want) {
		t.Errorf("message\n got %v\nwant %v", reqs[0].Message, want)
	}
	if ct := reqs[0].Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestFCMWithoutAlertIsDataOnly(t *testing.T) {
	f, p := newFCM(t)
	r := p.Send(t.Context(), push.Notification{Token: "a", Payload: map[string]any{"badge": 2, "sound": "ping", "k": "v"}})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := map[string]any{"token": "a", "data": map[string]any{"badge": "2", "sound": "ping", "k": "v"}}
	if got := f.Requests()[0].Message; !reflect.DeepEqual(got, want) {
		t.Errorf("message\n got %v\nwant %v", got, want)
	}
}

func TestFCMStringAlertIsBody(t *testing.T) {
	f, p := newFCM(t)
	if r := p.Send(t.Context(), push.Notification{Token: "a", Payload: map[string]any{"alert": "New message from ann"}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	want := map[string]any{
		"token":        "a",
		"notification": map[string]any{"body": "New message from ann"},
		"android":      map[string]any{"priority": "HIGH"},
	}
	if got := f.Requests()[0].Message; !reflect.DeepEqual(got, want) {
		t.Errorf("message\n got %v\nwant %v", got, want)
	}
}

func TestFCMAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		reply      pushtest.Reply
		dead       bool
		retry      bool
		retryAfter time.Duration
	}{
		{"404 UNREGISTERED", pushtest.Reply{Status: 404, Reason: "UNREGISTERED"}, true, false, 0},
		{"400 INVALID_ARGUMENT about the token", pushtest.Reply{Status: 400, Reason: "INVALID_ARGUMENT", Field: "message.token"}, true, false, 0},
		{"400 INVALID_ARGUMENT about data is permanent", pushtest.Reply{Status: 400, Reason: "INVALID_ARGUMENT", Field: "message.data[0].key"}, false, false, 0},
		{"403 SENDER_ID_MISMATCH is permanent", pushtest.Reply{Status: 403, Reason: "SENDER_ID_MISMATCH"}, false, false, 0},
		{"503 UNAVAILABLE", pushtest.Reply{Status: 503, Reason: "UNAVAILABLE", RetryAfter: "30"}, false, true, 30 * time.Second},
		{"429 QUOTA_EXCEEDED", pushtest.Reply{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: "5"}, false, true, 5 * time.Second},
		{"500 INTERNAL", pushtest.Reply{Status: 500, Reason: "INTERNAL"}, false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newFCM(t)
			f.Answer("tok", tc.reply)
			r := p.Send(t.Context(), push.Notification{Token: "tok", Payload: map[string]any{"alert": "x"}})
			if r.Dead != tc.dead || r.Retry != tc.retry || r.RetryAfter != tc.retryAfter || r.Err == nil {
				t.Fatalf("result %+v", r)
			}
		})
	}
}

// A service account whose key the token endpoint does not know gets no
// token, and that is permanent: retrying will not change the key.
func TestFCMRefusedCredentialsArePermanent(t *testing.T) {
	f := pushtest.NewFCM(t)
	raw, err := os.ReadFile(f.CredentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(raw, &sa); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	other, _ := json.Marshal(sa)
	cfg := f.Config()
	cfg.CredentialsFile = filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(cfg.CredentialsFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := push.NewFCM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Send(t.Context(), push.Notification{Token: "tok", Payload: map[string]any{"alert": "x"}})
	if r.Retry || r.Dead || r.Err == nil || !strings.Contains(r.Err.Error(), "token") {
		t.Fatalf("result %+v", r)
	}
	if f.Grants() != 0 || len(f.Requests()) != 0 {
		t.Errorf("%d grants, %d sends", f.Grants(), len(f.Requests()))
	}
}

func TestNewFCMRefusesBadCredentials(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not JSON":       "{",
		"no project":     `{"type":"service_account","private_key":"x","client_email":"a@b"}`,
		"bad key":        `{"type":"service_account","project_id":"p","private_key":"not pem","client_email":"a@b"}`,
		"not an account": `{"type":"authorized_user","project_id":"p"}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := push.NewFCM(push.FCMConfig{CredentialsFile: path}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := push.NewFCM(push.FCMConfig{CredentialsFile: filepath.Join(dir, "missing.json")}); err == nil {
		t.Error("missing file: no error")
	}
}
