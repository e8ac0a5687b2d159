package lcapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/parley-im/parley/handlers"
)

// lcError is an answer in LeanCloud's error shape: `{code, error}` with an
// HTTP status (LEANCLOUD.md §1.1 "Error shape").
type lcError struct {
	Status  int    `json:"-"`
	Code    int    `json:"code"`
	Message string `json:"error"`
	AppCode *int   `json:"appCode,omitempty"`
}

var (
	errUnauthorized = &lcError{http.StatusUnauthorized, 401, "Unauthorized.", nil}
	// LeanCloud's wording for a master-key operation made with the app key
	// (its error 119, "That operation isn't allowed for clients.").
	errMasterRequired = &lcError{http.StatusUnauthorized, 119, "That operation isn't allowed for clients. The master key is required.", nil}
	errMalformedJSON  = &lcError{http.StatusBadRequest, 107, "Malformed json object. A json dictionary is expected.", nil}
	errInternal       = &lcError{http.StatusInternalServerError, 1, "Internal server error.", nil}
)

// CodeNotSupported answers every LeanCloud operation Parley does not
// serve: 4308 CONVERSATION_NOT_ALLOWED (LEANCLOUD.md §1.11), with HTTP
// 501, so that a backend never takes an unserved call for a success.
const CodeNotSupported = 4308

func notSupported(w http.ResponseWriter, r *http.Request) {
	writeError(w, &lcError{Status: http.StatusNotImplemented, Code: CodeNotSupported,
		Message: "Not supported by Parley: " + r.Method + " " + r.URL.Path})
}

func badRequest(msg string) *lcError {
	return &lcError{Status: http.StatusBadRequest, Code: 1, Message: msg}
}

// codes maps Parley's error codes (handlers.Code) to LeanCloud's numeric
// codes and HTTP statuses: one table, the codes from LEANCLOUD.md §1.11
// (LeanCloud's ERR page and JSRT src/error.js) and code 1, LeanCloud's
// "internal error or bad parameter" (ERR). LeanCloud documents IM errors
// as HTTP 4xx with the code in the body, 429 when rate-limited (§1.1).
var codes = map[handlers.Code]struct{ status, code int }{
	handlers.CodeInvalidRequest:        {http.StatusBadRequest, 1},
	handlers.CodeInvalidQuery:          {http.StatusBadRequest, 4310},             // CONVERSATION_QUERY_FAILED
	handlers.CodeUnauthorized:          {http.StatusUnauthorized, 401},            // as a bad X-LC-Key
	handlers.CodeSignatureInvalid:      {http.StatusBadRequest, 4302},             // CONVERSATION_SIGNATURE_FAILED
	handlers.CodeSessionConflict:       {http.StatusBadRequest, 4111},             // SESSION_CONFLICT
	handlers.CodeForbidden:             {http.StatusForbidden, 4320},              // CONVERSATION_OPERATION_UNAUTHORIZED
	handlers.CodeNotAMember:            {http.StatusBadRequest, 4317},             // CONVERSATION_MEMBERSHIP_REQUIRED
	handlers.CodeConversationNotFound:  {http.StatusBadRequest, 4401},             // INVALID_MESSAGING_TARGET
	handlers.CodeMessageNotFound:       {http.StatusBadRequest, 4404},             // MESSAGE_NOT_FOUND
	handlers.CodeOperationNotSupported: {http.StatusBadRequest, CodeNotSupported}, // CONVERSATION_NOT_ALLOWED
	handlers.CodeMemberLimit:           {http.StatusBadRequest, 4304},             // CONVERSATION_FULL
	handlers.CodeMessageTooLarge:       {http.StatusBadRequest, 4109},             // FRAME_TOO_LONG (> 5 KB)
	handlers.CodeRateLimited:           {http.StatusTooManyRequests, 4318},        // CONVERSATION_API_QUOTA_EXCEEDED
	handlers.CodeMemberSilenced:        {http.StatusBadRequest, 4315},             // CONVERSATION_TEMPORARY_BLACKLISTED
	handlers.CodeClientBlocked:         {http.StatusBadRequest, 4548},             // BLOCKED_BY_CONV
	handlers.CodeMessageRejected:       {http.StatusBadRequest, 4402},             // MESSAGE_REJECTED_BY_APP
	handlers.CodeOperationRejected:     {http.StatusBadRequest, 4305},             // CONVERSATION_REJECTED_BY_APP
	handlers.CodeHookFailed:            {http.StatusServiceUnavailable, 4301},     // CONVERSATION_API_FAILED
}

// fromError translates a handlers error; any other error is internal,
// logged by the caller and never shown.
func fromError(err error) (*lcError, bool) {
	var he *handlers.Error
	if !errors.As(err, &he) {
		return errInternal, false
	}
	c, ok := codes[he.Code]
	if !ok {
		return &lcError{Status: http.StatusBadRequest, Code: 1, Message: he.Detail, AppCode: he.AppCode}, true
	}
	return &lcError{Status: c.status, Code: c.code, Message: he.Detail, AppCode: he.AppCode}, true
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, known := fromError(err)
	if !known {
		a.opt.Log.Error("leancloud api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var he *handlers.Error
	if errors.As(err, &he) && he.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((he.RetryAfter+999_999_999)/1_000_000_000)))
	}
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *lcError) {
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":1,"error":"Internal server error."}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
