package api

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/parley-im/parley/handlers"
)

// Tags group the operations in the document.
const (
	tagSessions      = "Sessions"
	tagEvents        = "Events"
	tagConversations = "Conversations"
	tagMessages      = "Messages"
	tagAdmin         = "Admin"
	tagPresence      = "Presence"
	tagDevices       = "Devices"
)

type (
	ConversationPath struct {
		ID string `path:"id" maxLength:"128" doc:"Conversation id" example:"6v1ofs2k0ha2e4ktl0s0"`
	}
	conversationBody struct {
		Body *handlers.Conversation
	}
	createdConversation struct {
		Status int `doc:"201 when created, 200 when unique found the existing one"`
		Body   *handlers.Conversation
	}
)

// registerOperations lists every operation of the API in one place.
func (s *Server) registerOperations() {
	c := handlers.CodeConversationNotFound
	notMember := handlers.CodeNotAMember

	register(s, huma.Operation{
		OperationID: "createSession", Method: http.MethodPost, Path: "/v1/sessions",
		Summary: "Log in as a client", Tags: []string{tagSessions}, DefaultStatus: http.StatusCreated,
		Security: noCredentials,
		Description: "Opens a session for clientId (LeanCloud's createIMClient) and returns its token. " +
			"A login with a tag the client already holds in another live session replaces that session: " +
			"it gets a conflict event, its stream closes and its token answers SESSION_CONFLICT.",
	}, []handlers.Code{handlers.CodeSignatureInvalid, handlers.CodeRateLimited}, s.createSession)

	register(s, huma.Operation{
		OperationID: "deleteCurrentSession", Method: http.MethodDelete, Path: "/v1/sessions/current",
		Summary: "Log out", Tags: []string{tagSessions}, DefaultStatus: http.StatusNoContent,
		Security:    sessionOnly,
		Description: "Ends the caller's session: its token stops working at once and its stream closes.",
	}, []handlers.Code{handlers.CodeForbidden}, s.deleteSession)

	s.registerEventStream()
	s.registerRoleOperations()

	register(s, huma.Operation{
		OperationID: "createConversation", Method: http.MethodPost, Path: "/v1/conversations",
		Summary: "Create a conversation", Tags: []string{tagConversations}, DefaultStatus: http.StatusCreated,
		Security: sessionOrMaster,
		Description: "Creates a conversation with the caller as creator and member. It sends what adding its members would: " +
			"each other member gets invited, then every member, the creator included, membersjoined listing them " +
			"(normal and temporary conversations). " +
			"With unique: true the existing unique normal conversation with exactly the same members is returned (200) instead.",
	}, []handlers.Code{handlers.CodeMemberLimit, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeSignatureInvalid, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.createConversation)

	register(s, huma.Operation{
		OperationID: "queryConversations", Method: http.MethodGet, Path: "/v1/conversations",
		Summary: "Query conversations", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: queryDescription,
	}, []handlers.Code{handlers.CodeInvalidQuery, handlers.CodeRateLimited}, s.queryConversations)

	register(s, huma.Operation{
		OperationID: "updateConversation", Method: http.MethodPatch, Path: "/v1/conversations/{id}",
		Summary: "Rename a conversation or change its attributes", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Sets the name and merges attributes (an attribute set to null is removed). Members only " +
			"(chat rooms: seated sessions and the creator; system conversations: the master key). Everyone concerned gets infoupdated.",
	}, []handlers.Code{c, notMember, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.updateConversation)

	register(s, huma.Operation{
		OperationID: "muteConversation", Method: http.MethodPost, Path: "/v1/conversations/{id}/mute",
		Summary: "Mute a conversation", Tags: []string{tagConversations}, Security: sessionOnly,
		Description: "Stops offline push of the conversation for the caller; it appears in mutedMembers.",
	}, []handlers.Code{c, notMember, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.mute)

	register(s, huma.Operation{
		OperationID: "unmuteConversation", Method: http.MethodPost, Path: "/v1/conversations/{id}/unmute",
		Summary: "Unmute a conversation", Tags: []string{tagConversations}, Security: sessionOnly,
	}, []handlers.Code{c, notMember, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.unmute)

	register(s, huma.Operation{
		OperationID: "getConversation", Method: http.MethodGet, Path: "/v1/conversations/{id}",
		Summary: "Get a conversation", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Any session may get a conversation; the member list, muted members and read positions are shown " +
			"only to its members (and the master key), as in queries.",
	}, []handlers.Code{c}, s.getConversation)

	register(s, huma.Operation{
		OperationID: "addMembers", Method: http.MethodPost, Path: "/v1/conversations/{id}/members",
		Summary: "Add members", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Adds clients. Each added client gets invited; every member, the added ones and the caller included, gets membersjoined.",
	}, []handlers.Code{c, notMember, handlers.CodeMemberLimit, handlers.CodeClientBlocked, handlers.CodeOperationNotSupported, handlers.CodeSignatureInvalid, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.addMembers)

	register(s, huma.Operation{
		OperationID: "removeMembers", Method: http.MethodPost, Path: "/v1/conversations/{id}/members/remove",
		Summary: "Remove members", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Removes clients. Each removed client gets kicked; the remaining members and the caller get membersleft.",
	}, []handlers.Code{c, notMember, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeSignatureInvalid, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.removeMembers)

	register(s, huma.Operation{
		OperationID: "joinConversation", Method: http.MethodPost, Path: "/v1/conversations/{id}/join",
		Summary: "Join a conversation", Tags: []string{tagConversations}, Security: sessionOnly,
		Description: "Makes the caller a member; every member, the joiner included, gets membersjoined. " +
			"A unique conversation is never joined by a third party (403 FORBIDDEN: a member adds others). " +
			"The body carries the backend's join signature in signature auth mode, and in jwt mode for normal conversations; " +
			"open mode needs none.",
	}, []handlers.Code{c, handlers.CodeMemberLimit, handlers.CodeClientBlocked, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeSignatureInvalid, handlers.CodeOperationRejected, handlers.CodeHookFailed}, s.join)

	register(s, huma.Operation{
		OperationID: "quitConversation", Method: http.MethodPost, Path: "/v1/conversations/{id}/quit",
		Summary: "Quit a conversation", Tags: []string{tagConversations}, Security: sessionOnly,
		Description: "Removes the caller; the remaining members and the caller's own sessions get membersleft.",
	}, []handlers.Code{c, notMember, handlers.CodeOperationNotSupported, handlers.CodeForbidden}, s.quit)

	register(s, huma.Operation{
		OperationID: "countMembers", Method: http.MethodGet, Path: "/v1/conversations/{id}/members/count",
		Summary: "Count members", Tags: []string{tagConversations}, Security: sessionOrMaster,
	}, []handlers.Code{c}, s.countMembers)

	register(s, huma.Operation{
		OperationID: "sendMessage", Method: http.MethodPost, Path: "/v1/conversations/{id}/messages",
		Summary: "Send a message", Tags: []string{tagMessages}, DefaultStatus: http.StatusCreated, Security: sessionOnly,
		// The hot path: the body is decoded straight into its struct, whose
		// rules ValidateContent enforces, instead of being parsed twice.
		SkipValidateBody: true,
		Middlewares:      huma.Middlewares{s.fastSend},
		Description: "Stores the message and delivers it to the members' sessions (except the sending one); answers 201 only " +
			"once the message is committed. A re-send with the same clientMessageId returns the original message with 200 " +
			"and delivers nothing again. Transient messages are delivered to online members only and never stored.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageTooLarge, handlers.CodeMemberSilenced, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeRateLimited, handlers.CodeMessageRejected, handlers.CodeHookFailed}, s.sendMessage)

	register(s, huma.Operation{
		OperationID: "listMessages", Method: http.MethodGet, Path: "/v1/conversations/{id}/messages",
		Summary: "Read message history", Tags: []string{tagMessages}, Security: sessionOrMaster,
		Description: "Messages in ascending (timestamp, id) order. Without a cursor: the newest limit. before: the newest limit older " +
			"than that message (paging back). after: the oldest limit newer than it (paging forward). By time, as LeanCloud's " +
			"queryMessages by timestamp, bounds excluded: beforeTime alone, the newest limit sent before it; afterTime alone, the " +
			"oldest limit sent after it; both, the newest limit inside the range. hasMore says whether more lie beyond the page " +
			"in the direction of paging (back, or forward from after / afterTime alone). A page is selected by message ids " +
			"(before or after, one of them) or by times (beforeTime, afterTime or both), not both ways: mixing them answers 400 " +
			"INVALID_REQUEST, as does any other query parameter. A time given as before or after is no message id: 404 MESSAGE_NOT_FOUND.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageNotFound, handlers.CodeRateLimited}, s.listMessages)

	register(s, huma.Operation{
		OperationID: "editMessage", Method: http.MethodPatch, Path: "/v1/conversations/{id}/messages/{messageId}",
		Summary: "Edit a message", Tags: []string{tagMessages}, Security: sessionOnly,
		Description: "Replaces the content of the caller's own message; members get messageupdate and history shows patchedAt.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageNotFound, handlers.CodeMessageTooLarge, handlers.CodeForbidden, handlers.CodeMessageRejected, handlers.CodeHookFailed}, s.editMessage)

	register(s, huma.Operation{
		OperationID: "recallMessage", Method: http.MethodDelete, Path: "/v1/conversations/{id}/messages/{messageId}",
		Summary: "Recall a message", Tags: []string{tagMessages}, Security: sessionOrMaster,
		Description: "The sender (or the master key) recalls a message: it stays in history with recalled: true and no content; members get messagerecall.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageNotFound, handlers.CodeForbidden, handlers.CodeMessageRejected, handlers.CodeHookFailed}, s.recallMessage)

	register(s, huma.Operation{
		OperationID: "markRead", Method: http.MethodPost, Path: "/v1/conversations/{id}/read",
		Summary: "Mark a conversation read", Tags: []string{tagMessages}, Security: sessionOnly,
		Description: "Marks read up to messageId (default the latest). Every session of the caller gets unreadmessagescountupdate; " +
			"the other member of a one-to-one conversation (normal or temporary, of two members) gets lastreadatupdate.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageNotFound, handlers.CodeForbidden}, s.markRead)

	register(s, huma.Operation{
		OperationID: "markManyRead", Method: http.MethodPost, Path: "/v1/conversations/read",
		Summary: "Mark several conversations read", Tags: []string{tagMessages}, Security: sessionOnly,
	}, []handlers.Code{c, notMember, handlers.CodeForbidden}, s.markManyRead)

	register(s, huma.Operation{
		OperationID: "markDelivered", Method: http.MethodPost, Path: "/v1/conversations/{id}/delivered",
		Summary: "Confirm delivery", Tags: []string{tagMessages}, Security: sessionOnly, DefaultStatus: http.StatusNoContent,
		Description: "Confirms receipt of messages fetched through history, up to messageId (default the latest); " +
			"in a one-to-one conversation (normal or temporary, of two members) the sender gets lastdeliveredatupdate. Messages flushed to a live stream need no confirmation.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageNotFound, handlers.CodeForbidden}, s.markDelivered)

	register(s, huma.Operation{
		OperationID: "getUnread", Method: http.MethodGet, Path: "/v1/unread",
		Summary: "Unread counts", Tags: []string{tagMessages}, Security: sessionOnly,
		Description: "The caller's conversations with unread messages, as in unreadmessagescountupdate.",
	}, []handlers.Code{handlers.CodeForbidden}, s.getUnread)

	register(s, huma.Operation{
		OperationID: "onlineClients", Method: http.MethodGet, Path: "/v1/clients/online",
		Summary: "Who is online", Tags: []string{tagPresence}, Security: sessionOrMaster,
		Description: "A client is online while one of its sessions has a stream open, or lost it less than the offline grace ago.",
	}, nil, s.onlineClients)

	register(s, huma.Operation{
		OperationID: "subscribePresence", Method: http.MethodPost, Path: "/v1/presence/subscribe",
		Summary: "Watch clients' presence", Tags: []string{tagPresence}, Security: sessionOnly,
		Description: "The caller's session gets a presence event when a watched client's first session comes online or its last one goes offline. Answers the current status.",
	}, []handlers.Code{handlers.CodeForbidden}, s.subscribePresence)

	register(s, huma.Operation{
		OperationID: "adminSendMessage", Method: http.MethodPost, Path: "/v1/admin/conversations/{id}/messages",
		Summary: "Send a message as any client", Tags: []string{tagAdmin}, DefaultStatus: http.StatusCreated, Security: masterOnly,
		Description: "The app backend sends as from into any conversation, member or not. Into a system conversation " +
			"the message reaches every subscriber, online now or later through history.",
	}, []handlers.Code{c, handlers.CodeMessageTooLarge, handlers.CodeMemberSilenced, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeMessageRejected, handlers.CodeHookFailed}, s.adminSendMessage)

	register(s, huma.Operation{
		OperationID: "broadcast", Method: http.MethodPost, Path: "/v1/admin/broadcasts",
		Summary: "Broadcast a message", Tags: []string{tagAdmin}, DefaultStatus: http.StatusCreated, Security: masterOnly,
		Description: "With conversationId: stored in that system conversation and delivered to every subscriber. " +
			"With toAllOnline: true: delivered to every online session, not stored.",
	}, []handlers.Code{c, handlers.CodeMessageTooLarge, handlers.CodeOperationNotSupported, handlers.CodeForbidden, handlers.CodeMessageRejected, handlers.CodeHookFailed}, s.broadcast)

	register(s, huma.Operation{
		OperationID: "putSensitiveWords", Method: http.MethodPut, Path: "/v1/admin/sensitive-words",
		Summary: "Set the sensitive words", Tags: []string{tagAdmin}, Security: masterOnly,
		Description: "Replaces the list. In group chats (normal conversations of more than two members), chat rooms and " +
			"system conversations, every later message's text (sent, edited or transient) has each of them replaced by ***, " +
			"case-insensitively. One-to-one and temporary conversations are not filtered.",
	}, []handlers.Code{handlers.CodeForbidden}, s.putSensitiveWords)

	register(s, huma.Operation{
		OperationID: "getSensitiveWords", Method: http.MethodGet, Path: "/v1/admin/sensitive-words",
		Summary: "The sensitive words", Tags: []string{tagAdmin}, Security: masterOnly,
		Description: "The list in force, as the last PUT set it ([] when none was set).",
	}, []handlers.Code{handlers.CodeForbidden}, s.getSensitiveWords)

	register(s, huma.Operation{
		OperationID: "registerDevice", Method: http.MethodPost, Path: "/v1/devices",
		Summary: "Register a device for offline push", Tags: []string{tagDevices}, Security: sessionOnly,
		Description: "Records the caller's push token. A token registered before, by the caller or another client, " +
			"now belongs to the caller.",
	}, []handlers.Code{handlers.CodeForbidden}, s.registerDevice)

	register(s, huma.Operation{
		OperationID: "listDevices", Method: http.MethodGet, Path: "/v1/devices",
		Summary: "List the caller's devices", Tags: []string{tagDevices}, Security: sessionOnly,
	}, []handlers.Code{handlers.CodeForbidden}, s.listDevices)

	register(s, huma.Operation{
		OperationID: "unregisterDevice", Method: http.MethodDelete, Path: "/v1/devices/{token}",
		Summary: "Unregister a device", Tags: []string{tagDevices}, Security: sessionOnly, DefaultStatus: http.StatusNoContent,
		Description: "Forgets one of the caller's push tokens; a token the caller does not have is no error.",
	}, []handlers.Code{handlers.CodeForbidden}, s.unregisterDevice)

	s.registerFiles()
}

type deviceInput struct {
	Body handlers.DeviceRequest
}

type deviceOutput struct {
	Body *handlers.Device
}

func (s *Server) registerDevice(ctx context.Context, in *deviceInput) (*deviceOutput, error) {
	d, err := s.opt.Service.RegisterDevice(ctx, principal(ctx), in.Body)
	return &deviceOutput{Body: d}, err
}

type devicesOutput struct {
	Body struct {
		Devices []handlers.Device `json:"devices"`
	}
}

func (s *Server) listDevices(ctx context.Context, _ *struct{}) (*devicesOutput, error) {
	ds, err := s.opt.Service.Devices(ctx, principal(ctx))
	out := &devicesOutput{}
	out.Body.Devices = ds
	return out, err
}

type deviceTokenInput struct {
	Token string `path:"token" maxLength:"4096" doc:"The push token" example:"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"`
}

func (s *Server) unregisterDevice(ctx context.Context, in *deviceTokenInput) (*struct{}, error) {
	return nil, s.opt.Service.UnregisterDevice(ctx, principal(ctx), in.Token)
}

// register adds an operation with its documented errors: the codes given,
// plus INVALID_REQUEST wherever input is parsed and UNAUTHORIZED wherever a
// credential is needed.
func register[I, O any](s *Server, op huma.Operation, codes []handlers.Code, h func(context.Context, *I) (*O, error)) {
	codes = append([]handlers.Code{handlers.CodeInvalidRequest}, codes...)
	if len(op.Security) > 0 {
		codes = append(codes, handlers.CodeUnauthorized)
		if slices.ContainsFunc(op.Security, func(r map[string][]string) bool { _, ok := r[schemeBearer]; return ok }) {
			codes = append(codes, handlers.CodeSessionConflict)
		}
	}
	codes = append(codes, codeInternal)
	for _, code := range codes {
		if st := statusOf[code]; !slices.Contains(op.Errors, st) {
			op.Errors = append(op.Errors, st)
		}
	}
	slices.Sort(op.Errors)
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[metaCodes] = codes
	huma.Register(s.humaAPI, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, fault(ctx, s.opt.Log, err)
		}
		return out, nil
	})
}

// Sessions.

type createSessionInput struct {
	Body handlers.LoginRequest
}

// Resolve records the address the login came from, for the login rate
// limit: the peer's, not a forwarded header a client could set.
func (in *createSessionInput) Resolve(ctx huma.Context) []error {
	in.Body.IP = handlers.PeerIP(ctx.RemoteAddr())
	return nil
}

type createSessionOutput struct {
	Body *handlers.LoginResult
}

func (s *Server) createSession(ctx context.Context, in *createSessionInput) (*createSessionOutput, error) {
	res, err := s.opt.Service.Login(ctx, in.Body)
	if err != nil {
		return nil, err
	}
	return &createSessionOutput{Body: res}, nil
}

func (s *Server) deleteSession(ctx context.Context, _ *struct{}) (*struct{}, error) {
	return &struct{}{}, s.opt.Service.Logout(ctx, principal(ctx))
}

// Conversations.

type createConversationInput struct {
	Body handlers.CreateConversationRequest
}

func (s *Server) createConversation(ctx context.Context, in *createConversationInput) (*createdConversation, error) {
	conv, created, err := s.opt.Service.CreateConversation(ctx, principal(ctx), in.Body)
	if err != nil {
		return nil, err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return &createdConversation{Status: status, Body: conv}, nil
}

func (s *Server) getConversation(ctx context.Context, in *ConversationPath) (*conversationBody, error) {
	conv, err := s.opt.Service.GetConversation(ctx, principal(ctx), in.ID)
	return &conversationBody{Body: conv}, err
}

type membersInput struct {
	ConversationPath
	Body handlers.MembersRequest
}

func (s *Server) addMembers(ctx context.Context, in *membersInput) (*conversationBody, error) {
	conv, err := s.opt.Service.AddMembers(ctx, principal(ctx), in.ID, in.Body)
	return &conversationBody{Body: conv}, err
}

func (s *Server) removeMembers(ctx context.Context, in *membersInput) (*conversationBody, error) {
	conv, err := s.opt.Service.RemoveMembers(ctx, principal(ctx), in.ID, in.Body)
	return &conversationBody{Body: conv}, err
}

type joinInput struct {
	ConversationPath
	Body *handlers.Signed // optional: only signature mode needs it
}

func (s *Server) join(ctx context.Context, in *joinInput) (*conversationBody, error) {
	var sig handlers.Signed
	if in.Body != nil {
		sig = *in.Body
	}
	conv, err := s.opt.Service.Join(ctx, principal(ctx), in.ID, sig)
	return &conversationBody{Body: conv}, err
}

func (s *Server) quit(ctx context.Context, in *ConversationPath) (*conversationBody, error) {
	conv, err := s.opt.Service.Quit(ctx, principal(ctx), in.ID)
	return &conversationBody{Body: conv}, err
}

type countOutput struct {
	Body struct {
		Count int `json:"count" doc:"Number of members (chat rooms: clients online in the room now)" example:"2"`
	}
}

func (s *Server) countMembers(ctx context.Context, in *ConversationPath) (*countOutput, error) {
	n, err := s.opt.Service.MemberCount(ctx, principal(ctx), in.ID)
	out := &countOutput{}
	out.Body.Count = n
	return out, err
}

// Messages.

type sendMessageInput struct {
	ConversationPath
	Body handlers.SendRequest
}

type sentMessage struct {
	Status int `doc:"201 when sent, 200 when clientMessageId matched an earlier send, 202 when held as a will"`
	Body   *handlers.Message
}

var sendStatus = map[handlers.Outcome]int{
	handlers.Sent:      http.StatusCreated,
	handlers.Duplicate: http.StatusOK,
	handlers.Held:      http.StatusAccepted,
}

func (s *Server) sendMessage(ctx context.Context, in *sendMessageInput) (*sentMessage, error) {
	msg, outcome, err := s.opt.Service.Send(ctx, principal(ctx), in.ID, in.Body)
	if err != nil {
		return nil, err
	}
	return &sentMessage{Status: sendStatus[outcome], Body: msg}, nil
}

type listMessagesInput struct {
	ConversationPath
	Limit      int       `query:"limit" minimum:"1" maximum:"1000" default:"20" doc:"Page size"`
	Before     string    `query:"before" maxLength:"64" doc:"Message id: page back from it (exclusive). Not with beforeTime or afterTime"`
	After      string    `query:"after" maxLength:"64" doc:"Message id: page forward from it (exclusive). Not with beforeTime or afterTime"`
	BeforeTime queryTime `query:"beforeTime" minimum:"0" doc:"Milliseconds since the Unix epoch: the newest limit messages sent before it (exclusive), paging back; with afterTime, the newest limit between the two. Not with before or after" example:"1795449600000"`
	AfterTime  queryTime `query:"afterTime" minimum:"0" doc:"Milliseconds since the Unix epoch: the oldest limit messages sent after it (exclusive), paging forward; with beforeTime, the newest limit between the two. Not with before or after" example:"1795449600000"`
	Type       string    `query:"type" maxLength:"11" pattern:"^-?[0-9]+$" doc:"Only messages of this type" example:"-1"`
}

// queryTime is an optional query parameter of milliseconds: 0 is a time
// (afterTime=0 is every message), so absence is told apart by IsSet.
type queryTime struct {
	Value int64
	IsSet bool
}

// Schema documents it as the integer it is (huma.SchemaProvider).
func (queryTime) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeInteger, Format: "int64"}
}

// Receiver is where huma parses the parameter (huma.ParamWrapper).
func (t *queryTime) Receiver() reflect.Value { return reflect.ValueOf(t).Elem().Field(0) }

// OnParamSet records whether the request gave it (huma.ParamReactor).
func (t *queryTime) OnParamSet(isSet bool, _ any) { t.IsSet = isSet }

// ptr is the time, or nil when the request did not give it.
func (t queryTime) ptr() *int64 {
	if !t.IsSet {
		return nil
	}
	return &t.Value
}

type listMessagesOutput struct {
	Body *handlers.HistoryPage
}

func (s *Server) listMessages(ctx context.Context, in *listMessagesInput) (*listMessagesOutput, error) {
	req := handlers.HistoryRequest{Limit: in.Limit, Before: in.Before, After: in.After,
		BeforeTime: in.BeforeTime.ptr(), AfterTime: in.AfterTime.ptr()}
	if in.Type != "" {
		t, err := strconv.Atoi(in.Type)
		if err != nil {
			return nil, &handlers.Error{Code: handlers.CodeInvalidRequest, Detail: "type must be an integer"}
		}
		req.Type = &t
	}
	page, err := s.opt.Service.History(ctx, principal(ctx), in.ID, req)
	return &listMessagesOutput{Body: page}, err
}

type queryInput struct {
	Where           string `query:"where" maxLength:"16384" doc:"URL-encoded JSON query (see the operation's description)" example:"{\"m\":\"Tom\"}"`
	Sort            string `query:"sort" maxLength:"256" doc:"Comma list of fields, - for descending (default -lastMessageAt)" example:"-lastMessageAt"`
	Limit           int    `query:"limit" minimum:"1" maximum:"1000" default:"10" doc:"Page size"`
	Skip            int    `query:"skip" minimum:"0" maximum:"100000" doc:"Results to skip"`
	Compact         bool   `query:"compact" doc:"Leave out member lists: members and mutedMembers are absent from every conversation of the page (LeanCloud's compact queries return empty lists instead). Unread counts, muted and the one-to-one read positions stay"`
	WithLastMessage bool   `query:"withLastMessage" doc:"Include each conversation's newest message"`
}

type queryOutput struct {
	Body queryOutputBody
}

// queryOutputBody is a page of conversations. It writes itself (see
// marshalJSON): encoding/json would reflect over a hundred conversations
// and check every one's JSON again.
type queryOutputBody struct {
	Results []*handlers.Conversation `json:"results"`
}

// AppendJSON appends the page's JSON to b.
func (p queryOutputBody) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"results":[`...)
	for i, c := range p.Results {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = c.AppendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

func (s *Server) queryConversations(ctx context.Context, in *queryInput) (*queryOutput, error) {
	res, err := s.opt.Service.QueryConversations(ctx, principal(ctx), handlers.QueryRequest{
		Where: in.Where, Sort: in.Sort, Limit: in.Limit, Skip: in.Skip, Compact: in.Compact, WithLastMessage: in.WithLastMessage,
	})
	out := &queryOutput{}
	out.Body.Results = res
	return out, err
}

type updateConversationInput struct {
	ConversationPath
	Body handlers.UpdateConversationRequest
}

func (s *Server) updateConversation(ctx context.Context, in *updateConversationInput) (*conversationBody, error) {
	conv, err := s.opt.Service.UpdateConversation(ctx, principal(ctx), in.ID, in.Body)
	return &conversationBody{Body: conv}, err
}

func (s *Server) mute(ctx context.Context, in *ConversationPath) (*conversationBody, error) {
	conv, err := s.opt.Service.Mute(ctx, principal(ctx), in.ID, true)
	return &conversationBody{Body: conv}, err
}

func (s *Server) unmute(ctx context.Context, in *ConversationPath) (*conversationBody, error) {
	conv, err := s.opt.Service.Mute(ctx, principal(ctx), in.ID, false)
	return &conversationBody{Body: conv}, err
}

// Admin.

type adminSendInput struct {
	ConversationPath
	Body struct {
		handlers.SendRequest
		From string `json:"from" minLength:"1" maxLength:"64" doc:"The clientId to send as: 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters" example:"support"`
	}
}

func (s *Server) adminSendMessage(ctx context.Context, in *adminSendInput) (*sentMessage, error) {
	msg, outcome, err := s.opt.Service.AdminSend(ctx, principal(ctx), in.ID, in.Body.From, in.Body.SendRequest)
	if err != nil {
		return nil, err
	}
	return &sentMessage{Status: sendStatus[outcome], Body: msg}, nil
}

type sensitiveWordsInput struct {
	Body handlers.SensitiveWords
}

type sensitiveWordsOutput struct {
	Body *handlers.SensitiveWords
}

func (s *Server) getSensitiveWords(ctx context.Context, _ *struct{}) (*sensitiveWordsOutput, error) {
	words, err := s.opt.Service.SensitiveWordList(principal(ctx))
	return &sensitiveWordsOutput{Body: words}, err
}

func (s *Server) putSensitiveWords(ctx context.Context, in *sensitiveWordsInput) (*sensitiveWordsOutput, error) {
	words, err := s.opt.Service.SetSensitiveWords(ctx, principal(ctx), in.Body)
	return &sensitiveWordsOutput{Body: words}, err
}

type broadcastInput struct {
	Body handlers.BroadcastRequest
}

type broadcastOutput struct {
	Body *handlers.Message
}

func (s *Server) broadcast(ctx context.Context, in *broadcastInput) (*broadcastOutput, error) {
	msg, err := s.opt.Service.Broadcast(ctx, principal(ctx), in.Body)
	return &broadcastOutput{Body: msg}, err
}

const queryDescription = `Lists the conversations matching where, a JSON query in the LeanCloud/Parse
style with MongoDB's semantics, sent URL-encoded. Sessions and the master key may query;
temporary conversations are never listed.

**What a session sees.** Member lists, muted members and read positions only of normal
conversations it is a member of; lastMessage only of conversations it may read (a member, a
chat room it is seated in, a system conversation it subscribes to). Conditions on members and
muted members are evaluated against the lists it can see, so they match only its own conversations
(never a system conversation: subscribers are not shown). The master key sees everything.

**Fields.** id (alias objectId), name, kind; creator (alias c; "" for conversations created with
the master key); members (alias m; as the caller sees them, see below); mutedMembers (alias mu; the
members who muted it, seen where the members are); tr (true for chat rooms); sys (true for system
conversations); lastMessageAt (alias lm; missing before the first message), createdAt, updatedAt.
Times are milliseconds since the Unix epoch, or {"__type":"Date","iso":"2026-11-23T00:00:00Z"}. Any
other key is a custom attribute: attributes.x, attr.x or bare x, where dots walk into nested objects
(attr.owner.team); attr.mu reaches an attribute named like a field.

**Operators.** A bare value means $eq; then $ne, $gt, $gte, $lt, $lte, $in, $nin, $all, $exists,
$regex (RE2 syntax, at most 256 bytes, with "$options":"i" for case-insensitive), and $or / $and
over non-empty arrays of conditions, nested up to 8 levels. As in MongoDB:

- an array field (members, mutedMembers, or an array attribute) compared with a single value
  matches when it contains it; compared with an array, when it equals it (members and mutedMembers:
  the same set);
- null matches a missing field as well as a null one, and $ne and $nin also match a missing field;
- comparisons stay within a type: numbers with numbers, strings with strings (byte order), so
  {"level":{"$gt":3}} never matches "level":"high".

**Members.** A session's conditions on members see the member lists it sees: those of the normal
conversations it is a member of, and none anywhere else (system conversations included), as a chat
room has none; so {"m":{"$all":["Ann","Ben"]}} matches nothing for a client in none of their
conversations. The master key sees every member list, a system conversation's subscribers too.
mutedMembers (mu), with the same operators, follows the same rule: muted members are members, seen
exactly where the member list is.

**Limits.** At most 32 items in one $or or $and, 32 conditions on members or attributes, 8 $regex,
256 conditions in all; beyond them, or for SQL too large for SQLite, the answer is INVALID_QUERY. A
query runs for at most the server's query timeout (2 s by default), then answers INVALID_QUERY. A
client's queries run one at a time, and queries in all on at most half the read connections: a query
that waited a second for its turn answers RATE_LIMITED with a Retry-After.

**Examples.**

    {"m":"Tom"}                                  Tom is a member
    {"m":{"$all":["Tom","Jerry"]},"tr":false}    Tom and Jerry are members; no chat rooms
    {"m":["Tom","Jerry"]}                        exactly Tom and Jerry
    {"m":"Tom","mu":{"$ne":"Tom"}}               Tom's conversations he has not muted
    {"c":"Tom","lm":{"$exists":false}}           created by Tom, never a message
    {"sys":true,"name":{"$regex":"news","$options":"i"}}
    {"topic":{"$in":["cheese","brie"]},"level":{"$gte":2,"$lt":5}}
    {"attr.owner.team":"core","lm":{"$gt":1795449600000}}
    {"$or":[{"name":{"$regex":"^team","$options":"i"}},{"tags":"vip"}]}

**Results.** sort is a comma list of fields (not members, mutedMembers, tr or sys), - for descending, e.g.
name,-createdAt; the default -lastMessageAt lists the most recently active first and the
never-messaged last; ties go by id. limit defaults to 10 (at most 1000), and skip pages further.
compact=true leaves out member lists: members and mutedMembers are absent from each conversation,
not empty lists as LeanCloud returns them; withLastMessage=true adds each conversation's newest
message as lastMessage.

**Errors.** A malformed where or sort answers 400 INVALID_QUERY, whose detail names the offending
part, e.g. "where.name.$regexp: unknown operator".`

type MessagePath struct {
	ConversationPath
	MessageID string `path:"messageId" maxLength:"64" doc:"Message id" example:"1kb0p2qk000"`
}

type editMessageInput struct {
	MessagePath
	Body handlers.EditRequest
}

type messageBody struct {
	Body *handlers.Message
}

func (s *Server) editMessage(ctx context.Context, in *editMessageInput) (*messageBody, error) {
	m, err := s.opt.Service.Edit(ctx, principal(ctx), in.ID, in.MessageID, in.Body.Content)
	return &messageBody{Body: m}, err
}

func (s *Server) recallMessage(ctx context.Context, in *MessagePath) (*messageBody, error) {
	m, err := s.opt.Service.Recall(ctx, principal(ctx), in.ID, in.MessageID)
	return &messageBody{Body: m}, err
}

type readInput struct {
	ConversationPath
	Body *handlers.ReadRequest
}

type unreadBody struct {
	Body *handlers.UnreadEvent
}

func (s *Server) markRead(ctx context.Context, in *readInput) (*unreadBody, error) {
	var msgID string
	if in.Body != nil {
		msgID = in.Body.MessageID
	}
	u, err := s.opt.Service.MarkRead(ctx, principal(ctx), []string{in.ID}, msgID)
	return &unreadBody{Body: u}, err
}

type readManyInput struct {
	Body handlers.ReadManyRequest
}

func (s *Server) markManyRead(ctx context.Context, in *readManyInput) (*unreadBody, error) {
	u, err := s.opt.Service.MarkRead(ctx, principal(ctx), in.Body.ConversationIDs, "")
	return &unreadBody{Body: u}, err
}

type deliveredInput struct {
	ConversationPath
	Body *handlers.DeliveredRequest
}

func (s *Server) markDelivered(ctx context.Context, in *deliveredInput) (*struct{}, error) {
	var msgID string
	if in.Body != nil {
		msgID = in.Body.MessageID
	}
	return &struct{}{}, s.opt.Service.MarkDelivered(ctx, principal(ctx), in.ID, msgID)
}

func (s *Server) getUnread(ctx context.Context, _ *struct{}) (*unreadBody, error) {
	u, err := s.opt.Service.Unread(ctx, principal(ctx))
	return &unreadBody{Body: u}, err
}

type onlineInput struct {
	IDs string `query:"ids" maxLength:"6600" doc:"Comma list of clientIds (at most 100; spaces around an id are ignored), each 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters" example:"Tom,Jerry"`
}

type onlineBody struct {
	Body struct {
		Online map[string]bool `json:"online" doc:"clientId → online now" example:"{\"Tom\":true,\"Jerry\":false}"`
	}
}

func (s *Server) onlineClients(ctx context.Context, in *onlineInput) (*onlineBody, error) {
	online, err := s.opt.Service.Online(splitIDs(in.IDs))
	out := &onlineBody{}
	out.Body.Online = online
	return out, err
}

type subscribeInput struct {
	Body struct {
		ClientIDs []string `json:"clientIds" minItems:"1" maxItems:"100" doc:"clientIds of the clients to watch, each 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters" example:"[\"Jerry\"]"`
	}
}

func (s *Server) subscribePresence(ctx context.Context, in *subscribeInput) (*onlineBody, error) {
	online, err := s.opt.Service.SubscribePresence(principal(ctx), in.Body.ClientIDs)
	out := &onlineBody{}
	out.Body.Online = online
	return out, err
}

// splitIDs splits the comma list of ?ids=, ignoring ASCII spaces around an
// id ("Tom, Jerry") and empty items. Nothing else is trimmed: an id that
// ends in another white space or invisible character is for the rules to
// refuse, not to be answered as another id.
func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.Trim(id, " "); id != "" {
			out = append(out, id)
		}
	}
	return out
}
