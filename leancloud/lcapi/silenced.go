package lcapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
)

// §1.2 rows 16–17 and 22–27 (and the same under /chatrooms): silenced
// members (禁言), for a while or until lifted, and blacklists. Parley keeps
// one list of silenced members, each until a time or until lifted: a
// temporary silence and a permanent one of the same member replace each
// other, lifting either lifts the member's silence, and GET
// permanent-silenceds lists every silenced member.

// Codes LeanCloud answers when a list is full (§1.11), instead of the
// MEMBER_LIMIT Parley's rules answer.
const (
	codeSilencedListFull = 4561 // SILIENCED_MEMBER_LIST_FULL
	codeBlacklistFull    = 4543 // BLACKLIST_FULL
)

// failFull is fail, with a full list answered as code.
func (a *API) failFull(w http.ResponseWriter, r *http.Request, err error, code int) {
	var he *handlers.Error
	if errors.As(err, &he) && he.Code == handlers.CodeMemberLimit {
		writeError(w, &lcError{Status: http.StatusBadRequest, Code: code, Message: he.Detail})
		return
	}
	a.fail(w, r, err)
}

// POST …/{id}/temporary-silenceds (row 16): `{client_id, ttl}`, ttl in
// seconds, at most 24 h.
func (a *API) silenceFor(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientID string `json:"client_id"`
		TTL      *int64 `json:"ttl"`
	}
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	switch {
	case body.ClientID == "":
		writeError(w, badRequest("client_id is required"))
		return
	case body.TTL == nil || *body.TTL < 1 || *body.TTL > handlers.MaxSilenceTTL:
		// 0 would be Parley's "until lifted": a temporary silence has a ttl.
		writeError(w, badRequest("ttl: 1 to "+strconv.Itoa(handlers.MaxSilenceTTL)+" seconds (24 h)"))
		return
	}
	req := handlers.SilenceRequest{ClientIDs: []string{body.ClientID}, TTL: *body.TTL}
	if _, err := a.opt.Service.Silence(r.Context(), principal(r), chi.URLParam(r, "id"), req); err != nil {
		a.failFull(w, r, err, codeSilencedListFull)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// DELETE …/{id}/temporary-silenceds?client_id= (row 17).
func (a *API) unsilenceOne(w http.ResponseWriter, r *http.Request) {
	c := r.URL.Query().Get("client_id")
	if c == "" {
		writeError(w, badRequest("client_id is a required query parameter"))
		return
	}
	req := handlers.ClientsRequest{ClientIDs: []string{c}}
	if _, err := a.opt.Service.Unsilence(r.Context(), principal(r), chi.URLParam(r, "id"), req); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// clientsOp is Silence, Unsilence, Block or Unblock with their request.
type clientsOp func(r *http.Request, id string, ids []string) error

// withClientIDs runs op on a body's `{client_ids}` and answers `{}`; a
// full list answers full.
func (a *API) withClientIDs(op clientsOp, full int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ids, ok := decodeClientIDs(w, r)
		if !ok {
			return
		}
		if err := op(r, chi.URLParam(r, "id"), ids); err != nil {
			a.failFull(w, r, err, full)
			return
		}
		writeJSON(w, http.StatusOK, empty)
	}
}

// POST …/{id}/permanent-silenceds (row 22).
func (a *API) silence(r *http.Request, id string, ids []string) error {
	_, err := a.opt.Service.Silence(r.Context(), principal(r), id, handlers.SilenceRequest{ClientIDs: ids})
	return err
}

// DELETE …/{id}/permanent-silenceds (row 23).
func (a *API) unsilence(r *http.Request, id string, ids []string) error {
	_, err := a.opt.Service.Unsilence(r.Context(), principal(r), id, handlers.ClientsRequest{ClientIDs: ids})
	return err
}

// POST …/{id}/blacklists (row 25): blocked clients leave and cannot come back.
func (a *API) block(r *http.Request, id string, ids []string) error {
	_, err := a.opt.Service.Block(r.Context(), principal(r), id, handlers.ClientsRequest{ClientIDs: ids})
	return err
}

// DELETE …/{id}/blacklists (row 26).
func (a *API) unblock(r *http.Request, id string, ids []string) error {
	_, err := a.opt.Service.Unblock(r.Context(), principal(r), id, handlers.ClientsRequest{ClientIDs: ids})
	return err
}

// maxListLimit bounds a page of silenced or blocked clients.
const maxListLimit = 1000

// clientPage is a page of silenced or blocked clients: `{client_ids,
// next}`, next absent on the last page.
type clientPage struct {
	ClientIDs []string `json:"client_ids"`
	Next      string   `json:"next,omitempty"`
}

// listClients answers GET …/{id}/permanent-silenceds (row 24) and
// …/blacklists (row 27): limit (default 10), next (the previous page's).
// Parley pages these lists by clientId, so next is the last clientId of
// the page; pages of Parley's own size are read until limit is reached.
func (a *API) listClients(list func(r *http.Request, id, after string) (*handlers.ClientList, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 10
		if s := q.Get("limit"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > maxListLimit {
				writeError(w, badRequest("limit: 1 to "+strconv.Itoa(maxListLimit)))
				return
			}
			limit = v
		}
		out := clientPage{ClientIDs: []string{}}
		after, more := q.Get("next"), false
		for {
			page, err := list(r, chi.URLParam(r, "id"), after)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			take := page.ClientIDs[:min(len(page.ClientIDs), limit-len(out.ClientIDs))]
			out.ClientIDs = append(out.ClientIDs, take...)
			more = len(take) < len(page.ClientIDs) || page.Next != ""
			if !more || len(out.ClientIDs) == limit {
				break
			}
			after = page.Next
		}
		if more {
			out.Next = out.ClientIDs[len(out.ClientIDs)-1]
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (a *API) silencedPage(r *http.Request, id, after string) (*handlers.ClientList, error) {
	return a.opt.Service.ListSilenced(r.Context(), principal(r), id, after)
}

func (a *API) blockedPage(r *http.Request, id, after string) (*handlers.ClientList, error) {
	return a.opt.Service.ListBlocked(r.Context(), principal(r), id, after)
}
