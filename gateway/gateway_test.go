package gateway_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway"
	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/server"
)

// start runs a real server on loopback, shut down when the test ends.
func start(t *testing.T, opts ...func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{
		Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		Registerer: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

// client is an SDK's connection, speaking one subprotocol.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	base64 bool
	i      int32
	// pending are pushes read while waiting for a reply (or for another
	// push), in the order they came.
	pending []*lcproto.GenericCommand
}

func dial(t *testing.T, srv *server.Server, path, sub string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+srv.Addr.String()+path, &websocket.DialOptions{Subprotocols: []string{sub}})
	if err != nil {
		t.Fatalf("dial %s %s: %v", path, sub, err)
	}
	if ws.Subprotocol() != sub {
		t.Fatalf("subprotocol %q, want %q", ws.Subprotocol(), sub)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &client{t: t, ws: ws, base64: sub == gateway.SubprotocolBase64}
}

func (c *client) write(cmd *lcproto.GenericCommand) {
	c.t.Helper()
	b, err := proto.Marshal(cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeRaw(b)
}

func (c *client) writeRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ := websocket.MessageBinary
	if c.base64 {
		typ, b = websocket.MessageText, []byte(base64.StdEncoding.EncodeToString(b))
	}
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() *lcproto.GenericCommand {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if want := map[bool]websocket.MessageType{false: websocket.MessageBinary, true: websocket.MessageText}[c.base64]; typ != want {
		c.t.Fatalf("frame type %v, want %v", typ, want)
	}
	if c.base64 {
		if b, err = base64.StdEncoding.DecodeString(string(b)); err != nil {
			c.t.Fatal(err)
		}
	}
	cmd := &lcproto.GenericCommand{}
	if err := proto.Unmarshal(b, cmd); err != nil {
		c.t.Fatal(err)
	}
	return cmd
}

// request sends cmd with the next serial number and returns the reply,
// which must echo it; pushes that come first are kept for push.
func (c *client) request(cmd *lcproto.GenericCommand) *lcproto.GenericCommand {
	c.t.Helper()
	c.i++
	cmd.I = proto.Int32(c.i)
	c.write(cmd)
	for {
		r := c.read()
		if r.I == nil {
			c.pending = append(c.pending, r)
			continue
		}
		if r.GetI() != c.i {
			c.t.Fatalf("reply i = %d, want %d: %v", r.GetI(), c.i, r)
		}
		return r
	}
}

func (c *client) open(peerID string) *lcproto.GenericCommand {
	c.t.Helper()
	r := c.request(&lcproto.GenericCommand{
		Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(),
		AppId: proto.String("app"), PeerId: proto.String(peerID),
		SessionMessage: &lcproto.SessionCommand{Ua: proto.String("js/4.3.1"), ConfigBitmap: proto.Int64(59)},
	})
	if r.GetCmd() != lcproto.CommandType_session || r.GetOp() != lcproto.OpType_opened {
		c.t.Fatalf("session/open answered %v", r)
	}
	return r
}

func wantError(t *testing.T, r *lcproto.GenericCommand, code int32) {
	t.Helper()
	if r.GetCmd() != lcproto.CommandType_error || r.GetErrorMessage().GetCode() != code {
		t.Fatalf("got %v, want an error command with code %d", r, code)
	}
}

func TestRoute(t *testing.T) {
	srv := start(t)
	for _, tc := range []struct {
		proto, want string
	}{{"", "ws://"}, {"https", "wss://"}, {"http", "ws://"}} {
		req, _ := http.NewRequest("GET", "http://"+srv.Addr.String()+"/v1/route?appId=abc&secure=true", nil)
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Server, Secondary string
			TTL               int
		}
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("status %d, %v", res.StatusCode, err)
		}
		want := tc.want + srv.Addr.String() + "/rtm"
		if got.Server != want || got.Secondary != want || got.TTL != 3600 {
			t.Errorf("X-Forwarded-Proto %q: %+v, want server %s", tc.proto, got, want)
		}
	}
}

