package gateway

// The blacklist request commands (LEANCLOUD.md §3.5): a conversation's
// blocked clients (srcCid, toPids). LeanCloud's other blacklist, a client
// blocking conversations (srcPid, toCids), Parley does not have.

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
)

// blacklistOp runs one blacklist command for p.
type blacklistOp func(c *conn, ctx context.Context, p handlers.Principal, m *lcproto.BlacklistCommand) (lcproto.OpType, *lcproto.BlacklistCommand, error)

var blacklistOps = map[lcproto.OpType]blacklistOp{
	lcproto.OpType_block:       (*conn).blacklistBlock,
	lcproto.OpType_unblock:     (*conn).blacklistUnblock,
	lcproto.OpType_query:       (*conn).blacklistQuery,
	lcproto.OpType_check_block: (*conn).blacklistCheck,
}

// blacklist answers a blacklist command of the session s.
func (c *conn) blacklist(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, s *session) {
	run, ok := blacklistOps[cmd.GetOp()]
	if !ok {
		c.send(ctx, errorCommand(cmd.I, peerID, CodeInternal, "not supported by this server: "+commandName(cmd)))
		return
	}
	m := cmd.GetBlacklistMessage()
	if m == nil {
		m = &lcproto.BlacklistCommand{}
	}
	replyOp, reply, err := run(c, ctx, s.p, m)
	if err != nil {
		c.refuse(ctx, cmd, peerID, err, blacklistCode)
		return
	}
	c.send(ctx, &lcproto.GenericCommand{
		Cmd: lcproto.CommandType_blacklist.Enum(), Op: replyOp.Enum(), I: cmd.I,
		PeerId: proto.String(peerID), Service: proto.Int32(serviceIM), BlacklistMessage: reply,
	})
}

// srcCidOf is the conversation whose blacklist a command is about.
func srcCidOf(m *lcproto.BlacklistCommand) (string, error) {
	if m.GetSrcCid() == "" {
		if m.GetSrcPid() != "" || len(m.GetToCids()) > 0 {
			return "", &refusal{CodeConversationNotAllowed, "not supported by Parley: a client's blacklist of conversations (srcPid, toCids); conversations block clients (srcCid, toPids)"}
		}
		return "", malformed("srcCid is required")
	}
	return m.GetSrcCid(), nil
}

// toPidsOf are the clients a command acts on.
func toPidsOf(m *lcproto.BlacklistCommand) ([]string, error) {
	if len(m.GetToPids()) == 0 {
		return nil, malformed("toPids: at least one clientId is required")
	}
	return m.GetToPids(), nil
}

// blacklistBlock and blacklistUnblock block clients (removing them) and
// let them in again (blacklist/block, unblock → blocked, unblocked),
// signed in signature mode with the actions conversation-block-clients and
// conversation-unblock-clients.
func (c *conn) blacklistBlock(ctx context.Context, p handlers.Principal, m *lcproto.BlacklistCommand) (lcproto.OpType, *lcproto.BlacklistCommand, error) {
	return c.block(m, lcproto.OpType_blocked, func(id string, req handlers.ClientsRequest) error {
		_, err := c.g.svc.Block(ctx, p, id, req)
		return err
	})
}

func (c *conn) blacklistUnblock(ctx context.Context, p handlers.Principal, m *lcproto.BlacklistCommand) (lcproto.OpType, *lcproto.BlacklistCommand, error) {
	return c.block(m, lcproto.OpType_unblocked, func(id string, req handlers.ClientsRequest) error {
		_, err := c.g.svc.Unblock(ctx, p, id, req)
		return err
	})
}

func (c *conn) block(m *lcproto.BlacklistCommand, op lcproto.OpType, change func(id string, req handlers.ClientsRequest) error) (lcproto.OpType, *lcproto.BlacklistCommand, error) {
	id, err := srcCidOf(m)
	if err != nil {
		return 0, nil, err
	}
	targets, err := toPidsOf(m)
	if err != nil {
		return 0, nil, err
	}
	err = change(id, handlers.ClientsRequest{ClientIDs: targets, Signed: handlers.Signed{Signature: m.GetS(), Timestamp: m.GetT(), Nonce: m.GetN()}})
	allowed, failed, err := partial(targets, err, blacklistCode)
	if err != nil {
		return 0, nil, err
	}
	return op, &lcproto.BlacklistCommand{SrcCid: proto.String(id), AllowedPids: allowed, FailedPids: failed}, nil
}

// blacklistQuery pages the blocked clients (blacklist/query →
// query_result {blockedPids, next}).
func (c *conn) blacklistQuery(ctx context.Context, p handlers.Principal, m *lcproto.BlacklistCommand) (lcproto.OpType, *lcproto.BlacklistCommand, error) {
	id, err := srcCidOf(m)
	if err != nil {
		return 0, nil, err
	}
	l, err := c.g.svc.ListBlocked(ctx, p, id, m.GetNext())
	if err != nil {
		return 0, nil, err
	}
	ids, next := limitPage(l, m.GetLimit())
	out := &lcproto.BlacklistCommand{SrcCid: proto.String(id), BlockedPids: ids}
	if next != "" {
		out.Next = proto.String(next)
	}
	return lcproto.OpType_query_result, out, nil
}

// blacklistCheck tells which of toPids are blocked (blacklist/check_block
// → check_result with those in blockedPids; the Swift SDK's).
func (c *conn) blacklistCheck(ctx context.Context, p handlers.Principal, m *lcproto.BlacklistCommand) (lcproto.OpType, *lcproto.BlacklistCommand, error) {
	id, err := srcCidOf(m)
	if err != nil {
		return 0, nil, err
	}
	targets, err := toPidsOf(m)
	if err != nil {
		return 0, nil, err
	}
	among, err := allPages(targets, func(after string) (*handlers.ClientList, error) { return c.g.svc.ListBlocked(ctx, p, id, after) })
	if err != nil {
		return 0, nil, err
	}
	return lcproto.OpType_check_result, &lcproto.BlacklistCommand{SrcCid: proto.String(id), BlockedPids: among}, nil
}
