package lcapi

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
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
	unsupported(r, nil, "POST /rtm/sign",
		"login signatures for _User sessions (Parley has no _User accounts; sign logins in your backend with the master key)")
	// The app key may read unread counts, as on /1.2.
	r.Get("/rtm/messages/unread/{client_id}", a.unread11)
	r.Get("/rtm/messages/unread/{client_id}/{conv_id}", a.unread11)

	m := r.With(masterOnly)
	m.Get("/rtm/messages/history", a.history11)
	m.Get("/rtm/messages/logs", a.history11) // its older name
	unsupported(m, nil, "DELETE /rtm/messages/logs",
		"deleting a stored message (Parley keeps history; recall it with /1.1/rtm/patch/message)")
	unsupported(m, nil, "PUT /rtm/messages/logs",
		"rewriting the server's copy of a message alone (edit it with /1.1/rtm/patch/message, which members see)")
	m.Post("/rtm/patch/message", a.patchMessage)
	m.Post("/rtm/messages", a.send11)
	m.Post("/rtm/broadcast", a.postBroadcast)
	unsupported(m, nil, "DELETE /rtm/broadcast",
		"withdrawing a broadcast (Parley cannot take back a message from clients yet to fetch it; recall it in its conversation instead)")
	unsupported(m, nil, "GET /rtm/broadcast",
		"listing valid broadcasts (Parley's broadcasts do not expire; read the service conversation's history instead)")
	m.Post("/rtm/broadcast/subscriber", a.postBroadcast)
	m.Post("/rtm/conversation/subscription", a.subscribe)
	m.Delete("/rtm/conversation/subscription", a.unsubscribe)
	unsupported(m, nil, "GET /rtm/conversation/subscription",
		"listing a client's service-conversation subscriptions with their times")
	m.Get("/rtm/conversation/subscribers/count", a.subscriberCount)
	m.Get("/rtm/conversation/subscribed", a.subscribed)
	unsupported(m, nil, "GET /rtm/conversation/subscribers",
		"listing a service conversation's subscribers with their subscription times")
	m.Get("/rtm/transient_group/onlines", a.roomOnlineCount)
	m.Get("/rtm/transient_group/members", a.roomMembers)
	m.Post("/rtm/online", a.online11)
	m.Post("/rtm/conversation/blacklist", a.silence11)
	m.Delete("/rtm/conversation/blacklist", a.unsilence11)
	m.Post("/rtm/client/kick", a.kick11)

	// _Conversation through the storage API.
	m.Get("/classes/_Conversation", a.queryConversations)
	m.Post("/classes/_Conversation", a.createConversation)
	m.Get("/classes/_Conversation/{id}", a.getConversation)
	m.Put("/classes/_Conversation/{id}", a.putConversation)
	unsupported(m, nil, "DELETE /classes/_Conversation/{id}", "deleting a conversation")
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
		writeError(w, notSupportedError("history of the messages a client sent (Parley indexes history by conversation only)"))
		return
	default:
		writeError(w, notSupportedError("history across all conversations (give convid: Parley indexes history by conversation)"))
		return
	}
	if q.Has("max_ts") && !q.Has("timestamp") {
		q.Set("timestamp", q.Get("max_ts"))
	}
	a.historyOf(w, r, convID, q)
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
	if b.ConvID == "" {
		writeError(w, badRequest("conv_id is required"))
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
// message, recall, to_peers} → {}: recall:true recalls the message (the
// master key may); otherwise message replaces its content, as its sender
// from_peer (only the sender edits, as in LeanCloud). timestamp is required,
// as LeanCloud requires it, but Parley finds the message by its id.
func (a *API) patchMessage(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ConvID    string   `json:"conv_id"`
		MsgID     string   `json:"msg_id"`
		Timestamp *int64   `json:"timestamp"`
		FromPeer  string   `json:"from_peer"`
		Message   *string  `json:"message"`
		Recall    bool     `json:"recall"`
		ToPeers   []string `json:"to_peers"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	switch {
	case b.ConvID == "" || b.MsgID == "" || b.Timestamp == nil:
		writeError(w, badRequest("conv_id, msg_id and timestamp are required"))
		return
	case len(b.ToPeers) > 0:
		writeError(w, notSupportedError("to_peers (messages to some subscribers of a service conversation)"))
		return
	case b.Recall:
		if _, err := a.opt.Service.Recall(r.Context(), principal(r), b.ConvID, b.MsgID); err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
		return
	case b.Message == nil || b.FromPeer == "":
		writeError(w, badRequest("from_peer and message are required to modify a message"))
		return
	}
	if !handlers.ValidClientID(b.FromPeer) {
		writeError(w, badRequest("from_peer: "+strconv.Quote(b.FromPeer)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	content, recalled, err := leancloud.FromLeanCloud(leancloud.Payload{Data: *b.Message})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if recalled {
		writeError(w, badRequest("message: recall with recall: true"))
		return
	}
	// The backend edits as the sender: Parley's edit is the sender's.
	sender := handlers.Principal{ClientID: b.FromPeer, IP: principal(r).IP}
	if _, err := a.opt.Service.Edit(r.Context(), sender, b.ConvID, b.MsgID, content); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// conversationOfKind checks that id names a conversation of kind (the
// service conversation or chat room a LeanCloud path addresses), or
// answers LeanCloud's error for another kind and reports false.
func (a *API) conversationOfKind(w http.ResponseWriter, r *http.Request, id, kind string) bool {
	if id == "" {
		writeError(w, badRequest("a conversation id is required"))
		return false
	}
	conv, err := a.opt.Service.GetConversation(r.Context(), principal(r), id)
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	if conv.Kind == kind {
		return true
	}
	e := &lcError{Status: http.StatusBadRequest, Code: 4313, Message: "a service conversation is required"} // SYSTEM_CONVERSATION_REQUIRED
	if kind == handlers.KindChatRoom {
		e = &lcError{Status: http.StatusBadRequest, Code: 4316, Message: "a chat room is required"} // TRANSIENT_CONVERSATION_REQUIRED
	}
	writeError(w, e)
	return false
}

// subscription is a client and a service conversation.
type subscription struct {
	ConvID   string `json:"conv_id"`
	ClientID string `json:"client_id"`
}

// POST /1.1/rtm/conversation/subscription {conv_id, client_id} → {}: the
// client subscribes, as when added to the service conversation.
func (a *API) subscribe(w http.ResponseWriter, r *http.Request) {
	var b subscription
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	a.changeSubscription(w, r, b, a.opt.Service.AddMembers)
}

// DELETE /1.1/rtm/conversation/subscription?conv_id=&client_id= → {}.
func (a *API) unsubscribe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.changeSubscription(w, r, subscription{q.Get("conv_id"), q.Get("client_id")}, a.opt.Service.RemoveMembers)
}

func (a *API) changeSubscription(w http.ResponseWriter, r *http.Request, b subscription, op membersOp) {
	if b.ClientID == "" {
		writeError(w, badRequest("client_id is required"))
		return
	}
	if !a.conversationOfKind(w, r, b.ConvID, handlers.KindSystem) {
		return
	}
	if _, err := op(r.Context(), principal(r), b.ConvID, handlers.MembersRequest{ClientIDs: []string{b.ClientID}}); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// GET /1.1/rtm/conversation/subscribers/count?conv_id= → {"count": n}.
func (a *API) subscriberCount(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("conv_id")
	if !a.conversationOfKind(w, r, id, handlers.KindSystem) {
		return
	}
	n, err := a.opt.Service.MemberCount(r.Context(), principal(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Count int `json:"count"`
	}{n})
}

// GET /1.1/rtm/conversation/subscribed?conv_id=&client_id= → true or false.
func (a *API) subscribed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, client := q.Get("conv_id"), q.Get("client_id")
	if !handlers.ValidClientID(client) {
		writeError(w, badRequest("client_id: "+strconv.Quote(client)+" is not a valid clientId: "+handlers.ClientIDRule))
		return
	}
	if !a.conversationOfKind(w, r, id, handlers.KindSystem) {
		return
	}
	where, _ := json.Marshal(map[string]string{"objectId": id, "m": client})
	convs, err := a.opt.Service.QueryConversations(r.Context(), principal(r), handlers.QueryRequest{Where: string(where), Limit: 1, Compact: true})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, len(convs) == 1)
}

// GET /1.1/rtm/transient_group/onlines?gid= → {"result": n}: the clients
// in the chat room now.
func (a *API) roomOnlineCount(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("gid")
	if !a.conversationOfKind(w, r, id, handlers.KindChatRoom) {
		return
	}
	n, err := a.opt.Service.MemberCount(r.Context(), principal(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Result int `json:"result"`
	}{n})
}

// maxRoomMembers is how many of a chat room's clients
// /1.1/rtm/transient_group/members lists (LeanCloud's limit).
const maxRoomMembers = 50

// GET /1.1/rtm/transient_group/members?gid= → {"result": [clientIds]}: up
// to 50 of the clients in the chat room now.
func (a *API) roomMembers(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("gid")
	if !a.conversationOfKind(w, r, id, handlers.KindChatRoom) {
		return
	}
	members, err := a.opt.Service.ListMembers(r.Context(), principal(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Result []string `json:"result"`
	}{Result: []string{}}
	for _, m := range members[:min(len(members), maxRoomMembers)] {
		out.Result = append(out.Result, m.ClientID)
	}
	writeJSON(w, http.StatusOK, out)
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

// POST /1.1/rtm/conversation/blacklist {client_id, conv_id, ttl} → {}: the
// member is silenced for ttl seconds (at most 24 h), LeanCloud's temporary
// silence.
func (a *API) silence11(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ClientID string `json:"client_id"`
		ConvID   string `json:"conv_id"`
		TTL      *int64 `json:"ttl"`
	}
	if e := decodeBody(r, &b); e != nil {
		writeError(w, e)
		return
	}
	// A temporary silence has a ttl: without one Parley's would last until
	// lifted, which is not what was asked.
	if b.ClientID == "" || b.ConvID == "" || b.TTL == nil || *b.TTL < 1 || *b.TTL > handlers.MaxSilenceTTL {
		writeError(w, badRequest("client_id, conv_id and ttl (1 to "+strconv.Itoa(handlers.MaxSilenceTTL)+" seconds) are required"))
		return
	}
	if _, err := a.opt.Service.Silence(r.Context(), principal(r), b.ConvID,
		handlers.SilenceRequest{ClientIDs: []string{b.ClientID}, TTL: *b.TTL}); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// DELETE /1.1/rtm/conversation/blacklist?conv_id=&client_id= → {}.
func (a *API) unsilence11(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") == "" || q.Get("conv_id") == "" {
		writeError(w, badRequest("conv_id and client_id are required"))
		return
	}
	if _, err := a.opt.Service.Unsilence(r.Context(), principal(r), q.Get("conv_id"),
		handlers.ClientsRequest{ClientIDs: []string{q.Get("client_id")}}); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
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

// PUT /1.1/classes/_Conversation/{id}: the storage API's update. Members
// change with {"m": {"__op": "AddUnique" | "Add" | "Remove", "objects":
// [...]}}, as the SDKs send it, on its own; any other field as on /1.2's
// update.
func (a *API) putConversation(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		writeError(w, badRequest("the request body is too large or unreadable"))
		return
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(b, &body) != nil {
		writeError(w, errMalformedJSON)
		return
	}
	raw, ok := body["m"]
	if !ok {
		r.Body = io.NopCloser(bytes.NewReader(b))
		a.updateConversation(w, r)
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

// memberInfo is a _ConversationMemberInfo row as the SDKs read it.
type memberInfo struct {
	ClientID string `json:"clientId"`
	Role     string `json:"role"`
	ObjectID string `json:"objectId"`
	Cid      string `json:"cid"`
}

// lcRoles are LeanCloud's spellings of Parley's roles.
var lcRoles = map[string]string{handlers.RoleOwner: "Owner", handlers.RoleManager: "Manager", handlers.RoleMember: "Member"}

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
		Cid      string `json:"cid"`
		ClientID string `json:"clientId"`
		Role     string `json:"role"`
	}
	d := json.NewDecoder(bytes.NewReader([]byte(q.Get("where"))))
	d.DisallowUnknownFields()
	if err := d.Decode(&where); err != nil || where.Cid == "" {
		writeError(w, &lcError{Status: http.StatusBadRequest, Code: 4310, // CONVERSATION_QUERY_FAILED
			Message: `where: {"cid": conversationId} is required; clientId and role may narrow it`})
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
		Results []memberInfo `json:"results"`
	}{Results: []memberInfo{}}
	for _, m := range members {
		role := lcRoles[m.Role]
		if (where.ClientID != "" && m.ClientID != where.ClientID) || (where.Role != "" && role != where.Role) {
			continue
		}
		out.Results = append(out.Results, memberInfo{ClientID: m.ClientID, Role: role,
			ObjectID: memberInfoID(where.Cid, m.ClientID), Cid: where.Cid})
	}
	out.Results = out.Results[min(skip, len(out.Results)):]
	out.Results = out.Results[:min(limit, len(out.Results))]
	writeJSON(w, http.StatusOK, out)
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

// memberInfoID is the objectId of a member's _ConversationMemberInfo row:
// Parley keeps roles by conversation and client, not as rows with ids of
// their own, so the id is derived from the two, the same for every call
// (24 hex digits, the shape of LeanCloud's objectIds).
func memberInfoID(convID, clientID string) string {
	sum := md5.Sum([]byte(convID + ":" + clientID))
	return hex.EncodeToString(sum[:12])
}
