package lcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// maxBody bounds a request body (a message is at most 5 KB; attributes
// and member lists stay well below this).
const maxBody = 1 << 20

// decodeBody reads a JSON object body into v; an empty body is {}.
func decodeBody(r *http.Request, v any) *lcError {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return badRequest("the request body is too large or unreadable")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errMalformedJSON
	}
	return nil
}

// POST /1.2/rtm/conversations (§1.2 row 1).
func (a *API) createConversation(w http.ResponseWriter, r *http.Request) {
	if conv, ok := a.create(w, r, ""); ok {
		writeJSON(w, http.StatusOK, leancloud.ConversationOf(conv))
	}
}

// create creates the conversation a create's body describes, of kind
// (a chat room or a system conversation, whatever tr and sys say), or
// of the kind tr and sys say when kind is "". It answers the errors.
func (a *API) create(w http.ResponseWriter, r *http.Request, kind string) (*handlers.Conversation, bool) {
	var body map[string]json.RawMessage
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return nil, false
	}
	var f struct {
		M               []string
		C               string
		Unique, Tr, Sys bool
	}
	name, attrs, err := leancloud.NameAndAttributes(body, func(k string, v json.RawMessage) error {
		var err error
		switch k {
		case "m":
			err = json.Unmarshal(v, &f.M)
		case "c":
			err = json.Unmarshal(v, &f.C)
		case "unique":
			err = json.Unmarshal(v, &f.Unique)
		case "tr":
			err = json.Unmarshal(v, &f.Tr)
		case "sys":
			err = json.Unmarshal(v, &f.Sys)
		case "mu", "temporary", "ttl":
			return &leancloud.FieldError{Field: k, Reason: k + " on create", Unsupported: true}
		}
		// The others (objectId, createdAt, updatedAt, lm, uniqueId, ACL)
		// are set by the server; LeanCloud ignores or refuses them.
		if err != nil {
			return &leancloud.FieldError{Field: k, Reason: "invalid value for " + k}
		}
		return nil
	})
	if err != nil {
		writeError(w, fieldError(err))
		return nil, false
	}
	req := handlers.CreateConversationRequest{Members: f.M, Name: name, Unique: f.Unique, Attributes: attrs}
	switch {
	case f.Tr && f.Sys:
		writeError(w, badRequest("a conversation is not both tr and sys"))
		return nil, false
	case kind != "":
		if (f.Tr && kind != handlers.KindChatRoom) || (f.Sys && kind != handlers.KindSystem) {
			writeError(w, badRequest("tr and sys cannot change the kind this path creates"))
			return nil, false
		}
		req.Kind = kind
	case f.Tr:
		req.Kind = handlers.KindChatRoom
	case f.Sys:
		req.Kind = handlers.KindSystem
	}
	if f.C != "" && !handlers.ValidClientID(f.C) {
		writeError(w, badRequest("c: "+strconv.Quote(f.C)+" is not a valid clientId: "+handlers.ClientIDRule))
		return nil, false
	}
	p := principal(r)
	p.ClientID = f.C // the creator LeanCloud records as c; the members stay as given
	conv, _, err := a.opt.Service.CreateConversation(r.Context(), p, req)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	return conv, true
}

// GET /1.2/rtm/conversations (§1.2 row 2): where, skip, limit, order.
func (a *API) queryConversations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := handlers.QueryRequest{Where: q.Get("where"), Sort: q.Get("order"), Limit: 100}
	if req.Where == "" {
		req.Where = "{}"
	}
	for _, n := range []struct {
		name string
		into *int
	}{{"limit", &req.Limit}, {"skip", &req.Skip}} {
		if s := q.Get(n.name); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, badRequest(n.name+" must be an integer"))
				return
			}
			*n.into = v
		}
	}
	convs, err := a.opt.Service.QueryConversations(r.Context(), principal(r), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Results []leancloud.ConversationObject `json:"results"`
	}{Results: make([]leancloud.ConversationObject, 0, len(convs))}
	for _, c := range convs {
		out.Results = append(out.Results, leancloud.ConversationOf(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// GET /1.2/rtm/conversations/{id}.
func (a *API) getConversation(w http.ResponseWriter, r *http.Request) {
	conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, leancloud.ConversationOf(conv))
}

// updated is the answer of an update: `{updatedAt, objectId}`.
type updated struct {
	UpdatedAt string `json:"updatedAt"`
	ObjectID  string `json:"objectId"`
}

// PUT /1.2/rtm/conversations/{id} (§1.2 row 3): name; attr replaces the
// attributes; `attr.k` sets one (`{"__op":"Delete"}` removes it); any other
// custom field is an attribute. m cannot be changed here.
func (a *API) updateConversation(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var body map[string]json.RawMessage
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	u, err := leancloud.ParseUpdate(body)
	if err != nil {
		writeError(w, fieldError(err))
		return
	}
	var current map[string]any
	if u.Attr != nil { // attr replaces them all: which are there now?
		conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), id)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		current = leancloud.AttributesOf(conv)
	}
	req := u.Request(current)
	conv, err := a.opt.Service.UpdateConversation(r.Context(), principal(r), id, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(conv.UpdatedAt), conv.ID})
}

// fieldError answers a field of a body that cannot be taken.
func fieldError(err error) *lcError {
	var fe *leancloud.FieldError
	if errors.As(err, &fe) && fe.Unsupported {
		return &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported, Message: "Not supported by Parley: " + fe.Reason}
	}
	return badRequest(err.Error())
}

type clientIDs struct {
	ClientIDs []string `json:"client_ids"`
}

// decodeClientIDs reads a `{"client_ids": [...]}` body naming at least one
// client; it answers the error itself (ok false).
func decodeClientIDs(w http.ResponseWriter, r *http.Request) (ids []string, ok bool) {
	var body clientIDs
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return nil, false
	}
	if len(body.ClientIDs) == 0 {
		writeError(w, badRequest("client_ids: at least one clientId"))
		return nil, false
	}
	return body.ClientIDs, true
}

// POST /1.2/rtm/conversations/{id}/members (§1.2 row 5).
func (a *API) addMembers(w http.ResponseWriter, r *http.Request) {
	a.members(w, r, a.opt.Service.AddMembers)
}

// DELETE /1.2/rtm/conversations/{id}/members (§1.2 row 6), the ids in the body.
func (a *API) removeMembers(w http.ResponseWriter, r *http.Request) {
	a.members(w, r, a.opt.Service.RemoveMembers)
}

func (a *API) members(w http.ResponseWriter, r *http.Request,
	op func(ctx context.Context, p handlers.Principal, id string, req handlers.MembersRequest) (*handlers.Conversation, error)) {
	ids, ok := decodeClientIDs(w, r)
	if !ok {
		return
	}
	conv, err := op(r.Context(), principal(r), chi.URLParam(r, "id"), handlers.MembersRequest{ClientIDs: ids})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(conv.UpdatedAt), conv.ID})
}
