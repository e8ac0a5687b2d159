package gateway

// The conv/* request commands (LEANCLOUD.md §3.5): each is translated into
// a handlers.Service call and its answer into LeanCloud's reply command.
// Replies to these carry the request's i and peerId; the pushes they cause
// (conv/joined, members_joined, …) are the Service's events, delivered by
// the connection like any other.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// refusal is a command the gateway refuses before any rule sees it: input
// that is malformed, or that asks for what Parley does not serve.
type refusal struct {
	code   int32
	reason string
}

func (r *refusal) Error() string { return r.reason }

// malformed refuses a malformed conv or blacklist command.
func malformed(format string, args ...any) error {
	return &refusal{CodeConversationAPIFailed, fmt.Sprintf(format, args...)}
}

// fieldRefusal is the refusal of a `_Conversation` field that cannot be
// taken.
func fieldRefusal(err error) error {
	var fe *leancloud.FieldError
	if errors.As(err, &fe) && fe.Unsupported {
		return &refusal{CodeConversationNotAllowed, "not supported by Parley: " + fe.Reason}
	}
	return malformed("attr: %v", err)
}

// refuse answers a command with LeanCloud's error command: the gateway's
// own refusal as it is, the rules' through code (see conn.fail).
func (c *conn) refuse(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, err error, code func(handlers.Code) int32) {
	var r *refusal
	if errors.As(err, &r) {
		c.send(ctx, errorCommand(cmd.I, peerID, r.code, r.reason))
		return
	}
	c.fail(ctx, cmd, peerID, err, code)
}

// convOp runs one conv command for p and returns the reply's op and
// ConvCommand.
type convOp func(c *conn, ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error)

// convOps are the conv commands served, each with the mapping of its
// refusals' codes.
var convOps = map[lcproto.OpType]struct {
	run  convOp
	code func(handlers.Code) int32
}{
	lcproto.OpType_start:              {(*conn).convStart, convCode},
	lcproto.OpType_query:              {(*conn).convQuery, convCode},
	lcproto.OpType_update:             {(*conn).convUpdate, convCode},
	lcproto.OpType_mute:               {(*conn).convMute, convCode},
	lcproto.OpType_unmute:             {(*conn).convUnmute, convCode},
	lcproto.OpType_add:                {(*conn).convAdd, convCode},
	lcproto.OpType_remove:             {(*conn).convRemove, convCode},
	lcproto.OpType_count:              {(*conn).convCount, convCode},
	lcproto.OpType_max_read:           {(*conn).convMaxRead, convCode},
	lcproto.OpType_is_member:          {(*conn).convIsMember, convCode},
	lcproto.OpType_members:            {(*conn).convMembers, convCode},
	lcproto.OpType_member_info_update: {(*conn).convMemberInfoUpdate, convCode},
	lcproto.OpType_add_shutup:         {(*conn).convAddShutup, shutupCode},
	lcproto.OpType_remove_shutup:      {(*conn).convRemoveShutup, shutupCode},
	lcproto.OpType_query_shutup:       {(*conn).convQueryShutup, shutupCode},
	lcproto.OpType_check_shutup:       {(*conn).convCheckShutup, shutupCode},
}

// conv answers a conv command of the session s.
func (c *conn) conv(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, s *session) {
	op, ok := convOps[cmd.GetOp()]
	if !ok {
		c.send(ctx, errorCommand(cmd.I, peerID, CodeInternal, "not supported by this server: "+commandName(cmd)))
		return
	}
	m := cmd.GetConvMessage()
	if m == nil {
		m = &lcproto.ConvCommand{}
	}
	replyOp, reply, err := op.run(c, ctx, s.p, m)
	if err != nil {
		c.refuse(ctx, cmd, peerID, err, op.code)
		return
	}
	c.send(ctx, &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_conv.Enum(), Op: replyOp.Enum(), I: cmd.I,
		PeerId: proto.String(peerID), Service: proto.Int32(serviceIM), ConvMessage: reply,
	})
}

