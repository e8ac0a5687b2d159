package lcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

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
		Name   string         `json:"name"`
		M      []string       `json:"m"`
		C      string         `json:"c"`
		Attr   map[string]any `json:"attr"`
		Unique bool           `json:"unique"`
		Tr     bool           `json:"tr"`
		Sys    bool           `json:"sys"`
	}
	for k, v := range body {
		var err error
		switch k {
		case "name":
			err = json.Unmarshal(v, &f.Name)
		case "m":
			err = json.Unmarshal(v, &f.M)
		case "c":
			err = json.Unmarshal(v, &f.C)
		case "attr":
			err = json.Unmarshal(v, &f.Attr)
		case "unique":
			err = json.Unmarshal(v, &f.Unique)
		case "tr":
			err = json.Unmarshal(v, &f.Tr)
		case "sys":
			err = json.Unmarshal(v, &f.Sys)
		case "objectId", "createdAt", "updatedAt", "lm", "uniqueId", "ACL":
			// Set by the server; LeanCloud ignores or refuses them.
		case "mu", "temporary", "ttl":
			writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported,
				Message: "Not supported by Parley: " + k + " on create"})
			return nil, false
		default:
			var x any
			err = json.Unmarshal(v, &x)
			if f.Attr == nil {
				f.Attr = map[string]any{}
			}
			f.Attr[k] = x
		}
		if err != nil {
			writeError(w, badRequest("invalid value for "+k))
			return nil, false
		}
	}
	// attr wins over a custom top-level field of the same name.
	if raw, ok := body["attr"]; ok {
		var attr map[string]any
		if json.Unmarshal(raw, &attr) == nil {
			for k, v := range attr {
				f.Attr[k] = v
			}
		}
	}
	req := handlers.CreateConversationRequest{Members: f.M, Name: f.Name, Unique: f.Unique, Attributes: f.Attr}
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
	var req handlers.UpdateConversationRequest
	set := map[string]any{}
	for k, v := range body {
		switch {
		case k == "name":
			var name string
			if json.Unmarshal(v, &name) != nil {
				writeError(w, badRequest("name must be a string"))
				return
			}
			req.Name = &name
		case k == "attr":
			var attr map[string]any
			if json.Unmarshal(v, &attr) != nil {
				writeError(w, badRequest("attr must be an object"))
				return
			}
			// Replace: every current attribute not given is removed.
			conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), id)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			for old := range leancloud.AttributesOf(conv) {
				if _, ok := set[old]; !ok {
					set[old] = nil
				}
			}
			for ak, av := range attr {
				set[ak] = av
			}
		case k == "m":
			writeError(w, badRequest("m cannot be updated here: use the members endpoints"))
			return
		case leancloud.ConversationFields[k]:
			writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported,
				Message: "Not supported by Parley: updating " + k})
			return
		default:
			key := strings.TrimPrefix(k, "attr.")
			if strings.Contains(key, ".") {
				writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported,
					Message: "Not supported by Parley: nested attribute key " + k})
				return
			}
			var x any
			if json.Unmarshal(v, &x) != nil {
				writeError(w, errMalformedJSON)
				return
			}
			if op, ok := x.(map[string]any); ok && op["__op"] == "Delete" {
				x = nil
			}
			set[key] = x
		}
	}
	if len(set) > 0 {
		req.Attributes = set
	}
	conv, err := a.opt.Service.UpdateConversation(r.Context(), principal(r), id, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(conv.UpdatedAt), conv.ID})
}

type clientIDs struct {
	ClientIDs []string `json:"client_ids"`
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
	var body clientIDs
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if len(body.ClientIDs) == 0 {
		writeError(w, badRequest("client_ids: at least one clientId"))
		return
	}
	conv, err := op(r.Context(), principal(r), chi.URLParam(r, "id"), handlers.MembersRequest{ClientIDs: body.ClientIDs})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(conv.UpdatedAt), conv.ID})
}
