package integration

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jmoiron/sqlx"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// leanSign is the app backend's side of a LeanCloud signature (README,
// "Logins in production: signature and jwt modes"): the lowercase hex
// HMAC-SHA1 of the ':'-joined parts, keyed with the master key.
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
	tom.lcUnreadNow() // the session works
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
		// NumericDates are numbers (RFC 7519); golang-jwt took strings too.
		"exp a string":   mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": strconv.FormatInt(exp, 10)}),
		"nbf a string":   mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": exp, "nbf": "0"}),
		"iat a string":   mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": exp, "iat": strconv.FormatInt(time.Now().Unix(), 10)}),
		"iat an hour on": mint(h.srv.MasterKey, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "Tom", "exp": exp, "iat": time.Now().Add(time.Hour).Unix()}),
	} {
		expectProblem(t, "jwt mode, "+what, http.StatusUnauthorized, client.SIGNATUREINVALID)(
			h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Token: &token}))
	}
}

// JWT mode: the clocks of the backend and the server may differ by a
// minute; a token with a jti is accepted once, even across a restart, and a
// refused login does not use its jti up.
func TestLoginJWTModeJTI(t *testing.T) {
	h := start(t, authMode("jwt"))
	mint := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(h.srv.MasterKey))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	login := func(clientID, token string) (*client.CreateSessionResponse, error) {
		return h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: clientID, Token: &token})
	}
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	created := func(what string, r *client.CreateSessionResponse, err error) {
		t.Helper()
		if err != nil || r.StatusCode() != http.StatusCreated {
			t.Fatalf("%s: %v %d %s", what, err, r.StatusCode(), r.Body)
		}
	}

	r, err := login("Tom", mint(jwt.MapClaims{"sub": "Tom", "exp": exp, "iat": now.Add(30 * time.Second).Unix()}))
	created("iat half a minute ahead (within the leeway)", r, err)
	untracked := mint(jwt.MapClaims{"sub": "Tom", "exp": exp, "iat": now.Unix()})
	for i := range 2 {
		r, err := login("Tom", untracked)
		created("a token without a jti, use "+strconv.Itoa(i+1), r, err)
	}

	once := mint(jwt.MapClaims{"sub": "Tom", "exp": exp, "jti": "j1"})
	r, err = login("Tom", once)
	created("a token with a jti", r, err)
	expectProblem(t, "the same token again", http.StatusUnauthorized, client.SIGNATUREINVALID)(login("Tom", once))
	expectProblem(t, "another token with the same jti", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		login("Tom", mint(jwt.MapClaims{"sub": "Tom", "exp": exp + 1, "jti": "j1"})))
	// A jti is not a signature's nonce.
	expectProblem(t, "a jti that is not a string", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		login("Tom", mint(jwt.MapClaims{"sub": "Tom", "exp": exp, "jti": 7})))

	// A refused login (another client's token) leaves its jti unused.
	expectProblem(t, "another client's token", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		login("Jerry", mint(jwt.MapClaims{"sub": "Tom", "exp": exp, "jti": "j2"})))
	r, err = login("Tom", mint(jwt.MapClaims{"sub": "Tom", "exp": exp, "jti": "j2"}))
	created("the jti of a refused login", r, err)

	// The jti is kept until the token expires (plus the leeway), across a restart.
	var until int64
	if err := sqlx.GetContext(ctx(t), h.srv.DB().R(), &until, "SELECT expires_at FROM signature_nonces WHERE nonce = ?", "jwt:j1"); err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(exp, 0).Add(time.Minute).UnixMilli(); until != want {
		t.Errorf("jti kept until %d, want %d (exp + 1 minute)", until, want)
	}
	h2 := h.restart(authMode("jwt"))
	expectProblem(t, "the token again after a restart", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		h2.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Token: &once}))
}

