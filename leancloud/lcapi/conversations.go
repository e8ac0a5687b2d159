package lcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
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

// iso is LeanCloud's date form: ISO 8601 in UTC with milliseconds.
func iso(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// lcDate is a date field other than createdAt and updatedAt
// (`{"__type":"Date","iso":…}`).
type lcDate struct {
	Type string `json:"__type"`
	ISO  string `json:"iso"`
}

// lcConversation is a conversation as `_Conversation` has it (LEANCLOUD.md
// §2.3): objectId, name, m, c, attr, mu, tr, sys, unique, lm, createdAt,
// updatedAt.
type lcConversation struct {
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
	Lm        *lcDate        `json:"lm,omitempty"`
	CreatedAt string         `json:"createdAt"`
	UpdatedAt string         `json:"updatedAt"`
}

func toLC(c *handlers.Conversation) lcConversation {
	out := lcConversation{
		ObjectID: c.ID, Name: c.Name, M: c.Members, C: c.Creator, Attr: attributesOf(c), Mu: c.MutedMembers,
		Tr: c.Kind == handlers.KindChatRoom, Sys: c.Kind == handlers.KindSystem,
		Temporary: c.Kind == handlers.KindTemporary, TTL: c.TTL, Unique: c.Unique,
		CreatedAt: iso(c.CreatedAt), UpdatedAt: iso(c.UpdatedAt),
	}
	if c.Kind == handlers.KindNormal && out.M == nil {
		out.M = []string{}
	}
	if c.LastMessageAt != nil {
		out.Lm = &lcDate{"Date", iso(*c.LastMessageAt)}
	}
	return out
}

// attributesOf reads a conversation's attributes, which a query result
// keeps only in its JSON form.
func attributesOf(c *handlers.Conversation) map[string]any {
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

// reservedFields are `_Conversation`'s own fields; any other top-level
// field of a create or update is a custom one, kept as an attribute (as
// the importer keeps it).
var reservedFields = map[string]bool{
	"objectId": true, "name": true, "m": true, "c": true, "attr": true, "mu": true, "tr": true,
	"sys": true, "unique": true, "uniqueId": true, "lm": true, "createdAt": true, "updatedAt": true, "ACL": true,
	"temporary": true, "ttl": true,
}

// POST /1.2/rtm/conversations (§1.2 row 1).
func (a *API) createConversation(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
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
			return
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
			return
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
		return
	case f.Tr:
		req.Kind = handlers.KindChatRoom
	case f.Sys:
		req.Kind = handlers.KindSystem
	}
	if f.C != "" && !handlers.ValidClientID(f.C) {
		writeError(w, badRequest("c: "+strconv.Quote(f.C)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	p := principal(r)
	p.ClientID = f.C // the creator LeanCloud records as c; the members stay as given
	conv, _, err := a.opt.Service.CreateConversation(r.Context(), p, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toLC(conv))
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
		Results []lcConversation `json:"results"`
	}{Results: make([]lcConversation, 0, len(convs))}
	for _, c := range convs {
		out.Results = append(out.Results, toLC(c))
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
	writeJSON(w, http.StatusOK, toLC(conv))
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
			for old := range attributesOf(conv) {
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
		case reservedFields[k]:
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
	writeJSON(w, http.StatusOK, updated{iso(conv.UpdatedAt), conv.ID})
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
	writeJSON(w, http.StatusOK, updated{iso(conv.UpdatedAt), conv.ID})
}
