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

// Signed is what a request in signature mode carries besides its fields.
type Signed struct {
	Signature string
	Timestamp int64 // seconds, or milliseconds from 10^12 on
	Nonce     string
}

// sign is LeanCloud's signature of parts: the lowercase hex HMAC-SHA1,
// keyed with the master key, of the parts joined by ':'.
func (s *Service) sign(parts ...string) string {
	mac := hmac.New(sha1.New, []byte(s.cfg.MasterKey))
	mac.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(mac.Sum(nil))
}

// checkSignature verifies sig over the parts that precede its timestamp and
// nonce (the signed string is parts:timestamp:nonce, then tail, if any) and
// returns when the nonce may be forgotten (ms). The nonce is not recorded
// here: useNonce does, in the request's write.
func (s *Service) checkSignature(sig Signed, tail []string, parts ...string) (nonceExpiry int64, err error) {
	if sig.Signature == "" || sig.Timestamp <= 0 || sig.Nonce == "" {
		return 0, fail(CodeSignatureInvalid, "signature, timestamp and nonce are required")
	}
	at := time.UnixMilli(sig.Timestamp)
	if sig.Timestamp < 1e12 {
		at = time.Unix(sig.Timestamp, 0)
	}
	if d := s.now().Sub(at); d > signatureTTL || d < -signatureTTL {
		return 0, fail(CodeSignatureInvalid, "the signature's timestamp is more than %s away", signatureTTL)
	}
	want := s.sign(slices.Concat(parts, []string{strconv.FormatInt(sig.Timestamp, 10), sig.Nonce}, tail)...)
	if !hmac.Equal([]byte(strings.ToLower(sig.Signature)), []byte(want)) {
		return 0, fail(CodeSignatureInvalid, "the signature does not match")
	}
	return at.Add(signatureTTL).UnixMilli(), nil
}

// useNonce records a checked signature's nonce in the request's write; a
// nonce is accepted once.
func useNonce(tx *store.Tx, sig Signed, expiry, now int64) error {
	fresh, err := tx.UseNonce(sig.Nonce, expiry, now)
	if err != nil {
		return err
	}
	if !fresh {
		return fail(CodeSignatureInvalid, "the nonce was used before")
	}
	return nil
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
