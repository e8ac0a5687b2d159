package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/handlers"
)

// Limits of the sendMessage operation, as huma applies them to it.
const (
	sendMaxBody     = 1 << 20 // huma's default MaxBodyBytes
	sendBodyTimeout = 5 * time.Second
	sendPathPrefix  = "/v1/conversations/"
	sendPathSuffix  = "/messages"
)

// fastSend serves the common case of sendMessage — a session sending a
// well-formed body, no browser origin — without huma's request machinery,
// which cost a send 4 µs of the server's 56 µs of CPU (7 %). It answers
// exactly as the operation does: the same service call, status, headers and
// JSON (TestFastSendAnswersAsTheOperation).
//
// Anything else it hands over untouched, body included, by returning false
// before the service is called: a request with an error of its own (token,
// body, id) gets huma's answer, and a cross-origin one the CORS headers.
func (s *Server) fastSend(w http.ResponseWriter, r *http.Request) (served bool) {
	defer func() {
		if v := recover(); v != nil {
			answerPanic(s.opt.Log, w, r, v)
			served = true
		}
	}()
	if r.Method != http.MethodPost || s.opt.Service == nil || r.URL.RawPath != "" ||
		!strings.HasPrefix(r.URL.Path, sendPathPrefix) || !strings.HasSuffix(r.URL.Path, sendPathSuffix) {
		return false
	}
	setAPIHeaders(w.Header()) // as the router's apiHeaders does; harmless if handed over
	id := r.URL.Path[len(sendPathPrefix):max(len(sendPathPrefix), len(r.URL.Path)-len(sendPathSuffix))]
	if id == "" || len(id) > 128 || strings.Contains(id, "/") {
		return false
	}
	h := r.Header
	auth := h.Get("Authorization")
	if len(auth) <= 7 || !strings.EqualFold(auth[:7], "bearer ") || h.Get("X-Master-Key") != "" || h.Get("Origin") != "" {
		return false
	}
	if ct := h.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return false
	}
	p, err := s.opt.Service.Authenticate(r.Context(), strings.TrimSpace(auth[7:]))
	if err != nil {
		return false
	}

	buf := sendBodies.Get().(*bytes.Buffer)
	buf.Reset()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(sendBodyTimeout))
	_, err = buf.ReadFrom(io.LimitReader(r.Body, sendMaxBody+1))
	rc.SetReadDeadline(time.Time{})
	var req handlers.SendRequest
	if err != nil || buf.Len() > sendMaxBody || unmarshalJSON(buf.Bytes(), &req) != nil {
		// huma reads it again, and answers as it does (400, 413, 422…).
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf.Bytes()), r.Body), r.Body}
		return false
	}
	sendBodies.Put(buf)

	msg, outcome, err := s.opt.Service.Send(r.Context(), p, id, req)
	if err != nil {
		prob, ok := fault(r.Context(), s.opt.Log, err).(*Problem)
		if !ok {
			prob = newProblem(http.StatusInternalServerError, codeInternal, "the server failed")
		}
		out := w.Header()
		for k, v := range prob.GetHeaders() {
			out[k] = append(out[k], v...)
		}
		out.Set("Content-Type", prob.ContentType(""))
		w.WriteHeader(prob.Status)
		marshalJSON(w, prob)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(sendStatus[outcome])
	marshalJSON(w, msg)
	return true
}

// sendBodies hold request bodies while they are decoded.
var sendBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}
