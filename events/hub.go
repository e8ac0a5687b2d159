package events

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors that end a stream; each tells its writer why.
var (
	ErrReplaced     = errors.New("events: a newer stream of this session replaced this one")
	ErrEnded        = errors.New("events: the session ended")
	ErrSlowConsumer = errors.New("events: the stream fell too far behind")
	ErrShutdown     = errors.New("events: the server is shutting down")
)

// Errors that refuse a stream before it opens: the server's or the
// client's share of open streams is taken.
var (
	ErrTooManyStreams = errors.New("events: the server holds as many streams as it may")
	ErrClientStreams  = errors.New("events: this client holds as many streams as it may")
)

// Options tune the hub; zero values take the defaults.
type Options struct {
	// ReplayEvents is how many of a session's latest events are kept for
	// resume; it is also the bound of the session's outbound queue.
	ReplayEvents int // default 10,000
	// ReplayWindow is how long events are kept for resume, and how long a
	// session whose stream dropped is kept at all.
	ReplayWindow time.Duration // default 5 minutes
	// OfflineGrace is how long a session counts as online after its stream
	// dropped.
	OfflineGrace time.Duration // default 10 seconds
	// RoomStay is how long a session stays in its chat room after its
	// stream dropped.
	RoomStay time.Duration // default 30 minutes
	// Chat-room congestion: once this many events wait unwritten on a
	// stream, its low-priority room events are dropped, and past
	// RoomNormalWater its normal ones; high ones are kept up to RoomHardCap
	// waiting room events, past which the stream is a slow consumer.
	RoomLowWater    int // default 256
	RoomNormalWater int // default 1024
	RoomHardCap     int // default 4096
	// RoomWindow paces a chat room's deliveries: its waiting events are
	// handed to the streams at most once per window (at once when the room
	// was quiet), so that a busy room's messages travel several to a write.
	RoomWindow time.Duration // default 50 ms
	// Workers is how many goroutines write events to the streams that let
	// them (Stream.SetWriter), chat rooms' and others'. The default leaves
	// one core without a worker: a worker busy writing is always runnable,
	// and a core that always has a runnable goroutine never polls the
	// network, so with every core writing, requests waited for the runtime's
	// 10 ms background poll.
	Workers int // default GOMAXPROCS-1, at least 1
	// MaxStreams bounds the streams open at once (0: no bound), so that
	// running out of file descriptors is refused early and the rest of the
	// API stays reachable; MaxStreamsPerClient bounds one client's, across
	// its sessions (0: no bound). A stream that replaces its session's
	// stream always opens.
	MaxStreams, MaxStreamsPerClient int
	// OnGone is called (on the janitor goroutine) once for a session whose
	// stream dropped and did not come back within the grace.
	OnGone func(sessionID, clientID string)
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// Registerer is where the hub's metrics are registered (nil: nowhere;
	// they still count). A server passes its own.
	Registerer prometheus.Registerer
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.ReplayEvents, 10_000)
	def(&o.RoomLowWater, 256)
	def(&o.RoomNormalWater, 1024)
	def(&o.RoomHardCap, 4096)
	if o.ReplayWindow <= 0 {
		o.ReplayWindow = 5 * time.Minute
	}
	if o.OfflineGrace <= 0 {
		o.OfflineGrace = 10 * time.Second
	}
	if o.RoomStay <= 0 {
		o.RoomStay = 30 * time.Minute
	}
	if o.RoomWindow <= 0 {
		o.RoomWindow = 50 * time.Millisecond
	}
	def(&o.Workers, max(1, runtime.GOMAXPROCS(0)-1))
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Hub routes events to sessions.
type Hub struct {
	opt     Options
	table   *eventTable // the events of every session's queues
	metrics *metrics

	mu       sync.RWMutex
	sessions map[string]*session
	byClient map[string]map[*session]struct{}
	rooms    map[string]map[string]*roomSeat // room id → session id → seat
	seatOf   map[string]*roomSeat            // session id → its seat
	watchers map[string]map[string]struct{}  // client id → watching session ids
	watching map[string][]string             // session id → watched client ids
	closed   bool

	roomMu     sync.Mutex
	roomPacing map[string]*roomPacing // rooms with deliveries under way
	roomOrder  map[string][]*session  // rooms' seated sessions in hand-on order (seatOrder)
	roomWork   chan []*session        // seats whose room events are due
	direct     chan *Stream           // streams with new events, for the workers

	stop chan struct{}
	wg   sync.WaitGroup

	// Open streams, in total and by client, for MaxStreams and
	// MaxStreamsPerClient; countMu is taken after a session's mu, never
	// before it.
	countMu       sync.Mutex
	streamCount   int
	clientStreams map[string]int
}