// cidOf is the conversation a command names.
func cidOf(m *lcproto.ConvCommand) (string, error) {
	if m.GetCid() == "" {
		return "", malformed("cid is required")
	}
	return m.GetCid(), nil
}

// targetsOf are the clients a command acts on (m).
func targetsOf(m *lcproto.ConvCommand) ([]string, error) {
	if len(m.GetM()) == 0 {
		return nil, malformed("m: at least one clientId is required")
	}
	return m.GetM(), nil
}

// signedConv is a conv command's signature (s, t, n).
func signedConv(m *lcproto.ConvCommand) handlers.Signed {
	return handlers.Signed{Signature: m.GetS(), Timestamp: m.GetT(), Nonce: m.GetN()}
}

// jsonObject reads a JsonObjectMessage's data, which must be a JSON
// object; absent or empty data is an empty one.
func jsonObject(j *lcproto.JsonObjectMessage, field string) (map[string]json.RawMessage, error) {
	body := map[string]json.RawMessage{}
	if strings.TrimSpace(j.GetData()) == "" {
		return body, nil
	}
	if err := json.Unmarshal([]byte(j.GetData()), &body); err != nil || body == nil {
		return nil, malformed("%s.data must be a JSON object", field)
	}
	return body, nil
}

// convStart creates a conversation (conv/start → conv/started): a normal
// one, a chat room (transient) or a temporary one (tempConv). The custom
// attributes are attr's fields beside name (the JS SDK's) and attr's attr
// (the native SDKs'). A unique conversation that exists already answers
// with its cid.
func (c *conn) convStart(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	body, err := jsonObject(m.GetAttr(), "attr")
	if err != nil {
		return 0, nil, err
	}
	req := handlers.CreateConversationRequest{Signed: signedConv(m)}
	req.Name, req.Attributes, err = leancloud.NameAndAttributes(body, func(k string, _ json.RawMessage) error {
		return malformed("attr: %s is not an attribute", k)
	})
	if err != nil {
		return 0, nil, fieldRefusal(err)
	}
	switch {
	case m.GetTransient() && m.GetTempConv():
		return 0, nil, malformed("a conversation is not both transient and tempConv")
	case m.GetTransient():
		req.Kind = handlers.KindChatRoom
	case m.GetTempConv():
		if m.GetTempConvTTL() < 0 {
			return 0, nil, malformed("tempConvTTL must not be negative")
		}
		req.Kind, req.TTL = handlers.KindTemporary, int64(m.GetTempConvTTL())
	default:
		// The JS SDK v5 sends unique for chat rooms and temporary
		// conversations too; it means something for normal ones only.
		req.Kind, req.Unique = handlers.KindNormal, m.GetUnique()
	}
	// The SDKs list the creator among the members (a chat room's creator
	// alone); the rules add the caller themselves.
	for _, id := range m.GetM() {
		if id != p.ClientID {
			req.Members = append(req.Members, id)
		}
	}
	conv, created, err := c.g.svc.CreateConversation(ctx, p, req)
	if err != nil {
		return 0, nil, err
	}
	out := &lcproto.ConvCommand{Cid: proto.String(conv.ID), Cdate: proto.String(leancloud.ISODate(conv.CreatedAt))}
	if conv.TTL != nil {
		out.TempConvTTL = proto.Int32(int32(*conv.TTL))
	}
	if !created {
		setExisting(out)
	}
	return lcproto.OpType_started, out, nil
}

// existingField is ConvCommand's field 32, existing, in the Swift SDK's
// schema (newer than the JS SDK's, which lcproto is made from): true when
// conv/start found a unique conversation that was there, so that the SDK
// fetches it rather than trusting the name and attributes it asked for.
// The JS SDKs skip it as an unknown field.
const existingField = 32

func setExisting(m *lcproto.ConvCommand) {
	b := protowire.AppendTag(nil, existingField, protowire.VarintType)
	m.ProtoReflect().SetUnknown(protowire.AppendVarint(b, 1))
}

// maxTempConvIDs bounds a conv/query by tempConvIds, one read each.
const maxTempConvIDs = 100

