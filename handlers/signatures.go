package handlers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/store"
)

// The auth modes of logins (README, "Configuration" and "Logins in
// production: signature and jwt modes").
const (
	AuthOpen      = "open"
	AuthSignature = "signature"
	AuthJWT       = "jwt"
)

// signatureTTL is how long a signature stays valid after its timestamp
// (and how far ahead of the server's clock it may be).
const signatureTTL = 6 * time.Hour

// Signed is what a request carries in signature mode besides its own
// fields (README, "Logins in production: signature and jwt modes").
type Signed struct {
	Signature string `json:"signature,omitempty" maxLength:"128" doc:"Signature auth mode: the app backend's signature of this operation" example:"5c1b8e6f0a3c0b3f7d9e2c4a1b0f9e8d7c6b5a49"`
	Timestamp int64  `json:"timestamp,omitempty" doc:"Signature auth mode: the signature's time, seconds or milliseconds" example:"1796054400"`
	Nonce     string `json:"nonce,omitempty" maxLength:"128" doc:"Signature auth mode: the signature's nonce, accepted once" example:"7f3a9c2e1b5d4f60"`
}

// signedNonce is the nonce of a checked signature (or the jti of a login
// JWT), which the request's write records (use): a nonce is accepted once,
// and a request refused before its write uses none.
type signedNonce struct {
	nonce  string
	expiry int64  // ms: when the signature stops being valid
	reused string // the refusal of a second use; "" for a signature's
}

// use records the nonce; nil (no signature needed) records nothing.
func (n *signedNonce) use(tx *store.Tx, now int64) error {
	if n == nil {
		return nil
	}
	fresh, err := tx.UseNonce(n.nonce, n.expiry, now)
	if err != nil {
		return err
	}
	if !fresh {
		if n.reused != "" {
			return fail(CodeSignatureInvalid, "%s", n.reused)
		}
		return fail(CodeSignatureInvalid, "the nonce was used before")
	}
	return nil
}

// conversationSignature checks, in signature mode, a client's signature of
// a conversation operation: appId:clientId:parts...:timestamp:nonce, then
// action ("invite", "kick") if any. Other modes and the master key need
// none (nil).
func (s *Service) conversationSignature(p Principal, sig Signed, action string, parts ...string) (*signedNonce, error) {
	if s.cfg.AuthMode != AuthSignature || p.Master {
		return nil, nil
	}
	var tail []string
	if action != "" {
		tail = []string{action}
	}
	return s.checkSignature(sig, tail, append([]string{s.cfg.AppID, p.ClientID}, parts...)...)
}

// sortedIDs is a member list as signatures name it: sorted, ':'-joined.
func sortedIDs(ids []string) string {
	return strings.Join(slices.Sorted(slices.Values(ids)), ":")
}

// sign is LeanCloud's signature of parts: the lowercase hex HMAC-SHA1,
// keyed with the master key, of the parts joined by ':'.
func (s *Service) sign(parts ...string) string {
	mac := hmac.New(sha1.New, []byte(s.cfg.MasterKey))
	mac.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(mac.Sum(nil))
}

// checkSignature verifies sig over parts:timestamp:nonce, then tail, and
// returns its nonce for the request's write to record.
func (s *Service) checkSignature(sig Signed, tail []string, parts ...string) (*signedNonce, error) {
	if sig.Signature == "" || sig.Timestamp <= 0 || sig.Nonce == "" {
		return nil, fail(CodeSignatureInvalid, "signature, timestamp and nonce are required")
	}
	// The signed string is ':'-joined: a nonce holding ':' could make the
	// signature of one operation read as another's ("n:invite").
	if strings.Contains(sig.Nonce, ":") {
		return nil, fail(CodeSignatureInvalid, "a nonce must not contain ':'")
	}
	at := time.UnixMilli(sig.Timestamp)
	if sig.Timestamp < 1e12 {
		at = time.Unix(sig.Timestamp, 0)
	}
	if d := s.now().Sub(at); d > signatureTTL || d < -signatureTTL {
		return nil, fail(CodeSignatureInvalid, "the signature's timestamp is more than %s away", signatureTTL)
	}
	want := s.sign(slices.Concat(parts, []string{strconv.FormatInt(sig.Timestamp, 10), sig.Nonce}, tail)...)
	if !hmac.Equal([]byte(strings.ToLower(sig.Signature)), []byte(want)) {
		return nil, fail(CodeSignatureInvalid, "the signature does not match")
	}
	return &signedNonce{nonce: sig.Nonce, expiry: at.Add(signatureTTL).UnixMilli()}, nil
}

// loginTokenLeeway is the clock skew allowed between the app's backend,
// which mints login JWTs, and the server: on exp, nbf and iat.
const loginTokenLeeway = time.Minute

// checkLoginToken verifies a login's app-issued JWT (jwt mode): HS256,
// keyed with the master key, with an expiry, not issued in the future, for
// the client logging in. A token with a jti is accepted once: its jti is
// returned as a nonce for the login's write to record, until the token
// expires.
func (s *Service) checkLoginToken(token, clientID string) (*signedNonce, error) {
	if token == "" {
		return nil, fail(CodeSignatureInvalid, "token is required (jwt auth mode)")
	}
	var claims loginClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return []byte(s.cfg.MasterKey), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(loginTokenLeeway), jwt.WithTimeFunc(s.now))
	if err != nil {
		return nil, fail(CodeSignatureInvalid, "token: %v", err)
	}
	if claims.Subject != clientID {
		return nil, fail(CodeSignatureInvalid, "the token is for %q, not %q", claims.Subject, clientID)
	}
	if claims.ID == "" {
		return nil, nil
	}
	// Beside the signatures' nonces, in a namespace of its own.
	return &signedNonce{
		nonce:  "jwt:" + claims.ID,
		expiry: claims.ExpiresAt.Add(loginTokenLeeway).UnixMilli(),
		reused: "the token's jti was used before: a login token with a jti is accepted once",
	}, nil
}

// loginClaims are a login JWT's claims, decoded strictly: golang-jwt
// decodes a NumericDate through json.Number, which takes a JSON string as
// well ("exp":"99999999999"), but RFC 7519 wants a number.
type loginClaims struct {
	jwt.RegisteredClaims
}

func (c *loginClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[name]; ok {
			if v = bytes.TrimSpace(v); len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
				return fmt.Errorf("%s is not a number", name)
			}
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}
