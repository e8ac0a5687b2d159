package lcapi

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// Global endpoints: /1.2/rtm/{stats, all-conversations, broadcasts,
// messages} (LEANCLOUD.md §1.6).

func (a *API) globalRoutes(r chi.Router) {
	r = r.With(masterOnly)
	r.Get("/rtm/stats", a.stats)
	r.Get("/rtm/all-conversations", a.queryConversations) // every kind, as /rtm/conversations
	r.Post("/rtm/broadcasts", a.postBroadcast)
	unsupported(r, nil, "DELETE /rtm/broadcasts/{message_id}",
		"withdrawing a broadcast (Parley cannot take back a message from clients yet to fetch it; recall it in its conversation instead)")
	unsupported(r, nil, "GET /rtm/broadcasts",
		"listing valid broadcasts (Parley's broadcasts do not expire; read the service conversation's history instead)")
	unsupported(r, nil, "GET /rtm/messages",
		"history across all conversations (Parley indexes history by conversation: read each conversation's messages)")
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

// broadcastBody is a broadcast in any of LeanCloud's forms: /1.2's
// from_client, /1.1's from_peer.
type broadcastBody struct {
	FromClient string          `json:"from_client"`
	FromPeer   string          `json:"from_peer"`
	ConvID     string          `json:"conv_id"`
	Message    *string         `json:"message"`
	ValidTill  json.RawMessage `json:"valid_till"`
	Push       json.RawMessage `json:"push"`
	Transient  bool            `json:"transient"`
}

// POST /1.2/rtm/broadcasts (and /1.1/rtm/broadcast,
// /1.1/rtm/broadcast/subscriber) → {"msg-id", "timestamp"}.
func (a *API) postBroadcast(w http.ResponseWriter, r *http.Request) {
	var body broadcastBody
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	a.broadcast(w, r, body)
}

// broadcast sends a message to a service conversation's subscribers
// through Service.Broadcast: stored there, it reaches every subscriber,
// online now or later. LeanCloud's global broadcast reached every client
// of the app; Parley's reaches the conversation's subscribers, and what
// Parley cannot do with it is refused rather than ignored.
func (a *API) broadcast(w http.ResponseWriter, r *http.Request, b broadcastBody) {
	from := b.FromClient
	if from == "" {
		from = b.FromPeer
	}
	switch {
	case from == "":
		writeError(w, badRequest("from_client is required"))
		return
	case b.ConvID == "":
		writeError(w, badRequest("conv_id is required (a service conversation)"))
		return
	case b.Message == nil:
		writeError(w, badRequest("message is required"))
		return
	case given(b.ValidTill):
		writeError(w, notSupportedError("valid_till (Parley's broadcasts are stored in the service conversation and do not expire)"))
		return
	case given(b.Push):
		writeError(w, notSupportedError("push on broadcasts (offline subscribers get the server's push template)"))
		return
	case b.Transient:
		writeError(w, notSupportedError("transient broadcasts (Parley stores a broadcast in its service conversation)"))
		return
	}
	content, recalled, err := leancloud.FromLeanCloud(leancloud.Payload{Data: *b.Message})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if recalled {
		writeError(w, badRequest("message: a recalled message (_lctype -127) cannot be sent"))
		return
	}
	m, err := a.opt.Service.Broadcast(r.Context(), principal(r), handlers.BroadcastRequest{
		ConversationID: b.ConvID, From: from, Message: content})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sent{m.ID, m.Timestamp})
}

// given reports whether an optional JSON field was given a value.
func given(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func notSupportedError(feature string) *lcError {
	return &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported, Message: "Not supported by Parley: " + feature}
}