// The web demo stays at / for everything but WebSocket upgrades.
func TestRootStillServesWeb(t *testing.T) {
	srv := start(t)
	res, err := http.Get("http://" + srv.Addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(strings.ToLower(string(b)), "<html") {
		t.Fatalf("GET / = %d %.100s", res.StatusCode, b)
	}
}

func TestSessionEchoClose(t *testing.T) {
	for _, sub := range []string{gateway.SubprotocolBinary, gateway.SubprotocolBase64} {
		for _, path := range []string{"/rtm", "/"} {
			t.Run(sub+path, func(t *testing.T) {
				srv := start(t)
				c := dial(t, srv, path, sub)

				// echo before login: keepalive works at once
				if r := c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_echo.Enum()}); r.GetCmd() != lcproto.CommandType_echo {
					t.Fatalf("echo answered %v", r)
				}

				r := c.open("Tom")
				if r.GetPeerId() != "Tom" || r.GetServerTs() == 0 {
					t.Errorf("opened: peerId %q serverTs %d", r.GetPeerId(), r.GetServerTs())
				}
				st := r.GetSessionMessage().GetSt()
				if ttl := r.GetSessionMessage().GetStTtl(); st == "" || ttl <= 0 {
					t.Fatalf("opened without a session token: st %q stTtl %d", st, ttl)
				}
				// The token is a Parley session's.
				p, err := srv.Service().Authenticate(context.Background(), st)
				if err != nil || p.ClientID != "Tom" {
					t.Fatalf("Authenticate(st) = %+v, %v", p, err)
				}

				if r := c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_echo.Enum()}); r.GetCmd() != lcproto.CommandType_echo {
					t.Fatalf("echo answered %v", r)
				}

				r = c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_close.Enum()})
				if r.GetCmd() != lcproto.CommandType_session || r.GetOp() != lcproto.OpType_closed || r.GetPeerId() != "Tom" {
					t.Fatalf("session/close answered %v", r)
				}
				// logged out: the token no longer works
				if _, err := srv.Service().Authenticate(context.Background(), st); err == nil {
					t.Error("the session token still works after session/close")
				}
				// and commands now need a session
				wantError(t, c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_logs.Enum()}), gateway.CodeSessionRequired)
			})
		}
	}
}

// A reconnect presents the session token instead of logging in anew.
func TestReopenWithSessionToken(t *testing.T) {
	srv := start(t)
	st := dial(t, srv, "/rtm", gateway.SubprotocolBinary).open("Tom").GetSessionMessage().GetSt()
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	reopen := func(peer, token string) *lcproto.GenericCommand {
		return c.request(&lcproto.GenericCommand{
			Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(), PeerId: proto.String(peer),
			SessionMessage: &lcproto.SessionCommand{R: proto.Bool(true), St: proto.String(token)},
		})
	}
	wantError(t, reopen("Jerry", st), gateway.CodeSessionTokenExpired) // another client's token
	wantError(t, reopen("Tom", "nonsense"), gateway.CodeSessionTokenExpired)
	r := reopen("Tom", st)
	if r.GetOp() != lcproto.OpType_opened || r.GetSessionMessage().GetSt() != st {
		t.Fatalf("reopen answered %v", r)
	}
}

// In signature mode session/open carries LeanCloud's login signature
// (s, t, n: HMAC-SHA1 of appId:clientId::timestamp:nonce with the master
// key), checked by the same rules as the HTTP login.
func TestOpenWithSignature(t *testing.T) {
	const key = "0123456789abcdef0123"
	srv := start(t, func(c *server.Config) { c.AuthMode, c.MasterKey, c.AppID = "signature", key, "myApp" })
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	open := func(sig string, ts int64, nonce string) *lcproto.GenericCommand {
		return c.request(&lcproto.GenericCommand{
			Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(), PeerId: proto.String("Tom"),
			SessionMessage: &lcproto.SessionCommand{S: proto.String(sig), T: proto.Int64(ts), N: proto.String(nonce)},
		})
	}
	ts := time.Now().UnixMilli()
	mac := hmac.New(sha1.New, []byte(key))
	fmt.Fprintf(mac, "myApp:Tom::%d:n1", ts)
	sig := hex.EncodeToString(mac.Sum(nil))
	wantError(t, open("deadbeef", ts, "n1"), gateway.CodeSignatureFailed)
	if r := open(sig, ts, "n1"); r.GetOp() != lcproto.OpType_opened {
		t.Fatalf("signed open answered %v", r)
	}
}

