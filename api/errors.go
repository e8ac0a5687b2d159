package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/parley-im/parley/handlers"
)

// Problem is an RFC 9457 problem document with the contract's stable code.
type Problem struct {
	Type    string              `json:"type,omitempty" doc:"A URI naming the problem type" example:"about:blank"`
	Title   string              `json:"title" doc:"Short summary of the status" example:"Bad Request"`
	Status  int                 `json:"status" doc:"HTTP status" example:"400"`
	Code    handlers.Code       `json:"code" enum:"INVALID_REQUEST,INVALID_QUERY,UNAUTHORIZED,SIGNATURE_INVALID,SESSION_CONFLICT,FORBIDDEN,NOT_A_MEMBER,CONVERSATION_NOT_FOUND,MESSAGE_NOT_FOUND,OPERATION_NOT_SUPPORTED,MEMBER_LIMIT,MESSAGE_TOO_LARGE,FILE_TOO_LARGE,FILE_NOT_FOUND,RATE_LIMITED,MESSAGE_REJECTED,OPERATION_REJECTED,HOOK_FAILED,MEMBER_SILENCED,CLIENT_BLOCKED,INTERNAL_ERROR,SERVICE_UNAVAILABLE" doc:"Stable error code" example:"INVALID_REQUEST"`
	Detail  string              `json:"detail,omitempty" doc:"What went wrong, for people" example:"text: required for a text message (type -1)"`
	AppCode *int                `json:"appCode,omitempty" doc:"MESSAGE_REJECTED, OPERATION_REJECTED: the code the app's hook gave with its refusal, if any"`
	Errors  []*huma.ErrorDetail `json:"errors,omitempty" doc:"Where the request failed validation"`

	retryAfter time.Duration // Retry-After, when set
}

// Codes beyond the contract's, for failures that are the server's own.
const (
	codeInternal    handlers.Code = "INTERNAL_ERROR"
	codeUnavailable handlers.Code = "SERVICE_UNAVAILABLE"
)

func (p *Problem) Error() string             { return string(p.Code) + ": " + p.Detail }
func (p *Problem) GetStatus() int            { return p.Status }
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// GetHeaders gives a 401 the challenge RFC 9110 requires of it, whichever
// code says why (a bad token, a bad signature), and a problem that says
// when to retry its Retry-After (whole seconds, rounded up).
func (p *Problem) GetHeaders() http.Header {
	var h http.Header
	if p.Status == http.StatusUnauthorized {
		h = http.Header{"WWW-Authenticate": {`Bearer realm="parley"`}}
	}
	if p.retryAfter > 0 {
		if h == nil {
			h = http.Header{}
		}
		h.Set("Retry-After", p.retryAfterHeader())
	}
	return h
}

// retryAfterHeader is Retry-After in whole seconds, rounded up.
func (p *Problem) retryAfterHeader() string {
	return strconv.FormatInt(int64((p.retryAfter+time.Second-1)/time.Second), 10)
}

// problemWriter is where writeProblem writes: a huma.Context, or an
// http.ResponseWriter as a responseWriter.
type problemWriter interface {
	SetHeader(name, value string)
	SetStatus(code int)
	BodyWriter() io.Writer
}

// writeProblem answers p: its headers (GetHeaders), its type, its status
// and its JSON, as huma writes the problems operations return. Every
// problem the API writes itself goes through here: the middlewares'
// (authentication, the send's fast path), the router's (404, 405), a
// panic's and /readyz's.
func writeProblem(w problemWriter, p *Problem) {
	for k, v := range p.GetHeaders() {
		w.SetHeader(k, v[0])
	}
	w.SetHeader("Content-Type", "application/problem+json")
	w.SetStatus(p.Status)
	marshalJSON(w.BodyWriter(), p)
}

// responseWriter is an http.ResponseWriter as a problemWriter.
type responseWriter struct{ http.ResponseWriter }

func (w responseWriter) SetHeader(name, value string) { w.Header().Set(name, value) }
func (w responseWriter) SetStatus(code int)           { w.WriteHeader(code) }
func (w responseWriter) BodyWriter() io.Writer        { return w.ResponseWriter }

