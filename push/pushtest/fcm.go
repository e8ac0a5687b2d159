package pushtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
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

// FCM is a fake of Google's token endpoint and FCM's HTTP v1 send. The
// token endpoint (/token, the token_uri of CredentialsFile) grants a bearer
// token only for a JWT assertion signed by the service account's key with
// its client_email, audience and the messaging scope; send
// (/v1/projects/{ProjectID}/messages:send) takes only a token it granted.
type FCM struct {
	URL             string // the FCM host
	CredentialsFile string // a service-account JSON key for FCMConfig
	ProjectID       string
	ClientEmail     string

	key     *rsa.PrivateKey
	srv     *httptest.Server
	script  script
	rec     recorder[FCMRequest]
	closing chan struct{}
	once    sync.Once

	mu     sync.Mutex
	grants int             // tokens granted
	issued map[string]bool // bearer tokens granted
}

// FCMRequest is one messages:send request the FCM fake got.
type FCMRequest struct {
	Token   string // message.token
	Header  http.Header
	Message map[string]any // the body's "message" object
	Reply   Reply
}

// NewFCM starts an FCM fake with a new service account, closed at the end
// of the test.
func NewFCM(t testing.TB) *FCM {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &FCM{
		ProjectID:   "parley-test",
		ClientEmail: "push@parley-test.iam.gserviceaccount.com",
		key:         key,
		closing:     make(chan struct{}),
		issued:      make(map[string]bool),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", f.send)
	f.srv = httptest.NewServer(mux)
	f.URL = f.srv.URL
	sa, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     f.ProjectID,
		"private_key_id": "fcm-test-key",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   f.ClientEmail,
		"client_id":      "1234567890",
		"token_uri":      f.URL + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	f.CredentialsFile = filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(f.CredentialsFile, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// Config is a push.FCMConfig that sends to this fake.
func (f *FCM) Config() push.FCMConfig {
	return push.FCMConfig{CredentialsFile: f.CredentialsFile, URL: f.URL, HTTP: f.srv.Client()}
}

// Answer scripts the next replies to token, one request each, in order.
func (f *FCM) Answer(token string, replies ...Reply) { f.script.answer(token, replies) }

// AnswerAll sets the default reply (the zero Reply is success).
func (f *FCM) AnswerAll(r Reply) { f.script.answerAll(r) }

// Requests returns the send requests so far, in order.
func (f *FCM) Requests() []FCMRequest { return f.rec.all() }

// Wait returns the send requests once there are at least n.
func (f *FCM) Wait(ctx context.Context, n int) ([]FCMRequest, error) { return f.rec.wait(ctx, n) }

// Grants is how many access tokens the token endpoint granted.
func (f *FCM) Grants() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants
}

// Close lets hanging requests go and stops the server.
func (f *FCM) Close() {
	f.once.Do(func() {
		close(f.closing)
		f.srv.Close()
	})
}

func (f *FCM) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": desc})
	}
	if r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr("grant_type")
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostFormValue("assertion"), claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != "fcm-test-key" {
			return nil, fmt.Errorf("kid %v", t.Header["kid"])
		}
		return &f.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.ClientEmail),
		jwt.WithAudience(f.URL+"/token"), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		oauthErr(err.Error())
		return
	}
	if claims["scope"] != push.FCMScope {
		oauthErr(fmt.Sprintf("scope %v", claims["scope"]))
		return
	}
	f.mu.Lock()
	f.grants++
	tok := fmt.Sprintf("ya29.fake-%d", f.grants)
	f.issued[tok] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

// fcmStatus is the google.rpc status of each HTTP status FCM answers.
var fcmStatus = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

func (f *FCM) send(w http.ResponseWriter, r *http.Request) {
	req := FCMRequest{Header: r.Header.Clone()}
	reject := func(rep Reply) {
		req.Reply = rep
		f.rec.add(req)
		f.fail(w, rep)
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.issued[bearer]
	f.mu.Unlock()
	if !ok {
		reject(Reply{Status: http.StatusUnauthorized})
		return
	}
	if r.PathValue("project") != f.ProjectID {
		reject(Reply{Status: http.StatusForbidden, Reason: "SENDER_ID_MISMATCH"})
		return
	}
	var body struct {
		Message map[string]any `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == nil {
		reject(Reply{Status: http.StatusBadRequest, Reason: "INVALID_ARGUMENT"})
		return
	}
	req.Message = body.Message
	req.Token, _ = body.Message["token"].(string)
	if req.Token == "" {
		reject(Reply{Status: http.StatusBadRequest, Reason: "INVALID_ARGUMENT", Field: "message.token"})
		return
	}
	if data, ok := body.Message["data"].(map[string]any); ok {
		for k, v := range data {
			if _, ok := v.(string); !ok {
				// FCM takes only string values in data.
				reject(Reply{Status: http.StatusBadRequest, Reason: "INVALID_ARGUMENT", Field: "message.data[" + k + "]"})
				return
			}
		}
	}
	rep, ok := answer(&f.script, &f.rec, w, r, f.closing, req.Token, req, func(q *FCMRequest, rep Reply) { q.Reply = rep })
	if !ok {
		return
	}
	if rep.Status == 0 || rep.Status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"name": fmt.Sprintf("projects/%s/messages/%d", f.ProjectID, time.Now().UnixNano()),
		})
		return
	}
	f.fail(w, rep)
}

// fail writes FCM's error body: google.rpc.Status with an FcmError detail
// and, when rep.Field is set, a BadRequest field violation.
func (f *FCM) fail(w http.ResponseWriter, rep Reply) {
	status := fcmStatus[rep.Status]
	if status == "" {
		status = "UNKNOWN"
	}
	var details []any
	if rep.Reason != "" {
		details = append(details, map[string]any{
			"@type":     "type.googleapis.com/google.firebase.fcm.v1.FcmError",
			"errorCode": rep.Reason,
		})
	}
	if rep.Field != "" {
		details = append(details, map[string]any{
			"@type":           "type.googleapis.com/google.rpc.BadRequest",
			"fieldViolations": []any{map[string]string{"field": rep.Field, "description": "Invalid value"}},
		})
	}
	msg := http.StatusText(rep.Status)
	if rep.Reason == "UNREGISTERED" {
		msg = "Requested entity was not found."
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(rep.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": rep.Status, "message": msg, "status": status, "details": details,
	}})
}
