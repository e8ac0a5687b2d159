package handlers

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/store"
)

// The API's JSON, written by hand: a message, a conversation, the data of
// the message and unread events. A send encodes its message three times
// (the stored content, the event, the answer) and a page of a query holds up
// to a thousand conversations, and encoding/json's reflection made them a
// tenth of a send's CPU and most of a page's. Each writer appends exactly
// what encoding/json writes of the same value without HTML escaping, as the
// API's encoder does (jsonwrite_test.go compares them), and splices stored
// JSON (message content, conversation attributes) as it is.

// Strings and members.

// appendJSONString appends s as a JSON string, as the API's encoder writes
// it: printable ASCII and other valid UTF-8 as they are, anything else
// (quotes, control characters, invalid UTF-8) through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			// Valid UTF-8 is written as it is, but for the two line
			// separators JavaScript does not allow in strings.
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && r != '\u2028' && r != '\u2029' {
				i += n
				continue
			}
		} else if c >= 0x20 && c != 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		q, _ := marshalAsSent(s) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONStrings appends ss as a JSON array of strings.
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendOptionalInt appends the member name and *v unless v is nil
// (omitempty).
func appendOptionalInt(b []byte, name string, v *int64) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendInt(append(b, name...), *v, 10)
}

// appendMarshaled appends v as encoding/json writes it (HTML left as it is,
// as the API's responses have it).
func appendMarshaled(b []byte, v any) ([]byte, error) {
	j, err := marshalAsSent(v)
	return append(b, j...), err
}

// marshalAsSent encodes v as JSON without json.Marshal's HTML escaping,
// which would store "<" as six bytes and count them against size limits.
func marshalAsSent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Messages.

// AppendJSON appends the message's JSON to b, exactly as encoding/json
// writes it without HTML escaping (TestMessageJSON). A send encodes its
// message three times (the stored content, the event, the answer), and
// reflection made that a tenth of the server's CPU per send.
func (m *Message) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, m.ID)
	b = append(b, `,"conversationId":`...)
	b = appendJSONString(b, m.ConversationID)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, m.From)
	b, err := m.Content.appendMembers(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, m.Timestamp, 10)
	b = appendOptionalInt(b, `,"patchedAt":`, m.PatchedAt)
	if m.Recalled {
		b = append(b, `,"recalled":true`...)
	}
	if m.Transient {
		b = append(b, `,"transient":true`...)
	}
	if m.Priority != "" {
		b = appendJSONString(append(b, `,"priority":`...), m.Priority)
	}
	if m.ClientMessageID != "" {
		b = appendJSONString(append(b, `,"clientMessageId":`...), m.ClientMessageID)
	}
	return append(b, '}'), nil
}

// appendJSON appends the content as a JSON object, as Message.AppendJSON
// writes its members.
func (c *Content) appendJSON(b []byte) ([]byte, error) {
	start := len(b)
	b, err := c.appendMembers(append(b, '{'))
	if err != nil {
		return nil, err
	}
	if len(b) > start+1 { // the first member's comma goes
		b = append(b[:start+1], b[start+2:]...)
	}
	return append(b, '}'), nil
}

// appendMembers appends the content's members, each after a comma, leaving
// out the empty ones as omitempty does.
func (c *Content) appendMembers(b []byte) ([]byte, error) {
	var err error
	if c.Type != nil {
		b = strconv.AppendInt(append(b, `,"type":`...), int64(*c.Type), 10)
	}
	if c.Data != nil {
		b = appendJSONString(append(b, `,"data":`...), *c.Data)
	}
	if c.Text != "" {
		b = appendJSONString(append(b, `,"text":`...), c.Text)
	}
	if len(c.Attributes) > 0 {
		if b, err = appendMarshaled(append(b, `,"attributes":`...), c.Attributes); err != nil {
			return nil, err
		}
	}
	if c.File != nil {
		if b, err = appendMarshaled(append(b, `,"file":`...), c.File); err != nil {
			return nil, err
		}
	}
	if c.Location != nil {
		if b, err = appendMarshaled(append(b, `,"location":`...), c.Location); err != nil {
			return nil, err
		}
	}
	if len(c.Fields) > 0 {
		if b, err = appendMarshaled(append(b, `,"fields":`...), c.Fields); err != nil {
			return nil, err
		}
	}
	if len(c.MentionList) > 0 {
		b = appendJSONStrings(append(b, `,"mentionList":`...), c.MentionList)
	}
	if c.MentionAll {
		b = append(b, `,"mentionAll":true`...)
	}
	return b, nil
}

// appendStoredMessage appends the JSON of toMessage(row), with the stored
// content (a JSON object written by ValidateContent) spliced in as it is.
func appendStoredMessage(b []byte, row *store.Message) []byte {
	b = append(b, `{"id":`...)
	if row.LCID != nil {
		b = appendJSONString(b, *row.LCID)
	} else {
		b = append(b, '"')
		b = append(b, formatMessageID(row.MID)...) // base-32 digits: nothing to escape
		b = append(b, '"')
	}
	b = append(b, `,"conversationId":`...)
	b = appendJSONString(b, row.ConversationID)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, row.From)
	if body := strings.TrimSpace(row.Body); !row.Recalled && len(body) > 2 {
		b = append(b, ',')
		b = append(b, body[1:len(body)-1]...) // the content's fields
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, row.Timestamp, 10)
	if row.PatchedAt != nil {
		b = append(b, `,"patchedAt":`...)
		b = strconv.AppendInt(b, *row.PatchedAt, 10)
	}
	if row.Recalled {
		b = append(b, `,"recalled":true`...)
	}
	if row.Priority != "" {
		b = append(b, `,"priority":`...)
		b = appendJSONString(b, row.Priority)
	}
	if row.ClientMessageID != nil && *row.ClientMessageID != "" {
		b = append(b, `,"clientMessageId":`...)
		b = appendJSONString(b, *row.ClientMessageID)
	}
	return append(b, '}')
}

