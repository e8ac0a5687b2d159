package lcapi

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
)

// Clients: /1.2/rtm/clients (LEANCLOUD.md §1.5).

// maxCheckOnline is how many clients one check-online names at most
// (LeanCloud's limit).
const maxCheckOnline = 20

// maxKickReason is the longest kick reason LeanCloud accepts, in
// characters.
const maxKickReason = 20

func (a *API) clientRoutes(r chi.Router) {
	r.NotFound(notSupported)
	r.MethodNotAllowed(notSupported)
	r.Get("/{client_id}/unread-count", a.unreadCount) // the app key may, as in LeanCloud
	r.Get("/sign", unsupported(noUserSign))           // so does this one
	m := r.With(masterOnly)
	m.Post("/check-online", a.checkOnline)
	m.Post("/{client_id}/kick", a.kick)
	m.Get("/{client_id}/service-conversations", a.clientSubscriptions)
	m.Get("/{client_id}/messages", unsupported(noSenderHistory))
	m.Post("/{client_id}/blacklists", unsupported(noClientBlacklists))
	m.Delete("/{client_id}/blacklists", unsupported(noClientBlacklists))
	m.Get("/{client_id}/blacklists", unsupported(noClientBlacklists))
}

// What Parley lacks, as the 4308 answers name it.
const (
	noSenderHistory    = "history of the messages a client sent (Parley indexes history by conversation only)"
	noAppHistory       = "history across all conversations (Parley indexes history by conversation: read each conversation's messages)"
	noClientBlacklists = "a client blocking conversations (Parley blocks clients per conversation: /1.2/rtm/conversations/{id}/blacklists)"
	noUserSign         = "login signatures for _User sessions (Parley has no _User accounts; sign logins in your backend with the master key)"
	noBroadcastList    = "listing valid broadcasts (Parley's broadcasts do not expire; read the service conversation's history instead)"
)

// POST /1.2/rtm/clients/check-online {"client_ids": [...]} →
// {"results": [the online ones]}; an unknown client is offline.
func (a *API) checkOnline(w http.ResponseWriter, r *http.Request) {
	var body clientIDs
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if len(body.ClientIDs) > maxCheckOnline {
		writeError(w, badRequest("client_ids: at most "+strconv.Itoa(maxCheckOnline)+" clientIds"))
		return
	}
	a.online(w, r, body.ClientIDs)
}

// online answers {"results": [the online ones of ids]} (also /1.1/rtm/online).
func (a *API) online(w http.ResponseWriter, r *http.Request, ids []string) {
	if len(ids) == 0 {
		writeError(w, badRequest("at least one clientId is required"))
		return
	}
	on, err := a.opt.Service.Online(ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Results []string `json:"results"`
	}{Results: []string{}}
	for _, id := range ids {
		if on[id] {
			out.Results = append(out.Results, id)
			on[id] = false // once, should ids repeat it
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// GET /1.2/rtm/clients/{client_id}/unread-count[?conv_id=] → {"count": n}:
// the client's unread messages in one conversation, or in all.
func (a *API) unreadCount(w http.ResponseWriter, r *http.Request) {
	a.unread(w, r, chi.URLParam(r, "client_id"), r.URL.Query().Get("conv_id"))
}

// unread answers {"count": n} (also /1.1/rtm/messages/unread/...). LeanCloud
// lets the app key read any client's count; so does Parley, through the
// client's own Service.Unread.
func (a *API) unread(w http.ResponseWriter, r *http.Request, clientID, convID string) {
	if !handlers.ValidClientID(clientID) {
		writeError(w, badRequest(strconv.Quote(clientID)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	sum, err := a.opt.Service.Unread(r.Context(), handlers.Principal{ClientID: clientID, IP: principal(r).IP})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var n int64
	for _, c := range sum.Conversations {
		if convID == "" || c.ConversationID == convID {
			n += c.UnreadMessagesCount
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Count int64 `json:"count"`
	}{n})
}

// POST /1.2/rtm/clients/{client_id}/kick {"reason": "..."} → {}: every
// session of the client ends (the gateway tells SDKs session/closed 4115,
// streams close).
func (a *API) kick(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	a.kickClient(w, r, chi.URLParam(r, "client_id"), body.Reason)
}

// kickClient is the kick of /1.2 and of /1.1/rtm/client/kick.
func (a *API) kickClient(w http.ResponseWriter, r *http.Request, clientID, reason string) {
	if !handlers.ValidClientID(clientID) {
		writeError(w, badRequest("client_id: "+strconv.Quote(clientID)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	if utf8.RuneCountInString(reason) > maxKickReason || !utf8.ValidString(reason) || strings.ContainsFunc(reason, unicode.IsControl) {
		writeError(w, badRequest("reason: at most "+strconv.Itoa(maxKickReason)+" characters, none of them control characters"))
		return
	}
	if _, err := a.opt.Service.KickClient(r.Context(), principal(r), clientID, reason); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// defaultSubscriptionPage is how many subscriptions a page lists unless
// limit says otherwise (LeanCloud's default).
const defaultSubscriptionPage = 50

// GET /1.2/rtm/clients/{client_id}/service-conversations?conv_id=&timestamp=
// &limit=&direction= → [{timestamp, subscriber, conv_id}]: the client's
// subscriptions in the order made (direction new, the default) or newest
// first (old), after the one of conv_id made at timestamp.
func (a *API) clientSubscriptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := handlers.SubscriptionsRequest{ClientID: chi.URLParam(r, "client_id"), Limit: defaultSubscriptionPage, After: q.Get("conv_id")}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			writeError(w, badRequest("limit must be an integer"))
			return
		}
		req.Limit = v
	}
	if req.After != "" {
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil {
			writeError(w, badRequest("timestamp (ms) is required with conv_id"))
			return
		}
		req.AfterTime = ts
	}
	switch q.Get("direction") {
	case "", "new":
	case "old":
		req.Newest = true
	default:
		writeError(w, badRequest("direction must be old or new"))
		return
	}
	subs, err := a.opt.Service.Subscriptions(r.Context(), principal(r), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]subscription, len(subs))
	for i, s := range subs {
		out[i] = subscription{s.SubscribedAt, req.ClientID, s.ConversationID}
	}
	writeJSON(w, http.StatusOK, out)
}
