package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway/lcproto"
)

var transport = flag.String("transport", "http",
	"idle, send: how clients connect: http (REST sends, SSE streams) or gateway (LeanCloud's realtime protocol on the WebSocket at /rtm: "+
		"a client logs in there, sends are direct commands each awaiting its ack, receivers get direct pushes)")

// useGateway reports whether -transport asks for the gateway, refusing
// values it does not know.
func useGateway() (bool, error) {
	switch *transport {
	case "http":
		return false, nil
	case "gateway":
		return true, nil
	}
	return false, fmt.Errorf("-transport %q: want http or gateway", *transport)
}

// gatewayURL is the server's WebSocket endpoint.
func (c *Client) gatewayURL() string {
	return "ws" + strings.TrimPrefix(strings.TrimPrefix(c.Base, "https"), "http") + "/rtm"
}

// The text every gateway sender sends, in LeanCloud's content form, and
// what receivers look for in a direct push's msg.
const (
	lcBodyHead = `{"_lctype":-1,"_lctext":"@`
	lcBodyTail = ` hello from parley-bench"}`
)

var lcTextMarker = []byte(`"_lctext":"@`)

// gwConn is one WebSocket to the gateway with one client logged in, as a
// LeanCloud SDK holds it (binary protobuf frames).
type gwConn struct {
	ws     *websocket.Conn
	serial atomic.Int32 // GenericCommand.i of the last request
	body   []byte
}

// dialGateway connects to url and logs clientID in (session/open, open
// auth mode).
func dialGateway(ctx context.Context, url, clientID string) (*gwConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{Subprotocols: []string{"lc.protobuf2.3"}})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	g := &gwConn{ws: ws, body: make([]byte, 0, 128)}
	open := &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(),
		PeerId: proto.String(clientID), I: proto.Int32(g.serial.Add(1)),
		SessionMessage: &lcproto.SessionCommand{Ua: proto.String("parley-bench"), ConfigBitmap: proto.Int64(0b10111011)},
	}
	reply, err := g.call(dctx, open)
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if reply.GetCmd() != lcproto.CommandType_session || reply.GetOp() != lcproto.OpType_opened {
		ws.CloseNow()
		return nil, fmt.Errorf("gateway: session/open for %s answered %s", clientID, describe(reply))
	}
	return g, nil
}

// call writes a request and reads until the reply with its i, skipping
// pushes.
func (g *gwConn) call(ctx context.Context, cmd *lcproto.GenericCommand) (*lcproto.GenericCommand, error) {
	b, err := proto.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	if err := g.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		return nil, err
	}
	for {
		_, data, err := g.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		reply := &lcproto.GenericCommand{}
		if err := proto.Unmarshal(data, reply); err != nil {
			return nil, fmt.Errorf("gateway: undecodable frame: %w", err)
		}
		if reply.I != nil && reply.GetI() == cmd.GetI() {
			return reply, nil
		}
	}
}

// send sends a text stamped ts to conversation cid and waits for its ack.
func (g *gwConn) send(ctx context.Context, cid string, ts int64) error {
	g.body = append(g.body[:0], lcBodyHead...)
	g.body = strconv.AppendInt(g.body, ts, 10)
	g.body = append(g.body, lcBodyTail...)
	reply, err := g.call(ctx, &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_direct.Enum(), I: proto.Int32(g.serial.Add(1)),
		DirectMessage: &lcproto.DirectCommand{Cid: proto.String(cid), Msg: proto.String(string(g.body))},
	})
	if err != nil {
		return err
	}
	if reply.GetCmd() != lcproto.CommandType_ack || reply.AckMessage.GetUid() == "" {
		return errors.New("direct answered " + describe(reply))
	}
	return nil
}

func (g *gwConn) close() { g.ws.CloseNow() }

// describe names a reply, with its error code when it is one.
func describe(c *lcproto.GenericCommand) string {
	s := c.GetCmd().String()
	if c.Op != nil {
		s += "/" + c.GetOp().String()
	}
	switch {
	case c.ErrorMessage != nil:
		s += fmt.Sprintf(" %d %s", c.ErrorMessage.GetCode(), c.ErrorMessage.GetReason())
	case c.AckMessage.GetCode() != 0:
		s += fmt.Sprintf(" %d %s", c.AckMessage.GetCode(), c.AckMessage.GetReason())
	}
	return s
}

