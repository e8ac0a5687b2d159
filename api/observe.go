package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/internal/promreg"
)

// The HTTP metrics: every request counted by route pattern, method and
// status; plain requests timed by route and method; event streams, which
// last minutes or days, timed apart so that they do not drown the
// latencies of the rest.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  prometheus.Histogram
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	return &httpMetrics{
		requests: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status; an event stream counts when it ends.",
		}, []string{"route", "method", "status"})),
		duration: promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method (event streams are in parley_http_stream_duration_seconds).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"})),
		streams: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_http_stream_duration_seconds",
			Help:    "How long event streams stayed open.",
			Buckets: []float64{1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600},
		})),
	}
}

// Labels of what matched no route (404s, CORS preflights, a method a route
// does not take) and of a method outside HTTP's own: a client chooses
// paths and methods, and must not choose the metrics' series.
const (
	routeUnmatched = "unmatched"
	methodOther    = "OTHER"
)

// streamRoute is the event stream's route, whose duration is not a latency.
const streamRoute = "/v1/events"

// routeKey is a route pattern and a method: a series of the metrics.
type routeKey struct{ route, method string }

// routeStats are one route's series, looked up once at start: a request
// pays a map lookup and a scan of a few statuses, not a hash of its labels.
type routeStats struct {
	m             *httpMetrics
	route, method string
	duration      prometheus.Observer // nil for the event stream

	mu       sync.Mutex                     // taken to add a status
	statuses atomic.Pointer[[]statusSeries] // copied on write
}

type statusSeries struct {
	status int
	count  prometheus.Counter
}

func newRouteStats(m *httpMetrics, route, method string) *routeStats {
	rs := &routeStats{m: m, route: route, method: method}
	if route != streamRoute {
		rs.duration = m.duration.WithLabelValues(route, method)
	}
	return rs
}

// counter is the requests counter of this route with status.
func (rs *routeStats) counter(status int) prometheus.Counter {
	if p := rs.statuses.Load(); p != nil {
		for _, s := range *p {
			if s.status == status {
				return s.count
			}
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var cur []statusSeries
	if p := rs.statuses.Load(); p != nil {
		cur = *p
		for _, s := range cur {
			if s.status == status {
				return s.count
			}
		}
	}
	c := rs.m.requests.WithLabelValues(rs.route, rs.method, strconv.Itoa(status))
	next := append(append(make([]statusSeries, 0, len(cur)+1), cur...), statusSeries{status, c})
	rs.statuses.Store(&next)
	return c
}

// buildRouteStats makes the series of every route the router serves, so
// that they are in /metrics from the start: each route's latency histogram
// and its requests counter with the status it answers when it succeeds.
func (s *Server) buildRouteStats() {
	success := map[routeKey]int{}
	for path, item := range s.humaAPI.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op != nil {
				success[routeKey{path, op.Method}] = op.DefaultStatus
			}
		}
	}
	m := newHTTPMetrics(s.opt.Registerer)
	s.routes = map[routeKey]*routeStats{}
	chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		k := routeKey{route, method}
		rs := newRouteStats(m, route, method)
		rs.counter(cmp.Or(success[k], http.StatusOK))
		s.routes[k] = rs
		return nil
	})
	s.unmatched = map[string]*routeStats{}
	for _, method := range httpMethods {
		s.unmatched[method] = newRouteStats(m, routeUnmatched, method)
	}
	s.unmatched[methodOther] = newRouteStats(m, routeUnmatched, methodOther)
}

var httpMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace}

// stats is the series of a route pattern and method.
func (s *Server) stats(route, method string) *routeStats {
	if rs, ok := s.routes[routeKey{route, method}]; ok {
		return rs
	}
	if rs, ok := s.unmatched[method]; ok {
		return rs
	}
	return s.unmatched[methodOther]
}

