package handlers

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/store"
)

// The auth modes of logins (API.md, "Auth modes").
const (
	AuthOpen      = "open"
	AuthSignature = "signature"
	AuthJWT       = "jwt"
)

// signatureTTL is how long a signature stays valid after its timestamp
// (and how far ahead of the server's clock it may be).
const signatureTTL = 6 * time.Hour

// Signed is what a request carries in signature mode besides its own
// fields (API.md, "Auth modes").
type Signed struct {
	Signature string `json:"signature,omitempty" maxLength:"128" doc:"Signature auth mode: the app backend's signature of this operation" example:"5c1b8e6f0a3c0b3f7d9e2c4a1b0f9e8d7c6b5a49"`
	Timestamp int64  `json:"timestamp,omitempty" doc:"Signature auth mode: the signature's time, seconds or milliseconds" example:"1796054400"`
	Nonce     string `json:"nonce,omitempty" maxLength:"128" doc:"Signature auth mode: the signature's nonce, accepted once" example:"7f3a9c2e1b5d4f60"`
}

// signedNonce is the nonce of a checked signature, which the request's
// write records (use): a nonce is accepted once, and a request refused
// before its write uses none.
type signedNonce struct {
	nonce  string
	expiry int64 // ms: when the signature stops being valid
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

// checkLoginToken verifies a login's app-issued JWT (jwt mode): HS256,
// keyed with the master key, with an expiry, for the client logging in.
func (s *Service) checkLoginToken(token, clientID string) error {
	if token == "" {
		return fail(CodeSignatureInvalid, "token is required (jwt auth mode)")
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return []byte(s.cfg.MasterKey), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute), jwt.WithTimeFunc(s.now))
	if err != nil {
		return fail(CodeSignatureInvalid, "token: %v", err)
	}
	if claims.Subject != clientID {
		return fail(CodeSignatureInvalid, "the token is for %q, not %q", claims.Subject, clientID)
	}
	return nil
}
