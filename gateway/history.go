package gateway

// This file answers logs, LeanCloud's history query, with pages of
// handlers.Service.History.

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// logsSlack is how many messages beyond the limit a page reads at first:
// those of the start's millisecond on the near side of its message (mid)
// are read and then left out.
const logsSlack = 20

// point is one end of a logs query: a time, and the message at that time
// that marks the end exactly (mid, when the time has several); included:
// whether the end itself belongs to the result.
type point struct {
	set      bool
	t        int64
	mid      string
	included bool
}

// logs answers logs {cid, t, mid, tIncluded, tt, tmid, ttIncluded, l,
// direction, lctype}: up to l (default 20) messages from the start point
// (t, mid; default: the newest, or with direction NEW the oldest) towards
// the end point (tt, tmid; default: as far as there are), in direction OLD
// (back in time, the default) or NEW; by type with lctype. Whatever the
// direction, the page is in ascending time order (LEANCLOUD.md §3.6 item 4).
//
// Parley pages by time with exclusive bounds, or by message id, not both:
// the page is read by the start's time alone, with its whole millisecond,
// and both points are applied to it here, in Parley's order of messages
// (time, then message), so that a millisecond holding several messages
// splits exactly at mid.
func (c *conn) logs(ctx context.Context, cmd *lcproto.GenericCommand, peerID string, s *session) {
	q := cmd.GetLogsMessage()
	cid := q.GetCid()
	if cid == "" {
		c.send(ctx, errorCommand(cmd.I, peerID, CodeInvalidMessagingTarget, "cid is required"))
		return
	}
	limit := int(q.GetL())
	if limit <= 0 {
		limit = int(q.GetLimit())
	}
	if limit <= 0 {
		limit = handlers.DefaultHistoryLimit
	}
	limit = min(limit, handlers.MaxHistoryLimit)
	forward := q.GetDirection() == lcproto.LogsCommand_NEW
	start := point{set: q.GetT() > 0, t: q.GetT(), mid: q.GetMid(), included: q.GetTIncluded()}
	end := point{set: q.GetTt() > 0, t: q.GetTt(), mid: q.GetTmid(), included: q.GetTtIncluded()}
	var typ *int
	if q.GetLctype() != 0 {
		t := int(q.GetLctype())
		typ = &t
	}

	var msgs []*handlers.Message
	for n := min(limit+logsSlack, handlers.MaxHistoryLimit); ; n = min(2*n, handlers.MaxHistoryLimit) {
		req := handlers.HistoryRequest{Limit: n, Type: typ}
		switch {
		case !start.set && start.mid != "": // a message without its time: page by its id
			if forward {
				req.After = start.mid
			} else {
				req.Before = start.mid
			}
		case forward:
			after := int64(0) // every message: they all have a positive time
			if start.set {
				after = max(start.t-1, 0)
			}
			req.AfterTime = &after
		case start.set:
			before := start.t + 1
			req.BeforeTime = &before
		}
		page, err := c.g.svc.History(ctx, s.p, cid, req)
		if err != nil {
			c.fail(ctx, cmd, peerID, err, nil)
			return
		}
		all := page.Messages
		msgs = window(all, forward, start, end, limit)
		reached := len(all) > 0 && end.set && (forward && all[len(all)-1].Timestamp > end.t || !forward && all[0].Timestamp < end.t)
		if len(msgs) >= limit || !page.HasMore || reached || n == handlers.MaxHistoryLimit {
			break
		}
	}

	// How far the other member of a one-to-one conversation has received
	// and read, for the caller's own messages (the SDKs show them as
	// delivered and read).
	var ackAt, readAt int64
	if slices.ContainsFunc(msgs, func(m *handlers.Message) bool { return m.From == s.p.ClientID }) {
		if conv, err := c.g.svc.GetConversation(ctx, s.p, cid); err == nil {
			ackAt, readAt = ptrOr(conv.LastDeliveredAt), ptrOr(conv.LastReadAt)
		}
	}
	r := reply(cmd, peerID, lcproto.CommandType_logs, 0)
	r.LogsMessage = &lcproto.LogsCommand{}
	for _, m := range msgs {
		p, err := leancloud.MessageToLeanCloud(m)
		if err != nil {
			c.g.log.Error("gateway: a message in LeanCloud's form", "conversation", cid, "message", m.ID, "err", err)
			continue
		}
		it := &lcproto.LogItem{
			From: proto.String(m.From), Timestamp: proto.Int64(m.Timestamp), MsgId: proto.String(m.ID),
			PatchTimestamp: m.PatchedAt, MentionAll: trueOrNil(p.MentionAll), MentionPids: p.MentionPids,
			ConvType: convType(cid),
		}
		if p.Bin {
			it.Bin = proto.Bool(true)
		}
		it.Data = proto.String(p.Data) // binary content stays Base64 here, with bin
		if m.From == s.p.ClientID {
			if m.Timestamp <= ackAt {
				it.AckAt = proto.Int64(ackAt)
			}
			if m.Timestamp <= readAt {
				it.ReadAt = proto.Int64(readAt)
			}
		}
		r.LogsMessage.Logs = append(r.LogsMessage.Logs, it)
	}
	c.send(ctx, r)
}

// window cuts a page (ascending) to the messages between start and end, at
// most limit of them, those nearest start.
func window(msgs []*handlers.Message, forward bool, start, end point, limit int) []*handlers.Message {
	from, to := 0, len(msgs)
	if forward {
		if start.set {
			from = after(msgs, start)
		}
		if end.set {
			to = before(msgs, end)
		}
	} else {
		if start.set {
			to = before(msgs, start)
		}
		if end.set {
			from = after(msgs, end)
		}
	}
	if from >= to {
		return nil
	}
	if to-from > limit {
		if forward {
			to = from + limit
		} else {
			from = to - limit
		}
	}
	return msgs[from:to]
}

// at returns where point p lies in msgs (ascending): msgs[:lo] are before
// it and msgs[hi:] after it; msgs[lo:hi] are at it — the message mid, or
// when mid is not given (or not at that time) every message of that
// millisecond.
func at(msgs []*handlers.Message, p point) (lo, hi int) {
	lo = len(msgs)
	for i, m := range msgs {
		if m.Timestamp >= p.t {
			lo = i
			break
		}
	}
	hi = lo
	for hi < len(msgs) && msgs[hi].Timestamp == p.t {
		hi++
	}
	if p.mid != "" {
		for i := lo; i < hi; i++ {
			if msgs[i].ID == p.mid {
				return i, i + 1
			}
		}
	}
	return lo, hi
}

// after is the index of the first message after p (at p, when p is
// included).
func after(msgs []*handlers.Message, p point) int {
	lo, hi := at(msgs, p)
	if p.included {
		return lo
	}
	return hi
}

// before is the index past the last message before p (at p, when p is
// included).
func before(msgs []*handlers.Message, p point) int {
	lo, hi := at(msgs, p)
	if p.included {
		return hi
	}
	return lo
}
