package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/parley-im/parley/handlers"
)

// Tags group the operations in the document.
const (
	tagSessions      = "Sessions"
	tagEvents        = "Events"
	tagConversations = "Conversations"
	tagMessages      = "Messages"
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
		Description: "Opens a session for clientId (LeanCloud's createIMClient) and returns its token. " +
			"A login with a tag the client already holds in another live session replaces that session: " +
			"it gets a conflict event, its stream closes and its token answers SESSION_CONFLICT.",
	}, []handlers.Code{handlers.CodeSignatureInvalid}, s.createSession)

	register(s, huma.Operation{
		OperationID: "deleteCurrentSession", Method: http.MethodDelete, Path: "/v1/sessions/current",
		Summary: "Log out", Tags: []string{tagSessions}, DefaultStatus: http.StatusNoContent,
		Security:    sessionOnly,
		Description: "Ends the caller's session: its token stops working at once and its stream closes.",
	}, []handlers.Code{handlers.CodeForbidden}, s.deleteSession)

	s.registerEventStream()

	register(s, huma.Operation{
		OperationID: "createConversation", Method: http.MethodPost, Path: "/v1/conversations",
		Summary: "Create a conversation", Tags: []string{tagConversations}, DefaultStatus: http.StatusCreated,
		Security: sessionOrMaster,
		Description: "Creates a conversation with the caller as creator and member. The other members get invited. " +
			"With unique: true the existing unique normal conversation with exactly the same members is returned (200) instead.",
	}, []handlers.Code{handlers.CodeMemberLimit, handlers.CodeOperationNotSupported, handlers.CodeForbidden}, s.createConversation)

	register(s, huma.Operation{
		OperationID: "getConversation", Method: http.MethodGet, Path: "/v1/conversations/{id}",
		Summary: "Get a conversation", Tags: []string{tagConversations}, Security: sessionOrMaster,
	}, []handlers.Code{c}, s.getConversation)

	register(s, huma.Operation{
		OperationID: "addMembers", Method: http.MethodPost, Path: "/v1/conversations/{id}/members",
		Summary: "Add members", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Adds clients. Each added client gets invited; every member, the added ones and the caller included, gets membersjoined.",
	}, []handlers.Code{c, notMember, handlers.CodeMemberLimit, handlers.CodeOperationNotSupported}, s.addMembers)

	register(s, huma.Operation{
		OperationID: "removeMembers", Method: http.MethodPost, Path: "/v1/conversations/{id}/members/remove",
		Summary: "Remove members", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Removes clients. Each removed client gets kicked; the remaining members and the caller get membersleft.",
	}, []handlers.Code{c, notMember, handlers.CodeOperationNotSupported}, s.removeMembers)

	register(s, huma.Operation{
		OperationID: "joinConversation", Method: http.MethodPost, Path: "/v1/conversations/{id}/join",
		Summary: "Join a conversation", Tags: []string{tagConversations}, Security: sessionOnly,
		Description: "Makes the caller a member; every member, the joiner included, gets membersjoined.",
	}, []handlers.Code{c, handlers.CodeMemberLimit, handlers.CodeOperationNotSupported, handlers.CodeForbidden}, s.join)

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
		Description: "Stores the message and delivers it to the members' sessions (except the sending one); answers 201 only " +
			"once the message is committed. A re-send with the same clientMessageId returns the original message with 200 " +
			"and delivers nothing again. Transient messages are delivered to online members only and never stored.",
	}, []handlers.Code{c, notMember, handlers.CodeMessageTooLarge, handlers.CodeOperationNotSupported, handlers.CodeForbidden}, s.sendMessage)

	register(s, huma.Operation{
		OperationID: "listMessages", Method: http.MethodGet, Path: "/v1/conversations/{id}/messages",
		Summary: "Read message history", Tags: []string{tagMessages}, Security: sessionOrMaster,
		Description: "Messages in ascending time order. Without a cursor: the newest limit. before: the newest limit older " +
			"than that message (paging back). after: the oldest limit newer than it (paging forward).",
	}, []handlers.Code{c, notMember, handlers.CodeMessageNotFound}, s.listMessages)
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
	conv, err := s.opt.Service.AddMembers(ctx, principal(ctx), in.ID, in.Body.ClientIDs)
	return &conversationBody{Body: conv}, err
}

func (s *Server) removeMembers(ctx context.Context, in *membersInput) (*conversationBody, error) {
	conv, err := s.opt.Service.RemoveMembers(ctx, principal(ctx), in.ID, in.Body.ClientIDs)
	return &conversationBody{Body: conv}, err
}

func (s *Server) join(ctx context.Context, in *ConversationPath) (*conversationBody, error) {
	conv, err := s.opt.Service.Join(ctx, principal(ctx), in.ID)
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
	Status int `doc:"201 when sent, 200 when clientMessageId matched an earlier send"`
	Body   *handlers.Message
}

func (s *Server) sendMessage(ctx context.Context, in *sendMessageInput) (*sentMessage, error) {
	msg, created, err := s.opt.Service.Send(ctx, principal(ctx), in.ID, in.Body)
	if err != nil {
		return nil, err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return &sentMessage{Status: status, Body: msg}, nil
}

type listMessagesInput struct {
	ConversationPath
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"20" doc:"Page size"`
	Before string `query:"before" maxLength:"64" doc:"Message id: page back from it (exclusive)"`
	After  string `query:"after" maxLength:"64" doc:"Message id: page forward from it (exclusive)"`
	Type   string `query:"type" maxLength:"11" pattern:"^-?[0-9]+$" doc:"Only messages of this type" example:"-1"`
}

type listMessagesOutput struct {
	Body *handlers.HistoryPage
}

func (s *Server) listMessages(ctx context.Context, in *listMessagesInput) (*listMessagesOutput, error) {
	req := handlers.HistoryRequest{Limit: in.Limit, Before: in.Before, After: in.After}
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