// convQuery queries conversations (conv/query → conv/results): by where,
// sort, limit and skip as the HTTP API's query, flag bit 0 leaving the
// member lists out and bit 1 adding the last messages; or temporary
// conversations by their ids (tempConvIds), which queries never list.
func (c *conn) convQuery(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	const (
		flagCompact         = 1
		flagWithLastMessage = 2
	)
	var convs []*handlers.Conversation
	if ids := m.GetTempConvIds(); len(ids) > 0 {
		if len(ids) > maxTempConvIDs {
			return 0, nil, malformed("tempConvIds: at most %d", maxTempConvIDs)
		}
		for _, id := range ids {
			conv, err := c.g.svc.GetConversation(ctx, p, id)
			var he *handlers.Error
			if errors.As(err, &he) && he.Code == handlers.CodeConversationNotFound {
				continue // gone (expired): not among the results
			}
			if err != nil {
				return 0, nil, err
			}
			convs = append(convs, conv)
		}
	} else {
		where := strings.TrimSpace(m.GetWhere().GetData())
		if where == "" {
			where = "{}"
		}
		var err error
		convs, err = c.g.svc.QueryConversations(ctx, p, handlers.QueryRequest{
			Where: leancloud.RealtimeWhere(where), Sort: m.GetSort(), Limit: int(m.GetLimit()), Skip: int(m.GetSkip()),
			Compact: m.GetFlag()&flagCompact != 0, WithLastMessage: m.GetFlag()&flagWithLastMessage != 0,
		})
		if err != nil {
			return 0, nil, err
		}
	}
	now := c.g.now().UnixMilli()
	b := []byte{'['}
	for i, conv := range convs {
		o, err := leancloud.RealtimeConversationOf(conv, now, m.GetFlag()&flagCompact != 0)
		if err != nil {
			return 0, nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	b = append(b, ']')
	return lcproto.OpType_results, &lcproto.ConvCommand{Results: &lcproto.JsonObjectMessage{Data: proto.String(string(b))}}, nil
}

// convUpdate changes a conversation's name and attributes (conv/update →
// conv/updated). The reply's attrModified holds, for each key the update
// named (dotted keys as nested objects, as the Swift SDK reads it), its
// value after the update, null when it was removed.
func (c *conn) convUpdate(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	body, err := jsonObject(m.GetAttr(), "attr")
	if err != nil {
		return 0, nil, err
	}
	if len(body) == 0 {
		return 0, nil, malformed("attr: nothing to update")
	}
	u, err := leancloud.ParseUpdate(body)
	if err != nil {
		return 0, nil, fieldRefusal(err)
	}
	var current map[string]any
	if u.Attr != nil { // attr replaces them all: which are there now?
		conv, err := c.g.svc.GetConversation(ctx, p, id)
		if err != nil {
			return 0, nil, err
		}
		current = leancloud.AttributesOf(conv)
	}
	conv, err := c.g.svc.UpdateConversation(ctx, p, id, u.Request(current))
	if err != nil {
		return 0, nil, err
	}
	modified, err := c.modified(conv, body)
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_updated, &lcproto.ConvCommand{
		Cid: proto.String(id), Udate: proto.String(leancloud.ISODate(conv.UpdatedAt)),
		AttrModified: &lcproto.JsonObjectMessage{Data: proto.String(string(modified))},
	}, nil
}

// modified is attrModified: the values that conv, as the SDKs read it,
// has now at the keys of an update's body.
func (c *conn) modified(conv *handlers.Conversation, body map[string]json.RawMessage) ([]byte, error) {
	raw, err := leancloud.RealtimeConversationOf(conv, c.g.now().UnixMilli(), false)
	if err != nil {
		return nil, err
	}
	var now map[string]any
	if err := json.Unmarshal(raw, &now); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for key := range body {
		path := strings.Split(key, ".")
		var v any = now
		for _, k := range path {
			obj, _ := v.(map[string]any)
			v = obj[k] // nil once the path leaves the objects
		}
		into := out
		for _, k := range path[:len(path)-1] {
			next, ok := into[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				into[k] = next
			}
			into = next
		}
		into[path[len(path)-1]] = v
	}
	return json.Marshal(out)
}

// convMute and convUnmute stop and restart the caller's offline push of a
// conversation (conv/mute, conv/unmute → conv/updated).
func (c *conn) convMute(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	return c.mute(ctx, p, m, true)
}

func (c *conn) convUnmute(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	return c.mute(ctx, p, m, false)
}

func (c *conn) mute(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand, muted bool) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	conv, err := c.g.svc.Mute(ctx, p, id, muted)
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_updated, &lcproto.ConvCommand{Cid: proto.String(id), Udate: proto.String(leancloud.ISODate(conv.UpdatedAt))}, nil
}

// partial is the answer of an operation on clients (add, remove, silence,
// block): LeanCloud's SDKs read who it was done to (allowedPids) and who
// it failed for, why (failedPids). Parley's operations change all the
// clients or none, so a refusal because of whom it targets (a blocked
// client, a role too high) fails them all, in failedPids; any other
// refusal is the command's error.
func partial(targets []string, err error, code func(handlers.Code) int32) (allowed []string, failed []*lcproto.ErrorCommand, _ error) {
	if err == nil {
		return targets, nil, nil
	}
	var he *handlers.Error
	if !errors.As(err, &he) || (he.Code != handlers.CodeClientBlocked && he.Code != handlers.CodeForbidden) {
		return nil, nil, err
	}
	return []string{}, []*lcproto.ErrorCommand{{
		Code: proto.Int32(codeOf(he.Code, code)), Reason: proto.String(string(he.Code)),
		Detail: proto.String(he.Detail), Pids: targets,
	}}, nil
}

// convAdd adds members (conv/add → conv/added). A client adding itself
// joins: a group, a chat room, or (subscribing) a system conversation.
func (c *conn) convAdd(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	return c.members(ctx, p, m, lcproto.OpType_added, func(id string, targets []string) (*handlers.Conversation, error) {
		if len(targets) == 1 && targets[0] == p.ClientID {
			return c.g.svc.Join(ctx, p, id, signedConv(m))
		}
		return c.g.svc.AddMembers(ctx, p, id, handlers.MembersRequest{ClientIDs: targets, Signed: signedConv(m)})
	})
}

// convRemove removes members (conv/remove → conv/removed). A client
// removing itself quits (a system conversation: unsubscribes).
func (c *conn) convRemove(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	return c.members(ctx, p, m, lcproto.OpType_removed, func(id string, targets []string) (*handlers.Conversation, error) {
		if len(targets) == 1 && targets[0] == p.ClientID {
			return c.g.svc.Quit(ctx, p, id)
		}
		return c.g.svc.RemoveMembers(ctx, p, id, handlers.MembersRequest{ClientIDs: targets, Signed: signedConv(m)})
	})
}

func (c *conn) members(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand, op lcproto.OpType,
	change func(id string, targets []string) (*handlers.Conversation, error)) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	targets, err := targetsOf(m)
	if err != nil {
		return 0, nil, err
	}
	conv, err := change(id, targets)
	allowed, failed, err := partial(targets, err, convCode)
	if err != nil {
		return 0, nil, err
	}
	out := &lcproto.ConvCommand{Cid: proto.String(id), AllowedPids: allowed, FailedPids: failed}
	if conv != nil {
		out.Udate = proto.String(leancloud.ISODate(conv.UpdatedAt))
	}
	return op, out, nil
}

