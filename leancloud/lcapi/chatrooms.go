package lcapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// §1.3: what chat rooms have of their own, their online members.

// maxOnlineMembers is how many online members one answer lists, as
// LeanCloud's /1.1 transient_group/members does (§1.9).
const maxOnlineMembers = 50

// GET /1.2/rtm/chatrooms/{id}/members: clients seated in the room now, at
// most 50 (LeanCloud picks them at random; Parley takes the first by
// clientId).
func (a *API) onlineMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := a.opt.Service.ListMembers(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ids := make([]string, 0, min(len(ms), maxOnlineMembers))
	for _, m := range ms {
		if len(ids) == maxOnlineMembers {
			break
		}
		ids = append(ids, m.ClientID)
	}
	writeJSON(w, http.StatusOK, result{ids})
}

// GET /1.2/rtm/chatrooms/{id}/members/online-count: `{"result": n}`.
func (a *API) onlineCount(w http.ResponseWriter, r *http.Request) {
	n, err := a.opt.Service.MemberCount(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, result{n})
}
