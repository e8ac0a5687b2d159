package lcapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// §1.2 rows 13–15 (and the same under /chatrooms and
// /service-conversations): modifying, recalling and deleting one message.
// LeanCloud names a message by its id and timestamp and says who sent it
// (from_client): a message of that id at that time is found first (4404
// MESSAGE_NOT_FOUND otherwise), and it must be from_client's (4403
// MESSAGE_OWNERSHIP_REQUIRED otherwise).

var errNotSender = &lcError{Status: http.StatusBadRequest, Code: 4403, Message: "MESSAGE_OWNERSHIP_REQUIRED: from_client did not send this message"}

func errNoMessage(id string) *lcError {
	return &lcError{Status: http.StatusBadRequest, Code: 4404, Message: "MESSAGE_NOT_FOUND: no message " + strconv.Quote(id) + " at that timestamp"}
}

// changeBody is the body of a modify or a recall.
type changeBody struct {
	FromClient string   `json:"from_client"`
	Message    *string  `json:"message"`
	Timestamp  *int64   `json:"timestamp"`
	ToClients  []string `json:"to_clients"`
}

// findMessage checks that message id of conversation convID was sent at
// ts by from, reading the history of that millisecond.
func (a *API) findMessage(r *http.Request, convID, id, from string, ts int64) (*handlers.Message, *lcError, error) {
	if ts < 1 {
		return nil, errNoMessage(id), nil
	}
	after, before := ts-1, ts+1
	page, err := a.opt.Service.History(r.Context(), principal(r), convID, handlers.HistoryRequest{
		AfterTime: &after, BeforeTime: &before, Limit: handlers.MaxHistoryLimit})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range page.Messages {
		if m.ID != id {
			continue
		}
		if m.From != from {
			return nil, errNotSender, nil
		}
		return m, nil, nil
	}
	return nil, errNoMessage(id), nil
}

// located decodes a modify's or a recall's body and finds its message;
// it answers the errors itself.
func (a *API) located(w http.ResponseWriter, r *http.Request, needMessage bool) (*changeBody, bool) {
	var body changeBody
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return nil, false
	}
	switch {
	case body.FromClient == "":
		writeError(w, badRequest("from_client is required"))
		return nil, false
	case body.Timestamp == nil:
		writeError(w, badRequest("timestamp is required"))
		return nil, false
	case needMessage && body.Message == nil:
		writeError(w, badRequest("message is required"))
		return nil, false
	case len(body.ToClients) > 0:
		// Only service conversations' targeted messages carry to_clients,
		// and Parley sends none (see service.go).
		writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported,
			Message: "Not supported by Parley: to_clients (messages to some subscribers only)"})
		return nil, false
	}
	_, e, err := a.findMessage(r, chi.URLParam(r, "id"), chi.URLParam(r, "mid"), body.FromClient, *body.Timestamp)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	if e != nil {
		writeError(w, e)
		return nil, false
	}
	return &body, true
}

// PUT …/{id}/messages/{mid} (row 13): the sender's new content, in
// LeanCloud's content form; members get messageupdate.
func (a *API) modifyMessage(w http.ResponseWriter, r *http.Request) {
	body, ok := a.located(w, r, true)
	if !ok {
		return
	}
	content, recalled, err := leancloud.FromLeanCloud(leancloud.Payload{Data: *body.Message})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if recalled {
		writeError(w, badRequest("message: use …/recall to recall a message"))
		return
	}
	p := principal(r)
	p.ClientID = body.FromClient // the master key edits as the sender
	if _, err := a.opt.Service.Edit(r.Context(), p, chi.URLParam(r, "id"), chi.URLParam(r, "mid"), content); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// PUT …/{id}/messages/{mid}/recall (row 14); members get messagerecall.
func (a *API) recallMessage(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.located(w, r, false); !ok {
		return
	}
	if _, err := a.opt.Service.Recall(r.Context(), principal(r), chi.URLParam(r, "id"), chi.URLParam(r, "mid")); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// DELETE …/{id}/messages/{mid}?from_client=&timestamp= (row 15): only the
// server's copy goes; nobody is told.
func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request) {
	convID, id := chi.URLParam(r, "id"), chi.URLParam(r, "mid")
	q := r.URL.Query()
	from := q.Get("from_client")
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if from == "" || err != nil {
		writeError(w, badRequest("from_client and timestamp (ms) are required query parameters"))
		return
	}
	if _, e, err := a.findMessage(r, convID, id, from, ts); err != nil || e != nil {
		if e != nil {
			writeError(w, e)
		} else {
			a.fail(w, r, err)
		}
		return
	}
	if err := a.opt.Service.DeleteMessage(r.Context(), principal(r), convID, id); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}
