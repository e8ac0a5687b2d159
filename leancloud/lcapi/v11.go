package lcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// The legacy /1.1 IM REST API (LEANCLOUD.md §1.9), still called by the
// Python SDK and by old backends, and the /1.1 endpoints the realtime SDKs
// call themselves (§1.10). Each translates onto the same function as its
// /1.2 counterpart.

func (a *API) v11Routes(r chi.Router) {
	// §1.10: the app key with a session token (or the master key).
	r.Get("/rtm/notifications", a.notifications)
	r.Get("/classes/_ConversationMemberInfo", a.memberInfos)
	r.Post("/rtm/sign", unsupported(noUserSign))
	// The app key may read unread counts, as on /1.2.
	r.Get("/rtm/messages/unread/{client_id}", a.unread11)
	r.Get("/rtm/messages/unread/{client_id}/{conv_id}", a.unread11)

	m := r.With(masterOnly)
	m.Get("/rtm/messages/history", a.history11)
	m.Get("/rtm/messages/logs", a.history11) // its older name
	m.Delete("/rtm/messages/logs", a.deleteLog)
	m.Put("/rtm/messages/logs", unsupported(
		"rewriting the server's copy of a message alone (edit it with /1.1/rtm/patch/message, which members see)"))
	m.Post("/rtm/patch/message", a.patchMessage)
	m.Post("/rtm/messages", a.send11)
	m.Post("/rtm/broadcast", a.globalBroadcast)
	m.Delete("/rtm/broadcast", a.deleteBroadcast11)
	m.Get("/rtm/broadcast", unsupported(noBroadcastList))
	m.Post("/rtm/broadcast/subscriber", a.globalBroadcast)
	m.Post("/rtm/conversation/subscription", a.subscribe11)
	m.Delete("/rtm/conversation/subscription", a.unsubscribe11)
	m.Get("/rtm/conversation/subscription", a.subscriptions11)
	m.Get("/rtm/conversation/subscribers/count", a.subscriberCount11)
	m.Get("/rtm/conversation/subscribed", a.subscribed11)
	m.Get("/rtm/conversation/subscribers", a.subscribers11)
	m.Get("/rtm/transient_group/onlines", a.roomOnlineCount11)
	m.Get("/rtm/transient_group/members", a.roomMembers11)
	m.Post("/rtm/online", a.online11)
	m.Post("/rtm/conversation/blacklist", a.silence11)
	m.Delete("/rtm/conversation/blacklist", a.unsilence11)
	m.Post("/rtm/client/kick", a.kick11)

	// _Conversation through the storage API.
	m.Get("/classes/_Conversation", a.classQuery)
	m.Post("/classes/_Conversation", a.createConversation)
	m.Get("/classes/_Conversation/{id}", a.getConversation)
	m.Put("/classes/_Conversation/{id}", a.putConversation)
	m.Delete("/classes/_Conversation/{id}", a.deleteConversation)
}

