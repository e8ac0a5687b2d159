package handlers

import (
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// LoginRequest is the body of POST /v1/sessions.
type LoginRequest struct {
	ClientID        string `json:"clientId" minLength:"1" maxLength:"64" doc:"The client to log in as: 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters" example:"Tom"`
	Tag             string `json:"tag,omitempty" maxLength:"64" doc:"Device kind, at most 64 characters and no control characters; a newer login with the same tag replaces the older session" example:"Web"`
	OfflineMessages string `json:"offlineMessages,omitempty" enum:"unread,push" doc:"What a fresh stream sends first: unread counts (default) or the unread messages themselves"`
	Signature       string `json:"signature,omitempty" maxLength:"128" doc:"Login signature (signature auth mode)"`
	Timestamp       int64  `json:"timestamp,omitempty" doc:"Signature time, seconds or milliseconds"`
	Nonce           string `json:"nonce,omitempty" maxLength:"128" doc:"Signature nonce, accepted once"`
	Token           string `json:"token,omitempty" maxLength:"4096" doc:"App-issued JWT (jwt auth mode), sub = clientId"`
	// IP is the address the login came from (rate limits), not a field.
	IP string `json:"-"`
}

// PeerIP is the host of a connection's remote address ("ip:port", or
// "[ip]:port"), as logins and hooks record it: the peer's, never a
// forwarded header a client could set. An address without a port is
// returned as it is.
func PeerIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// LoginResult is the created session.
type LoginResult struct {
	SessionID string `json:"sessionId" example:"0t5bq1m6k3v8a2d4e6g0"`
	ClientID  string `json:"clientId" example:"Tom"`
	Tag       string `json:"tag" example:"Web"`
	Token     string `json:"token" doc:"Session token: send as Authorization: Bearer <token>" example:"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."`
	ExpiresAt int64  `json:"expiresAt" doc:"Token expiry, ms since the Unix epoch" example:"1796054400000"`
}

// sessionState caches what authenticating a token needs to know.
type sessionState struct {
	clientID string
	tag      string
	offline  string // offlineMessages: unread or push
	ended    string // "" while live, else the reason: endedLogout or endedConflict
}

// Why a session ended, as stored (store.Session.EndReason).
const (
	endedLogout   = "logout"
	endedConflict = "conflict" // a newer login replaced it (the same tag, or past the client's bound)
	endedKicked   = "kicked"   // the master key ended it (KickClient)
)

type tokenClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// ClientIDRule says what a clientId may hold, for the details of errors.
const ClientIDRule = "a clientId is 1–64 characters, not only white space, with no ':' or ',' " +
	"and no control (Cc), format (Cf: zero-width, bidi overrides, U+FEFF…) or line/paragraph separator characters"

// ValidClientID reports whether id is an acceptable clientId: 1–64
// characters of UTF-8, not only white space, none of them ':' or ',',
// a control character (Cc), a format character (Cf: U+200B–U+200D,
// U+202E, U+FEFF…) or a line or paragraph separator (U+2028, U+2029).
// It is the one rule of every clientId that enters the server.
//
// ':' joins the parts of a signed string (README, "Logins in production:
// signature and jwt modes"): were it allowed, the signature of Tom
// creating a conversation with "zz:" would also be the login signature of
// "Tom:Tom:zz". ',' separates the ids of
// GET /v1/clients/online?ids=. Invisible characters would make ids that
// look alike but are different clients.
func ValidClientID(id string) bool {
	if id == "" || len(id) > utf8.UTFMax*MaxClientIDLen || !utf8.ValidString(id) {
		return false
	}
	n, blank := 0, true
	for _, r := range id {
		n++
		switch {
		case r == ':' || r == ',':
			return false
		case r < utf8.RuneSelf:
			if r < 0x20 || r == 0x7f {
				return false
			}
			blank = blank && r == ' '
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			return false
		default:
			blank = blank && unicode.Is(unicode.Zs, r)
		}
	}
	return n <= MaxClientIDLen && !blank
}

// hasControl reports whether s holds a control character (Cc: C0, DEL,
// C1) or is not UTF-8: what names and tags may not hold.
func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func checkClientIDs(ids []string, what string) *Error {
	for _, id := range ids {
		if !ValidClientID(id) {
			return fail(CodeInvalidRequest, "%s: %q is not a valid clientId: %s", what, id, ClientIDRule)
		}
	}
	return nil
}

// Login opens a session for a client.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	if err := s.loginLimit.allow(req.IP, s.now()); err != nil {
		return nil, err
	}
	if !ValidClientID(req.ClientID) {
		return nil, fail(CodeInvalidRequest, "clientId: %q is not a valid clientId: %s", req.ClientID, ClientIDRule)
	}
	if utf8.RuneCountInString(req.Tag) > maxTagLen {
		return nil, fail(CodeInvalidRequest, "tag is longer than %d characters", maxTagLen)
	}
	if hasControl(req.Tag) {
		return nil, fail(CodeInvalidRequest, "tag: %q holds control characters", req.Tag)
	}
	switch req.OfflineMessages {
	case "":
		req.OfflineMessages = "unread"
	case "unread", "push":
	default:
		return nil, fail(CodeInvalidRequest, "offlineMessages must be unread or push")
	}
	nonce, err := s.checkLoginCredentials(req)
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &store.Session{
		ID:              randomID(),
		ClientID:        req.ClientID,
		Tag:             req.Tag,
		OfflineMessages: req.OfflineMessages,
		CreatedAt:       now.UnixMilli(),
		ExpiresAt:       now.Add(s.cfg.SessionTTL).UnixMilli(),
	}
	var replaced, crowded []string
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		replaced, crowded = nil, nil
		if err := nonce.use(tx, sess.CreatedAt); err != nil {
			return err
		}
		if req.Tag != "" {
			ids, err := tx.LiveSessionsWithTag(req.ClientID, req.Tag, sess.CreatedAt)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := tx.EndSession(id, endedConflict, sess.CreatedAt); err != nil {
					return err
				}
			}
			replaced = ids
		}
		// A client holds at most MaxSessionsPerClient live sessions: the
		// oldest make room, as if replaced, so that nobody is locked out.
		live, err := tx.LiveSessions(req.ClientID, sess.CreatedAt)
		if err != nil {
			return err
		}
		live = slices.DeleteFunc(live, func(id string) bool { return slices.Contains(replaced, id) })
		for _, id := range live[:max(0, len(live)-s.cfg.MaxSessionsPerClient+1)] {
			if _, err := tx.EndSession(id, endedConflict, sess.CreatedAt); err != nil {
				return err
			}
			crowded = append(crowded, id)
		}
		return tx.InsertSession(sess)
	}, func() {
		s.countCachedSession()
		s.sessions.Store(sess.ID, &sessionState{clientID: sess.ClientID, tag: sess.Tag, offline: sess.OfflineMessages})
		for _, id := range replaced {
			s.wentOffline(id, closeConflict, "a newer login with the same tag replaced this session")
			s.endSessionState(id, endedConflict)
			s.hub.EndSession(id, events.MustNew(events.NameConflict, ReasonEvent{Reason: "a newer login with the same tag replaced this session"}))
		}
		for _, id := range crowded {
			s.wentOffline(id, closeConflict, "the client logged in too many times: its oldest session ended")
			s.endSessionState(id, endedConflict)
			s.hub.EndSession(id, events.MustNew(events.NameConflict, ReasonEvent{Reason: "this client logged in more than " +
				strconv.Itoa(s.cfg.MaxSessionsPerClient) + " times: its oldest session ended"}))
		}
	})
	if err != nil {
		return nil, err
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tokenClaims{
		SessionID: sess.ID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sess.ClientID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(time.UnixMilli(sess.ExpiresAt)),
		},
	}).SignedString(s.cfg.JWTSecret)
	if err != nil {
		return nil, err
	}
	return &LoginResult{SessionID: sess.ID, ClientID: sess.ClientID, Tag: sess.Tag, Token: token, ExpiresAt: sess.ExpiresAt}, nil
}