// convCount counts a conversation's members, a chat room's clients online
// in it (conv/count → conv/result).
func (c *conn) convCount(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	n, err := c.g.svc.MemberCount(ctx, p, id)
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_result, &lcproto.ConvCommand{Cid: proto.String(id), Count: proto.Int32(int32(n))}, nil
}

// convMaxRead tells how far the other members have received and read a
// conversation (conv/max_read → conv/result): the furthest of them
// (maxAckTimestamp, maxReadTimestamp; in a one-to-one conversation, the
// other member's, the SDKs' lastDeliveredAt and lastReadAt), or with
// queryAllMembers each one's (maxReadTuples).
func (c *conn) convMaxRead(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	positions, err := c.g.svc.ReadPositions(ctx, p, id)
	if err != nil {
		return 0, nil, err
	}
	out := &lcproto.ConvCommand{Cid: proto.String(id)}
	var ack, read int64
	for _, pos := range positions {
		if pos.ClientID == p.ClientID {
			continue
		}
		t := &lcproto.MaxReadTuple{Pid: proto.String(pos.ClientID)}
		if pos.DeliveredAt != nil {
			t.MaxAckTimestamp, ack = proto.Int64(*pos.DeliveredAt), max(ack, *pos.DeliveredAt)
		}
		if pos.ReadAt != nil {
			t.MaxReadTimestamp, read = proto.Int64(*pos.ReadAt), max(read, *pos.ReadAt)
		}
		if m.GetQueryAllMembers() {
			out.MaxReadTuples = append(out.MaxReadTuples, t)
		}
	}
	if !m.GetQueryAllMembers() {
		if ack > 0 {
			out.MaxAckTimestamp = proto.Int64(ack)
		}
		if read > 0 {
			out.MaxReadTimestamp = proto.Int64(read)
		}
	}
	return lcproto.OpType_result, out, nil
}

