package leancloud

// This file reads the fields of a create or an update as LeanCloud's
// clients write them — the REST API's bodies and the realtime protocol's
// `attr` JSON — into Parley's requests, for the REST API (lcapi) and the
// realtime gateway alike.
//
// LeanCloud keeps a conversation as a `_Conversation` row: `name`, `attr`
// (the native SDKs' custom attributes) and any custom top-level field (the
// JS SDK's custom attributes, set beside `name`). Parley keeps one set of
// attributes: attr's keys and the custom top-level fields together.

import (
	"encoding/json"
	"maps"
	"strings"

	"github.com/parley-im/parley/handlers"
)

// FieldError is a field that cannot be taken: malformed, or (Unsupported)
// one that Parley does not serve.
type FieldError struct {
	Field       string
	Reason      string
	Unsupported bool
}

func (e *FieldError) Error() string { return e.Reason }

// NameAndAttributes reads a create's name and custom attributes: `name`,
// `attr` (an object, whose keys win over custom top-level fields of the
// same name) and every field that is not one of `_Conversation`'s own
// (ConversationFields). own is called for each of the others, in no set
// order; its error stops the reading and is returned as it is.
func NameAndAttributes(body map[string]json.RawMessage, own func(key string, v json.RawMessage) error) (name string, attrs map[string]any, err error) {
	var attr map[string]any
	for k, v := range body {
		switch {
		case k == "name":
			if json.Unmarshal(v, &name) != nil {
				return "", nil, &FieldError{Field: k, Reason: "name must be a string"}
			}
		case k == "attr":
			if json.Unmarshal(v, &attr) != nil {
				return "", nil, &FieldError{Field: k, Reason: "attr must be an object"}
			}
		case ConversationFields[k]:
			if err := own(k, v); err != nil {
				return "", nil, err
			}
		default:
			var x any
			if json.Unmarshal(v, &x) != nil {
				return "", nil, &FieldError{Field: k, Reason: "invalid value for " + k}
			}
			if attrs == nil {
				attrs = map[string]any{}
			}
			attrs[k] = x
		}
	}
	if len(attr) > 0 {
		if attrs == nil {
			attrs = map[string]any{}
		}
		maps.Copy(attrs, attr)
	}
	return name, attrs, nil
}

// ConversationUpdate is an update as LeanCloud's clients write it: `name`;
// `attr`, which replaces every attribute; `attr.k` or a custom top-level
// field `k`, which sets one (`{"__op":"Delete"}` removes it).
type ConversationUpdate struct {
	Name *string
	// Attr, when not nil, replaces the attributes: every current one not
	// in it (nor in Set) is removed.
	Attr map[string]any
	// Set are attributes set one by one; nil removes one.
	Set map[string]any
}

// ParseUpdate reads an update's fields. `_Conversation`'s own fields other
// than name and attr cannot be updated this way (members change through
// their own operations), nor attributes nested inside others (`a.b`).
func ParseUpdate(body map[string]json.RawMessage) (*ConversationUpdate, error) {
	u := &ConversationUpdate{Set: map[string]any{}}
	for k, v := range body {
		switch {
		case k == "name":
			var name string
			if json.Unmarshal(v, &name) != nil {
				return nil, &FieldError{Field: k, Reason: "name must be a string"}
			}
			u.Name = &name
		case k == "attr":
			if json.Unmarshal(v, &u.Attr) != nil {
				return nil, &FieldError{Field: k, Reason: "attr must be an object"}
			}
			if u.Attr == nil {
				u.Attr = map[string]any{} // null: no attributes left
			}
		case k == "m":
			return nil, &FieldError{Field: k, Reason: "m cannot be updated here: use the members endpoints"}
		case ConversationFields[k]:
			return nil, &FieldError{Field: k, Reason: "updating " + k, Unsupported: true}
		default:
			key := strings.TrimPrefix(k, "attr.")
			if strings.Contains(key, ".") {
				return nil, &FieldError{Field: k, Reason: "nested attribute key " + k, Unsupported: true}
			}
			var x any
			if json.Unmarshal(v, &x) != nil {
				return nil, &FieldError{Field: k, Reason: "invalid value for " + k}
			}
			if op, ok := x.(map[string]any); ok && op["__op"] == "Delete" {
				x = nil
			}
			u.Set[key] = x
		}
	}
	return u, nil
}

// Request is the update as Parley's request, given the conversation's
// current attributes (read only when Attr replaces them).
func (u *ConversationUpdate) Request(current map[string]any) handlers.UpdateConversationRequest {
	req := handlers.UpdateConversationRequest{Name: u.Name}
	set := map[string]any{}
	if u.Attr != nil {
		for old := range current {
			set[old] = nil
		}
		maps.Copy(set, u.Attr)
	}
	maps.Copy(set, u.Set)
	if len(set) > 0 {
		req.Attributes = set
	}
	return req
}