// session is the hub's state of one logged-in session: its event log and the
// stream attached to it, if any. It exists from the first stream on and is
// forgotten a replay window after its stream dropped.
type session struct {
	id, clientID string
	epoch        string // changes whenever the log starts anew, so old cursors are recognised

	mu         sync.Mutex
	seq        uint64      // the seq of the newest event
	*queues                // the replay log and the room queue
	table      *eventTable // holds the events its queues refer to
	metrics    *metrics    // the hub's
	trimmed    uint64      // the newest seq dropped from the log
	stream     *Stream
	detachedAt time.Time // when the last stream dropped; zero while one is attached
	// watchOnly marks a session tracked (Track) without ever having had a
	// stream on this hub: OnGone reports it after the grace, but it does not
	// count as online and its going is no presence change.
	watchOnly bool
	goneFired bool
	ended     bool
}

// queues are a session's events. They are allocated apart from the session,
// so that a cleanup can release the events they refer to once the session
// is gone (see sessionLocked).
type queues struct {
	log  ring // the replay log: every event but chat-room ones
	room ring // chat-room events waiting for the stream; live only, never replayed
}

// NewHub starts a hub and its janitor.
func NewHub(opt Options) *Hub {
	opt.defaults()
	h := &Hub{
		opt:           opt,
		table:         &eventTable{},
		metrics:       newMetrics(opt.Registerer),
		sessions:      make(map[string]*session),
		clientStreams: make(map[string]int),
		byClient:      make(map[string]map[*session]struct{}),
		rooms:         make(map[string]map[string]*roomSeat),
		seatOf:        make(map[string]*roomSeat),
		watchers:      make(map[string]map[string]struct{}),
		watching:      make(map[string][]string),
		stop:          make(chan struct{}),

		roomPacing: make(map[string]*roomPacing),
		roomOrder:  make(map[string][]*session),
		roomWork:   make(chan []*session, 1024),
		direct:     make(chan *Stream, 1<<16),
	}
	h.wg.Add(1 + opt.Workers)
	go h.janitor()
	for range opt.Workers {
		go h.worker()
	}
	return h
}

// Hello describes where an attached stream starts.
type Hello struct {
	// ID is the cursor of the stream's start: resuming from it skips nothing
	// and repeats nothing.
	ID      string
	Resumed bool
	// Reset is set when the stream asked to resume from a cursor that can no
	// longer be honoured; ResetReason says why.
	Reset       bool
	ResetReason string
	// CameOnline: the session was offline before this stream — its first
	// stream, one after a stream the janitor had reported gone past the
	// offline grace (Options.OnGone), or a session only tracked for its
	// will. Returning: of those, the session had a stream here before.
	CameOnline, Returning bool
}

// Attach opens the stream of a session, replacing any stream it had. With a
// lastEventID the stream resumes after that event if the log still holds
// everything since; otherwise it starts at the newest event and says Reset.
func (h *Hub) Attach(sessionID, clientID, lastEventID string) (*Stream, Hello, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, Hello{}, ErrShutdown
	}
	existing := h.sessions[sessionID]
	h.mu.Unlock()
	// Refused before anything of the session is made, unless it replaces
	// the session's own stream (then the count stays as it is).
	if existing == nil || !existing.streaming() {
		if err := h.admits(clientID); err != nil {
			return nil, Hello{}, err
		}
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, Hello{}, ErrShutdown
	}
	cameOnline := !h.clientOnlineLocked(clientID)
	s := h.sessionLocked(sessionID, clientID)
	h.mu.Unlock()
	if cameOnline {
		defer h.announcePresence(clientID, true)
	}

	st := &Stream{h: h, s: s, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	hello := Hello{}
	if s.stream == nil && (s.detachedAt.IsZero() || s.watchOnly || s.goneFired) {
		hello.CameOnline = true
		hello.Returning = !s.watchOnly && !s.detachedAt.IsZero()
	}
	if s.stream != nil {
		s.stream.endLocked(ErrReplaced)
	}
	s.room.clear(h.table) // live events owed to a stream that is gone
	st.cursor = s.seq
	if lastEventID != "" {
		epoch, seq, ok := parseID(lastEventID)
		switch {
		case !ok || epoch != s.epoch || seq > s.seq:
			hello.Reset, hello.ResetReason = true, "unknown event id"
		case seq < s.trimmed:
			hello.Reset, hello.ResetReason = true, "events since that id are no longer kept"
		default:
			st.cursor, hello.Resumed = seq, true
		}
	}
	st.epoch = s.epoch
	hello.ID = formatID(s.epoch, st.cursor)
	s.stream = st
	s.detachedAt = time.Time{}
	s.goneFired = false
	s.watchOnly = false
	if st.cursor < s.seq {
		st.signal()
	}
	h.countStream(clientID, 1)
	return st, hello, nil
}