// checkLoginCredentials applies the server's auth mode to a login. In
// signature mode it returns the signature's nonce, in jwt mode the token's
// jti if it has one, which the login's write records.
func (s *Service) checkLoginCredentials(req LoginRequest) (*signedNonce, error) {
	switch s.cfg.AuthMode {
	case "", AuthOpen:
		return nil, nil
	case AuthSignature:
		// appId:clientId::timestamp:nonce
		sig := Signed{Signature: req.Signature, Timestamp: req.Timestamp, Nonce: req.Nonce}
		return s.checkSignature(sig, nil, s.cfg.AppID, req.ClientID, "")
	case AuthJWT:
		return s.checkLoginToken(req.Token, req.ClientID)
	}
	return nil, fail(CodeSignatureInvalid, "unknown auth mode %q", s.cfg.AuthMode)
}

// endSessionState records in the cache that a session ended. It stores
// unconditionally, so a concurrent cache fill from an older read cannot
// bring the session back to life.
func (s *Service) endSessionState(id, reason string) {
	st := &sessionState{ended: reason}
	if v, ok := s.sessions.Load(id); ok {
		old := v.(*sessionState)
		st.clientID, st.tag, st.offline = old.clientID, old.tag, old.offline
	}
	s.sessions.Store(id, st)
}

