package lcapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// §1.2 rows 4, 7–10: deleting a conversation, its member list and the
// members who muted it.

// empty is the answer `{}`.
var empty = struct{}{}

// DELETE /1.2/rtm/{conversations,chatrooms,service-conversations}/{id}.
func (a *API) deleteConversation(w http.ResponseWriter, r *http.Request) {
	if err := a.opt.Service.DeleteConversation(r.Context(), principal(r), chi.URLParam(r, "id")); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// result is the answer `{"result": …}`.
type result struct {
	Result any `json:"result"`
}

// GET /1.2/rtm/conversations/{id}/members (row 7).
func (a *API) listMembers(w http.ResponseWriter, r *http.Request) {
	conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, result{nonNil(conv.Members)})
}

// GET /1.2/rtm/conversations/{id}/mutes (row 10).
func (a *API) listMutes(w http.ResponseWriter, r *http.Request) {
	conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, result{nonNil(conv.MutedMembers)})
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// POST /1.2/rtm/conversations/{id}/mutes (row 8).
func (a *API) mute(w http.ResponseWriter, r *http.Request) { a.setMuted(w, r, true) }

// DELETE /1.2/rtm/conversations/{id}/mutes (row 9), the ids in the body.
func (a *API) unmute(w http.ResponseWriter, r *http.Request) { a.setMuted(w, r, false) }

// setMuted mutes the conversation for each member named. Muting is a
// member's own choice in Parley (Service.Mute acts for its caller), so the
// master key acts as each of them in turn; all must be members, which is
// checked first so that a bad list changes nobody.
func (a *API) setMuted(w http.ResponseWriter, r *http.Request, muted bool) {
	id := chi.URLParam(r, "id")
	ids, ok := decodeClientIDs(w, r)
	if !ok {
		return
	}
	conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var strangers []string
	for _, c := range ids {
		if !slices.Contains(conv.Members, c) {
			strangers = append(strangers, c)
		}
	}
	if len(strangers) > 0 && (conv.Kind == handlers.KindNormal || conv.Kind == handlers.KindTemporary) {
		writeError(w, &lcError{Status: http.StatusBadRequest, Code: 4317,
			Message: "CONVERSATION_MEMBERSHIP_REQUIRED: not members: " + strings.Join(strangers, ", ")})
		return
	}
	for _, c := range ids {
		p := principal(r)
		p.Master, p.ClientID = false, c
		if conv, err = a.opt.Service.Mute(r.Context(), p, id, muted); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(conv.UpdatedAt), conv.ID})
}
