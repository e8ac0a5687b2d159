package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
)

// conn is one WebSocket. Its goroutine (serve) reads it and runs the
// commands; a flusher (push.go), started when events wait, writes its
// sessions' events. Writes take writeMu.
type conn struct {
	g      *Gateway
	ws     *websocket.Conn
	nc     net.Conn // ws's: its read deadline is the idle timeout
	base64 bool     // lc.proto2base64.3: text frames
	ip     string

	cork *corkWriter // under ws's writer: the flusher's batches go in one write

	// sessions are the clients logged in on this connection, by peerId (one
	// connection may carry several). The commands add and remove them, the
	// flusher removes those that ended; both under mu.
	mu       sync.Mutex
	sessions map[string]*session
	ctx      context.Context // serve's: the flusher's calls end with it

	flushMu  sync.Mutex
	flushing bool           // a flusher runs
	again    bool           // events came while it ran: it goes round once more
	stopped  bool           // serve ended: no flusher starts
	flushers sync.WaitGroup // the flusher, for detach

	writeMu       sync.Mutex
	writeDeadline time.Time // nc's, under writeMu
}

// session is a client logged in on a connection: a Parley session, and
// the hub's stream of its events.
type session struct {
	p     handlers.Principal
	token string
	st    *events.Stream
	// seq is the last event written (of the stream's epoch), where a
	// reconnect resumes; only the flusher writes it.
	seq uint64
	// closed: the client was told the session ended (session/closed).
	closed bool
	// writing is held while the flusher writes the session's events. gone,
	// set under it, says the client logged out on this connection
	// (session/close): nothing of the session is written after that, so
	// that no push follows session/closed (the SDK has dropped the client
	// by then, and a push for its peerId matches no client).
	writing sync.Mutex
	gone    bool

	mu      sync.Mutex // guards waiting (a send adds, the flusher takes)
	waiting []awaited  // messages sent with r: true, for rcp's ids
}

// serve reads commands until the connection ends, then waits for the
// flusher and detaches the sessions' streams: the sessions stay online for the offline
// grace, and a reconnect with their session token resumes them.
func (c *conn) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	c.ctx = ctx
	defer cancel()
	defer c.detach()
	defer c.ws.CloseNow()
	for {
		// A deadline on the connection rather than a context per read: an
		// idle connection then holds no timer and contexts while it waits.
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return // closed by the peer, by Close, or idle too long
		}
		cmd, err := decode(typ, data)
		if err != nil {
			c.send(ctx, errorCommand(nil, "", CodeUnparseable, "unparseable frame: "+err.Error()))
			continue
		}
		// Each command runs on a goroutine of its own, waited for: the
		// rules' calls (a login, a send) need a deep stack, which this
		// goroutine, idle in Read for most of the connection's life, would
		// otherwise keep.
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.handle(ctx, cmd)
		}()
		<-done
	}
}

// detach waits for the flusher and detaches every session's stream,
// remembering where each stopped.
func (c *conn) detach() {
	c.flushMu.Lock()
	c.stopped = true
	c.flushMu.Unlock()
	c.flushers.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, s := range c.sessions {
		s.st.Close()
		c.g.resume.put(s.p.SessionID, s.st.Epoch(), s.seq, c.g.now())
		delete(c.sessions, id)
	}
}

// decode reads one frame: protobuf in a binary frame, its Base64 in a text
// frame (whichever subprotocol was agreed: the frame says which).
func decode(typ websocket.MessageType, data []byte) (*lcproto.GenericCommand, error) {
	if typ == websocket.MessageText {
		b := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
		n, err := base64.StdEncoding.Decode(b, data)
		if err != nil {
			return nil, errors.New("a text frame must be Base64")
		}
		data = b[:n]
	}
	cmd := &lcproto.GenericCommand{}
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, cmd); err != nil {
		return nil, errors.New("not a GenericCommand")
	}
	if _, known := lcproto.CommandType_name[int32(cmd.GetCmd())]; cmd.Cmd == nil || !known {
		return nil, errors.New("no known cmd")
	}
	return cmd, nil
}