// Logout ends the caller's session: its token stops working at once and its
// stream closes.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if p.SessionID == "" {
		return fail(CodeForbidden, "only a session can log out")
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.EndSession(p.SessionID, endedLogout, s.nowMs()); err != nil {
			return err
		}
		_, err := tx.TakeWill(p.SessionID) // a logout is no abrupt drop
		return err
	}, func() {
		s.wentOffline(p.SessionID, closeLogout, "logged out")
		s.endSessionState(p.SessionID, endedLogout)
		s.hub.EndSession(p.SessionID, nil)
	})
	return err
}

// KickClient ends every live session of a client, with the master key:
// their tokens stop working and their streams close, as at a logout, and
// _clientOffline says close code 4. It returns how many sessions ended. (The
// LeanCloud-compatible API's kick calls it.)
func (s *Service) KickClient(ctx context.Context, p Principal, clientID, reason string) (int, error) {
	if !p.Master {
		return 0, fail(CodeForbidden, "the master key is required")
	}
	var ended []string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		ended = nil
		now := s.nowMs()
		live, err := tx.LiveSessions(clientID, now)
		if err != nil {
			return err
		}
		for _, id := range live {
			if _, err := tx.EndSession(id, endedKicked, now); err != nil {
				return err
			}
			if _, err := tx.TakeWill(id); err != nil { // no abrupt drop either
				return err
			}
		}
		ended = live
		return nil
	}, func() {
		for _, id := range ended {
			s.wentOffline(id, closeKicked, cmp.Or(reason, "kicked by the app"))
			s.endSessionState(id, endedKicked)
			s.hub.EndSession(id, nil)
		}
	})
	return len(ended), err
}

// SessionKicked reports whether a session was ended by the master key
// (KickClient) rather than by a logout or a newer login: the realtime
// gateway tells LeanCloud's SDKs which (session/closed 4115).
func (s *Service) SessionKicked(ctx context.Context, sessionID string) bool {
	st, err := s.sessionState(ctx, sessionID)
	return err == nil && st.ended == endedKicked
}

// Authenticate turns a session token into the caller it names. A token of a
// session that logged out or was replaced fails at once, even though the
// token itself has not expired.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	sessionID, err := s.verifyToken(token)
	if err != nil {
		return Principal{}, err
	}
	st, err := s.sessionState(ctx, sessionID)
	if err != nil {
		return Principal{}, err
	}
	switch st.ended {
	case "":
	case endedConflict:
		return Principal{}, fail(CodeSessionConflict, "this session was replaced by a newer login with the same tag")
	default:
		return Principal{}, fail(CodeUnauthorized, "this session has ended")
	}
	return Principal{ClientID: st.clientID, SessionID: sessionID}, nil
}

// verifiedToken is a token whose signature was checked, kept so that every
// request of a session does not verify it again.
type verifiedToken struct {
	sessionID string
	expires   time.Time
}

const maxVerifiedTokens = 100_000

// maxCachedSessions bounds the cache of session states, which every login
// adds to: past it the cache starts over and refills from the database,
// which holds the truth, so that a flood of logins cannot take the memory.
var maxCachedSessions int64 = 200_000 // a variable for tests

func (s *Service) countCachedSession() {
	if s.sessionCount.Add(1) > maxCachedSessions {
		s.sessions.Clear()
		s.sessionCount.Store(1)
	}
}

// verifyToken checks a session token's signature and expiry and returns the
// session it names. Whether that session is still live is for the caller.
func (s *Service) verifyToken(token string) (string, error) {
	if v, ok := s.tokens.Load(token); ok {
		vt := v.(verifiedToken)
		if time.Now().Before(vt.expires) {
			return vt.sessionID, nil
		}
		s.tokens.Delete(token)
	}
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	if err != nil || claims.SessionID == "" {
		return "", errUnauthorized
	}
	if s.tokenCount.Add(1) > maxVerifiedTokens {
		s.tokens.Clear()
		s.tokenCount.Store(1)
	}
	s.tokens.Store(token, verifiedToken{sessionID: claims.SessionID, expires: claims.ExpiresAt.Time})
	return claims.SessionID, nil
}

func (s *Service) sessionState(ctx context.Context, id string) (*sessionState, error) {
	if v, ok := s.sessions.Load(id); ok {
		return v.(*sessionState), nil
	}
	row, err := s.db.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	st := &sessionState{clientID: row.ClientID, tag: row.Tag, offline: row.OfflineMessages}
	if row.EndedAt != nil {
		st.ended = row.EndReason
		if st.ended == "" {
			st.ended = endedLogout
		}
	}
	// LoadOrStore: a concurrent logout that stored first wins.
	s.countCachedSession()
	v, _ := s.sessions.LoadOrStore(id, st)
	return v.(*sessionState), nil
}
