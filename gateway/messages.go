package gateway

// This file runs the messaging commands of a logged-in client (LEANCLOUD.md
// §3.5): send (direct → ack), delivery and read marks (ack, read: fire and
// forget), history (logs), recall and edit (patch/modify), presence
// (session/query) and the session token's renewal (session/refresh). Each
// calls the handlers.Service method the HTTP API calls.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// message runs cmd if it is one of this file's commands; false: it is not.
func (c *conn) message(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, s *session) bool {
	switch cmd.GetCmd() {
	case lcproto.CommandType_direct:
		c.sendMessage(ctx, cmd, peerID, s)
	case lcproto.CommandType_ack:
		c.delivered(ctx, cmd, s)
	case lcproto.CommandType_read:
		c.read(ctx, cmd, s)
	case lcproto.CommandType_logs:
		c.logs(ctx, cmd, peerID, s)
	case lcproto.CommandType_patch:
		if cmd.GetOp() != lcproto.OpType_modify {
			return false
		}
		c.patch(ctx, cmd, peerID, s)
	case lcproto.CommandType_session:
		switch cmd.GetOp() {
		case lcproto.OpType_query:
			c.query(ctx, cmd, peerID)
		case lcproto.OpType_refresh:
			c.refresh(ctx, cmd, s)
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// reply is the answer to request cmd, for its client.
func reply(cmd *lcproto.GenericCommand, peerID string, typ lcproto.CommandType, op lcproto.OpType) *lcproto.GenericCommand {
	r := &lcproto.GenericCommand{Cmd: typ.Enum(), I: cmd.I, PeerId: proto.String(peerID)}
	if op != 0 {
		r.Op = op.Enum()
	}
	return r
}

// priorities are LeanCloud's message priorities (GenericCommand.priority:
// MessagePriority HIGH 1, NORMAL 2, LOW 3) by Parley's names.
var priorities = map[int32]string{1: "high", 2: "normal", 3: "low"}

// payloadOf reads the content a command carries: msg, or binaryMsg (kept
// as its Base64, an untyped message's data).
func payloadOf(msg string, bin []byte, mentionAll bool, mentionPids []string) leancloud.Payload {
	p := leancloud.Payload{Data: msg, MentionAll: mentionAll, MentionPids: mentionPids}
	if bin != nil {
		p.Data, p.Bin = base64.StdEncoding.EncodeToString(bin), true
	}
	return p
}

// sendMessage sends a message (direct) and acknowledges it with its id and
// time, or with the refusal's code. dt, the SDK's id of the message, is the
// send's idempotency key: a repeated dt gets the first send's ack and
// delivers nothing twice.
func (c *conn) sendMessage(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, s *session) {
	d := cmd.GetDirectMessage()
	if d.GetCid() == "" {
		c.send(ctx, ackRefusal(cmd, peerID, CodeInvalidMessagingTarget, "cid is required", nil))
		return
	}
	content, recalled, err := leancloud.FromLeanCloud(payloadOf(d.GetMsg(), d.BinaryMsg, d.GetMentionAll(), d.GetMentionPids()))
	if err == nil && recalled {
		err = &handlers.Error{Code: handlers.CodeInvalidRequest, Detail: "a recalled message (_lctype -127) cannot be sent"}
	}
	if err != nil {
		c.refuseSend(ctx, cmd, peerID, err)
		return
	}
	req := handlers.SendRequest{
		Content: content, Transient: d.GetTransient(), Receipt: d.GetR(), Will: d.GetWill(),
		Priority: priorities[cmd.GetPriority()], ClientMessageID: dedupeKey(d.GetDt()),
	}
	if pd := d.GetPushData(); pd != "" && pd != "null" {
		if json.Unmarshal([]byte(pd), &req.PushData) != nil || req.PushData == nil {
			c.refuseSend(ctx, cmd, peerID, &handlers.Error{Code: handlers.CodeInvalidRequest, Detail: "pushData must be a JSON object"})
			return
		}
	}
	m, outcome, err := c.g.svc.Send(ctx, s.p, d.GetCid(), req)
	if err != nil {
		c.refuseSend(ctx, cmd, peerID, err)
		return
	}
	if outcome == handlers.Sent && req.Receipt && !req.Transient {
		s.await(d.GetCid(), m.ID, m.Timestamp)
	}
	ack := reply(cmd, peerID, lcproto.CommandType_ack, 0)
	ack.AckMessage = &lcproto.AckCommand{T: proto.Int64(m.Timestamp)}
	if m.ID != "" { // a held will message has no id until it is sent
		ack.AckMessage.Uid = proto.String(m.ID)
	}
	c.send(ctx, ack)
}

// dedupeKey is the idempotency key of a send with the SDK's dt: dt itself
// (the SDKs send a UUID), or, should one be longer than Parley keeps, its
// digest rather than a refused send.
func dedupeKey(dt string) string {
	if len(dt) <= handlers.MaxClientMessageID {
		return dt
	}
	sum := sha256.Sum256([]byte(dt))
	return "dt:" + hex.EncodeToString(sum[:])
}

// refuseSend answers a refused send with ack {code, reason, appCode,
// appMsg}: what the SDKs read a send's failure from. Internal failures are
// logged, never shown.
func (c *conn) refuseSend(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, err error) {
	var he *handlers.Error
	if !errors.As(err, &he) {
		c.internal(cmd, peerID, err)
		c.send(ctx, ackRefusal(cmd, peerID, CodeInternal, "internal error", nil))
		return
	}
	code := sendCode(he.Code)
	if code == 0 {
		code = errorCode(he.Code)
	}
	c.send(ctx, ackRefusal(cmd, peerID, code, cmp.Or(he.Detail, string(he.Code)), he.AppCode))
}

func ackRefusal(cmd *lcproto.GenericCommand, peerID string, code int32, reason string, appCode *int) *lcproto.GenericCommand {
	ack := reply(cmd, peerID, lcproto.CommandType_ack, 0)
	ack.AckMessage = &lcproto.AckCommand{Code: proto.Int32(code), Reason: proto.String(reason)}
	if appCode != nil { // a hook's refusal: its code and detail
		ack.AckMessage.AppCode = proto.Int32(int32(*appCode))
		ack.AckMessage.AppMsg = proto.String(reason)
	}
	return ack
}

// internal logs a failure that is not a refusal by the rules.
func (c *conn) internal(cmd *lcproto.GenericCommand, peerID string, err error) {
	if !errors.Is(err, context.Canceled) && !c.g.svc.ShuttingDown() {
		c.g.log.Error("gateway: command failed", "cmd", commandName(cmd), "peerId", peerID, "err", err)
	}
}

// quiet logs the failure of a fire-and-forget command: a refusal is the
// client's affair (nobody is told), anything else the server's.
func (c *conn) quiet(cmd *lcproto.GenericCommand, peerID string, err error) {
	var he *handlers.Error
	if errors.As(err, &he) {
		c.g.log.Debug("gateway: command refused", "cmd", commandName(cmd), "peerId", peerID, "code", he.Code, "detail", he.Detail)
		return
	}
	c.internal(cmd, peerID, err)
}

// delivered takes the SDK's acknowledgement of received messages (ack
// {cid, fromts, tots} from JSRT, {cid, mid} from the native SDKs) as a
// delivery mark, which sends the senders who asked for receipts rcp with
// read false. Without mid it marks up to the newest message: JSRT acks the
// newest it received, and a message flushed to this connection counts as
// delivered already anyway (as on an SSE stream).
func (c *conn) delivered(ctx context.Context, cmd *lcproto.GenericCommand, s *session) {
	a := cmd.GetAckMessage()
	if a.GetCid() == "" {
		return
	}
	if err := c.g.svc.MarkDelivered(ctx, s.p, a.GetCid(), a.GetMid()); err != nil {
		c.quiet(cmd, s.p.ClientID, err)
	}
}

// read marks conversations read: read {convs: [{cid, mid?, timestamp}]}
// (up to mid, or the newest message), or {cid} / {cids} (up to the newest).
// Each conversation is marked on its own, so that one the client may not
// mark does not keep the others unread.
func (c *conn) read(ctx context.Context, cmd *lcproto.GenericCommand, s *session) {
	r := cmd.GetReadMessage()
	type mark struct{ cid, mid string }
	var marks []mark
	for _, t := range r.GetConvs() {
		marks = append(marks, mark{t.GetCid(), t.GetMid()})
	}
	if r.GetCid() != "" {
		marks = append(marks, mark{cid: r.GetCid()})
	}
	for _, cid := range r.GetCids() {
		marks = append(marks, mark{cid: cid})
	}
	const maxMarks = 1000 // as POST /v1/conversations/read
	seen := map[mark]bool{}
	for _, m := range marks {
		if m.cid == "" || seen[m] {
			continue
		}
		if seen[m] = true; len(seen) > maxMarks {
			return
		}
		if _, err := c.g.svc.MarkRead(ctx, s.p, []string{m.cid}, m.mid); err != nil {
			c.quiet(cmd, s.p.ClientID, err)
		}
	}
}

// query answers session/query {sessionPeerIds} with those online.
func (c *conn) query(ctx context.Context, cmd *lcproto.GenericCommand, peerID string) {
	ids := cmd.GetSessionMessage().GetSessionPeerIds()
	online, err := c.g.svc.Online(ids)
	if err != nil {
		c.fail(ctx, cmd, peerID, err, nil)
		return
	}
	r := reply(cmd, peerID, lcproto.CommandType_session, lcproto.OpType_query_result)
	r.SessionMessage = &lcproto.SessionCommand{}
	for _, id := range ids {
		if online[id] && !slices.Contains(r.SessionMessage.OnlineSessionPeerIds, id) {
			r.SessionMessage.OnlineSessionPeerIds = append(r.SessionMessage.OnlineSessionPeerIds, id)
		}
	}
	c.send(ctx, r)
}

// refresh answers session/refresh with the session's token and the time it
// has left: Parley's session tokens last the session's lifetime, so there
// is no newer one to give (the SDKs ask again when the ttl runs out, and
// then log in anew).
func (c *conn) refresh(ctx context.Context, cmd *lcproto.GenericCommand, s *session) {
	if _, err := c.g.svc.Authenticate(ctx, s.token); err != nil {
		c.fail(ctx, cmd, s.p.ClientID, err, nil)
		return
	}
	ttl := int32(0)
	if exp, ok := tokenExpiry(s.token); ok {
		ttl = int32(max(0, exp.Sub(c.g.now())/time.Second))
	}
	r := reply(cmd, s.p.ClientID, lcproto.CommandType_session, lcproto.OpType_refreshed)
	r.SessionMessage = &lcproto.SessionCommand{St: proto.String(s.token), StTtl: proto.Int32(ttl)}
	c.send(ctx, r)
}

// patch recalls or edits messages (patch/modify) and answers
// patch/modified; the other members get the patch/modify push. The first
// refused patch answers the error, the ones before it stand.
func (c *conn) patch(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, s *session) {
	items := cmd.GetPatchMessage().GetPatches()
	if len(items) == 0 {
		c.send(ctx, errorCommand(cmd.I, peerID, CodeMessageNotFound, "no patches"))
		return
	}
	for _, it := range items {
		var err error
		if it.GetRecall() {
			_, err = c.g.svc.Recall(ctx, s.p, it.GetCid(), it.GetMid())
		} else {
			var content handlers.Content
			var recalled bool
			content, recalled, err = leancloud.FromLeanCloud(payloadOf(it.GetData(), it.BinaryMsg, it.GetMentionAll(), it.GetMentionPids()))
			switch {
			case err != nil:
			case recalled: // new content that is LeanCloud's RecalledMessage
				_, err = c.g.svc.Recall(ctx, s.p, it.GetCid(), it.GetMid())
			default:
				_, err = c.g.svc.Edit(ctx, s.p, it.GetCid(), it.GetMid(), content)
			}
		}
		if err != nil {
			c.fail(ctx, cmd, peerID, err, patchCode)
			return
		}
	}
	r := reply(cmd, peerID, lcproto.CommandType_patch, lcproto.OpType_modified)
	r.PatchMessage = &lcproto.PatchCommand{LastPatchTime: proto.Int64(c.g.now().UnixMilli())}
	c.send(ctx, r)
}
