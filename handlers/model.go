package handlers

import (
	"encoding/json"
	"errors"
)

// The objects of the contract, as they travel in JSON. The doc and example
// tags feed the generated OpenAPI document.

// Conversation is a conversation as one caller sees it.
type Conversation struct {
	ID              string         `json:"id" doc:"Conversation id; temporary ones start with _tmp:" example:"6v1ofs2k0ha2e4ktl0s0"`
	Kind            string         `json:"kind" enum:"normal,chatroom,temporary,system" doc:"Conversation kind" example:"normal"`
	Name            string         `json:"name" doc:"Display name" example:"Tom & Jerry"`
	Creator         string         `json:"creator" doc:"clientId of the creator (empty when created with the master key)" example:"Tom"`
	Members         []string       `json:"members,omitempty" doc:"clientIds of the members. Absent for chat rooms, in compact queries (compact=true: absent, where LeanCloud returns an empty list), and where the caller may not see them (a conversation it is not a member of)" example:"[\"Tom\",\"Jerry\"]"`
	MutedMembers    []string       `json:"mutedMembers,omitempty" doc:"Members who muted the conversation. Absent when none did, and wherever members is absent (compact queries included)"`
	Muted           bool           `json:"muted" doc:"Whether the caller muted the conversation"`
	Attributes      map[string]any `json:"attributes" doc:"Custom attributes"`
	Unique          bool           `json:"unique" doc:"Created as the unique conversation of its member set"`
	CreatedAt       int64          `json:"createdAt" doc:"Milliseconds since the Unix epoch" example:"1795449600000"`
	UpdatedAt       int64          `json:"updatedAt" doc:"Milliseconds since the Unix epoch" example:"1795449600000"`
	LastMessageAt   *int64         `json:"lastMessageAt,omitempty" doc:"Time of the newest message, ms since the Unix epoch" example:"1795449600000"`
	LastMessage     *Message       `json:"lastMessage,omitempty" doc:"The newest message, when asked for"`
	UnreadCount     *int64         `json:"unreadMessagesCount,omitempty" doc:"Unread messages of a member caller"`
	LastDeliveredAt *int64         `json:"lastDeliveredAt,omitempty" doc:"One-to-one (a normal or temporary conversation of two members): how far the other member has received"`
	LastReadAt      *int64         `json:"lastReadAt,omitempty" doc:"One-to-one (a normal or temporary conversation of two members): how far the other member has read"`
	TTL             *int64         `json:"ttl,omitempty" doc:"Temporary conversations: time to live in seconds"`
	ExpiresAt       *int64         `json:"expiresAt,omitempty" doc:"Temporary conversations: expiry, ms since the Unix epoch"`
	// storedAttributes, when set, are the attributes as stored (JSON), written
	// instead of Attributes.
	storedAttributes json.RawMessage
}

// File is a file attached to an image, audio, video or file message.
type File struct {
	URL      string         `json:"url" maxLength:"2048" doc:"An absolute http(s) address of the file, or the url returned by POST /v1/files (/v1/files/{id}); no backslashes, white space, control or format characters" example:"https://example.com/cat.png"`
	Name     string         `json:"name,omitempty" maxLength:"256" doc:"File name" example:"cat.png"`
	MimeType string         `json:"mimeType,omitempty" maxLength:"128" doc:"Media type" example:"image/png"`
	Size     int64          `json:"size,omitempty" minimum:"0" doc:"Size in bytes" example:"20480"`
	MetaData map[string]any `json:"metaData,omitempty" doc:"width and height of images, duration of audio and video"`
	ObjID    string         `json:"objId,omitempty" maxLength:"128" doc:"objectId of the file in LeanCloud's _File class, kept from imported LeanCloud messages" example:"54699d87e4b0a56c64f470a4"`
}

// Location is a point on Earth.
type Location struct {
	Latitude  float64 `json:"latitude" minimum:"-90" maximum:"90" doc:"Degrees north" example:"31.2304"`
	Longitude float64 `json:"longitude" minimum:"-180" maximum:"180" doc:"Degrees east" example:"121.4737"`
}

// UnmarshalJSON requires both coordinates: a missing one is not 0.
func (l *Location) UnmarshalJSON(b []byte) error {
	var raw struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Latitude == nil || raw.Longitude == nil {
		return errors.New("location: latitude and longitude are required")
	}
	l.Latitude, l.Longitude = *raw.Latitude, *raw.Longitude
	return nil
}