// Conversations.

// MarshalJSON encodes the conversation as AppendJSON writes it.
func (c Conversation) MarshalJSON() ([]byte, error) {
	return c.AppendJSON(nil)
}

// AppendJSON appends the conversation's JSON to b. A page of a query holds
// up to a thousand conversations: written field by field, with stored
// attributes spliced as they are, a page costs a fraction of what
// encoding/json's reflection costs, which also checks and compacts the
// output of every MarshalJSON once more for each level it is nested in.
func (c *Conversation) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, c.Kind)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, c.Name)
	b = append(b, `,"creator":`...)
	b = appendJSONString(b, c.Creator)
	if len(c.Members) > 0 {
		b = appendJSONStrings(append(b, `,"members":`...), c.Members)
	}
	if len(c.MutedMembers) > 0 {
		b = appendJSONStrings(append(b, `,"mutedMembers":`...), c.MutedMembers)
	}
	b = append(b, `,"muted":`...)
	b = strconv.AppendBool(b, c.Muted)
	b = append(b, `,"attributes":`...)
	if c.storedAttributes != nil {
		b = append(b, c.storedAttributes...) // compact JSON, as encodeAttributes stored it
	} else {
		var err error
		if b, err = appendMarshaled(b, c.Attributes); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"unique":`...)
	b = strconv.AppendBool(b, c.Unique)
	b = append(b, `,"createdAt":`...)
	b = strconv.AppendInt(b, c.CreatedAt, 10)
	b = append(b, `,"updatedAt":`...)
	b = strconv.AppendInt(b, c.UpdatedAt, 10)
	b = appendOptionalInt(b, `,"lastMessageAt":`, c.LastMessageAt)
	if c.LastMessage != nil {
		var err error
		if b, err = appendMarshaled(append(b, `,"lastMessage":`...), c.LastMessage); err != nil {
			return nil, err
		}
	}
	b = appendOptionalInt(b, `,"unreadMessagesCount":`, c.UnreadCount)
	b = appendOptionalInt(b, `,"lastDeliveredAt":`, c.LastDeliveredAt)
	b = appendOptionalInt(b, `,"lastReadAt":`, c.LastReadAt)
	b = appendOptionalInt(b, `,"ttl":`, c.TTL)
	b = appendOptionalInt(b, `,"expiresAt":`, c.ExpiresAt)
	return append(b, '}'), nil
}

// Event data.

// messageEventJSON assembles a message event's data from the pre-encoded
// message, so that the message is encoded once for every variant.
func messageEventJSON(convID, msg []byte, mentioned, offline bool) []byte {
	b := make([]byte, 0, len(msg)+len(convID)+64)
	b = append(b, `{"conversationId":`...)
	b = append(b, convID...)
	b = append(b, `,"message":`...)
	b = append(b, msg...)
	b = append(b, `,"mentioned":`...)
	b = strconv.AppendBool(b, mentioned)
	b = append(b, `,"offline":`...)
	b = strconv.AppendBool(b, offline)
	return append(b, '}')
}

// unreadEventJSON assembles the data of the unread count event a new
// message gives each member, around the pre-encoded message.
func unreadEventJSON(convID, msg []byte, count int64, mentioned bool) []byte {
	b := make([]byte, 0, len(msg)+len(convID)+96)
	b = append(b, `{"conversations":[{"conversationId":`...)
	b = append(b, convID...)
	b = append(b, `,"unreadMessagesCount":`...)
	b = strconv.AppendInt(b, count, 10)
	b = append(b, `,"mentioned":`...)
	b = strconv.AppendBool(b, mentioned)
	b = append(b, `,"lastMessage":`...)
	b = append(b, msg...)
	return append(b, "}]}"...)
}

// MarshalJSON encodes the entry; a stored last message is spliced in rather
// than decoded and encoded again: a fresh stream's summary of a thousand
// conversations is a thousand of them.
func (e UnreadEntry) MarshalJSON() ([]byte, error) {
	return e.appendJSON(nil)
}

func (e *UnreadEntry) appendJSON(b []byte) ([]byte, error) {
	type plain UnreadEntry
	if e.stored == nil {
		j, err := json.Marshal(plain(*e))
		return append(b, j...), err
	}
	b = append(b, `{"conversationId":`...)
	b = appendJSONString(b, e.ConversationID)
	b = append(b, `,"unreadMessagesCount":`...)
	b = strconv.AppendInt(b, e.UnreadMessagesCount, 10)
	b = append(b, `,"mentioned":`...)
	b = strconv.AppendBool(b, e.Mentioned)
	b = append(b, `,"lastMessage":`...)
	b = appendStoredMessage(b, e.stored)
	return append(b, '}'), nil
}

// eventJSON is the event's data as one line. It is assembled here rather
// than by json.Marshal, which would check and compact the spliced messages
// of every entry once more (a seventh of a fresh stream's summary).
func (ev *UnreadEvent) eventJSON() ([]byte, error) {
	b := make([]byte, 0, 64+256*len(ev.Conversations))
	b = append(b, `{"conversations":[`...)
	for i := range ev.Conversations {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = ev.Conversations[i].appendJSON(b); err != nil {
			return nil, err
		}
	}
	b = append(b, "]}"...)
	if bytes.ContainsAny(b, "\r\n") { // stored bodies are compact; an event must be one line whatever
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return nil, err
		}
		b = c.Bytes()
	}
	return b, nil
}
