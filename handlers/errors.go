package handlers

import (
	"fmt"
	"time"
)

// Code is the stable error code clients branch on (README, "Errors"; the
// OpenAPI document lists each operation's).
type Code string

// The contract's error codes.
const (
	CodeInvalidRequest        Code = "INVALID_REQUEST"
	CodeInvalidQuery          Code = "INVALID_QUERY"
	CodeUnauthorized          Code = "UNAUTHORIZED"
	CodeSignatureInvalid      Code = "SIGNATURE_INVALID"
	CodeSessionConflict       Code = "SESSION_CONFLICT"
	CodeForbidden             Code = "FORBIDDEN"
	CodeNotAMember            Code = "NOT_A_MEMBER"
	CodeConversationNotFound  Code = "CONVERSATION_NOT_FOUND"
	CodeMessageNotFound       Code = "MESSAGE_NOT_FOUND"
	CodeOperationNotSupported Code = "OPERATION_NOT_SUPPORTED"
	CodeMemberLimit           Code = "MEMBER_LIMIT"
	CodeMessageTooLarge       Code = "MESSAGE_TOO_LARGE"
	CodeRateLimited           Code = "RATE_LIMITED"
	CodeMemberSilenced        Code = "MEMBER_SILENCED" // a silenced member sends
	CodeClientBlocked         Code = "CLIENT_BLOCKED"  // a blocked client joins or is added
	// The app's hooks (README, "Hooks").
	CodeMessageRejected   Code = "MESSAGE_REJECTED"   // _messageReceived or _messageUpdate dropped it
	CodeOperationRejected Code = "OPERATION_REJECTED" // a conversation hook rejected it
	CodeHookFailed        Code = "HOOK_FAILED"        // a before-hook failed and hooks fail closed
)

// Error is a rule violation to report to the client as it is. Any other
// error a handler returns is internal: logged, never shown.
type Error struct {
	Code   Code
	Detail string
	// RetryAfter, when set, says when to try again (RATE_LIMITED: Retry-After).
	RetryAfter time.Duration
	// AppCode is the code a hook gave with its refusal (MESSAGE_REJECTED,
	// OPERATION_REJECTED), if it gave one.
	AppCode *int
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Detail }

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

var (
	errConversationNotFound = fail(CodeConversationNotFound, "no such conversation")
	errNotAMember           = fail(CodeNotAMember, "you are not a member of this conversation")
	errUnauthorized         = fail(CodeUnauthorized, "missing, invalid or expired credentials")
	errNameControl          = fail(CodeInvalidRequest, "name: control characters (NUL, line breaks, tabs…) are not allowed in a conversation name")
)