func TestErrors(t *testing.T) {
	srv := start(t)
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)

	// A command before login needs a session.
	wantError(t, c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_conv.Enum(), Op: lcproto.OpType_start.Enum()}), gateway.CodeSessionRequired)
	// An invalid clientId is an invalid login.
	r := c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(), PeerId: proto.String("a:b")})
	wantError(t, r, gateway.CodeInvalidLogin)
	if r.GetErrorMessage().GetDetail() == "" {
		t.Error("no detail on the refused login")
	}

	c.open("Tom")
	// A command this server does not serve is an error, not a disconnect.
	r = c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_pubsub.Enum(), Op: lcproto.OpType_subscribe.Enum()})
	wantError(t, r, gateway.CodeInternal)
	if !strings.Contains(r.GetErrorMessage().GetReason(), "pubsub/subscribe") {
		t.Errorf("reason %q does not name the command", r.GetErrorMessage().GetReason())
	}
	if r.GetPeerId() != "Tom" || r.GetService() != 2 {
		t.Errorf("error for Tom without peerId/service: %v", r)
	}

	// Malformed frames: garbage, a command with an unknown cmd, and (on the
	// Base64 protocol) text that is no Base64. Each is refused with 4114 and
	// the connection goes on.
	c.writeRaw([]byte{0xff, 0xff, 0xff})
	wantError(t, c.read(), gateway.CodeUnparseable)
	c.writeRaw(protowireVarint(1, 99)) // cmd = 99
	wantError(t, c.read(), gateway.CodeUnparseable)

	b := dial(t, srv, "/rtm", gateway.SubprotocolBase64)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.ws.Write(ctx, websocket.MessageText, []byte("%%% not base64")); err != nil {
		t.Fatal(err)
	}
	wantError(t, b.read(), gateway.CodeUnparseable)

	for _, c := range []*client{c, b} {
		if r := c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_echo.Enum()}); r.GetCmd() != lcproto.CommandType_echo {
			t.Fatalf("after the errors, echo answered %v", r)
		}
	}
}

// protowireVarint is one varint field, by hand.
func protowireVarint(field, v byte) []byte { return []byte{field << 3, v} }

// Without one of LeanCloud's subprotocols the connection is refused.
func TestNoSubprotocol(t *testing.T) {
	srv := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+srv.Addr.String()+"/rtm", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, _, err = ws.Read(ctx)
	if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation {
		t.Fatalf("read: %v (status %v), want a policy-violation close", err, s)
	}
}

// A frame over the limit closes the connection (1009), and nothing leaks.
func TestFrameTooLarge(t *testing.T) {
	srv := start(t)
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.ws.Write(ctx, websocket.MessageBinary, make([]byte, 2<<20))
	_, _, err := c.ws.Read(ctx)
	if s := websocket.CloseStatus(err); s != websocket.StatusMessageTooBig {
		t.Fatalf("read: %v, want close 1009", err)
	}
	waitFor(t, func() bool { return srv.Gateway().Connections() == 0 })
}

// Connections end with their goroutines, however they end: the peer
// closing, the peer vanishing, the server shutting down.
func TestNoGoroutineLeak(t *testing.T) {
	srv := start(t)
	base := runtime.NumGoroutine()
	for range 5 {
		c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
		c.open("Tom")
		c.ws.Close(websocket.StatusNormalClosure, "")
		d := dial(t, srv, "/", gateway.SubprotocolBase64)
		d.open("Jerry")
		d.ws.CloseNow()
	}
	waitFor(t, func() bool { return srv.Gateway().Connections() == 0 && runtime.NumGoroutine() <= base })

	// Shutdown closes the open ones (1001) and waits for them.
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	c.open("Tom")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	read := make(chan error, 1)
	go func() { _, _, err := c.ws.Read(ctx); read <- err }() // an SDK reads all the time
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if s := websocket.CloseStatus(<-read); s != websocket.StatusGoingAway {
		t.Fatalf("after Shutdown, read: status %v, want 1001", s)
	}
	if n := srv.Gateway().Connections(); n != 0 {
		t.Fatalf("%d connections after Shutdown", n)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("timed out; goroutines %d:\n%s", runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// One connection carries at most MaxClientsPerConnection clients: the next
// login is refused with APP_QUOTA_EXCEEDED, and the clients already there
// keep working.
func TestClientsPerConnectionAreBounded(t *testing.T) {
	srv := start(t)
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	for i := range gateway.MaxClientsPerConnection {
		c.open(fmt.Sprintf("client%d", i))
	}
	r := c.request(&lcproto.GenericCommand{
		Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(),
		PeerId: proto.String("one-too-many"), SessionMessage: &lcproto.SessionCommand{},
	})
	if r.GetCmd() != lcproto.CommandType_error || r.GetErrorMessage().GetCode() != gateway.CodeAppQuotaExceeded {
		t.Fatalf("login %d on one connection answered %v, want error %d", gateway.MaxClientsPerConnection+1, r, gateway.CodeAppQuotaExceeded)
	}
	// A client already logged in opens again: no new session, no refusal.
	c.open("client0")
	if e := c.request(&lcproto.GenericCommand{Cmd: lcproto.CommandType_echo.Enum(), PeerId: proto.String("client1")}); e.GetCmd() != lcproto.CommandType_echo {
		t.Fatalf("echo answered %v", e)
	}
}
