package lcapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
)

// The routes of §1.2 beyond its core, and of §1.3 and §1.4, by prefix.

// conversationRoutes are /1.2/rtm/conversations' rows 4, 7–10 and 13–27
// (LEANCLOUD.md §1.2).
func (a *API) conversationRoutes(r chi.Router) {
	r.Delete("/{id}", a.deleteConversation)
	r.Get("/{id}/members", a.listMembers)
	r.Post("/{id}/mutes", a.mute)
	r.Delete("/{id}/mutes", a.unmute)
	r.Get("/{id}/mutes", a.listMutes)
	a.messageChangeRoutes(r)
	a.roleRoutes(r)
}

// messageChangeRoutes modify, recall and delete one message (rows 13–15).
func (a *API) messageChangeRoutes(r chi.Router) {
	r.Put("/{id}/messages/{mid}", a.modifyMessage)
	r.Put("/{id}/messages/{mid}/recall", a.recallMessage)
	r.Delete("/{id}/messages/{mid}", a.deleteMessage)
}

// roleRoutes are silences, member roles and blacklists (rows 16–27), the
// same for conversations and chat rooms.
func (a *API) roleRoutes(r chi.Router) {
	r.Post("/{id}/temporary-silenceds", a.silenceFor)
	r.Delete("/{id}/temporary-silenceds", a.unsilenceOne)
	r.Post("/{id}/member-infos", a.addMemberInfo)
	r.Get("/{id}/member-infos", a.listMemberInfos)
	r.Put("/{id}/member-infos/{info}", a.updateMemberInfo)
	r.Delete("/{id}/member-infos/{info}", a.deleteMemberInfo)
	r.Post("/{id}/permanent-silenceds", a.withClientIDs(a.silence, codeSilencedListFull))
	r.Delete("/{id}/permanent-silenceds", a.withClientIDs(a.unsilence, codeSilencedListFull))
	r.Get("/{id}/permanent-silenceds", a.listClients(a.silencedPage))
	r.Post("/{id}/blacklists", a.withClientIDs(a.block, codeBlacklistFull))
	r.Delete("/{id}/blacklists", a.withClientIDs(a.unblock, codeBlacklistFull))
	r.Get("/{id}/blacklists", a.listClients(a.blockedPage))
}

// chatrooms is /1.2/rtm/chatrooms (§1.3).
func (a *API) chatrooms(r chi.Router) {
	r.Use(masterOnly, a.onlyKinds(chatRoomKinds))
	r.Post("/", a.createOf(handlers.KindChatRoom))
	r.Get("/", a.queryOf("tr"))
	r.Get("/{id}", a.getConversation)
	r.Put("/{id}", a.updateConversation)
	r.Delete("/{id}", a.deleteConversation)
	r.Get("/{id}/members", a.onlineMembers)
	r.Get("/{id}/members/online-count", a.onlineCount)
	r.Post("/{id}/messages", a.sendMessage)
	r.Get("/{id}/messages", a.history)
	a.messageChangeRoutes(r)
	a.roleRoutes(r)
	r.NotFound(notSupported)
	r.MethodNotAllowed(notSupported)
}

// serviceConversations is /1.2/rtm/service-conversations (§1.4).
func (a *API) serviceConversations(r chi.Router) {
	r.Use(masterOnly, a.onlyKinds(systemKinds))
	r.Post("/", a.createOf(handlers.KindSystem))
	r.Get("/", a.queryOf("sys"))
	r.Get("/{id}", a.getConversation)
	r.Put("/{id}", a.updateConversation)
	r.Delete("/{id}", a.deleteConversation)
	r.Post("/{id}/subscribers", a.subscribe)
	r.Delete("/{id}/subscribers/{client}", a.unsubscribe)
	r.Get("/{id}/subscribers", a.listSubscribers)
	r.Get("/{id}/subscribers/count", a.countSubscribers)
	r.Post("/{id}/broadcasts", a.broadcast)
	r.Put("/{id}/messages/{mid}", a.modifyMessage)
	r.Put("/{id}/messages/{mid}/recall", a.recallMessage)
	r.Post("/{id}/messages", unsupported("messages to some subscribers only (to_clients)"))
	r.Delete("/{id}/subscribers/{client}/messages/{mid}", unsupported("deleting a message to some subscribers only"))
	r.Get("/{id}/subscribers/{client}/messages", a.subscriberHistory)
	r.Post("/{id}/blacklists", unsupported("blacklists of service conversations"))
	r.Delete("/{id}/blacklists", unsupported("blacklists of service conversations"))
	r.Get("/{id}/blacklists", unsupported("blacklists of service conversations"))
	r.NotFound(notSupported)
	r.MethodNotAllowed(notSupported)
}

// unsupported answers notSupported naming the feature.
func unsupported(feature string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported, Message: "Not supported by Parley: " + feature})
	}
}
