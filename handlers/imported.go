package handlers

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/store"
)

// Importers (package leancloud) bring conversations and messages made
// elsewhere into Parley. What they store passes the same rules as what a
// client sends: the rules stay here, in one place, and an importer reports
// what they refuse.

// ImportedConversation is a conversation as another service kept it.
type ImportedConversation struct {
	ID         string
	Kind       string // KindNormal, KindChatRoom, KindTemporary or KindSystem
	Name       string
	Creator    string
	Members    []string // normal and temporary conversations; others have none
	Muted      []string // members who muted offline push; others are ignored
	Attributes map[string]json.RawMessage
	Unique     bool
	// Times in ms since the epoch; 0 when unknown.
	CreatedAt, UpdatedAt int64
	TTL                  int64 // temporary conversations: seconds to live from CreatedAt (0: the default)
}

// MaxImportedIDLen bounds an imported conversation's or message's id.
const MaxImportedIDLen = 64

// ValidImportedID reports whether an id made elsewhere can be a Parley
// conversation id: 1–64 characters, URL-safe (letters, digits, '-', '_',
// '.', '~'), so that it goes into paths and query strings as it is.
// Temporary conversation ids start with "_tmp:", as LeanCloud's do.
func ValidImportedID(id string) bool {
	if len(id) > len(temporaryIDPrefix) && id[:len(temporaryIDPrefix)] == temporaryIDPrefix {
		id = id[len(temporaryIDPrefix):]
	}
	return validID(id, "-_.~")
}

// ValidImportedMessageID reports whether a message id made elsewhere can
// be kept: 1–64 letters, digits and characters of either Base64 alphabet
// ('+', '/', '-', '_', '='), as LeanCloud's msg-ids are, or '.' and '~'.
// Clients percent-encode '+' and '/' in paths and queries, as generated
// clients do.
func ValidImportedMessageID(id string) bool { return validID(id, "-_.~+/=") }

func validID(id, punct string) bool {
	if id == "" || len(id) > MaxImportedIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return true
}

// ImportConversation checks an imported conversation against the rules a
// created one passes and returns its row, its members (sorted, without
// duplicates) and those of them who muted it. now (ms) decides whether a
// temporary conversation has expired already, which is refused: it would
// be deleted at once.
func ImportConversation(c ImportedConversation, now int64) (row *store.Conversation, members, muted []string, err error) {
	temporary := len(c.ID) > len(temporaryIDPrefix) && c.ID[:len(temporaryIDPrefix)] == temporaryIDPrefix
	switch {
	case !ValidImportedID(c.ID):
		return nil, nil, nil, fail(CodeInvalidRequest, "id %q: an id is 1–%d characters of A–Z a–z 0–9 - _ . ~", c.ID, MaxImportedIDLen)
	case temporary != (c.Kind == KindTemporary):
		return nil, nil, nil, fail(CodeInvalidRequest, "id %q: temporary conversations, and only they, have ids starting with %q", c.ID, temporaryIDPrefix)
	}
	switch c.Kind {
	case KindNormal, KindTemporary:
		if err := checkClientIDs(c.Members, "members"); err != nil {
			return nil, nil, nil, err
		}
		members = slices.Clone(c.Members)
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) > memberLimit(c.Kind) {
			return nil, nil, nil, fail(CodeMemberLimit, "%d members: a %s conversation has at most %d", len(members), c.Kind, memberLimit(c.Kind))
		}
		for _, m := range c.Muted {
			if _, found := slices.BinarySearch(members, m); found && !slices.Contains(muted, m) {
				muted = append(muted, m)
			}
		}
	case KindChatRoom, KindSystem:
	default:
		return nil, nil, nil, fail(CodeInvalidRequest, "kind %q is not a conversation kind", c.Kind)
	}
	if c.Creator != "" && !ValidClientID(c.Creator) {
		return nil, nil, nil, fail(CodeInvalidRequest, "creator %q is not a valid clientId: %s", c.Creator, ClientIDRule)
	}
	if utf8.RuneCountInString(c.Name) > MaxConversationName {
		return nil, nil, nil, fail(CodeInvalidRequest, "name is longer than %d characters", MaxConversationName)
	}
	if hasControl(c.Name) {
		return nil, nil, nil, errNameControl
	}
	attrs := map[string]any{}
	for k, raw := range c.Attributes {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, nil, nil, fail(CodeInvalidRequest, "attributes: %s: %v", k, err)
		}
		attrs[k] = v
	}
	encoded, aerr := encodeAttributes(attrs)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	created, updated := c.CreatedAt, c.UpdatedAt
	if created == 0 {
		created = now
	}
	if updated < created {
		updated = created
	}
	row = &store.Conversation{ID: c.ID, Kind: c.Kind, Name: c.Name, Creator: c.Creator, Attributes: encoded,
		Unique: c.Unique && c.Kind == KindNormal, CreatedAt: created, UpdatedAt: updated}
	if c.Kind == KindTemporary {
		ttl := c.TTL
		if ttl <= 0 {
			ttl = DefaultTemporaryTTL
		}
		if ttl > MaxTemporaryTTL {
			return nil, nil, nil, fail(CodeInvalidRequest, "ttl: at most %d seconds (30 days)", MaxTemporaryTTL)
		}
		expires := created + ttl*1000
		if expires <= now {
			return nil, nil, nil, fail(CodeConversationNotFound, "temporary conversation expired at %d", expires)
		}
		row.TTL, row.ExpiresAt = &ttl, &expires
	}
	return row, members, muted, nil
}

// ImportMessage checks an imported message against the rules a sent one
// passes and returns its row for store.Tx.ImportMessages: lcID is the id it
// keeps, c its content (recalled: it had been recalled, and keeps none).
func ImportMessage(convID, lcID, from string, timestamp int64, c *Content, recalled bool) (*store.Message, error) {
	if !ValidImportedMessageID(lcID) {
		return nil, fail(CodeInvalidRequest, "message id %q: an id is 1–%d characters of A–Z a–z 0–9 + / = - _ . ~", lcID, MaxImportedIDLen)
	}
	if !ValidClientID(from) {
		return nil, fail(CodeInvalidRequest, "sender %q is not a valid clientId: %s", from, ClientIDRule)
	}
	if timestamp <= 0 {
		return nil, fail(CodeInvalidRequest, "timestamp %d: must be positive", timestamp)
	}
	m := &store.Message{ConversationID: convID, From: from, Timestamp: timestamp, LCID: &lcID}
	if recalled {
		m.Body, m.Recalled = "{}", true
		return m, nil
	}
	body, err := ValidateContent(c)
	if err != nil {
		return nil, err
	}
	m.Body, m.Type = string(body), typeOf(c)
	return m, nil
}
