package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parley-im/parley/handlers"
)

// Roles, silenced and blocked members (README, "Roles").
func (s *Server) registerRoleOperations() {
	c, notMember, forbidden := handlers.CodeConversationNotFound, handlers.CodeNotAMember, handlers.CodeForbidden
	unsupported := handlers.CodeOperationNotSupported
	register(s, huma.Operation{
		OperationID: "listMembers", Method: http.MethodGet, Path: "/v1/conversations/{id}/members",
		Summary: "List members with their roles", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "The members (for a chat room, the clients seated in it), owner first, each with its role and, when " +
			"silenced, until when. Members and the master key may read it.",
	}, []handlers.Code{c, notMember, unsupported}, s.listMembers)
	register(s, huma.Operation{
		OperationID: "setMemberRole", Method: http.MethodPatch, Path: "/v1/conversations/{id}/members/{clientId}",
		Summary: "Set a member's role", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Only the owner (or the master key) sets roles. Making another member the owner hands ownership over: " +
			"the old owner becomes a manager. Every member gets memberinfoupdated.",
	}, []handlers.Code{c, notMember, forbidden, unsupported}, s.setMemberRole)
	register(s, huma.Operation{
		OperationID: "silenceMembers", Method: http.MethodPost, Path: "/v1/conversations/{id}/silenced",
		Summary: "Silence members", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Silenced members still read, but their sends answer 403 MEMBER_SILENCED, for ttl seconds (at most 24 h) " +
			"or until lifted. Needs a role above each target's (owner > manager > member). The other members get " +
			"membersmuted, the targets muted. Answers the silenced list.",
	}, []handlers.Code{c, notMember, forbidden, unsupported, handlers.CodeMemberLimit}, s.silenceMembers)
	register(s, huma.Operation{
		OperationID: "unsilenceMembers", Method: http.MethodPost, Path: "/v1/conversations/{id}/silenced/remove",
		Summary: "Lift members' silence", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Needs a role above each target's. The other members get membersunmuted, the targets unmuted.",
	}, []handlers.Code{c, notMember, forbidden, unsupported}, s.unsilenceMembers)
	register(s, huma.Operation{
		OperationID: "listSilenced", Method: http.MethodGet, Path: "/v1/conversations/{id}/silenced",
		Summary: "List silenced members", Tags: []string{tagConversations}, Security: sessionOrMaster,
	}, []handlers.Code{c, notMember, unsupported}, s.listSilenced)
	register(s, huma.Operation{
		OperationID: "blockClients", Method: http.MethodPost, Path: "/v1/conversations/{id}/blocked",
		Summary: "Block clients", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "Removes the clients (without kicked or membersleft) and keeps them out: joining or being added answers " +
			"403 CLIENT_BLOCKED until they are unblocked. Needs a role above each target's. The other members get " +
			"membersblocked, the targets blocked. Answers the blocked list.",
	}, []handlers.Code{c, notMember, forbidden, unsupported, handlers.CodeMemberLimit, handlers.CodeSignatureInvalid}, s.blockClients)
	register(s, huma.Operation{
		OperationID: "unblockClients", Method: http.MethodPost, Path: "/v1/conversations/{id}/blocked/remove",
		Summary: "Unblock clients", Tags: []string{tagConversations}, Security: sessionOrMaster,
		Description: "They may join or be added again. The other members get membersunblocked, the targets unblocked.",
	}, []handlers.Code{c, notMember, forbidden, unsupported, handlers.CodeSignatureInvalid}, s.unblockClients)
	register(s, huma.Operation{
		OperationID: "listBlocked", Method: http.MethodGet, Path: "/v1/conversations/{id}/blocked",
		Summary: "List blocked clients", Tags: []string{tagConversations}, Security: sessionOrMaster,
	}, []handlers.Code{c, notMember, unsupported}, s.listBlocked)
}

type membersOutput struct {
	Body struct {
		Members []handlers.MemberInfo `json:"members"`
	}
}

func (s *Server) listMembers(ctx context.Context, in *ConversationPath) (*membersOutput, error) {
	ms, err := s.opt.Service.ListMembers(ctx, principal(ctx), in.ID)
	out := &membersOutput{}
	out.Body.Members = ms
	return out, err
}

type setRoleInput struct {
	ConversationPath
	ClientID string `path:"clientId" maxLength:"256" doc:"The member" example:"Jerry"`
	Body     struct {
		Role string `json:"role" enum:"owner,manager,member" doc:"The new role" example:"manager"`
	}
}

type memberOutput struct {
	Body *handlers.MemberInfo
}

func (s *Server) setMemberRole(ctx context.Context, in *setRoleInput) (*memberOutput, error) {
	m, err := s.opt.Service.SetRole(ctx, principal(ctx), in.ID, in.ClientID, in.Body.Role)
	return &memberOutput{Body: m}, err
}

type clientListOutput struct {
	Body *handlers.ClientList
}

type silenceInput struct {
	ConversationPath
	Body handlers.SilenceRequest
}

type clientsInput struct {
	ConversationPath
	Body handlers.ClientsRequest
}

type listPageInput struct {
	ConversationPath
	After string `query:"after" maxLength:"256" doc:"The next of the previous page, to page on" example:"Mary"`
}

func (s *Server) silenceMembers(ctx context.Context, in *silenceInput) (*clientListOutput, error) {
	l, err := s.opt.Service.Silence(ctx, principal(ctx), in.ID, in.Body)
	return &clientListOutput{Body: l}, err
}

func (s *Server) unsilenceMembers(ctx context.Context, in *clientsInput) (*clientListOutput, error) {
	l, err := s.opt.Service.Unsilence(ctx, principal(ctx), in.ID, in.Body)
	return &clientListOutput{Body: l}, err
}

func (s *Server) listSilenced(ctx context.Context, in *listPageInput) (*clientListOutput, error) {
	l, err := s.opt.Service.ListSilenced(ctx, principal(ctx), in.ID, in.After)
	return &clientListOutput{Body: l}, err
}

func (s *Server) blockClients(ctx context.Context, in *clientsInput) (*clientListOutput, error) {
	l, err := s.opt.Service.Block(ctx, principal(ctx), in.ID, in.Body)
	return &clientListOutput{Body: l}, err
}

func (s *Server) unblockClients(ctx context.Context, in *clientsInput) (*clientListOutput, error) {
	l, err := s.opt.Service.Unblock(ctx, principal(ctx), in.ID, in.Body)
	return &clientListOutput{Body: l}, err
}

func (s *Server) listBlocked(ctx context.Context, in *listPageInput) (*clientListOutput, error) {
	l, err := s.opt.Service.ListBlocked(ctx, principal(ctx), in.ID, in.After)
	return &clientListOutput{Body: l}, err
}
