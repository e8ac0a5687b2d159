// Package gateway speaks LeanCloud's realtime protocol (LEANCLOUD.md §3), so
// that apps built on LeanCloud's client SDKs connect to Parley unchanged but
// for the server address: the RTM router (`GET /v1/route`) and a WebSocket
// endpoint (`/rtm`, and an upgrade at `/`) carrying protobuf GenericCommands
// (lcproto) over the subprotocols `lc.protobuf2.3` (binary frames) and
// `lc.proto2base64.3` (Base64 text frames).
//
// The gateway only translates: every command is answered by calling the
// same handlers.Service the HTTP API calls, and its errors are turned into
// LeanCloud's codes. It holds no IM state of its own beyond which clients
// (peerIds) are logged in on each connection.
//
// An idle connection costs one goroutine, its own (the HTTP handler hands
// the connection over to it and returns), which reads the frames; each
// command runs on a short-lived goroutine, one after the other, so that
// the reader keeps a small stack. A logged-in client's session attaches to
// the events hub as an SSE stream does, and its events are written by a
// short-lived flusher when they come (push.go). Writes are serialised by
// the connection's write lock. WebSocket pings are answered by
// github.com/coder/websocket while the reader reads.
package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/handlers"
)

// The subprotocols served (LEANCLOUD.md §3.1): version 3 is the
// unread-notification mode both JS SDKs use.
const (
	SubprotocolBinary = "lc.protobuf2.3"
	SubprotocolBase64 = "lc.proto2base64.3"
)

// RouteTTL is the ttl, in seconds, of the router's answer (LeanCloud's).
const RouteTTL = 3600

const (
	// maxFrame bounds an incoming frame. LeanCloud refuses frames over 5 KB
	// (4109 FRAME_TOO_LONG); Parley's messages may be larger, so the bound is
	// looser. A larger frame closes the connection (1009).
	maxFrame = 1 << 20
	// MaxClientsPerConnection bounds the clients (peerIds) logged in on one
	// connection: an SDK multiplexes the few IM clients of one app over its
	// connection, and each costs the server a session and a stream, so one
	// connection must not hold thousands.
	MaxClientsPerConnection = 32
	// idleTimeout closes a connection that sent nothing for this long: the JS
	// SDK sends an echo every 180 s and gives up after 380 s of silence.
	idleTimeout = 6 * time.Minute
	// writeTimeout bounds one frame's write.
	writeTimeout = 10 * time.Second
)

// Options configure a Gateway.
type Options struct {
	Service *handlers.Service
	// Hub delivers the events of the gateway's sessions, as it does those of
	// the HTTP API's event streams (required).
	Hub *events.Hub
	Log *slog.Logger // nil: slog.Default()
	// Now is the clock (serverTs); nil: time.Now.
	Now func() time.Time
}

// Gateway serves LeanCloud's realtime protocol.
type Gateway struct {
	svc *handlers.Service
	hub *events.Hub
	log *slog.Logger
	now func() time.Time

	resume resumePoints // where the sessions of closed connections stopped

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup // one per connection's goroutine
}

