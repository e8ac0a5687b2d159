package leancloud

// This file holds a conversation as the realtime protocol's conv/query
// results carry it to LeanCloud's client SDKs.

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-im/parley/handlers"
)

// realtimeConversation is the `_Conversation` object and what the SDKs
// read beside it (JSRT `_parseConversationFromRawData`, SWIFT
// `IMConversation.Key`).
type realtimeConversation struct {
	ConversationObject
	Muted    bool `json:"muted"`               // the caller muted it
	Temp     bool `json:"temp,omitempty"`      // SWIFT's name of temporary
	ConvType int  `json:"conv_type,omitempty"` // SWIFT: 1 normal, 2 chat room, 3 system, 4 temporary
	// The last message, when asked for (flag withLastMessagesRefreshed).
	Msg            *string  `json:"msg,omitempty"`
	Bin            bool     `json:"bin,omitempty"`
	MsgFrom        string   `json:"msg_from,omitempty"`
	MsgMid         string   `json:"msg_mid,omitempty"`
	MsgTimestamp   int64    `json:"msg_timestamp,omitempty"`
	PatchTimestamp int64    `json:"patch_timestamp,omitempty"`
	MentionAll     bool     `json:"mention_all,omitempty"`
	MentionPids    []string `json:"mention_pids,omitempty"`
}

// sdkFields are the names that a custom attribute cannot also take at the
// top level of a realtime conversation: the object's own keys, and the
// properties the JS SDK makes of them (it renames objectId to id, m to
// members, and so on, and would take an attribute of such a name for the
// property).
var sdkFields = map[string]bool{
	"muted": true, "temp": true, "conv_type": true, "msg": true, "bin": true, "msg_from": true,
	"msg_mid": true, "msg_timestamp": true, "patch_timestamp": true, "mention_all": true, "mention_pids": true,
	"id": true, "members": true, "creator": true, "transient": true, "system": true, "mutedMembers": true,
	"lastMessage": true, "lastMessageAt": true, "lastDeliveredAt": true, "lastReadAt": true,
	"unreadMessagesCount": true, "mentioned": true, "expiredAt": true,
}

var convTypes = map[string]int{handlers.KindNormal: 1, handlers.KindChatRoom: 2, handlers.KindSystem: 3, handlers.KindTemporary: 4}

// RealtimeConversationOf is c as a conv/query result holds it, at the time
// now (ms): the `_Conversation` object (ConversationOf), whose custom
// attributes also stand as top-level fields, where the JS SDK reads them
// (`conv.get(key)`), beside `attr`, where the native SDKs do; `ttl` the
// seconds a temporary conversation has left (the SDKs count its expiry
// from it); and c's last message, if it has one, as `msg`, `msg_from`,
// `msg_mid`, `msg_timestamp`, `patch_timestamp`. compact leaves the member
// list out (the SDKs then keep the one they have).
func RealtimeConversationOf(c *handlers.Conversation, now int64, compact bool) (json.RawMessage, error) {
	out := realtimeConversation{ConversationObject: ConversationOf(c), Muted: c.Muted, ConvType: convTypes[c.Kind]}
	if compact {
		out.M = nil
	}
	if c.Kind == handlers.KindTemporary {
		out.Temp = true
		if c.ExpiresAt != nil {
			left := max(0, (*c.ExpiresAt-now+999)/1000)
			out.TTL = &left
		}
	}
	if m := c.LastMessage; m != nil {
		// Content with no LeanCloud form leaves the last message out
		// rather than failing the whole query.
		if p, err := MessageToLeanCloud(m); err == nil {
			out.Msg, out.Bin, out.MentionAll, out.MentionPids = &p.Data, p.Bin, p.MentionAll, p.MentionPids
			out.MsgFrom, out.MsgMid, out.MsgTimestamp = m.From, m.ID, m.Timestamp
			if m.PatchedAt != nil {
				out.PatchTimestamp = *m.PatchedAt
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(out.Attr))
	for k := range out.Attr {
		if !ConversationFields[k] && !sdkFields[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = b[:len(b)-1] // the closing brace, put back after the attributes
	for _, k := range keys {
		v, err := json.Marshal(out.Attr[k])
		if err != nil {
			return nil, err
		}
		kb, _ := json.Marshal(k)
		b = append(append(append(append(b, ','), kb...), ':'), v...)
	}
	return append(b, '}'), nil
}

// RealtimeWhere rewrites a conv/query's where into the query dialect of
// handlers.QueryConversations where the SDKs ask what it says differently:
// the JS SDK's withMembers(ids), `{"m": {"$size": n, "$all": ids}}` with n
// the number of ids (exactly these members), is `{"m": ids}`, the same set
// (at any depth of $and and $or). Anything else, a where that is no JSON
// included, is left for the query to accept or refuse.
func RealtimeWhere(where string) string {
	dec := json.NewDecoder(strings.NewReader(where))
	dec.UseNumber() // numbers stay as written
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return where
	}
	changed := false
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				if k == "m" || k == "members" {
					if ids, ok := sameSet(e); ok {
						x[k], changed = ids, true
						continue
					}
				}
				if k == "$and" || k == "$or" {
					walk(e)
				}
			}
		}
	}
	walk(v)
	if !changed {
		return where
	}
	b, err := json.Marshal(v)
	if err != nil {
		return where
	}
	return string(b)
}

// sameSet reads `{"$size": n, "$all": ids}` with n distinct ids.
func sameSet(v any) ([]any, bool) {
	ops, ok := v.(map[string]any)
	if !ok || len(ops) != 2 {
		return nil, false
	}
	n, okN := ops["$size"].(json.Number)
	all, okA := ops["$all"].([]any)
	if !okN || !okA {
		return nil, false
	}
	ids := []any{}
	for _, id := range all {
		s, ok := id.(string)
		if !ok {
			return nil, false
		}
		if !slices.Contains(ids, any(s)) {
			ids = append(ids, s)
		}
	}
	return ids, n.String() == strconv.Itoa(len(ids))
}
