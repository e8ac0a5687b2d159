package lcapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// §1.4: service conversations, Parley's system conversations: their
// subscribers and broadcasts.

// POST /1.2/rtm/service-conversations/{id}/subscribers: `{client_id}`.
func (a *API) subscribe(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientID string `json:"client_id"`
	}
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.ClientID == "" {
		writeError(w, badRequest("client_id is required"))
		return
	}
	if err := a.opt.Service.Subscribe(r.Context(), principal(r), chi.URLParam(r, "id"), body.ClientID); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// DELETE /1.2/rtm/service-conversations/{id}/subscribers/{client}.
func (a *API) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := a.opt.Service.Unsubscribe(r.Context(), principal(r), chi.URLParam(r, "id"), chi.URLParam(r, "client")); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// maxSubscribers is LeanCloud's most subscribers per page (§1.4).
const maxSubscribers = 50

// subscription is a row of the subscriber listing.
type subscription struct {
	Timestamp  int64  `json:"timestamp"`
	Subscriber string `json:"subscriber"`
	ConvID     string `json:"conv_id"`
}

// GET /1.2/rtm/service-conversations/{id}/subscribers?limit=&client_id=:
// by clientId, after client_id; limit 1–50 (default 50).
func (a *API) listSubscribers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := maxSubscribers
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxSubscribers {
			writeError(w, badRequest("limit: 1 to "+strconv.Itoa(maxSubscribers)))
			return
		}
		limit = v
	}
	id := chi.URLParam(r, "id")
	subs, err := a.opt.Service.Subscribers(r.Context(), principal(r), id, q.Get("client_id"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]subscription, len(subs))
	for i, s := range subs {
		out[i] = subscription{s.SubscribedAt, s.ClientID, id}
	}
	writeJSON(w, http.StatusOK, out)
}

// GET /1.2/rtm/service-conversations/{id}/subscribers/count: `{"count": n}`.
func (a *API) countSubscribers(w http.ResponseWriter, r *http.Request) {
	n, err := a.opt.Service.MemberCount(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Count int `json:"count"`
	}{n})
}

// POST /1.2/rtm/service-conversations/{id}/broadcasts: `{from_client,
// message, push}` to every subscriber. It is the backend's send into the
// system conversation (Service.AdminSend, which Service.Broadcast also
// is), since only the send carries push content for offline subscribers.
func (a *API) broadcast(w http.ResponseWriter, r *http.Request) {
	var body struct {
		FromClient string          `json:"from_client"`
		Message    *string         `json:"message"`
		Push       json.RawMessage `json:"push"`
	}
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.FromClient == "" || body.Message == nil {
		writeError(w, badRequest("from_client and message are required"))
		return
	}
	content, recalled, err := leancloud.FromLeanCloud(leancloud.Payload{Data: *body.Message})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if recalled {
		writeError(w, badRequest("message: a recalled message (_lctype -127) cannot be sent"))
		return
	}
	req := handlers.SendRequest{Content: content}
	if len(body.Push) > 0 && string(body.Push) != "null" {
		pd, e := pushData(body.Push)
		var alert string
		if e != nil && json.Unmarshal(body.Push, &alert) == nil {
			pd, e = map[string]any{"alert": alert}, nil // a plain string is the alert
		}
		if e != nil {
			writeError(w, badRequest("push must be a JSON object, or a string (the alert, or holding such an object)"))
			return
		}
		req.PushData = pd
	}
	m, _, err := a.opt.Service.AdminSend(r.Context(), principal(r), chi.URLParam(r, "id"), body.FromClient, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		MsgID     string `json:"msg-id"`
		Timestamp int64  `json:"timestamp"`
	}{m.ID, m.Timestamp})
}

// GET /1.2/rtm/service-conversations/{id}/subscribers/{client}/messages:
// the history as that subscriber reads it (the backend's messages and its
// own; §1.6's parameters). It is read as the subscriber, so it needs a
// subscription, and Parley's history rate limit per client applies.
func (a *API) subscriberHistory(w http.ResponseWriter, r *http.Request) {
	c := chi.URLParam(r, "client")
	if !handlers.ValidClientID(c) {
		writeError(w, badRequest("client_id: "+strconv.Quote(c)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	p := principal(r)
	p.Master, p.ClientID = false, c
	a.historyAs(w, r, p)
}
