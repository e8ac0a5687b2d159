package lcapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// LeanCloud serves each kind of conversation under a prefix of its own:
// /rtm/conversations (normal, and temporary ones), /rtm/chatrooms and
// /rtm/service-conversations (LEANCLOUD.md §1.2–1.4). A path naming a
// conversation of another kind answers the error code LeanCloud has for
// it (§1.11), the same for every operation under the prefix, so that a
// backend learns at once which prefix the conversation belongs under:
// 4314 NORMAL_CONVERSATION_REQUIRED, 4316 TRANSIENT_CONVERSATION_REQUIRED,
// 4313 SYSTEM_CONVERSATION_REQUIRED. Creating and querying under
// /rtm/conversations keep reaching every kind through tr and sys, as
// _Conversation's fields select them.

// kindRule is a prefix's: the kinds it serves, and the answer otherwise.
type kindRule struct {
	kinds []string
	err   *lcError
}

var (
	normalKinds = kindRule{[]string{handlers.KindNormal, handlers.KindTemporary},
		&lcError{Status: http.StatusBadRequest, Code: 4314, Message: "NORMAL_CONVERSATION_REQUIRED: not a 1:1 or group conversation; use /1.2/rtm/chatrooms or /1.2/rtm/service-conversations"}}
	chatRoomKinds = kindRule{[]string{handlers.KindChatRoom},
		&lcError{Status: http.StatusBadRequest, Code: 4316, Message: "TRANSIENT_CONVERSATION_REQUIRED: not a chat room"}}
	systemKinds = kindRule{[]string{handlers.KindSystem},
		&lcError{Status: http.StatusBadRequest, Code: 4313, Message: "SYSTEM_CONVERSATION_REQUIRED: not a service conversation"}}
)

// onlyKinds refuses a path whose conversation (its first segment below
// the prefix) is of a kind the prefix does not serve. An unknown
// conversation goes on, for the operation to answer as it does.
func (a *API) onlyKinds(rule kindRule) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _, _ := strings.Cut(strings.TrimPrefix(chi.RouteContext(r.Context()).RoutePath, "/"), "/")
			if id == "" {
				next.ServeHTTP(w, r)
				return
			}
			if unescaped, err := url.PathUnescape(id); err == nil {
				id = unescaped
			}
			kind, err := a.opt.Service.ConversationKind(r.Context(), principal(r), id)
			if err == nil && !slices.Contains(rule.kinds, kind) {
				writeError(w, rule.err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// created is the answer of creating a chat room or a service
// conversation (§1.3, §1.4): `{objectId, createdAt}`.
type created struct {
	ObjectID  string `json:"objectId"`
	CreatedAt string `json:"createdAt"`
}

// createOf creates a conversation of kind (POST /1.2/rtm/chatrooms, POST
// /1.2/rtm/service-conversations): the body is a create's (§1.2 row 1),
// tr or sys implied.
func (a *API) createOf(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if conv, ok := a.create(w, r, kind); ok {
			writeJSON(w, http.StatusOK, created{conv.ID, leancloud.ISODate(conv.CreatedAt)})
		}
	}
}

// queryOf queries the conversations of one kind (GET /1.2/rtm/chatrooms,
// GET /1.2/rtm/service-conversations): the query's where, and field
// (tr or sys) true.
func (a *API) queryOf(field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kind := map[string]any{field: true}
		where := any(kind)
		if s := q.Get("where"); s != "" {
			// Decoded and encoded again, so that the where given stays one
			// object inside the $and.
			var given map[string]json.RawMessage
			if json.Unmarshal([]byte(s), &given) != nil || given == nil {
				writeError(w, &lcError{Status: http.StatusBadRequest, Code: 4310, Message: "where must be a JSON object"})
				return
			}
			where = map[string]any{"$and": []any{given, kind}}
		}
		b, err := json.Marshal(where)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		q.Set("where", string(b))
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = q.Encode()
		a.queryConversations(w, r2)
	}
}