// rewrite is r as the request of the /1.2 route that does the same thing,
// for its handler: /1.1 names the conversation (and message) in its query
// or body where /1.2 has them in the path. params are the path parameters
// in order, the first one also the path below the prefix (what onlyKinds
// reads); query replaces r's query when not nil; body, when not nil, is
// the JSON body.
func rewrite(r *http.Request, params [][2]string, query url.Values, body any) (*http.Request, error) {
	rctx := chi.NewRouteContext()
	for _, p := range params {
		rctx.URLParams.Add(p[0], p[1])
	}
	if len(params) > 0 {
		rctx.RoutePath = "/" + url.PathEscape(params[0][1])
	}
	r2 := r.Clone(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
	if query != nil {
		r2.URL.RawQuery = query.Encode()
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	return r2, nil
}

// serve answers r rewritten (see rewrite) by h.
func (a *API) serve(w http.ResponseWriter, r *http.Request, h http.Handler, params [][2]string, query url.Values, body any) {
	r2, err := rewrite(r, params, query, body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h.ServeHTTP(w, r2)
}

// GET /1.1/rtm/messages/history (and .../logs): convid's history, with
// /1.2's parameters (max_ts is /1.1's name of timestamp). LeanCloud's other
// two forms, from (a client's sent messages) and none (the whole app's),
// are not served: Parley indexes history by conversation.
func (a *API) history11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	convID := q.Get("convid")
	switch {
	case convID != "":
	case q.Get("from") != "":
		writeError(w, notSupportedError(noSenderHistory))
		return
	default:
		writeError(w, notSupportedError(noAppHistory))
		return
	}
	if q.Has("max_ts") && !q.Has("timestamp") {
		q.Set("timestamp", q.Get("max_ts"))
	}
	a.serve(w, r, http.HandlerFunc(a.history), [][2]string{{"id", convID}}, q, nil)
}

// GET /1.1/rtm/messages/unread/{client_id}[/{conv_id}] → {"count": n}.
func (a *API) unread11(w http.ResponseWriter, r *http.Request) {
	a.unread(w, r, chi.URLParam(r, "client_id"), chi.URLParam(r, "conv_id"))
}

// send11Body is /1.1's send: /1.2's fields under older names, and
// transient true unless given.
type send11Body struct {
	FromPeer  string          `json:"from_peer"`
	ConvID    string          `json:"conv_id"`
	Message   *string         `json:"message"`
	Transient *bool           `json:"transient"`
	NoSync    bool            `json:"no_sync"`
	PushData  json.RawMessage `json:"push_data"`
	Priority  string          `json:"priority"`
	ToPeers   []string        `json:"to_peers"`
}

// POST /1.1/rtm/messages → {}. transient defaults to true here, as
// LeanCloud kept it for backward compatibility (LEANCLOUD.md §1.9).
func (a *API) send11(w http.ResponseWriter, r *http.Request) {
	var b send11Body
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.ConvID == "" || b.FromPeer == "" {
		writeError(w, badRequest("conv_id and from_peer are required"))
		return
	}
	if len(b.ToPeers) > 0 {
		writeError(w, notSupportedError("to_peers (messages to some subscribers of a service conversation)"))
		return
	}
	transient := b.Transient == nil || *b.Transient
	body := sendBody{FromClient: b.FromPeer, Message: b.Message, Transient: transient, NoSync: b.NoSync,
		PushData: b.PushData, Priority: b.Priority}
	if _, ok := a.send(w, r, b.ConvID, body); ok {
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// POST /1.1/rtm/patch/message {conv_id, msg_id, timestamp, from_peer,
// message, recall, to_peers} → {}: /1.2's modify, or with recall: true its
// recall, of message msg_id sent by from_peer at timestamp.
func (a *API) patchMessage(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ConvID    string          `json:"conv_id"`
		MsgID     string          `json:"msg_id"`
		Timestamp json.RawMessage `json:"timestamp"`
		FromPeer  string          `json:"from_peer"`
		Message   json.RawMessage `json:"message"`
		Recall    bool            `json:"recall"`
		ToPeers   json.RawMessage `json:"to_peers"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.ConvID == "" || b.MsgID == "" || b.FromPeer == "" {
		writeError(w, badRequest("conv_id, msg_id and from_peer are required"))
		return
	}
	// /1.2's body: the fields it checks, under its names.
	body := map[string]json.RawMessage{}
	for k, v := range map[string]json.RawMessage{"timestamp": b.Timestamp, "to_clients": b.ToPeers, "message": b.Message} {
		if given(v) {
			body[k] = v
		}
	}
	body["from_client"], _ = json.Marshal(b.FromPeer) // a string always encodes
	h := a.modifyMessage
	if b.Recall {
		h = a.recallMessage
	}
	a.serve(w, r, http.HandlerFunc(h), [][2]string{{"id", b.ConvID}, {"mid", b.MsgID}}, nil, body)
}

// DELETE /1.1/rtm/messages/logs?convid=&msgid=&timestamp=&from= → {}: /1.2's
// delete of one stored message.
func (a *API) deleteLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("convid") == "" || q.Get("msgid") == "" {
		writeError(w, badRequest("convid and msgid are required"))
		return
	}
	a.serve(w, r, http.HandlerFunc(a.deleteMessage), [][2]string{{"id", q.Get("convid")}, {"mid", q.Get("msgid")}},
		url.Values{"from_client": {q.Get("from")}, "timestamp": {q.Get("timestamp")}}, nil)
}

// inService serves h for the service conversation id, refusing another
// kind as /1.2/rtm/service-conversations does.
func (a *API) inService(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, id string, params [][2]string, query url.Values, body any) {
	if id == "" {
		writeError(w, badRequest("conv_id is required"))
		return
	}
	a.serve(w, r, a.onlyKinds(systemKinds)(h), append([][2]string{{"id", id}}, params...), query, body)
}

// inRoom serves h for the chat room id, refusing another kind as
// /1.2/rtm/chatrooms does.
func (a *API) inRoom(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, id string) {
	if id == "" {
		writeError(w, badRequest("gid is required"))
		return
	}
	a.serve(w, r, a.onlyKinds(chatRoomKinds)(h), [][2]string{{"id", id}}, nil, nil)
}

// DELETE /1.1/rtm/broadcast?mid= → {}, as /1.2's.
func (a *API) deleteBroadcast11(w http.ResponseWriter, r *http.Request) {
	mid := r.URL.Query().Get("mid")
	if mid == "" {
		writeError(w, badRequest("mid is required"))
		return
	}
	a.serve(w, r, http.HandlerFunc(a.deleteBroadcast), [][2]string{{"message_id", mid}}, nil, nil)
}

// POST /1.1/rtm/conversation/subscription {conv_id, client_id} → {}.
func (a *API) subscribe11(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ConvID   string `json:"conv_id"`
		ClientID string `json:"client_id"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	a.inService(w, r, a.subscribe, b.ConvID, nil, nil, map[string]string{"client_id": b.ClientID})
}

// DELETE /1.1/rtm/conversation/subscription?conv_id=&client_id= → {}.
func (a *API) unsubscribe11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") == "" {
		writeError(w, badRequest("client_id is required"))
		return
	}
	a.inService(w, r, a.unsubscribe, q.Get("conv_id"), [][2]string{{"client", q.Get("client_id")}}, nil, nil)
}

// GET /1.1/rtm/conversation/subscription?client_id=&conv_id=&timestamp=
// &limit=&direction= → the client's subscriptions, as /1.2 lists them.
func (a *API) subscriptions11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("client_id")
	q.Del("client_id")
	a.serve(w, r, http.HandlerFunc(a.clientSubscriptions), [][2]string{{"client_id", id}}, q, nil)
}

// GET /1.1/rtm/conversation/subscribers/count?conv_id= → {"count": n}.
func (a *API) subscriberCount11(w http.ResponseWriter, r *http.Request) {
	a.inService(w, r, a.countSubscribers, r.URL.Query().Get("conv_id"), nil, nil, nil)
}

// GET /1.1/rtm/conversation/subscribers?conv_id=&client_id=&limit= →
// [{timestamp, subscriber, conv_id}], as /1.2 lists them.
func (a *API) subscribers11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := url.Values{}
	for _, k := range []string{"client_id", "limit"} {
		if q.Has(k) {
			query.Set(k, q.Get(k))
		}
	}
	a.inService(w, r, a.listSubscribers, q.Get("conv_id"), nil, query, nil)
}