// maxIsMember bounds the conversations of one conv/is_member.
const maxIsMember = 100

// convIsMember tells, for each of cids (or cid), whether the caller is in
// it (conv/is_member → conv/result, results `{cid: bool}`): the Swift SDK
// asks it of system conversations (subscribed?).
func (c *conn) convIsMember(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	ids := m.GetCids()
	if len(ids) == 0 && m.GetCid() != "" {
		ids = []string{m.GetCid()}
	}
	if len(ids) == 0 || len(ids) > maxIsMember {
		return 0, nil, malformed("cids: 1 to %d conversation ids", maxIsMember)
	}
	in := make(map[string]bool, len(ids))
	for _, id := range ids {
		ok, err := c.g.svc.IsMember(ctx, p, id)
		var he *handlers.Error
		if errors.As(err, &he) && he.Code == handlers.CodeConversationNotFound {
			ok, err = false, nil // no such conversation: not in it
		}
		if err != nil {
			return 0, nil, err
		}
		in[id] = ok
	}
	b, err := json.Marshal(in)
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_result, &lcproto.ConvCommand{Results: &lcproto.JsonObjectMessage{Data: proto.String(string(b))}}, nil
}

// convMembers lists a conversation's members, a chat room's clients in it
// now (conv/members → conv/result with m; the Swift SDK's online members
// of a chat room), at most limit of them when limit is positive.
func (c *conn) convMembers(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	infos, err := c.g.svc.ListMembers(ctx, p, id)
	if err != nil {
		return 0, nil, err
	}
	ids := make([]string, 0, len(infos))
	for _, in := range infos {
		ids = append(ids, in.ClientID)
	}
	if n := int(m.GetLimit()); n > 0 && n < len(ids) {
		ids = ids[:n]
	}
	return lcproto.OpType_result, &lcproto.ConvCommand{Cid: proto.String(id), M: ids}, nil
}

// roles are LeanCloud's names of the member roles (JSRT
// ConversationMemberRole), by Parley's.
var roles = map[string]string{handlers.RoleOwner: "Owner", handlers.RoleManager: "Manager", handlers.RoleMember: "Member"}