// send writes one command in the connection's format; false: the
// connection is broken. A write is bounded by writeTimeout, not by ctx.
func (c *conn) send(_ context.Context, cmd *lcproto.GenericCommand) bool {
	b, err := proto.Marshal(cmd)
	if err != nil {
		c.g.log.Error("gateway: encoding a command", "cmd", cmd.GetCmd().String(), "err", err)
		return true
	}
	typ := websocket.MessageBinary
	if c.base64 {
		typ = websocket.MessageText
		b = []byte(base64.StdEncoding.EncodeToString(b))
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	// Every write must finish within writeTimeout: a deadline on the
	// connection, moved only once half of it is used (moving it costs about
	// as much as a small write), rather than a context per write, which
	// coder/websocket holds on to until the next one.
	if now := time.Now(); c.writeDeadline.Sub(now) < writeTimeout/2 {
		c.writeDeadline = now.Add(writeTimeout)
		c.nc.SetWriteDeadline(c.writeDeadline)
	}
	if err := c.ws.Write(context.Background(), typ, b); err != nil {
		// The connection is broken: its read fails next and serve ends.
		c.ws.CloseNow()
		return false
	}
	return true
}

// handle runs one command and answers it.
func (c *conn) handle(ctx context.Context, cmd *lcproto.GenericCommand) {
	switch cmd.GetCmd() {
	case lcproto.CommandType_echo:
		c.send(ctx, &lcproto.GenericCommand{Cmd: lcproto.CommandType_echo.Enum(), I: cmd.I, PeerId: cmd.PeerId})
		c.schedule() // a keepalive also writes what may wait (see schedule)
		return
	case lcproto.CommandType_session:
		switch cmd.GetOp() {
		case lcproto.OpType_open:
			c.open(ctx, cmd)
			return
		case lcproto.OpType_close:
			c.close(ctx, cmd)
			return
		}
	}
	peerID, s := c.sessionOf(cmd)
	if s == nil {
		if cmd.GetCmd() == lcproto.CommandType_ack || cmd.GetCmd() == lcproto.CommandType_read {
			return // fire-and-forget: nothing answers them
		}
		c.send(ctx, errorCommand(cmd.I, peerID, CodeSessionRequired, "log in first (session/open)"))
		return
	}
	switch cmd.GetCmd() {
	case lcproto.CommandType_conv:
		c.conv(ctx, cmd, peerID, s)
		return
	case lcproto.CommandType_blacklist:
		c.blacklist(ctx, cmd, peerID, s)
		return
	}
	if c.message(ctx, cmd, peerID, s) {
		return
	}
	c.send(ctx, errorCommand(cmd.I, peerID, CodeInternal, "not supported by this server yet: "+commandName(cmd)))
}

// sessionOf finds the session a command is for: its peerId's, or, when it
// names none (the JS SDK omits peerId while one client is logged in on the
// connection), the only one.
func (c *conn) sessionOf(cmd *lcproto.GenericCommand) (string, *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd.PeerId != nil {
		return cmd.GetPeerId(), c.sessions[cmd.GetPeerId()]
	}
	if len(c.sessions) == 1 {
		for id, s := range c.sessions {
			return id, s
		}
	}
	return "", nil
}

// open logs a client in (session/open): a fresh Parley session through the
// same login as the HTTP API's (auth mode, signature, tag, limits), or, with
// r and st, the session the token names (a reconnect). The session's events
// then flow as an SSE stream's do (attach).
func (c *conn) open(ctx context.Context, cmd *lcproto.GenericCommand) {
	peerID := cmd.GetPeerId()
	m := cmd.GetSessionMessage()
	c.mu.Lock()
	s := c.sessions[peerID]
	c.mu.Unlock()
	if s != nil && peerID != "" {
		c.opened(ctx, cmd, s) // already open on this connection
		return
	}
	c.mu.Lock()
	full := len(c.sessions) >= MaxClientsPerConnection
	c.mu.Unlock()
	if full {
		c.send(ctx, errorCommand(cmd.I, peerID, CodeAppQuotaExceeded,
			fmt.Sprintf("at most %d clients may be logged in on one connection", MaxClientsPerConnection)))
		return
	}
	fresh := false
	if m.GetSt() != "" {
		p, err := c.g.svc.Authenticate(ctx, m.GetSt())
		if err != nil || p.ClientID != peerID || p.SessionID == "" {
			c.send(ctx, errorCommand(cmd.I, peerID, CodeSessionTokenExpired, "the session token is invalid or has expired: log in again"))
			return
		}
		p.IP = c.ip
		s = &session{p: p, token: m.GetSt()}
	} else {
		res, err := c.g.svc.Login(ctx, handlers.LoginRequest{
			ClientID: peerID, Tag: m.GetTag(),
			Signature: m.GetS(), Timestamp: m.GetT(), Nonce: m.GetN(),
			IP: c.ip,
		})
		if err != nil {
			c.fail(ctx, cmd, peerID, err, loginCode)
			return
		}
		s = &session{p: handlers.Principal{ClientID: res.ClientID, SessionID: res.SessionID, IP: c.ip}, token: res.Token}
		fresh = true
	}
	c.attach(ctx, cmd, s, fresh)
}

// opened answers a session/open: session/opened with the session token and
// its time to live, and the server's clock (the SDK's lastPatchTime).
func (c *conn) opened(ctx context.Context, cmd *lcproto.GenericCommand, s *session) {
	now := c.g.now()
	ttl := int32(0)
	if exp, ok := tokenExpiry(s.token); ok {
		ttl = int32(max(0, exp.Sub(now)/time.Second))
	}
	c.send(ctx, &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_opened.Enum(),
		I: cmd.I, PeerId: proto.String(s.p.ClientID), ServerTs: proto.Int64(now.UnixMilli()),
		SessionMessage: &lcproto.SessionCommand{St: proto.String(s.token), StTtl: proto.Int32(ttl)},
	})
}