// New returns a Gateway answering with opt.Service.
func New(opt Options) *Gateway {
	g := &Gateway{svc: opt.Service, hub: opt.Hub, log: opt.Log, now: opt.Now, conns: map[*conn]struct{}{}}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// Wrap returns a handler that serves the gateway's routes — `GET
// /v1/route`, `/rtm`, and WebSocket upgrades at `/` (for SDKs given a bare
// host as their RTM server) — and hands every other request to next, which
// keeps the catch-all at `/` (the web demo) for everything but upgrades.
func (g *Gateway) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/route" && r.Method == http.MethodGet:
			g.route(w, r)
		case r.URL.Path == "/rtm", r.URL.Path == "/" && isUpgrade(r):
			g.serveWS(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// isUpgrade reports whether r asks to become a WebSocket.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// route answers the RTM router's request (LEANCLOUD.md §3.2) with this
// server's WebSocket endpoint, wss when the request came over TLS (or a
// proxy says so in X-Forwarded-Proto). The answer holds nothing secret, so
// any origin may read it (browser SDKs fetch it cross-origin).
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	scheme := "ws"
	if r.TLS != nil || strings.EqualFold(firstToken(r.Header.Get("X-Forwarded-Proto")), "https") {
		scheme = "wss"
	}
	u := scheme + "://" + r.Host + "/rtm"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(struct {
		Server    string `json:"server"`
		Secondary string `json:"secondary"`
		TTL       int    `json:"ttl"`
	}{u, u, RouteTTL})
}

// firstToken is the first of a comma-separated list (proxies append).
func firstToken(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// serveWS accepts a WebSocket and serves it until it closes.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	handed := false // to the connection's goroutine, which calls Done
	defer func() {
		if !handed {
			g.wg.Done()
		}
	}()
	sb := &smallBuffers{ResponseWriter: w}
	var nc net.Conn // the hijacked connection; not sb, which holds net/http's response
	var c *conn     // set once accepted, before any frame is read
	ws, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
		Subprotocols: []string{SubprotocolBinary, SubprotocolBase64},
		// Apps' pages on any origin run the SDK; logins are what is
		// checked, not the page's origin.
		InsecureSkipVerify: true,
		// The native SDKs keep the connection alive with WebSocket pings
		// (JSRT with echo commands): either is a sign of life.
		OnPingReceived: func(context.Context, []byte) bool {
			nc.SetReadDeadline(time.Now().Add(idleTimeout))
			c.schedule() // see schedule
			return true
		},
	})
	if err != nil {
		return // Accept answered the request
	}
	nc = sb.conn
	sub := ws.Subprotocol()
	if sub == "" {
		ws.Close(websocket.StatusPolicyViolation, "subprotocol "+SubprotocolBinary+" or "+SubprotocolBase64+" required")
		return
	}
	ws.SetReadLimit(maxFrame)
	c = &conn{g: g, ws: ws, nc: nc, cork: sb.cork, base64: sub == SubprotocolBase64, ip: handlers.PeerIP(r.RemoteAddr), sessions: map[string]*session{}}
	g.mu.Lock()
	if g.closed { // Close ran while this one was accepted
		g.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	// The connection gets a goroutine of its own and the handler returns,
	// as the SSE streams do: net/http's goroutine of the connection, whose
	// stack is as deep as the server's handler chain, and the request are
	// let go.
	handed = true
	go func() {
		defer g.wg.Done()
		defer func() {
			g.mu.Lock()
			delete(g.conns, c)
			g.mu.Unlock()
		}()
		c.serve()
	}()
}

// connBuffer is the size of a connection's read and write buffers. A
// connection keeps them for its life, and LeanCloud's commands and pushes
// are a few hundred bytes; a larger frame goes through in pieces.
const connBuffer = 512

// smallBuffers hands coder/websocket the hijacked connection with buffers of
// connBuffer bytes instead of net/http's 4 KiB ones, which it would keep:
// most of what an idle connection costs.
type smallBuffers struct {
	http.ResponseWriter
	conn net.Conn    // once hijacked
	cork *corkWriter // what the writer writes to, once hijacked
}

// Unwrap lets http.ResponseController reach the ResponseWriter's own methods.
func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	s.conn = conn
	// net/http's reader may hold what the client sent right after its
	// request: it must be in the new reader's buffer, where coder/websocket
	// looks for it. The writer holds nothing (the 101 was flushed).
	n := brw.Reader.Buffered()
	b, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn), max(connBuffer, n))
	if n > 0 {
		br.Peek(n) // takes the copy only: the connection is not read
	}
	s.cork = &corkWriter{nc: conn}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(s.cork, connBuffer)), nil
}

// Connections is the number of WebSocket connections open now.
func (g *Gateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Close refuses new connections, closes every open one (1001 going away, so
// that SDKs reconnect elsewhere) and waits, while ctx lasts, for their
// goroutines to end. Sessions are left as they are: a client reconnecting
// with its session token resumes them.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		go c.ws.Close(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.ws.CloseNow()
		}
		return errors.New("gateway: connections still open at the shutdown deadline were dropped")
	}
}