func newProblem(status int, code handlers.Code, detail string) *Problem {
	return &Problem{Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// statusOf maps each code to its HTTP status (README, "Errors").
var statusOf = map[handlers.Code]int{
	handlers.CodeInvalidRequest:        http.StatusBadRequest,
	handlers.CodeInvalidQuery:          http.StatusBadRequest,
	handlers.CodeUnauthorized:          http.StatusUnauthorized,
	handlers.CodeSignatureInvalid:      http.StatusUnauthorized,
	handlers.CodeSessionConflict:       http.StatusUnauthorized,
	handlers.CodeForbidden:             http.StatusForbidden,
	handlers.CodeNotAMember:            http.StatusForbidden,
	handlers.CodeConversationNotFound:  http.StatusNotFound,
	handlers.CodeMessageNotFound:       http.StatusNotFound,
	handlers.CodeOperationNotSupported: http.StatusConflict,
	handlers.CodeMemberLimit:           http.StatusConflict,
	handlers.CodeMessageTooLarge:       http.StatusRequestEntityTooLarge,
	handlers.CodeFileTooLarge:          http.StatusRequestEntityTooLarge,
	handlers.CodeFileNotFound:          http.StatusNotFound,
	handlers.CodeRateLimited:           http.StatusTooManyRequests,
	handlers.CodeMemberSilenced:        http.StatusForbidden,
	handlers.CodeClientBlocked:         http.StatusForbidden,
	handlers.CodeMessageRejected:       http.StatusForbidden,
	handlers.CodeOperationRejected:     http.StatusForbidden,
	handlers.CodeHookFailed:            http.StatusServiceUnavailable,
	codeInternal:                       http.StatusInternalServerError,
	codeUnavailable:                    http.StatusServiceUnavailable,
}

// codeForStatus names the problems huma raises itself (unparsable bodies,
// schema violations, oversized bodies).
func codeForStatus(status int) handlers.Code {
	switch status {
	case http.StatusUnauthorized:
		return handlers.CodeUnauthorized
	case http.StatusForbidden:
		return handlers.CodeForbidden
	case http.StatusRequestEntityTooLarge:
		return handlers.CodeMessageTooLarge
	case http.StatusTooManyRequests:
		return handlers.CodeRateLimited
	case http.StatusServiceUnavailable:
		return codeUnavailable
	}
	if status >= 500 {
		return codeInternal
	}
	return handlers.CodeInvalidRequest
}

func init() {
	// Every error huma writes goes through here: give it the contract's shape.
	// Schema violations are the client's bad input, so 400 rather than 422.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		for _, err := range errs {
			var he *handlers.Error
			if errors.As(err, &he) {
				return fromRule(he)
			}
		}
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		p := newProblem(status, codeForStatus(status), msg)
		if status >= 500 {
			p.Detail = "the server failed; the error was logged"
			return p
		}
		for _, err := range errs {
			if err == nil {
				continue
			}
			if d, ok := err.(huma.ErrorDetailer); ok {
				p.Errors = append(p.Errors, d.ErrorDetail())
			} else {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
			}
		}
		if len(p.Errors) > 0 && (msg == "validation failed" || msg == "") {
			p.Detail = "validation failed: " + p.Errors[0].Error()
		}
		return p
	}
}

func fromRule(e *handlers.Error) *Problem {
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusBadRequest
	}
	p := newProblem(status, e.Code, e.Detail)
	p.retryAfter, p.AppCode = e.RetryAfter, e.AppCode
	return p
}

// diskFull is the answer to a write the full disk refused.
func diskFull() *Problem {
	p := newProblem(http.StatusServiceUnavailable, codeUnavailable, "the server's disk is full; retry later")
	p.retryAfter = handlers.DiskFullRetry
	return p
}

// fault turns an error from the rules into what the client sees: a rule
// violation as it is, a write refused by a full disk as a 503 to retry,
// anything else as a logged, detail-free 500 (or 503 while shutting down).
func fault(ctx context.Context, log *slog.Logger, err error) error {
	var he *handlers.Error
	if errors.As(err, &he) {
		return fromRule(he)
	}
	var p *Problem
	if errors.As(err, &p) { // a problem made here, in the HTTP layer
		return p
	}
	if handlers.IsDiskFull(err) {
		log.WarnContext(ctx, "a write failed: the disk is full", "err", err)
		return diskFull()
	}
	if handlers.IsUnavailable(err) {
		return newProblem(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down; retry")
	}
	if errors.Is(err, context.Canceled) {
		return newProblem(http.StatusServiceUnavailable, codeUnavailable, "the request was cancelled")
	}
	log.ErrorContext(ctx, "request failed", "err", err)
	return newProblem(http.StatusInternalServerError, codeInternal, "the server failed; the error was logged")
}