// recorder is the ResponseWriter of one request as the outermost
// middleware (observe) sees it: the status answered, and what the layers
// inside learn for the access log (the caller, whether it is a stream).
// authenticate and the stream writer find it by unwrapping the writer.
type recorder struct {
	http.ResponseWriter
	srv    *Server
	status int
	start  time.Time
	end    time.Time // set by a taken-over stream when it ends
	client string    // the principal: a clientId or "master"
	stream bool
	// detached: the event stream took the connection over and goes on
	// after the handler returned; pending counts the two parties (the
	// middleware, the stream) of which the last one finishes the request.
	detached bool
	pending  atomic.Int32
	route    string
	method   string
	id       [1]string // X-Request-Id, as a header value
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes through the recorder, reporting a failure
// (http.ResponseController prefers it to Flush).
func (w *recorder) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush lets handlers that assert http.Flusher flush through the recorder.
func (w *recorder) Flush() { w.FlushError() }

// Unwrap lets http.ResponseController reach the connection (Hijack,
// deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recorderOf finds the request's recorder under w; nil without one.
func recorderOf(w http.ResponseWriter) *recorder {
	for {
		switch x := w.(type) {
		case *recorder:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// recordPrincipal tells the access log who the caller of an operation is.
func recordPrincipal(ctx huma.Context, p handlers.Principal) {
	_, w := humachi.Unwrap(ctx)
	if rec := recorderOf(w); rec != nil {
		rec.client = p.ClientID
		if p.Master {
			rec.client = "master"
		}
	}
}

// detach marks the request as an event stream that took its connection
// over: it is logged and counted when done is called, once it ends.
func (w *recorder) detach() (done func()) {
	w.detached = true
	w.status = http.StatusOK // the stream writes its head itself
	w.pending.Store(2)
	return func() {
		w.end = time.Now()
		if w.pending.Add(-1) == 0 {
			w.srv.finish(w)
		}
	}
}

// observe is the outermost middleware: it gives every request an id (with
// the access log on), and when the request ends counts it, times it and
// logs one line of it. Off, the access log costs a request nothing but
// the recorder; the metrics are always kept.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, srv: s, start: time.Now(), method: r.Method}
		if s.opt.AccessLog {
			rec.id[0] = requestID(r.Header.Get("X-Request-Id"))
			w.Header()["X-Request-Id"] = rec.id[:]
		}
		next.ServeHTTP(rec, r)
		rec.route = chi.RouteContext(r.Context()).RoutePattern()
		if rec.detached {
			// The stream holds the recorder until it ends, and needs none of
			// net/http's response: let go of it, and with it the buffers of
			// the connection it took over (7 KiB an idle stream).
			rec.ResponseWriter = nil
			if rec.pending.Add(-1) != 0 {
				return // the stream goes on: it finishes the request
			}
		}
		s.finish(rec)
	})
}

// finish counts, times and logs a request that ended.
func (s *Server) finish(rec *recorder) {
	end := rec.end
	if end.IsZero() {
		end = time.Now()
	}
	d := end.Sub(rec.start)
	status := cmp.Or(rec.status, http.StatusOK)
	rs := s.stats(rec.route, rec.method)
	// Timed before counted: a request counted is timed.
	if rec.stream {
		rs.m.streams.Observe(d.Seconds())
	} else if rs.duration != nil {
		rs.duration.Observe(d.Seconds())
	}
	rs.counter(status).Inc()
	if !s.opt.AccessLog {
		return
	}
	client := rec.client
	if client == "" {
		client = "-"
	}
	msg := "request"
	if rec.stream {
		msg = "stream ended"
	}
	// rs.route and rs.method are the labels: bounded, never the raw path
	// (ids, ?token=) nor a made-up method.
	s.opt.Log.LogAttrs(context.Background(), slog.LevelInfo, msg,
		slog.String("method", rs.method), slog.String("route", rs.route), slog.Int("status", status),
		slog.Duration("duration", d), slog.String("client", client), slog.String("request_id", rec.id[0]))
}

// requestID is the request's id: the client's (or a proxy's) X-Request-Id
// when it is a sane one — 1 to 128 letters, digits and - _ . : / + = @ — or
// else a new one, unique to this process and start.
func requestID(given string) string {
	if saneRequestID(given) {
		return given
	}
	var b [32]byte
	out := append(b[:0], requestIDPrefix...)
	out = append(out, '-')
	out = strconv.AppendUint(out, requestSeq.Add(1), 36)
	return string(out)
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:/+=@", c) >= 0) {
			return false
		}
	}
	return true
}

var (
	// requestIDPrefix tells this process's ids from another's (or an
	// earlier start's): 50 random bits.
	requestIDPrefix = func() string {
		b := make([]byte, 10)
		rand.Read(b)
		return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:10]
	}()
	requestSeq atomic.Uint64
)