// GET /1.1/rtm/conversation/subscribed?conv_id=&client_id= → true or false.
func (a *API) subscribed11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client := q.Get("client_id")
	if !handlers.ValidClientID(client) {
		writeError(w, badRequest("client_id: "+strconv.Quote(client)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	a.inService(w, r, a.subscribed, q.Get("conv_id"), nil, nil, nil)
}

// subscribed answers whether client_id subscribes to the service
// conversation {id}: the conversation of that id with the client among its
// members, by a conversation query.
func (a *API) subscribed(w http.ResponseWriter, r *http.Request) {
	where, err := json.Marshal(map[string]string{"objectId": chi.URLParam(r, "id"), "m": r.URL.Query().Get("client_id")})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	convs, err := a.opt.Service.QueryConversations(r.Context(), principal(r), handlers.QueryRequest{Where: string(where), Limit: 1, Compact: true})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, len(convs) == 1)
}

// GET /1.1/rtm/transient_group/onlines?gid= → {"result": n}.
func (a *API) roomOnlineCount11(w http.ResponseWriter, r *http.Request) {
	a.inRoom(w, r, a.onlineCount, r.URL.Query().Get("gid"))
}

// GET /1.1/rtm/transient_group/members?gid= → {"result": [clientIds]}, at
// most 50.
func (a *API) roomMembers11(w http.ResponseWriter, r *http.Request) {
	a.inRoom(w, r, a.onlineMembers, r.URL.Query().Get("gid"))
}

// POST /1.1/rtm/online {"peers": [...]} → {"results": [the online ones]}.
func (a *API) online11(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Peers []string `json:"peers"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	a.online(w, r, b.Peers)
}

// POST /1.1/rtm/conversation/blacklist {client_id, conv_id, ttl} → {}:
// LeanCloud's temporary silence, /1.2's temporary-silenceds.
func (a *API) silence11(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ConvID   string          `json:"conv_id"`
		ClientID string          `json:"client_id"`
		TTL      json.RawMessage `json:"ttl"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.ConvID == "" {
		writeError(w, badRequest("conv_id is required"))
		return
	}
	body := map[string]any{"client_id": b.ClientID}
	if given(b.TTL) {
		body["ttl"] = b.TTL
	}
	a.serve(w, r, http.HandlerFunc(a.silenceFor), [][2]string{{"id", b.ConvID}}, nil, body)
}

// DELETE /1.1/rtm/conversation/blacklist?conv_id=&client_id= → {}.
func (a *API) unsilence11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("conv_id") == "" {
		writeError(w, badRequest("conv_id is required"))
		return
	}
	a.serve(w, r, http.HandlerFunc(a.unsilenceOne), [][2]string{{"id", q.Get("conv_id")}}, url.Values{"client_id": {q.Get("client_id")}}, nil)
}