func (s *session) streaming() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream != nil
}

// admits says whether one more stream of clientID may open. The check and
// the count (countStream) are apart, so the bounds may be passed by the
// streams opening at that moment: they are soft by a few.
func (h *Hub) admits(clientID string) error {
	h.countMu.Lock()
	defer h.countMu.Unlock()
	if h.opt.MaxStreams > 0 && h.streamCount >= h.opt.MaxStreams {
		h.metrics.streamsRefused.WithLabelValues("server").Inc()
		return ErrTooManyStreams
	}
	if h.opt.MaxStreamsPerClient > 0 && h.clientStreams[clientID] >= h.opt.MaxStreamsPerClient {
		h.metrics.streamsRefused.WithLabelValues("client").Inc()
		return ErrClientStreams
	}
	return nil
}

// countStream counts a stream of clientID opening (+1) or ending (-1).
func (h *Hub) countStream(clientID string, d int) {
	h.countMu.Lock()
	h.streamCount += d
	if n := h.clientStreams[clientID] + d; n > 0 {
		h.clientStreams[clientID] = n
	} else {
		delete(h.clientStreams, clientID)
	}
	h.countMu.Unlock()
	h.metrics.streamsOpen.Add(float64(d))
}

// sessionLocked returns the session's state, creating it; h.mu is held.
func (h *Hub) sessionLocked(sessionID, clientID string) *session {
	s := h.sessions[sessionID]
	if s == nil {
		s = &session{id: sessionID, clientID: clientID, epoch: newEpoch(), queues: &queues{}, table: h.table, metrics: h.metrics}
		// A session is dropped from the hub's maps in several places, and
		// a stream may hold it a while longer: the events of its queues are
		// released when nothing refers to it any more.
		t := h.table
		runtime.AddCleanup(s, func(q *queues) {
			q.log.clear(t)
			q.room.clear(t)
		}, s.queues)
		h.sessions[sessionID] = s
		set := h.byClient[clientID]
		if set == nil {
			set = make(map[*session]struct{})
			h.byClient[clientID] = set
		}
		set[s] = struct{}{}
		if seat := h.seatOf[sessionID]; seat != nil {
			h.forgetSeatOrder(seat.room)
		}
	}
	return s
}

// Track makes the hub remember a session that has no stream (yet), as if
// its stream had just dropped: unless a stream attaches within the offline
// grace, OnGone reports it. Held will messages rely on this, also across a
// restart of the server.
func (h *Hub) Track(sessionID, clientID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	s := h.sessionLocked(sessionID, clientID)
	s.mu.Lock()
	if s.stream == nil && s.detachedAt.IsZero() {
		s.detachedAt = h.opt.Now()
		s.watchOnly = true
	}
	s.mu.Unlock()
}

// Publish appends ev to the log of every session of the given clients except
// the session named by except, and wakes their streams. It never blocks on a
// stream: a stream that falls a whole log behind is ended as a slow consumer.
func (h *Hub) Publish(ev *Event, clientIDs []string, except string) {
	now := h.opt.Now().UnixNano()
	ref := h.table.hold(ev)
	h.mu.RLock()
	for _, c := range clientIDs {
		for s := range h.byClient[c] {
			if s.id != except {
				s.append(now, &h.opt, ref)
			}
		}
	}
	h.mu.RUnlock()
	h.table.release(ref)
}

// Delivery is the events one client gets for one change, in order.
type Delivery struct {
	ClientID string
	Events   []*Event
}

