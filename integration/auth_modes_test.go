package integration

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// leanSign is the app backend's side of a LeanCloud signature (API.md): the
// lowercase hex HMAC-SHA1 of the ':'-joined parts, keyed with the master key.
func leanSign(masterKey string, parts ...string) string {
	mac := hmac.New(sha1.New, []byte(masterKey))
	mac.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(mac.Sum(nil))
}

func authMode(mode string) func(*server.Config) {
	return func(c *server.Config) { c.AuthMode, c.AppID = mode, "app1" }
}

// Signature mode: a login carries the backend's signature of
// appId:clientId::timestamp:nonce; a wrong, missing, stale or replayed one
// is SIGNATURE_INVALID, and nothing of the login is kept.
func TestLoginSignatureMode(t *testing.T) {
	h := start(t, authMode("signature"))
	key := h.srv.MasterKey
	now := time.Now()
	login := func(clientID string, ts int64, nonce, sig string) (*client.CreateSessionResponse, error) {
		return h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: clientID, Timestamp: &ts, Nonce: &nonce, Signature: &sig})
	}
	ms, secs := now.UnixMilli(), now.Unix()
	sign := func(clientID string, ts int64, nonce string) string {
		return leanSign(key, "app1", clientID, "", strconv.FormatInt(ts, 10), nonce)
	}

	r, err := login("Tom", ms, "n1", sign("Tom", ms, "n1"))
	if err != nil || r.StatusCode() != http.StatusCreated || r.JSON201.ClientId != "Tom" {
		t.Fatalf("signed login (ms): %v %d %s", err, r.StatusCode(), r.Body)
	}
	tom := &user{h: h, LoginResult: *r.JSON201}
	tom.createConv("Jerry") // the session works
	r, err = login("Tom", secs, "n2", strings.ToUpper(sign("Tom", secs, "n2")))
	if err != nil || r.StatusCode() != http.StatusCreated {
		t.Errorf("signed login (seconds, upper-case hex): %v %d %s", err, r.StatusCode(), r.Body)
	}

	for _, tc := range []struct {
		what, client string
		ts           int64
		nonce, sig   string
	}{
		{"the nonce again", "Tom", ms, "n1", sign("Tom", ms, "n1")},
		{"another client's signature", "Jerry", ms, "n3", sign("Tom", ms, "n3")},
		{"a signature of another timestamp", "Tom", ms + 1, "n4", sign("Tom", ms, "n4")},
		{"a signature keyed otherwise", "Tom", ms, "n5", leanSign("not the key", "app1", "Tom", "", strconv.FormatInt(ms, 10), "n5")},
		{"seven hours old", "Tom", now.Add(-7 * time.Hour).UnixMilli(), "n6", sign("Tom", now.Add(-7*time.Hour).UnixMilli(), "n6")},
		{"seven hours ahead", "Tom", now.Add(7 * time.Hour).Unix(), "n7", sign("Tom", now.Add(7*time.Hour).Unix(), "n7")},
		{"no signature", "Tom", ms, "n8", ""},
		{"no nonce", "Tom", ms, "", sign("Tom", ms, "")},
	} {
		expectProblem(t, tc.what, http.StatusUnauthorized, client.SIGNATUREINVALID)(login(tc.client, tc.ts, tc.nonce, tc.sig))
	}
	// A nonce refused with a wrong signature is not used up.
	if r, err := login("Tom", ms, "n5", sign("Tom", ms, "n5")); err != nil || r.StatusCode() != http.StatusCreated {
		t.Errorf("a nonce first seen with a wrong signature: %v %d %s", err, r.StatusCode(), r.Body)
	}
	// Nor is one whose login failed for another reason.
	expectProblem(t, "an invalid offlineMessages", http.StatusBadRequest, client.INVALIDREQUEST)(
		h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Timestamp: &ms, Nonce: ptr("n9"),
			Signature: ptr(sign("Tom", ms, "n9")), OfflineMessages: ptr(client.LoginRequestOfflineMessages("never"))}))
	if r, err := login("Tom", ms, "n9", sign("Tom", ms, "n9")); err != nil || r.StatusCode() != http.StatusCreated {
		t.Errorf("the nonce of a refused login: %v %d %s", err, r.StatusCode(), r.Body)
	}

	// The nonce is remembered across a restart.
	h2 := h.restart(authMode("signature"))
	expectProblem(t, "the nonce again after a restart", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		h2.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Timestamp: &ms, Nonce: ptr("n1"), Signature: ptr(sign("Tom", ms, "n1"))}))
}

// JWT mode: a login carries a JWT the backend minted with the master key
// (HS256, sub = clientId, with an expiry).
func TestLoginJWTMode(t *testing.T) {
	h := start(t, authMode("jwt"))
	mint := func(key string, method jwt.SigningMethod, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": exp})
	r, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Token: &good})
	if err != nil || r.StatusCode() != http.StatusCreated || r.JSON201.ClientId != "Tom" {
		t.Fatalf("login with a good token: %v %d %s", err, r.StatusCode(), r.Body)
	}
	for what, token := range map[string]string{
		"no token":            "",
		"another client's":    mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Jerry", "exp": exp}),
		"expired":             mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": time.Now().Add(-time.Hour).Unix()}),
		"without an expiry":   mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom"}),
		"keyed otherwise":     mint("not the key", jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": exp}),
		"HS512":               mint(h.srv.MasterKey, jwt.SigningMethodHS512, jwt.MapClaims{"sub": "Tom", "exp": exp}),
		"not a JWT":           "garbage",
		"alg none (unsigned)": strings.Join(strings.Split(good, ".")[:2], ".") + ".",
	} {
		expectProblem(t, "jwt mode, "+what, http.StatusUnauthorized, client.SIGNATUREINVALID)(
			h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Token: &token}))
	}
}