// POST /1.1/rtm/client/kick {client_id, reason} → {}.
func (a *API) kick11(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ClientID string `json:"client_id"`
		Reason   string `json:"reason"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	a.kickClient(w, r, b.ClientID, b.Reason)
}

// GET /1.1/classes/_Conversation: the storage API's query, as /1.2's
// (where, order, skip, limit). Its count (the number of matches beside or
// instead of the results) Parley's queries do not give: refused rather
// than left out of the answer.
func (a *API) classQuery(w http.ResponseWriter, r *http.Request) {
	if c := r.URL.Query().Get("count"); c != "" && c != "0" {
		writeError(w, notSupportedError("count in conversation queries"))
		return
	}
	a.queryConversations(w, r)
}

// PUT /1.1/classes/_Conversation/{id}: the storage API's update. Members
// change with {"m": {"__op": "AddUnique" | "Add" | "Remove", "objects":
// [...]}}, as the SDKs send it, on its own; any other field as on /1.2's
// update.
func (a *API) putConversation(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	raw, ok := body["m"]
	if !ok {
		a.serve(w, r, http.HandlerFunc(a.updateConversation), [][2]string{{"id", chi.URLParam(r, "id")}}, nil, body)
		return
	}
	if len(body) > 1 {
		// Two operations, either of which may fail: one at a time, so
		// that a failure never leaves the other half done.
		writeError(w, notSupportedError("changing m together with other fields (send the m operation on its own)"))
		return
	}
	var op struct {
		Op      string   `json:"__op"`
		Objects []string `json:"objects"`
	}
	if json.Unmarshal(raw, &op) != nil || len(op.Objects) == 0 {
		writeError(w, badRequest(`m: {"__op": "AddUnique" or "Remove", "objects": [clientIds]} is expected`))
		return
	}
	var change membersOp
	switch op.Op {
	case "AddUnique", "Add":
		change = a.opt.Service.AddMembers
	case "Remove":
		change = a.opt.Service.RemoveMembers
	default:
		writeError(w, notSupportedError("m with __op "+strconv.Quote(op.Op)+" (AddUnique, Add and Remove are served)"))
		return
	}
	conv, err := change(r.Context(), principal(r), chi.URLParam(r, "id"), handlers.MembersRequest{ClientIDs: op.Objects})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(conv.UpdatedAt), conv.ID})
}

// errSessionRequired answers a §1.10 request made with the app key but no
// session token (LeanCloud's 4105 SESSION_REQUIRED).
var errSessionRequired = &lcError{http.StatusUnauthorized, 4105,
	"X-LC-IM-Session-Token (the st of session/opened) is required with the app key.", nil}

// sessionPrincipal is who makes a §1.10 request: the session its
// X-LC-IM-Session-Token names (Parley's session token, which the gateway
// hands out as st), whose client client_id must be when given; or, without
// a token, the master key. Otherwise it answers the error and reports
// false.
func (a *API) sessionPrincipal(w http.ResponseWriter, r *http.Request) (handlers.Principal, bool) {
	st := r.Header.Get("X-LC-IM-Session-Token")
	if st == "" {
		if lvl, _ := r.Context().Value(ctxKey{}).(level); lvl == levelMaster {
			return principal(r), true
		}
		writeError(w, errSessionRequired)
		return handlers.Principal{}, false
	}
	p, err := a.opt.Service.Authenticate(r.Context(), st)
	if err != nil {
		a.fail(w, r, err)
		return handlers.Principal{}, false
	}
	if id := r.URL.Query().Get("client_id"); id != "" && id != p.ClientID {
		a.fail(w, r, &handlers.Error{Code: handlers.CodeForbidden, Detail: "client_id is not the client of the session token"})
		return handlers.Principal{}, false
	}
	p.IP = principal(r).IP
	return p, true
}

// GET /1.1/rtm/notifications?start_ts=&notification_type=permanent&client_id=
// → {"hasMore": false, "notifications": []}. The SDKs ask for the
// "permanent" notifications (membership changes…) they missed while
// disconnected; Parley keeps no such log to replay, so the list is always
// empty, which the SDKs take as nothing missed. (A Parley SSE stream
// resumes with its own replay instead.)
func (a *API) notifications(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.sessionPrincipal(w, r); !ok {
		return
	}
	q := r.URL.Query()
	if s := q.Get("start_ts"); s != "" {
		if ts, err := strconv.ParseInt(s, 10, 64); err != nil || ts < 0 {
			writeError(w, badRequest("start_ts must be a time in ms"))
			return
		}
	}
	if t := q.Get("notification_type"); t != "" && t != "permanent" {
		writeError(w, badRequest("notification_type: only permanent notifications exist"))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		HasMore       bool  `json:"hasMore"`
		Notifications []any `json:"notifications"`
	}{false, []any{}})
}

// memberInfoRow is a _ConversationMemberInfo row as the SDKs read it.
type memberInfoRow struct {
	ClientID string `json:"clientId"`
	Role     string `json:"role"`
	ObjectID string `json:"objectId"`
	Cid      string `json:"cid"`
}

// GET /1.1/classes/_ConversationMemberInfo?where={"cid":…}&client_id= →
// {"results": [{clientId, role, objectId, cid}]}: the members of the
// conversation with their roles, for a member's session (Service.ListMembers
// decides who may read them). where may also hold clientId and role.
func (a *API) memberInfos(w http.ResponseWriter, r *http.Request) {
	p, ok := a.sessionPrincipal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var where struct {
		Cid      string          `json:"cid"`
		ClientID json.RawMessage `json:"clientId"`
		Role     string          `json:"role"`
	}
	d := json.NewDecoder(bytes.NewReader([]byte(q.Get("where"))))
	d.DisallowUnknownFields()
	err := d.Decode(&where)
	clients, okClients := clientFilter(where.ClientID)
	if err != nil || where.Cid == "" || !okClients {
		writeError(w, &lcError{Status: http.StatusBadRequest, Code: 4310, // CONVERSATION_QUERY_FAILED
			Message: `where: {"cid": conversationId} is required; clientId (a clientId or {"$in": [...]}) and role may narrow it`})
		return
	}
	skip, limit, e := pageParams(q, 100)
	if e != nil {
		writeError(w, e)
		return
	}
	members, err := a.opt.Service.ListMembers(r.Context(), p, where.Cid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Results []memberInfoRow `json:"results"`
	}{Results: []memberInfoRow{}}
	for _, m := range members {
		role := toLCRole[m.Role]
		if (clients != nil && !clients[m.ClientID]) || (where.Role != "" && role != where.Role) {
			continue
		}
		out.Results = append(out.Results, memberInfoRow{ClientID: m.ClientID, Role: role,
			ObjectID: infoID(where.Cid, m), Cid: where.Cid})
	}
	out.Results = out.Results[min(skip, len(out.Results)):]
	out.Results = out.Results[:min(limit, len(out.Results))]
	writeJSON(w, http.StatusOK, out)
}

// clientFilter reads where's clientId condition: absent (nil: every
// client), a clientId, or {"$in": [clientIds]}; ok is false for anything
// else.
func clientFilter(raw json.RawMessage) (set map[string]bool, ok bool) {
	if !given(raw) {
		return nil, true
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return map[string]bool{one: true}, true
	}
	var in struct {
		In []string `json:"$in"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if d.Decode(&in) != nil {
		return nil, false
	}
	set = map[string]bool{}
	for _, c := range in.In {
		set[c] = true
	}
	return set, true
}

// pageParams reads the storage API's skip and limit (limit 1 to 1000).
func pageParams(q url.Values, defaultLimit int) (skip, limit int, e *lcError) {
	limit = defaultLimit
	for _, n := range []struct {
		name string
		into *int
	}{{"skip", &skip}, {"limit", &limit}} {
		if s := q.Get(n.name); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				return 0, 0, badRequest(n.name + " must be a non-negative integer")
			}
			*n.into = v
		}
	}
	if limit < 1 || limit > handlers.MaxHistoryLimit {
		return 0, 0, badRequest("limit must be between 1 and 1000")
	}
	return skip, limit, nil
}

// membersOp is Service.AddMembers or Service.RemoveMembers.
type membersOp = func(ctx context.Context, p handlers.Principal, id string, req handlers.MembersRequest) (*handlers.Conversation, error)