// Message types (Content.Type) of the contract. Positive types are the
// application's own; an untyped message (no type) carries data.
const (
	TypeText     = -1 // needs text
	TypeImage    = -2 // needs file.url, as audio, video and file do
	TypeAudio    = -3
	TypeVideo    = -4
	TypeLocation = -5 // needs location
	TypeFile     = -6
)

// Content is what a message says: the fields a sender writes, shared by
// sending and editing.
type Content struct {
	Type        *int           `json:"type,omitempty" doc:"-1 text, -2 image, -3 audio, -4 video, -5 location, -6 file, positive: application type; absent: an untyped message carrying data" example:"-1"`
	Data        *string        `json:"data,omitempty" doc:"Opaque content of an untyped message (no type)"`
	Text        string         `json:"text,omitempty" doc:"Text (required for type -1; a caption otherwise)" example:"Hello Jerry!"`
	Attributes  map[string]any `json:"attributes,omitempty" doc:"Custom attributes of the message"`
	File        *File          `json:"file,omitempty" doc:"The file of image, audio, video and file messages"`
	Location    *Location      `json:"location,omitempty" doc:"The point of a location message"`
	Fields      map[string]any `json:"fields,omitempty" doc:"Fields of an application (positive) type"`
	MentionList []string       `json:"mentionList,omitempty" maxItems:"500" doc:"clientIds mentioned, each 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters"`
	MentionAll  bool           `json:"mentionAll,omitempty" doc:"Whether everyone is mentioned"`
}

// Message is a message as stored and delivered.
type Message struct {
	ID             string `json:"id" doc:"Message id; ids sort in send order within a conversation" example:"1kb0p2qk000"`
	ConversationID string `json:"conversationId" example:"6v1ofs2k0ha2e4ktl0s0"`
	From           string `json:"from" doc:"clientId of the sender" example:"Tom"`
	Content
	Timestamp       int64  `json:"timestamp" doc:"Send time, ms since the Unix epoch" example:"1795449600000"`
	PatchedAt       *int64 `json:"patchedAt,omitempty" doc:"Time of the last edit"`
	Recalled        bool   `json:"recalled,omitempty" doc:"The sender recalled the message; its content is gone"`
	Transient       bool   `json:"transient,omitempty" doc:"Delivered to online members only and never stored"`
	Priority        string `json:"priority,omitempty" enum:"high,normal,low" doc:"Chat-room delivery priority"`
	ClientMessageID string `json:"clientMessageId,omitempty" doc:"The sender's idempotency key"`
}

// Event data of the event stream.

// MessageEvent is the data of a message event.
type MessageEvent struct {
	ConversationID string   `json:"conversationId"`
	Message        *Message `json:"message"`
	Mentioned      bool     `json:"mentioned" doc:"Whether the message mentions the recipient"`
	Offline        bool     `json:"offline" doc:"Delivered when the stream opened, as an offline message"`
}

// InvitedEvent tells a client it was added to a conversation.
type InvitedEvent struct {
	ConversationID string `json:"conversationId"`
	InvitedBy      string `json:"invitedBy"`
}

// KickedEvent tells a client it was removed from a conversation.
type KickedEvent struct {
	ConversationID string `json:"conversationId"`
	KickedBy       string `json:"kickedBy"`
}

// MembersJoinedEvent tells members who joined.
type MembersJoinedEvent struct {
	ConversationID string   `json:"conversationId"`
	Members        []string `json:"members"`
	InvitedBy      string   `json:"invitedBy"`
}

// MembersLeftEvent tells members who left.
type MembersLeftEvent struct {
	ConversationID string   `json:"conversationId"`
	Members        []string `json:"members"`
	KickedBy       string   `json:"kickedBy"`
}

// HelloEvent opens every stream.
type HelloEvent struct {
	SessionID  string `json:"sessionId"`
	ClientID   string `json:"clientId"`
	ServerTime int64  `json:"serverTime"`
	Resumed    bool   `json:"resumed" doc:"The stream resumed after Last-Event-ID and replays what was missed"`
}

// ReasonEvent is the data of conflict and reset events.
type ReasonEvent struct {
	Reason string `json:"reason"`
}