// close logs a client out (session/close) and answers session/closed. The
// session leaves the connection first, so that the flusher does not take the
// end of its stream for a kick.
func (c *conn) close(ctx context.Context, cmd *lcproto.GenericCommand) {
	peerID, s := c.sessionOf(cmd)
	if s == nil {
		c.send(ctx, errorCommand(cmd.I, peerID, CodeSessionRequired, "no session is open for this client"))
		return
	}
	c.forget(peerID, s)
	// A flush of the session's events under way finishes first (what it
	// took is written before session/closed); none writes after.
	s.writing.Lock()
	s.gone = true
	s.writing.Unlock()
	if err := c.g.svc.Logout(ctx, s.p); err != nil {
		c.fail(ctx, cmd, peerID, err, nil)
		return
	}
	c.send(ctx, &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_closed.Enum(),
		I: cmd.I, PeerId: proto.String(peerID),
	})
}

// fail answers a command that the rules refused with LeanCloud's error
// command; code maps handlers' codes particular to the command (nil: the
// general mapping only). Internal failures are logged, never shown.
func (c *conn) fail(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, err error, code func(handlers.Code) int32) {
	var he *handlers.Error
	if !errors.As(err, &he) {
		if !errors.Is(err, context.Canceled) {
			c.g.log.Error("gateway: command failed", "cmd", commandName(cmd), "peerId", peerID, "err", err)
		}
		c.send(ctx, errorCommand(cmd.I, peerID, CodeInternal, "internal error"))
		return
	}
	n := int32(0)
	if code != nil {
		n = code(he.Code)
	}
	if n == 0 {
		n = errorCode(he.Code)
	}
	e := errorCommand(cmd.I, peerID, n, string(he.Code))
	e.ErrorMessage.Detail = proto.String(he.Detail)
	if he.AppCode != nil {
		e.ErrorMessage.AppCode = proto.Int32(int32(*he.AppCode))
	}
	c.send(ctx, e)
}

// errorCommand is LeanCloud's error command, answering request i (nil: an
// unsolicited one).
func errorCommand(i *int32, peerID string, code int32, reason string) *lcproto.GenericCommand {
	cmd := &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_error.Enum(), I: i,
		ErrorMessage: &lcproto.ErrorCommand{Code: proto.Int32(code), Reason: proto.String(reason)},
	}
	if peerID != "" {
		cmd.PeerId = proto.String(peerID)
		cmd.Service = proto.Int32(serviceIM)
	}
	return cmd
}

// commandName is "cmd" or "cmd/op", for errors and logs.
func commandName(cmd *lcproto.GenericCommand) string {
	if cmd.Op == nil {
		return cmd.GetCmd().String()
	}
	return cmd.GetCmd().String() + "/" + cmd.GetOp().String()
}
