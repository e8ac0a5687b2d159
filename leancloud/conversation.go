package leancloud

// This file holds a conversation as LeanCloud's `_Conversation` class shows
// it, shared by the REST API (lcapi) and the realtime gateway.

import (
	"encoding/json"
	"time"

	"github.com/parley-im/parley/handlers"
)

// ISODate is LeanCloud's date form: ISO 8601 in UTC with milliseconds.
func ISODate(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// Date is a date field other than createdAt and updatedAt
// (`{"__type":"Date","iso":…}`).
type Date struct {
	Type string `json:"__type"`
	ISO  string `json:"iso"`
}

// ConversationObject is a conversation as `_Conversation` has it (LEANCLOUD.md
// §2.3): objectId, name, m, c, attr, mu, tr, sys, unique, lm, createdAt,
// updatedAt.
type ConversationObject struct {
	ObjectID  string         `json:"objectId"`
	Name      string         `json:"name"`
	M         []string       `json:"m,omitempty"`
	C         string         `json:"c"`
	Attr      map[string]any `json:"attr,omitempty"`
	Mu        []string       `json:"mu,omitempty"`
	Tr        bool           `json:"tr,omitempty"`
	Sys       bool           `json:"sys,omitempty"`
	Temporary bool           `json:"temporary,omitempty"`
	TTL       *int64         `json:"ttl,omitempty"`
	Unique    bool           `json:"unique"`
	Lm        *Date          `json:"lm,omitempty"`
	CreatedAt string         `json:"createdAt"`
	UpdatedAt string         `json:"updatedAt"`
}

// ConversationOf is c as LeanCloud shows it (REST answers, conv/query
// results).
func ConversationOf(c *handlers.Conversation) ConversationObject {
	out := ConversationObject{
		ObjectID: c.ID, Name: c.Name, M: c.Members, C: c.Creator, Attr: AttributesOf(c), Mu: c.MutedMembers,
		Tr: c.Kind == handlers.KindChatRoom, Sys: c.Kind == handlers.KindSystem,
		Temporary: c.Kind == handlers.KindTemporary, TTL: c.TTL, Unique: c.Unique,
		CreatedAt: ISODate(c.CreatedAt), UpdatedAt: ISODate(c.UpdatedAt),
	}
	if c.Kind == handlers.KindNormal && out.M == nil {
		out.M = []string{}
	}
	if c.LastMessageAt != nil {
		out.Lm = &Date{"Date", ISODate(*c.LastMessageAt)}
	}
	return out
}

// AttributesOf reads a conversation's attributes, which a query result
// keeps only in its JSON form.
func AttributesOf(c *handlers.Conversation) map[string]any {
	if c.Attributes != nil {
		return c.Attributes
	}
	b, err := c.AppendJSON(nil)
	if err != nil {
		return nil
	}
	var v struct {
		Attributes map[string]any `json:"attributes"`
	}
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v.Attributes
}

// ConversationFields are `_Conversation`'s own fields; any other top-level
// field of a create or update is a custom one, kept as an attribute (as
// the importer keeps it).
var ConversationFields = map[string]bool{
	"objectId": true, "name": true, "m": true, "c": true, "attr": true, "mu": true, "tr": true,
	"sys": true, "unique": true, "uniqueId": true, "lm": true, "createdAt": true, "updatedAt": true, "ACL": true,
	"temporary": true, "ttl": true,
}