// PublishEach appends each delivery's events to the logs of that client's
// sessions except the session named by except: one lock and one wake-up per
// session, however many events (a message and its unread count, say).
func (h *Hub) PublishEach(ds []Delivery, except string) {
	now := h.opt.Now().UnixNano()
	held := holder{t: h.table}
	var refs []uint32
	h.mu.RLock()
	for _, d := range ds {
		refs = refs[:0]
		for _, ev := range d.Events {
			refs = append(refs, held.hold(ev))
		}
		for s := range h.byClient[d.ClientID] {
			if s.id != except {
				s.append(now, &h.opt, refs...)
			}
		}
	}
	h.mu.RUnlock()
	held.release()
}

// holder holds each distinct event of one publication once: deliveries to
// many clients share most of their events (a message, its unread count).
type holder struct {
	t    *eventTable
	evs  []*Event
	refs []uint32
	m    map[*Event]uint32 // past a few events
}

func (hd *holder) hold(ev *Event) uint32 {
	if hd.m != nil {
		if ref, ok := hd.m[ev]; ok {
			return ref
		}
	} else {
		for i, e := range hd.evs {
			if e == ev {
				return hd.refs[i]
			}
		}
	}
	ref := hd.t.hold(ev)
	hd.evs, hd.refs = append(hd.evs, ev), append(hd.refs, ref)
	switch {
	case hd.m != nil:
		hd.m[ev] = ref
	case len(hd.evs) > 8:
		hd.m = make(map[*Event]uint32, 2*len(hd.evs))
		for i, e := range hd.evs {
			hd.m[e] = hd.refs[i]
		}
	}
	return ref
}

func (hd *holder) release() {
	for _, ref := range hd.refs {
		hd.t.release(ref)
	}
}

// PublishSession appends ev to one session's log.
func (h *Hub) PublishSession(ev *Event, sessionID string) {
	now := h.opt.Now().UnixNano()
	h.mu.RLock()
	s := h.sessions[sessionID]
	h.mu.RUnlock()
	if s != nil {
		ref := h.table.hold(ev)
		s.append(now, &h.opt, ref)
		h.table.release(ref)
	}
}

// PublishOnline is Publish for events meant for online sessions only
// (transient messages): a session past its offline grace misses them.
func (h *Hub) PublishOnline(ev *Event, clientIDs []string, except string) {
	now := h.opt.Now()
	ref := h.table.hold(ev)
	h.mu.RLock()
	for _, c := range clientIDs {
		for s := range h.byClient[c] {
			if s.id != except {
				s.appendIfOnline(ref, now, &h.opt)
			}
		}
	}
	h.mu.RUnlock()
	h.table.release(ref)
}

// PublishAll appends ev to the log of every online session.
func (h *Hub) PublishAll(ev *Event) {
	now := h.opt.Now()
	ref := h.table.hold(ev)
	h.mu.RLock()
	for _, s := range h.sessions {
		s.appendIfOnline(ref, now, &h.opt)
	}
	h.mu.RUnlock()
	h.table.release(ref)
}

func (s *session) appendIfOnline(ref uint32, now time.Time, opt *Options) {
	s.mu.Lock()
	online := s.onlineLocked(now, opt.OfflineGrace)
	s.mu.Unlock()
	if online {
		s.append(now.UnixNano(), opt, ref)
	}
}

// append logs the events of refs, which the caller holds (eventTable.hold).
func (s *session) append(now int64, opt *Options, refs ...uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	for _, ref := range refs {
		s.table.ref(ref)
		s.seq++
		s.log.push(entry{seq: s.seq, at: now, ref: ref})
	}
	s.trimLocked(now, opt)
	if s.stream != nil {
		s.stream.readyLocked()
	}
	s.metrics.eventsQueued.Add(float64(len(refs)))
}

// trimLocked drops what the log no longer has to keep. Dropping an event the
// attached stream has not written yet means the stream is too slow to keep
// up: it is ended so that its queue never grows past the log's bound.
func (s *session) trimLocked(now int64, opt *Options) {
	oldest := now - int64(opt.ReplayWindow)
	for s.log.len() > opt.ReplayEvents || (s.log.len() > 0 && s.log.front().at < oldest) {
		e := s.log.pop()
		s.table.release(e.ref)
		s.trimmed = e.seq
		if st := s.stream; st != nil && e.seq > st.cursor {
			st.endLocked(ErrSlowConsumer)
		}
	}
}

