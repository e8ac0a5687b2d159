package events

// Name is an event's name, the event: field of its frame. The names below
// are every event a stream carries: the hub sends presence itself, the
// rules (handlers) and the stream writer (api) send the others, and the
// OpenAPI document lists each with its data (api/stream.go, eventTypes).
type Name string

// The stream's events.
const (
	NameHello                     Name = "hello"                     // opens every stream
	NameMessage                   Name = "message"                   // a message in a conversation of the client
	NameInvited                   Name = "invited"                   // the client was added to a conversation
	NameKicked                    Name = "kicked"                    // the client was removed from a conversation
	NameMembersJoined             Name = "membersjoined"             // members joined a conversation of the client
	NameMembersLeft               Name = "membersleft"               // members left a conversation of the client
	NameMessageRecall             Name = "messagerecall"             // a message was recalled
	NameMessageUpdate             Name = "messageupdate"             // a message was edited
	NameInfoUpdated               Name = "infoupdated"               // a conversation's name or attributes changed
	NameUnreadMessagesCountUpdate Name = "unreadmessagescountupdate" // unread counts
	NameLastDeliveredAtUpdate     Name = "lastdeliveredatupdate"     // one-to-one: the other member received
	NameLastReadAtUpdate          Name = "lastreadatupdate"          // one-to-one: the other member read
	NamePresence                  Name = "presence"                  // a watched client came online or went offline
	NameConflict                  Name = "conflict"                  // the session was replaced; the stream closes
	NameReset                     Name = "reset"                     // the stream cannot replay what was missed
	NameMemberInfoUpdated         Name = "memberinfoupdated"         // a member's role changed
	NameMembersMuted              Name = "membersmuted"              // members were silenced (to the others)
	NameMembersUnmuted            Name = "membersunmuted"            // members' silence was lifted (to the others)
	NameMuted                     Name = "muted"                     // the client was silenced
	NameUnmuted                   Name = "unmuted"                   // the client's silence was lifted
	NameMembersBlocked            Name = "membersblocked"            // clients were blocked (to the others)
	NameMembersUnblocked          Name = "membersunblocked"          // clients were unblocked (to the others)
	NameBlocked                   Name = "blocked"                   // the client was blocked (and removed)
	NameUnblocked                 Name = "unblocked"                 // the client was unblocked
)