// OpenGatewayReceiver logs clientID in on the gateway and reads its
// pushes on a goroutine, as OpenStream reads an event stream: direct
// pushes are its messages.
func (c *Client) OpenGatewayReceiver(ctx context.Context, clientID string, w *window) (*Receiver, error) {
	g, err := dialGateway(ctx, c.gatewayURL(), clientID)
	if err != nil {
		return nil, err
	}
	r := &Receiver{w: w, body: wsCloser{g.ws}, cancel: func() {}, hello: make(chan struct{}), done: make(chan struct{})}
	close(r.hello) // logged in: the gateway's hello is session/opened
	go r.readGateway(g.ws)
	return r, nil
}

type wsCloser struct{ ws *websocket.Conn }

func (c wsCloser) Close() error { return c.ws.CloseNow() }

// OpenGatewayReceivers logs every client in on the gateway, a few at a
// time.
func (c *Client) OpenGatewayReceivers(ctx context.Context, ids []string, w *window) ([]*Receiver, error) {
	start := time.Now()
	rs := make([]*Receiver, len(ids))
	err := parallel(ctx, len(ids), 32, func(i int) error {
		var err error
		rs[i], err = c.OpenGatewayReceiver(ctx, ids[i], w)
		return err
	})
	if err != nil {
		closeAll(rs)
		return nil, err
	}
	progress("opened %d gateway sessions in %s", len(rs), time.Since(start).Round(time.Millisecond))
	return rs, nil
}

var gatewayAcks = flag.Bool("gateway-acks", true,
	"send, with -transport gateway: receivers acknowledge the messages they get as LeanCloud's JS SDK does "+
		"(ack {cid, fromts, tots} per conversation, at most once a second)")

// readGateway reads pushes until the connection ends, acknowledging the
// messages (-gateway-acks).
func (r *Receiver) readGateway(ws *websocket.Conn) {
	defer close(r.done)
	cmd := &lcproto.GenericCommand{}
	var acks ackBuffer
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			r.err = err
			return
		}
		at := time.Now().UnixNano()
		if r.w != nil && r.w.in(at) {
			r.events++
		}
		proto.Reset(cmd)
		if proto.Unmarshal(data, cmd) != nil || cmd.GetCmd() != lcproto.CommandType_direct {
			continue
		}
		r.messages++
		d := cmd.DirectMessage
		if ts := sendTimeAfter([]byte(d.GetMsg()), lcTextMarker); ts > 0 && r.w != nil && r.w.in(ts) {
			r.hist.Record(time.Duration(at - ts))
			r.delivered.Add(1)
		}
		if *gatewayAcks && !d.GetTransient() {
			acks.add(d.GetCid(), d.GetTimestamp())
			for _, a := range acks.due(time.Unix(0, at)) {
				b, _ := proto.Marshal(a)
				if err := ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
					r.err = err
					return
				}
			}
		}
	}
}

// ackBuffer is what LeanCloud's JS SDK does with the messages it
// receives: it buffers their timestamps by conversation and, at most once
// a second (a throttle), sends one ack {cid, fromts, tots} per
// conversation (no i: nothing answers it).
type ackBuffer struct {
	last  time.Time
	convs map[string][2]int64 // cid: fromts, tots
}

func (b *ackBuffer) add(cid string, ts int64) {
	if b.convs == nil {
		b.convs = map[string][2]int64{}
	}
	r, ok := b.convs[cid]
	if !ok {
		r = [2]int64{ts, ts}
	}
	b.convs[cid] = [2]int64{min(r[0], ts), max(r[1], ts)}
}

// due returns the acks to send now, if a second has passed since the last
// ones, and forgets what they acknowledge.
func (b *ackBuffer) due(now time.Time) []*lcproto.GenericCommand {
	if len(b.convs) == 0 || now.Sub(b.last) < time.Second {
		return nil
	}
	b.last = now
	out := make([]*lcproto.GenericCommand, 0, len(b.convs))
	for cid, r := range b.convs {
		out = append(out, &lcproto.GenericCommand{
			Cmd:        lcproto.CommandType_ack.Enum(),
			AckMessage: &lcproto.AckCommand{Cid: proto.String(cid), Fromts: proto.Int64(r[0]), Tots: proto.Int64(r[1])},
		})
	}
	clear(b.convs)
	return out
}
