package handlers

import "github.com/parley-im/parley/store"

// Who may do what to a conversation, in one place (README, "Who may do
// what"; TestAuthorizationMatrix checks every operation against it): an
// operation asks may before it acts on a conversation, mayActOn before a
// member acts on another, and mayChangeMessage before a message is edited
// or recalled. What a caller may see of a conversation is accessTo's
// (access.go). A send applies may's membership rule from the writer's
// conversation cache instead (cachedAudience), since it reads nothing from
// the database, and the silence rule beside it (convState.silencedAt).

// action is something done to a conversation.
type action string

const (
	actUpdate        action = "update"  // rename, attributes
	actMute          action = "mute"    // mute or unmute one's offline push
	actAddMembers    action = "add"     // add members
	actRemoveMembers action = "remove"  // remove members (and then mayActOn)
	actQuit          action = "quit"    // leave
	actReadMarks     action = "read"    // mark read or delivered
	actChangeMsg     action = "message" // edit or recall a message (and then the sender's rule)
	actRoles         action = "roles"   // read or change roles, silences and blocks (and then mayActOn)
	actJoin          action = "join"    // join (and then mayJoin, for a normal conversation)
)

// who a rule lets in, among clients.
type who int

const (
	whoMembers         who = iota // members; for a chat room, its seated sessions
	whoCreatorOrSeated            // a chat room's creator, or its seated sessions
	whoAnyClient                  // every client the conversation does not block
)

// rule is one action's: the kinds it does not apply to (for everyone, the
// master key included), the master key's refusal ("" lets it), and which
// clients may.
type rule struct {
	unsupported map[string]string // kind → why not
	master      string            // why the master key may not ("": it may)
	clients     who               // which clients may (default: members)
	byKind      map[string]who    // clients, for a kind unlike the others
	noClients   map[string]string // kind → why no client may (the master key only)
}

var policy = map[action]rule{
	actUpdate: {
		unsupported: map[string]string{KindTemporary: "temporary conversations cannot be changed"},
		byKind:      map[string]who{KindChatRoom: whoCreatorOrSeated},
		noClients:   map[string]string{KindSystem: "system conversations are changed with the master key"},
	},
	actMute: {
		unsupported: map[string]string{KindTemporary: "temporary conversations cannot be muted", KindChatRoom: "chatroom conversations cannot be muted"},
		master:      "mute acts as a client: log in as one",
	},
	actAddMembers: {
		unsupported: notNormal("members cannot be added to a %s conversation"),
	},
	actRemoveMembers: {
		unsupported: notNormal("members cannot be removed from a %s conversation"),
	},
	actQuit:      {master: "quit acts as a client: log in as one"},
	actReadMarks: {master: "read and delivered act as a client: log in as one"},
	actChangeMsg: {},
	actRoles: {
		unsupported: map[string]string{KindSystem: "a system conversation has subscribers, not roles"},
	},
	actJoin: {
		unsupported: map[string]string{KindTemporary: "temporary conversations cannot be joined; their creator sets the members"},
		master:      "join acts as a client: log in as one",
		clients:     whoAnyClient,
	},
}

func rank(role string) int {
	switch role {
	case RoleOwner:
		return 3
	case RoleManager:
		return 2
	}
	return 1
}

// Actions on another member.
type memberAction int

const (
	actRemove memberAction = iota
	actSilence
	actBlock
	actSetRole
)

// mayActOn decides whether a caller with role actor may act on a member
// with role target: the master key may do everything; only the owner sets
// roles; nobody else removes the owner; removing, silencing and blocking
// need a role above the target's, except that two plain members may remove
// each other (as they always could).
func mayActOn(p Principal, actor, target string, act memberAction) bool {
	switch {
	case p.Master:
		return true
	case act == actSetRole:
		return actor == RoleOwner
	case target == RoleOwner:
		return false
	case act == actRemove && actor == RoleMember && target == RoleMember:
		return true
	}
	return rank(actor) > rank(target)
}

// notNormal refuses every kind but normal.
func notNormal(format string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{KindChatRoom, KindTemporary, KindSystem} {
		out[k] = fail(CodeOperationNotSupported, format, k).Detail
	}
	return out
}

// may decides whether p may do a to the conversation row; membership is
// read through r when it matters.
func (s *Service) may(r store.Reader, row *store.Conversation, p Principal, a action) error {
	rl := policy[a]
	if why, ok := rl.unsupported[row.Kind]; ok {
		return fail(CodeOperationNotSupported, "%s", why)
	}
	if p.Master {
		if rl.master != "" {
			return fail(CodeForbidden, "%s", rl.master)
		}
		return nil
	}
	if why, ok := rl.noClients[row.Kind]; ok {
		return fail(CodeForbidden, "%s", why)
	}
	clients := rl.clients
	if k, ok := rl.byKind[row.Kind]; ok {
		clients = k
	}
	switch {
	case clients == whoAnyClient:
		return checkNotBlocked(r, row.ID, []string{p.ClientID})
	case clients == whoCreatorOrSeated && row.Creator == p.ClientID:
		return nil
	case row.Kind == KindChatRoom:
		if !s.hub.InRoom(p.SessionID, row.ID) {
			return fail(CodeNotAMember, "join the chat room first")
		}
		return nil
	}
	return s.requireMember(r, row.ID, p)
}

// refuseMaster is may's answer to the master key, for operations that
// refuse it before they look the conversation up.
func refuseMaster(p Principal, a action) error {
	if why := policy[a].master; p.Master && why != "" {
		return fail(CodeForbidden, "%s", why)
	}
	return nil
}

// mayChangeMessage is who may change a message: only its sender edits it,
// and not once recalled; its sender or the master key recalls it.
func mayChangeMessage(p Principal, m *store.Message, edit bool) error {
	switch {
	case edit && m.From != p.ClientID:
		return fail(CodeForbidden, "only the sender may edit a message")
	case edit && m.Recalled:
		return fail(CodeForbidden, "a recalled message cannot be edited")
	case !edit && !p.Master && m.From != p.ClientID:
		return fail(CodeForbidden, "only the sender (or the master key) may recall a message")
	}
	return nil
}

// mayJoin decides whether p may make itself a member of the normal
// conversation row. A client must not walk into a conversation that no
// member and no backend let it into: a unique conversation is defined by
// its members, so it is never joined by anyone else; in jwt mode, where
// logins carry no conversation signatures, joining needs the backend's join
// signature all the same (signature mode checked it already). Open mode
// keeps LeanCloud's open groups. Joining again is no change, always allowed.
func (s *Service) mayJoin(tx *store.Tx, row *store.Conversation, p Principal, sig Signed) error {
	if ok, err := store.IsMember(bg, tx, row.ID, p.ClientID); err != nil || ok {
		return err
	}
	if row.Unique {
		return fail(CodeForbidden, "a unique conversation is defined by its members: it cannot be joined, only a member may add others")
	}
	if s.cfg.AuthMode != AuthJWT {
		return nil
	}
	nonce, err := s.checkSignature(sig, []string{"invite"}, s.cfg.AppID, p.ClientID, row.ID, p.ClientID)
	if err != nil {
		return err
	}
	return nonce.use(tx, s.nowMs())
}
