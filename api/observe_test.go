package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	for _, id := range []string{"a", "req-42", "0f8e2c4a-1b3d-4e5f-8a7b-9c0d1e2f3a4b", "Root=1-5f84c7a5-a1b2c3d4;x"[:24], "abc+/=@:._", strings.Repeat("x", 128)} {
		if got := requestID(id); got != id {
			t.Errorf("requestID(%q) = %q, want it kept", id, got)
		}
	}
	seen := map[string]bool{}
	for _, id := range []string{"", "two words", `a"b`, "a\x00b", "é", strings.Repeat("x", 129), "a;b", "<script>"} {
		got := requestID(id)
		if got == id || !saneRequestID(got) || seen[got] {
			t.Errorf("requestID(%q) = %q, want a new, sane, unique id", id, got)
		}
		seen[got] = true
	}
}

// benchObserve serves a request through observe to a handler that answers
// 201 as a send does.
func benchObserve(b *testing.B, accessLog bool) {
	s := New(Options{AccessLog: accessLog, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.router.Post("/bench/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	s.buildRouteStats()
	req := httptest.NewRequest("POST", "/bench/abc", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// What observe adds to a request, with the access log off and on: off, one
// allocation (the recorder); on, the id and the slog line.
func BenchmarkObserveOff(b *testing.B) { benchObserve(b, false) }
func BenchmarkObserveOn(b *testing.B)  { benchObserve(b, true) }

// A stream that took its connection over holds its recorder until it ends,
// to be logged then; the recorder must not hold net/http's response (and
// through it the buffers of the connection) all that time: that was 7 KiB
// of every idle stream.
func TestDetachedRecorderLetsGoOfTheResponse(t *testing.T) {
	s := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var rec *recorder
	var done func()
	s.router.Get("/stream", func(w http.ResponseWriter, r *http.Request) {
		rec = recorderOf(w)
		done = rec.detach()
	})
	s.buildRouteStats()
	s.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest("GET", "/stream", nil))
	if rec == nil || done == nil {
		t.Fatal("the handler found no recorder")
	}
	if rec.ResponseWriter != nil {
		t.Error("the detached recorder still holds the ResponseWriter after the handler returned")
	}
	done() // the stream ends: logged and counted without it
}
