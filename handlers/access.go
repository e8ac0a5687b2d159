package handlers

import "github.com/parley-im/parley/store"

// access is what a caller may see of a conversation. accessTo is the one
// place that decides it, for every read path: getting a conversation,
// querying conversations, history, unread counts and read positions.
//
// The rule: message content (history, lastMessage) only of conversations
// the caller may read — as a member, a seated session of a chat room, or a
// subscriber of a system conversation (there only the backend's messages
// and its own); member lists, muted members and the other member's read
// positions only of normal and temporary conversations the caller is a
// member of, so that nobody learns who talks to whom. The master key sees
// everything.
type access struct {
	messages bool // message content: lastMessage, history
	members  bool // member list, muted members, read positions of others
}

// accessTo says what p may see of the conversation row; member says whether
// p's client is in its member list (for a system conversation: subscribed).
func (s *Service) accessTo(row *store.Conversation, member bool, p Principal) access {
	switch {
	case p.Master:
		return access{messages: true, members: true}
	case row.Kind == KindChatRoom:
		return access{messages: s.hub.InRoom(p.SessionID, row.ID)}
	case row.Kind == KindSystem:
		return access{messages: member}
	}
	return access{messages: member, members: member}
}

// sees reports whether p may see message m at all: a private message (a
// subscriber's to a system conversation) is for its sender and the backend
// only, and to anyone else it is as if it did not exist.
func sees(p Principal, m *store.Message) bool {
	return !m.Private || p.Master || m.From == p.ClientID
}

// viewerOf is the clientId whose view of a conversation's messages a read
// takes: "" for the master key (everything).
func viewerOf(p Principal) string {
	if p.Master {
		return ""
	}
	return p.ClientID
}