// convMemberInfoUpdate sets a member's role (conv/member_info_update →
// conv/member_info_updated).
func (c *conn) convMemberInfoUpdate(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	target, pid := m.GetTargetClientId(), m.GetInfo().GetPid()
	switch {
	case target == "" && pid == "":
		return 0, nil, malformed("targetClientId is required")
	case target == "":
		target = pid
	case pid != "" && pid != target:
		return 0, nil, malformed("info.pid and targetClientId name different clients")
	}
	role := ""
	for parley, lc := range roles {
		if strings.EqualFold(m.GetInfo().GetRole(), lc) {
			role = parley
		}
	}
	if role == "" {
		return 0, nil, &refusal{CodeUnknownConversationRole, fmt.Sprintf("info.role %q is not Owner, Manager or Member", m.GetInfo().GetRole())}
	}
	info, err := c.g.svc.SetRole(ctx, p, id, target, role)
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_member_info_updated, &lcproto.ConvCommand{
		Cid: proto.String(id), TargetClientId: proto.String(info.ClientID),
		Info: &lcproto.ConvMemberInfo{Pid: proto.String(info.ClientID), Role: proto.String(roles[info.Role])},
	}, nil
}

// convAddShutup and convRemoveShutup silence members until lifted, and
// lift it (conv/add_shutup, remove_shutup → shutup_added, shutup_removed).
func (c *conn) convAddShutup(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	return c.shutup(m, lcproto.OpType_shutup_added, func(id string, targets []string) error {
		_, err := c.g.svc.Silence(ctx, p, id, handlers.SilenceRequest{ClientIDs: targets})
		return err
	})
}

func (c *conn) convRemoveShutup(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	return c.shutup(m, lcproto.OpType_shutup_removed, func(id string, targets []string) error {
		_, err := c.g.svc.Unsilence(ctx, p, id, handlers.ClientsRequest{ClientIDs: targets})
		return err
	})
}

func (c *conn) shutup(m *lcproto.ConvCommand, op lcproto.OpType, change func(id string, targets []string) error) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	targets, err := targetsOf(m)
	if err != nil {
		return 0, nil, err
	}
	allowed, failed, err := partial(targets, change(id, targets), shutupCode)
	if err != nil {
		return 0, nil, err
	}
	return op, &lcproto.ConvCommand{Cid: proto.String(id), AllowedPids: allowed, FailedPids: failed}, nil
}

// convQueryShutup pages the silenced members (conv/query_shutup →
// shutup_result {m, next}).
func (c *conn) convQueryShutup(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	l, err := c.g.svc.ListSilenced(ctx, p, id, m.GetNext())
	if err != nil {
		return 0, nil, err
	}
	ids, next := limitPage(l, m.GetLimit())
	out := &lcproto.ConvCommand{Cid: proto.String(id), M: ids}
	if next != "" {
		out.Next = proto.String(next)
	}
	return lcproto.OpType_shutup_result, out, nil
}

// convCheckShutup tells which of m are silenced (conv/check_shutup →
// check_result with those in m; the Swift SDK's).
func (c *conn) convCheckShutup(ctx context.Context, p handlers.Principal, m *lcproto.ConvCommand) (lcproto.OpType, *lcproto.ConvCommand, error) {
	id, err := cidOf(m)
	if err != nil {
		return 0, nil, err
	}
	targets, err := targetsOf(m)
	if err != nil {
		return 0, nil, err
	}
	among, err := allPages(targets, func(after string) (*handlers.ClientList, error) { return c.g.svc.ListSilenced(ctx, p, id, after) })
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_check_result, &lcproto.ConvCommand{Cid: proto.String(id), M: among}, nil
}

// limitPage is a page of at most limit clients (when positive): the rules
// page by their own size, so a smaller limit ends the page early, next
// continuing after its last client.
func limitPage(l *handlers.ClientList, limit int32) (ids []string, next string) {
	ids, next = l.ClientIDs, l.Next
	if limit > 0 && int(limit) < len(ids) {
		ids = ids[:limit]
		next = ids[len(ids)-1]
	}
	return ids, next
}

// allPages reads every page of a list and returns those of targets on it.
func allPages(targets []string, list func(after string) (*handlers.ClientList, error)) ([]string, error) {
	among := []string{}
	after := ""
	for {
		l, err := list(after)
		if err != nil {
			return nil, err
		}
		for _, id := range l.ClientIDs {
			if slices.Contains(targets, id) && !slices.Contains(among, id) {
				among = append(among, id)
			}
		}
		if l.Next == "" {
			return among, nil
		}
		after = l.Next
	}
}
