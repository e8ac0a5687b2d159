package lcapi

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Global endpoints: /1.2/rtm/{stats, all-conversations, broadcasts,
// messages} (LEANCLOUD.md §1.6).

func (a *API) globalRoutes(r chi.Router) {
	r = r.With(masterOnly)
	r.Get("/rtm/stats", a.stats)
	r.Get("/rtm/all-conversations", a.queryConversations) // every kind, as _Conversation holds them
	r.Post("/rtm/broadcasts", a.globalBroadcast)
	r.Delete("/rtm/broadcasts/{message_id}", a.deleteBroadcast)
	r.Get("/rtm/broadcasts", unsupported(noBroadcastList))
	r.Get("/rtm/messages", unsupported(noAppHistory))
}

// GET /1.2/rtm/stats → {"result": {"online_user_count": n}}. LeanCloud's
// user_count_today (clients seen today) is left out: Parley keeps no
// per-day count of clients.
func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	n, err := a.opt.Service.OnlineCount(principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	type stats struct {
		OnlineUserCount int `json:"online_user_count"`
	}
	writeJSON(w, http.StatusOK, struct {
		Result stats `json:"result"`
	}{stats{n}})
}

// POST /1.2/rtm/broadcasts {from_client, conv_id, message, push,
// valid_till, transient} (and /1.1/rtm/broadcast and
// /1.1/rtm/broadcast/subscriber, with from_peer) → {"msg-id", "timestamp"}:
// the broadcast of /1.2/rtm/service-conversations/{conv_id}/broadcasts.
// LeanCloud's global broadcast reached every client of the app; Parley's
// reaches the service conversation's subscribers, online now or later,
// and is kept in its history. What Parley cannot do with it is refused
// rather than ignored.
func (a *API) globalBroadcast(w http.ResponseWriter, r *http.Request) {
	var b struct {
		FromClient string          `json:"from_client"`
		FromPeer   string          `json:"from_peer"`
		ConvID     string          `json:"conv_id"`
		Message    json.RawMessage `json:"message"`
		Push       json.RawMessage `json:"push"`
		ValidTill  json.RawMessage `json:"valid_till"`
		Transient  bool            `json:"transient"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	switch {
	case given(b.ValidTill):
		writeError(w, notSupportedError("valid_till (Parley's broadcasts are kept in the service conversation and do not expire)"))
		return
	case b.Transient:
		writeError(w, notSupportedError("transient broadcasts (Parley keeps a broadcast in its service conversation)"))
		return
	}
	from := b.FromClient
	if from == "" {
		from = b.FromPeer
	}
	body := map[string]any{"from_client": from}
	if given(b.Message) {
		body["message"] = b.Message
	}
	if given(b.Push) {
		body["push"] = b.Push
	}
	a.inService(w, r, a.broadcast, b.ConvID, nil, nil, body)
}

// DELETE /1.2/rtm/broadcasts/{message_id} (and DELETE
// /1.1/rtm/broadcast?mid=) → {}: LeanCloud's broadcast stops reaching the
// devices that have not received it yet. Parley deletes the stored
// message (Service.DeleteMessage): subscribers that fetched it keep it,
// the others never see it. Only a message of a service conversation is a
// broadcast (4313 otherwise).
func (a *API) deleteBroadcast(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "message_id")
	conv, err := a.opt.Service.MessageConversation(r.Context(), principal(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.inService(w, r, func(w http.ResponseWriter, r *http.Request) {
		if err := a.opt.Service.DeleteMessage(r.Context(), principal(r), conv, id); err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, empty)
	}, conv, nil, nil, nil)
}

// given reports whether an optional JSON field was given a value.
func given(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func notSupportedError(feature string) *lcError {
	return &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported, Message: "Not supported by Parley: " + feature}
}