// EndSession forgets a session that logged out or was replaced. A final
// event (such as conflict) is written to its stream before the stream ends.
func (h *Hub) EndSession(sessionID string, final *Event) {
	h.mu.Lock()
	s := h.sessions[sessionID]
	wentOffline := false
	if s != nil {
		wasOnline := h.clientOnlineLocked(s.clientID)
		h.removeLocked(s)
		wentOffline = wasOnline && !h.clientOnlineLocked(s.clientID)
	}
	h.leaveRoomLocked(sessionID, "")
	h.unsubscribeLocked(sessionID)
	h.mu.Unlock()
	if s == nil {
		return
	}
	if wentOffline {
		defer h.announcePresence(s.clientID, false)
	}
	if final != nil {
		ref := h.table.hold(final)
		s.append(h.opt.Now().UnixNano(), &h.opt, ref)
		h.table.release(ref)
	}
	s.mu.Lock()
	s.ended = true
	if s.stream != nil {
		s.stream.wakeAllLocked()
	}
	s.mu.Unlock()
}

func (h *Hub) removeLocked(s *session) {
	delete(h.sessions, s.id)
	if seat := h.seatOf[s.id]; seat != nil {
		h.forgetSeatOrder(seat.room)
	}
	if set := h.byClient[s.clientID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.byClient, s.clientID)
		}
	}
}

// onlineLocked reports whether the session has a stream or lost it less
// than the offline grace ago (a session only tracked for its will, which
// never had a stream here, is not online).
func (s *session) onlineLocked(now time.Time, grace time.Duration) bool {
	return !s.ended && (s.stream != nil || (!s.watchOnly && !s.detachedAt.IsZero() && now.Sub(s.detachedAt) < grace))
}

// Online reports whether any session of the client is online.
func (h *Hub) Online(clientID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.clientOnlineLocked(clientID)
}

// Close ends every stream (each writes what it has and stops) and the janitor.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		if s.stream != nil {
			s.stream.endLocked(ErrShutdown)
		}
		s.mu.Unlock()
	}
	close(h.stop)
	h.wg.Wait()
}

// janitor forgets sessions whose stream has been gone for a replay window,
// reports those gone past the offline grace, and empties stale room seats.
func (h *Hub) janitor() {
	defer h.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
			h.sweep()
			h.sweepRoomPacing()
		}
	}
}

func (h *Hub) sweep() {
	now := h.opt.Now()
	var gone []*session
	var wentOff []string // clients of gone sessions that counted as online
	h.mu.Lock()
	for _, s := range h.sessions {
		s.mu.Lock()
		detached := s.stream == nil && !s.detachedAt.IsZero()
		if detached && now.Sub(s.detachedAt) >= h.opt.OfflineGrace && !s.goneFired {
			s.goneFired = true
			gone = append(gone, s)
			if !s.watchOnly {
				wentOff = append(wentOff, s.clientID)
			}
		}
		if detached && now.Sub(s.detachedAt) >= h.opt.ReplayWindow {
			h.removeLocked(s)
		}
		s.mu.Unlock()
	}
	h.sweepRoomsLocked(now)
	var offline []string
	for _, c := range wentOff {
		if !slices.Contains(offline, c) && !h.clientOnlineLocked(c) {
			offline = append(offline, c)
		}
	}
	h.mu.Unlock()
	for _, c := range offline {
		h.announcePresence(c, false)
	}
	if h.opt.OnGone != nil {
		for _, s := range gone {
			h.opt.OnGone(s.id, s.clientID)
		}
	}
}

// Sweep runs the janitor's pass now (tests drive it with an injected clock).
func (h *Hub) Sweep() { h.sweep() }

func newEpoch() string {
	var b [5]byte
	rand.Read(b[:])
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func formatID(epoch string, seq uint64) string {
	return epoch + "." + strconv.FormatUint(seq, 10)
}

// AppendID appends the id of event seq of a stream with epoch to buf,
// without allocating.
func AppendID(buf []byte, epoch string, seq uint64) []byte {
	buf = append(buf, epoch...)
	buf = append(buf, '.')
	return strconv.AppendUint(buf, seq, 10)
}

func parseID(id string) (epoch string, seq uint64, ok bool) {
	epoch, n, found := strings.Cut(id, ".")
	if !found {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	return epoch, seq, err == nil
}
