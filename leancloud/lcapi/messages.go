package lcapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// sendBody is §1.7's send: from_client, message (LeanCloud's content
// form), transient, no_sync, push_data, priority, mention_all,
// mention_client_ids.
type sendBody struct {
	FromClient       string          `json:"from_client"`
	Message          *string         `json:"message"`
	Transient        bool            `json:"transient"`
	NoSync           bool            `json:"no_sync"`
	PushData         json.RawMessage `json:"push_data"`
	Priority         string          `json:"priority"`
	MentionAll       bool            `json:"mention_all"`
	MentionClientIDs []string        `json:"mention_client_ids"`
}

// POST /1.2/rtm/conversations/{id}/messages (§1.2 row 11, §1.7).
func (a *API) sendMessage(w http.ResponseWriter, r *http.Request) {
	var body sendBody
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if m, ok := a.send(w, r, chi.URLParam(r, "id"), body); ok {
		writeJSON(w, http.StatusOK, sent{m.ID, m.Timestamp})
	}
}

// sent is the answer of a send: {"msg-id", "timestamp"}.
type sent struct {
	MsgID     string `json:"msg-id"`
	Timestamp int64  `json:"timestamp"`
}

// send sends body's message into convID, or answers the error and
// reports false (also /1.1/rtm/messages).
func (a *API) send(w http.ResponseWriter, r *http.Request, convID string, body sendBody) (*handlers.Message, bool) {
	if body.FromClient == "" {
		writeError(w, badRequest("from_client is required"))
		return nil, false
	}
	if body.Message == nil {
		writeError(w, badRequest("message is required"))
		return nil, false
	}
	if body.NoSync {
		// Parley delivers a backend's message to every member's sessions,
		// the sender's included; it has no way to leave them out.
		writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported,
			Message: "Not supported by Parley: no_sync"})
		return nil, false
	}
	content, recalled, err := leancloud.FromLeanCloud(leancloud.Payload{Data: *body.Message,
		MentionAll: body.MentionAll, MentionPids: body.MentionClientIDs})
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	if recalled {
		writeError(w, badRequest("message: a recalled message (_lctype -127) cannot be sent"))
		return nil, false
	}
	req := handlers.SendRequest{Content: content, Transient: body.Transient, Priority: strings.ToLower(body.Priority)}
	if len(body.PushData) > 0 && string(body.PushData) != "null" {
		pd, e := pushData(body.PushData)
		if e != nil {
			writeError(w, e)
			return nil, false
		}
		req.PushData = pd
	}
	m, _, err := a.opt.Service.AdminSend(r.Context(), principal(r), convID, body.FromClient, req)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	return m, true
}

// pushData reads push_data: an object, or a string holding one.
func pushData(raw json.RawMessage) (map[string]any, *lcError) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var pd map[string]any
	if json.Unmarshal(raw, &pd) != nil || pd == nil {
		return nil, badRequest("push_data must be a JSON object (or a string holding one)")
	}
	return pd, nil
}

// record is a history record as LeanCloud's history API returns it
// (LEANCLOUD.md §1.6; from-ip and ack-at are not kept).
type record struct {
	MsgID     string `json:"msg-id"`
	ConvID    string `json:"conv-id"`
	From      string `json:"from"`
	Timestamp int64  `json:"timestamp"`
	Data      string `json:"data"`
	Bin       bool   `json:"bin"`
	IsConv    bool   `json:"is-conv"`
	IsRoom    bool   `json:"is-room"`
	To        string `json:"to"`
}

// historySlack is how many messages beyond limit a page reads, for those
// the start cursor's message id excludes (messages of the start's
// millisecond on the near side of msgid, and msgid itself).
const historySlack = 20

// GET /1.2/rtm/conversations/{id}/messages (§1.2 row 12, §1.6): newest first
// from timestamp (+ msgid) down to till_timestamp (+ till_msgid), or with
// reversed oldest first from timestamp up to till_timestamp; the start and
// stop messages themselves only with include_start / include_stop; limit
// (default 100, at most 1000); type.
func (a *API) history(w http.ResponseWriter, r *http.Request) { a.historyAs(w, r, principal(r)) }

// historyAs is history as p reads it.
func (a *API) historyAs(w http.ResponseWriter, r *http.Request, p handlers.Principal) {
	convID := chi.URLParam(r, "id")
	q := r.URL.Query()
	limit := 100
	var e *lcError
	num := func(name string) (int64, bool) {
		s := q.Get(name)
		if s == "" || e != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			e = badRequest(name + " must be an integer")
			return 0, false
		}
		return v, true
	}
	flag := func(name string) bool {
		v, _ := strconv.ParseBool(q.Get(name))
		return v
	}
	if v, ok := num("limit"); ok {
		limit = int(v)
	}
	ts, hasTS := num("timestamp")
	till, hasTill := num("till_timestamp")
	typ, hasType := num("type")
	if e != nil {
		writeError(w, e)
		return
	}
	if limit < 1 || limit > handlers.MaxHistoryLimit {
		writeError(w, badRequest("limit must be between 1 and 1000"))
		return
	}
	msgID, tillID := q.Get("msgid"), q.Get("till_msgid")
	if (msgID != "" && !hasTS) || (tillID != "" && !hasTill) {
		writeError(w, badRequest("msgid needs timestamp, till_msgid needs till_timestamp"))
		return
	}
	reversed := flag("reversed")
	includeStart, includeStop := flag("include_start"), flag("include_stop")

	req := handlers.HistoryRequest{Limit: min(limit+historySlack, handlers.MaxHistoryLimit)}
	if hasType {
		t := int(typ)
		req.Type = &t
	}
	// Parley's time cursors are exclusive: one millisecond beyond the
	// start reads the start's own millisecond, which the ids then trim.
	if reversed {
		after := max(ts-1, 0)
		req.AfterTime = &after
	} else if hasTS {
		before := ts + 1
		req.BeforeTime = &before
	}
	page, err := a.opt.Service.History(r.Context(), p, convID, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	msgs := page.Messages // ascending
	if !reversed {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	// Before the start: messages of its millisecond on the near side of
	// msgid (without msgid, the millisecond itself is the start).
	start := 0
	if hasTS {
		for start < len(msgs) && msgs[start].Timestamp == ts {
			if msgID != "" && msgs[start].ID == msgID {
				if !includeStart {
					start++
				}
				break
			}
			if msgID == "" && includeStart {
				break
			}
			start++
		}
	}
	out := make([]record, 0, limit)
	for _, m := range msgs[start:] {
		if len(out) == limit {
			break
		}
		if hasTill {
			beyond := m.Timestamp < till
			if reversed {
				beyond = m.Timestamp > till
			}
			if beyond {
				break
			}
			if m.Timestamp == till {
				if tillID == "" || m.ID == tillID {
					if includeStop {
						rec, err := toRecord(m)
						if err != nil {
							a.fail(w, r, err)
							return
						}
						out = append(out, rec)
					}
					if tillID != "" {
						break
					}
					continue
				}
			}
		}
		rec, err := toRecord(m)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out = append(out, rec)
	}
	writeJSON(w, http.StatusOK, out)
}

func toRecord(m *handlers.Message) (record, error) {
	p, err := leancloud.MessageToLeanCloud(m)
	if err != nil {
		return record{}, errors.Join(errors.New("history record "+m.ID), err)
	}
	return record{MsgID: m.ID, ConvID: m.ConversationID, From: m.From, Timestamp: m.Timestamp,
		Data: p.Data, Bin: p.Bin, IsConv: true, To: m.ConversationID}, nil
}