// Signature mode: creating a conversation, adding, joining and removing
// members each carry the backend's signature of the operation (README,
// "Logins in production: signature and jwt modes"); without one, or with
// another operation's, nothing changes. The master key needs none.
func TestConversationSignatures(t *testing.T) {
	h := start(t, authMode("signature"))
	key := h.srv.MasterKey
	ms := time.Now().UnixMilli()
	ts := strconv.FormatInt(ms, 10)
	n := 0
	signed := func(parts ...string) client.Signed {
		n++
		nonce := "c" + strconv.Itoa(n)
		// parts: what comes before timestamp:nonce; a last part "invite" or
		// "kick" goes after them.
		var tail []string
		if last := parts[len(parts)-1]; last == "invite" || last == "kick" {
			parts, tail = parts[:len(parts)-1], []string{last}
		}
		all := append(append(append([]string{"app1"}, parts...), ts, nonce), tail...)
		return client.Signed{Signature: ptr(leanSign(key, all...)), Timestamp: &ms, Nonce: &nonce}
	}
	loginAs := func(id string) *user {
		s := signed(id, "")
		r, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: id, Signature: s.Signature, Timestamp: s.Timestamp, Nonce: s.Nonce})
		if err != nil || r.StatusCode() != http.StatusCreated {
			t.Fatalf("login %s: %v %d %s", id, err, r.StatusCode(), r.Body)
		}
		return &user{h: h, LoginResult: *r.JSON201}
	}
	tom, mary := loginAs("Tom"), loginAs("Mary")
	bad := expectProblem

	// Create: appId:clientId:sortedMemberIds (the creator included):ts:nonce.
	create := func(sig client.Signed) (*client.CreateConversationResponse, error) {
		return h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{
			Members: &[]string{"Jerry"}, Signature: sig.Signature, Timestamp: sig.Timestamp, Nonce: sig.Nonce}, tom.auth())
	}
	bad(t, "create without a signature", http.StatusUnauthorized, client.SIGNATUREINVALID)(create(client.Signed{}))
	bad(t, "create signed without the creator", http.StatusUnauthorized, client.SIGNATUREINVALID)(create(signed("Tom", "Jerry")))
	r, err := create(signed("Tom", "Jerry:Tom"))
	if err != nil || r.StatusCode() != http.StatusCreated {
		t.Fatalf("signed create: %v %d %s", err, r.StatusCode(), r.Body)
	}
	conv := r.JSON201.Id

	// Add: appId:clientId:convId:sortedMemberIds:ts:nonce:invite.
	add := func(ids []string, sig client.Signed) (*client.AddMembersResponse, error) {
		return h.c.AddMembersWithResponse(ctx(t), conv, client.MembersRequest{ClientIds: &ids, Signature: sig.Signature, Timestamp: sig.Timestamp, Nonce: sig.Nonce}, tom.auth())
	}
	bad(t, "add signed as a kick", http.StatusUnauthorized, client.SIGNATUREINVALID)(add([]string{"Spike", "Mary"}, signed("Tom", conv, "Mary:Spike", "kick")))
	bad(t, "add signed for others", http.StatusUnauthorized, client.SIGNATUREINVALID)(add([]string{"Spike", "Mary"}, signed("Tom", conv, "Mary", "invite")))
	if r, err := add([]string{"Spike", "Mary"}, signed("Tom", conv, "Mary:Spike", "invite")); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("signed add: %v %d %s", err, r.StatusCode(), r.Body)
	}

	// Remove: ...:kick.
	remove := func(sig client.Signed) (*client.RemoveMembersResponse, error) {
		return h.c.RemoveMembersWithResponse(ctx(t), conv, client.MembersRequest{ClientIds: &[]string{"Spike"}, Signature: sig.Signature, Timestamp: sig.Timestamp, Nonce: sig.Nonce}, tom.auth())
	}
	bad(t, "remove signed as an invite", http.StatusUnauthorized, client.SIGNATUREINVALID)(remove(signed("Tom", conv, "Spike", "invite")))
	if r, err := remove(signed("Tom", conv, "Spike", "kick")); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("signed remove: %v %d %s", err, r.StatusCode(), r.Body)
	}

	// Join: the joiner is the member list. Mary quits first (no signature).
	if r, err := h.c.QuitConversationWithResponse(ctx(t), conv, mary.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("quit: %v %d %s", err, r.StatusCode(), r.Body)
	}
	bad(t, "join without a body", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		h.c.JoinConversationWithBodyWithResponse(ctx(t), conv, "", nil, mary.auth()))
	bad(t, "join signed for Tom", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		h.c.JoinConversationWithResponse(ctx(t), conv, signed("Mary", conv, "Tom", "invite"), mary.auth()))
	used := signed("Mary", conv, "Mary", "invite")
	jr, err := h.c.JoinConversationWithResponse(ctx(t), conv, used, mary.auth())
	if err != nil || jr.StatusCode() != http.StatusOK {
		t.Fatalf("signed join: %v %d %s", err, jr.StatusCode(), jr.Body)
	}
	if got := deref(jr.JSON200.Members); !slices.Equal(got, []string{"Jerry", "Tom", "Mary"}) && len(got) != 3 {
		t.Errorf("members after the changes: %v", got)
	}
	// A nonce is accepted once, whichever operation it signed.
	h.c.QuitConversationWithResponse(ctx(t), conv, mary.auth())
	bad(t, "the same join again", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		h.c.JoinConversationWithResponse(ctx(t), conv, used, mary.auth()))

	// The signed string is ':'-joined: a nonce holding ':' ("x:invite")
	// could make one operation's signature read as another's, so it is
	// refused even when the signature matches.
	colon := "x:invite"
	bad(t, "a nonce with ':'", http.StatusUnauthorized, client.SIGNATUREINVALID)(
		h.c.JoinConversationWithResponse(ctx(t), conv, client.Signed{Signature: ptr(leanSign(key, "app1", "Mary", conv, "Mary", ts, colon, "invite")),
			Timestamp: &ms, Nonce: &colon}, mary.auth()))

	// The master key signs nothing.
	if r, err := h.c.AddMembersWithResponse(ctx(t), conv, client.MembersRequest{ClientIds: &[]string{"Spike"}}, h.master()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("master key add: %v %d %s", err, r.StatusCode(), r.Body)
	}
}
