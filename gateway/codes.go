package gateway

import (
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/handlers"
)

// LeanCloud's realtime error codes (LEANCLOUD.md §1.11) that the gateway
// answers with.
const (
	CodeSignatureFailed     int32 = 4102
	CodeInvalidLogin        int32 = 4103
	CodeSessionRequired     int32 = 4105
	CodeFrameTooLong        int32 = 4109 // a message's content is too large
	CodeSessionConflict     int32 = 4111 // session/closed: a newer login with the same tag
	CodeSessionTokenExpired int32 = 4112
	CodeAppQuotaExceeded    int32 = 4113
	CodeUnparseable         int32 = 4114 // UNPARSEABLE_RAW_MESSAGE
	CodeKickedByApp         int32 = 4115 // session/closed: the master key ended the session
	// CodeInternal (INTERNAL_ERROR) also answers the commands this server
	// does not serve yet, the reason naming the command.
	CodeInternal                  int32 = 4200
	CodeConversationAPIFailed     int32 = 4301 // also a malformed conv command, the reason saying what
	CodeConversationSignature     int32 = 4302 // CONVERSATION_SIGNATURE_FAILED
	CodeConversationNotFound      int32 = 4303
	CodeConversationFull          int32 = 4304
	CodeConversationRejectedByApp int32 = 4305
	// CodeConversationNotAllowed (CONVERSATION_NOT_ALLOWED) answers an
	// operation this kind of conversation does not allow, and what Parley
	// does not serve (the reason says which).
	CodeConversationNotAllowed       int32 = 4308
	CodeConversationQueryFailed      int32 = 4310
	CodeConversationMembershipNeeded int32 = 4317
	CodeConversationUnauthorized     int32 = 4320
	CodeUnknownConversationRole      int32 = 4321
	CodeInvalidMessagingTarget       int32 = 4401 // no such conversation, or not a member of it
	CodeMessageRejectedByApp         int32 = 4402
	CodeMessageOwnershipRequired     int32 = 4403 // editing or recalling another's message
	CodeMessageNotFound              int32 = 4404
	CodeBlacklistFull                int32 = 4543
	CodeBlacklistSignature           int32 = 4546 // BLACKLIST_SIGNATURE_FAILED
	CodeMessageUpdateRejectedByApp   int32 = 4405
	CodeBlockedByConv                int32 = 4548
	CodeSilencedListFull             int32 = 4561 // SILIENCED_MEMBER_LIST_FULL
	CodeSilenced                     int32 = 4563
)

// serviceIM is GenericCommand.service for instant messaging (the Swift SDK
// routes pushes by it).
const serviceIM = 2

// errorCode is the LeanCloud code closest to a rule's refusal.
func errorCode(c handlers.Code) int32 {
	switch c {
	case handlers.CodeSignatureInvalid:
		return CodeSignatureFailed
	case handlers.CodeUnauthorized:
		return CodeSessionTokenExpired
	case handlers.CodeRateLimited:
		return CodeAppQuotaExceeded
	case handlers.CodeConversationNotFound:
		return CodeConversationNotFound
	case handlers.CodeNotAMember:
		return CodeConversationMembershipNeeded
	case handlers.CodeForbidden:
		return CodeConversationUnauthorized
	case handlers.CodeMemberLimit:
		return CodeConversationFull
	case handlers.CodeMessageNotFound:
		return CodeMessageNotFound
	case handlers.CodeMessageRejected:
		return CodeMessageRejectedByApp
	case handlers.CodeOperationRejected:
		return CodeConversationRejectedByApp
	case handlers.CodeClientBlocked:
		return CodeBlockedByConv
	case handlers.CodeMemberSilenced:
		return CodeSilenced
	}
	return CodeConversationAPIFailed // the detail says what was refused
}

// sendCode maps a send's refusals (ack's code): LeanCloud answers a send to
// a conversation that does not exist, or whose member the sender is not,
// with INVALID_MESSAGING_TARGET.
func sendCode(c handlers.Code) int32 {
	switch c {
	case handlers.CodeConversationNotFound, handlers.CodeNotAMember:
		return CodeInvalidMessagingTarget
	case handlers.CodeMessageTooLarge:
		return CodeFrameTooLong
	}
	return 0
}

// patchCode maps the refusals of an edit or a recall (patch/modify).
func patchCode(c handlers.Code) int32 {
	switch c {
	case handlers.CodeForbidden:
		return CodeMessageOwnershipRequired
	case handlers.CodeMessageRejected:
		return CodeMessageUpdateRejectedByApp
	case handlers.CodeMessageTooLarge:
		return CodeFrameTooLong
	}
	return 0
}

// loginCode maps a login's refusals: a malformed clientId or tag is an
// invalid login, any refused credential a failed signature.
func loginCode(c handlers.Code) int32 {
	switch c {
	case handlers.CodeInvalidRequest:
		return CodeInvalidLogin
	case handlers.CodeSignatureInvalid, handlers.CodeUnauthorized, handlers.CodeForbidden:
		return CodeSignatureFailed
	}
	return 0
}

// tokenExpiry reads the expiry of a session token the rules issued (and
// have just checked or made): what session/opened's stTtl counts down.
func tokenExpiry(token string) (time.Time, bool) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}, false
	}
	return claims.ExpiresAt.Time, true
}

// convCode maps the refusals particular to conversation commands:
// LeanCloud has codes of their own for a conversation's signature, a
// query and an operation the conversation does not allow.
func convCode(c handlers.Code) int32 {
	switch c {
	case handlers.CodeSignatureInvalid:
		return CodeConversationSignature
	case handlers.CodeInvalidQuery:
		return CodeConversationQueryFailed
	case handlers.CodeOperationNotSupported:
		return CodeConversationNotAllowed
	}
	return 0
}

// shutupCode maps the refusals of silencing members: a full list of
// silenced members has its own code.
func shutupCode(c handlers.Code) int32 {
	if c == handlers.CodeMemberLimit {
		return CodeSilencedListFull
	}
	return convCode(c)
}

// blacklistCode maps the refusals of blacklist commands, whose signature
// and full list have codes of their own.
func blacklistCode(c handlers.Code) int32 {
	switch c {
	case handlers.CodeSignatureInvalid:
		return CodeBlacklistSignature
	case handlers.CodeMemberLimit:
		return CodeBlacklistFull
	}
	return convCode(c)
}

// codeOf is the LeanCloud code of a refusal: special's (a command's own
// mapping) if it has one, else the general one.
func codeOf(c handlers.Code, special func(handlers.Code) int32) int32 {
	if special != nil {
		if n := special(c); n != 0 {
			return n
		}
	}
	return errorCode(c)
}
