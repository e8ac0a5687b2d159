package pushtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/push"
)

// APNs is a fake of Apple's push service: two HTTP/2 TLS servers, the
// production host and the sandbox, that check the provider token (ES256,
// signed by the key in KeyFile, with KeyID and TeamID), apns-topic,
// apns-push-type and the path /3/device/{token}.
type APNs struct {
	URL, SandboxURL string // the two hosts
	KeyFile         string // a .p8 file (PKCS#8 PEM, P-256) for APNsConfig
	KeyID, TeamID   string
	Topic           string

	key     *ecdsa.PrivateKey
	prod    *httptest.Server
	sandbox *httptest.Server
	script  script
	rec     recorder[APNsRequest]
	closing chan struct{}
	once    sync.Once
}

// APNsRequest is one request the APNs fake got.
type APNsRequest struct {
	Token   string
	Sandbox bool   // it came to the sandbox host
	Proto   string // "HTTP/2.0"
	Header  http.Header
	KeyID   string         // the JWT's kid
	Issuer  string         // the JWT's iss
	Payload map[string]any // the JSON body
	Reply   Reply          // what the fake answered
}

// NewAPNs starts an APNs fake with a new signing key, closed at the end of
// the test.
func NewAPNs(t testing.TB) *APNs {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &APNs{
		KeyFile: filepath.Join(t.TempDir(), "AuthKey_TESTKEY123.p8"),
		KeyID:   "TESTKEY123",
		TeamID:  "TEAM456789",
		Topic:   "im.parley.test",
		key:     key,
		closing: make(chan struct{}),
	}
	if err := os.WriteFile(f.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(sandbox bool) *httptest.Server {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /3/device/{token}", func(w http.ResponseWriter, r *http.Request) {
			f.serve(w, r, sandbox)
		})
		s := httptest.NewUnstartedServer(mux)
		s.EnableHTTP2 = true
		s.StartTLS()
		return s
	}
	f.prod, f.sandbox = start(false), start(true)
	f.URL, f.SandboxURL = f.prod.URL, f.sandbox.URL
	t.Cleanup(f.Close)
	return f
}

// Client is an HTTP/2-only client that trusts the fake's certificate.
func (f *APNs) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.prod.Certificate())
	pool.AddCert(f.sandbox.Certificate())
	var protos http.Protocols
	protos.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		Protocols:         &protos,
		ForceAttemptHTTP2: true,
	}}
}

// Config is a push.APNsConfig that sends to this fake.
func (f *APNs) Config() push.APNsConfig {
	return push.APNsConfig{
		KeyFile: f.KeyFile, KeyID: f.KeyID, TeamID: f.TeamID, Topic: f.Topic,
		URL: f.URL, SandboxURL: f.SandboxURL, HTTP: f.Client(),
	}
}

// Answer scripts the next replies to token, one request each, in order;
// after them the token gets the default again.
func (f *APNs) Answer(token string, replies ...Reply) { f.script.answer(token, replies) }

// AnswerAll sets the default reply (the zero Reply is success).
func (f *APNs) AnswerAll(r Reply) { f.script.answerAll(r) }

// Requests returns the requests so far, in order.
func (f *APNs) Requests() []APNsRequest { return f.rec.all() }

// Wait returns the requests once there are at least n. A request is
// recorded before it is answered, so a hanging one counts.
func (f *APNs) Wait(ctx context.Context, n int) ([]APNsRequest, error) { return f.rec.wait(ctx, n) }

// Close lets hanging requests go and stops both servers.
func (f *APNs) Close() {
	f.once.Do(func() {
		close(f.closing)
		f.prod.Close()
		f.sandbox.Close()
	})
}

func (f *APNs) serve(w http.ResponseWriter, r *http.Request, sandbox bool) {
	w.Header().Set("apns-id", r.Header.Get("apns-id"))
	req := APNsRequest{Token: r.PathValue("token"), Sandbox: sandbox, Proto: r.Proto, Header: r.Header.Clone()}
	// reject records a request that APNs itself would refuse.
	reject := func(status int, reason string) {
		req.Reply = Reply{Status: status, Reason: reason}
		f.rec.add(req)
		f.fail(w, status, reason)
	}
	if r.ProtoMajor != 2 {
		reject(http.StatusHTTPVersionNotSupported, "HTTP2Required") // APNs has no HTTP/1
		return
	}
	var reason string
	req.KeyID, req.Issuer, reason = f.checkToken(r.Header.Get("authorization"))
	if reason != "" {
		reject(http.StatusForbidden, reason)
		return
	}
	switch topic := r.Header.Get("apns-topic"); {
	case topic == "":
		reject(http.StatusBadRequest, "MissingTopic")
		return
	case topic != f.Topic:
		reject(http.StatusBadRequest, "DeviceTokenNotForTopic")
		return
	}
	switch r.Header.Get("apns-push-type") {
	case "alert", "background":
	default:
		reject(http.StatusBadRequest, "InvalidPushType")
		return
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req.Payload); err != nil || req.Payload["aps"] == nil {
		reject(http.StatusBadRequest, "PayloadEmpty")
		return
	}
	rep, ok := answer(&f.script, &f.rec, w, r, f.closing, req.Token, req, func(q *APNsRequest, rep Reply) { q.Reply = rep })
	if !ok {
		return
	}
	if rep.Status == 0 || rep.Status == http.StatusOK {
		w.WriteHeader(http.StatusOK)
		return
	}
	f.fail(w, rep.Status, rep.Reason)
}

func (f *APNs) fail(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"reason": reason}
	if status == http.StatusGone {
		body["timestamp"] = time.Now().UnixMilli()
	}
	_ = json.NewEncoder(w).Encode(body)
}

// checkToken verifies the provider token as APNs does: ES256 with our key,
// kid and iss ours, issued within the last hour. It returns APNs's reason
// when it is refused.
func (f *APNs) checkToken(h string) (kid, iss, reason string) {
	bearer, ok := strings.CutPrefix(h, "bearer ")
	if !ok || bearer == "" {
		return "", "", "MissingProviderToken"
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(bearer, claims, func(t *jwt.Token) (any, error) {
		return &f.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuedAt())
	if tok != nil {
		kid, _ = tok.Header["kid"].(string)
	}
	iss, _ = claims["iss"].(string)
	if err != nil {
		return kid, iss, "InvalidProviderToken"
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return kid, iss, "InvalidProviderToken"
	}
	if time.Since(iat.Time) > time.Hour {
		return kid, iss, "ExpiredProviderToken"
	}
	if kid != f.KeyID || iss != f.TeamID {
		return kid, iss, "InvalidProviderToken"
	}
	return kid, iss, ""
}
