package events

import (
	"slices"
	"time"
)

// Priority orders chat-room events under congestion: low goes first, then
// normal; high is kept.
type Priority int

// The priorities of chat-room messages.
const (
	PriorityNormal Priority = iota
	PriorityHigh
	PriorityLow
)

// ParsePriority reads "high", "normal", "low" or "" (normal).
func ParsePriority(s string) (Priority, bool) {
	switch s {
	case "", "normal":
		return PriorityNormal, true
	case "high":
		return PriorityHigh, true
	case "low":
		return PriorityLow, true
	}
	return PriorityNormal, false
}

func (p Priority) String() string {
	return [...]string{"normal", "high", "low"}[p]
}

// roomSeat is a session's place in a chat room. Membership of chat rooms is
// per session and lives only here: a session is in one room at most.
type roomSeat struct {
	sessionID, clientID, room string
	joinedAt                  time.Time
	seenAt                    time.Time // the last sweep that found its stream attached
}

// JoinRoom seats a session in a chat room, leaving the room it was in; it
// returns that room ("" if none).
func (h *Hub) JoinRoom(sessionID, clientID, room string) (left string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seat := h.seatOf[sessionID]; seat != nil {
		if seat.room == room {
			return ""
		}
		left = seat.room
	}
	h.leaveRoomLocked(sessionID, "")
	seat := &roomSeat{sessionID: sessionID, clientID: clientID, room: room, joinedAt: h.opt.Now()}
	h.seatOf[sessionID] = seat
	seats := h.rooms[room]
	if seats == nil {
		seats = make(map[string]*roomSeat)
		h.rooms[room] = seats
	}
	seats[sessionID] = seat
	h.forgetSeatOrder(room)
	return left
}

// LeaveRoom takes a session out of room; it reports whether it was there.
func (h *Hub) LeaveRoom(sessionID, room string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.leaveRoomLocked(sessionID, room)
}

// leaveRoomLocked empties the session's seat, in any room when room is "".
func (h *Hub) leaveRoomLocked(sessionID, room string) bool {
	seat := h.seatOf[sessionID]
	if seat == nil || (room != "" && seat.room != room) {
		return false
	}
	delete(h.seatOf, sessionID)
	h.forgetSeatOrder(seat.room)
	if seats := h.rooms[seat.room]; seats != nil {
		delete(seats, sessionID)
		if len(seats) == 0 {
			delete(h.rooms, seat.room)
		}
	}
	return true
}

// InRoom reports whether the session is seated in room.
func (h *Hub) InRoom(sessionID, room string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seat := h.seatOf[sessionID]
	return seat != nil && seat.room == room
}

// RoomOnline counts the distinct clients with a session in room that is
// online now.
func (h *Hub) RoomOnline(room string) int {
	now := h.opt.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	clients := make(map[string]struct{})
	for sid, seat := range h.rooms[room] {
		if _, ok := clients[seat.clientID]; ok {
			continue
		}
		if s := h.sessions[sid]; s != nil {
			s.mu.Lock()
			online := s.onlineLocked(now, h.opt.OfflineGrace)
			s.mu.Unlock()
			if online {
				clients[seat.clientID] = struct{}{}
			}
		}
	}
	return len(clients)
}

// PublishRoom queues ev for the streams of every session seated in room
// except the one named by except. Room events are live only: a session
// without a stream misses them, and a congested stream drops them by
// priority. Publishing never waits for a stream and writes to no socket:
// the room's workers hand the events on (see RoomWindow).
func (h *Hub) PublishRoom(room string, ev *Event, prio Priority, except string) {
	now := h.opt.Now().UnixNano()
	queued := 0
	ref := h.table.hold(ev)
	h.mu.RLock()
	for _, s := range h.seatOrder(room) {
		if s.id != except && s.appendRoom(ref, prio, now, &h.opt) {
			queued++
		}
	}
	h.mu.RUnlock()
	h.table.release(ref)
	h.metrics.eventsQueued.Add(float64(queued))
	h.paceRoom(room)
}

// appendRoom queues a room event for the session's stream and reports
// whether it did.
func (s *session) appendRoom(ref uint32, prio Priority, now int64, opt *Options) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream
	if s.ended || st == nil || st.err != nil {
		return false
	}
	waiting := s.seq - st.cursor
	switch {
	case prio == PriorityLow && waiting >= uint64(opt.RoomLowWater),
		prio == PriorityNormal && waiting >= uint64(opt.RoomNormalWater):
		s.metrics.roomDropped.WithLabelValues(prio.String()).Inc()
		return false
	case s.room.len() >= opt.RoomHardCap:
		st.endLocked(ErrSlowConsumer)
		return false
	}
	s.table.ref(ref)
	s.seq++
	s.room.push(entry{seq: s.seq, at: now, ref: ref})
	return true
}

// roomPacing is the delivery state of a room with events under way.
type roomPacing struct {
	last time.Time // when its events were last handed on
	due  bool      // a hand-on is scheduled
}

// paceRoom hands the room's waiting events on now if the room was quiet
// for a window, or else once the window since the last hand-on is over.
func (h *Hub) paceRoom(room string) {
	h.roomMu.Lock()
	defer h.roomMu.Unlock()
	p := h.roomPacing[room]
	if p == nil {
		p = &roomPacing{}
		h.roomPacing[room] = p
	}
	if p.due {
		return
	}
	p.due = true
	if wait := h.opt.RoomWindow - time.Since(p.last); wait > 0 {
		time.AfterFunc(wait, func() { h.handOnRoom(room) })
		return
	}
	go h.handOnRoom(room)
}

// seatOrder is the sessions seated in the room, in a fixed order, kept
// until a seat changes or a seated session comes or goes; h.mu is held
// for reading at least.
func (h *Hub) seatOrder(room string) []*session {
	h.roomMu.Lock()
	defer h.roomMu.Unlock()
	order, ok := h.roomOrder[room]
	if !ok {
		ids := make([]string, 0, len(h.rooms[room]))
		for sid := range h.rooms[room] {
			ids = append(ids, sid)
		}
		slices.Sort(ids)
		order = make([]*session, 0, len(ids))
		for _, sid := range ids {
			if s := h.sessions[sid]; s != nil {
				order = append(order, s)
			}
		}
		h.roomOrder[room] = order
	}
	return order
}

// forgetSeatOrder drops the room's order after a seat changed; h.mu is held.
func (h *Hub) forgetSeatOrder(room string) {
	h.roomMu.Lock()
	delete(h.roomOrder, room)
	h.roomMu.Unlock()
}

// roomChunk is how many seats one worker takes at a time.
const roomChunk = 64

// handOnRoom gives the room's seats to the workers.
func (h *Hub) handOnRoom(room string) {
	h.roomMu.Lock()
	if p := h.roomPacing[room]; p != nil {
		p.due, p.last = false, time.Now()
	}
	h.roomMu.Unlock()
	// The seats are visited in the same order every time, so that each
	// stream is written about once a window, never last in one hand-on and
	// first in the next.
	h.mu.RLock()
	seats := h.seatOrder(room) // never changed in place: a seat change makes a new one
	h.mu.RUnlock()
	for len(seats) > 0 {
		n := min(len(seats), roomChunk)
		select {
		case h.roomWork <- seats[:n:n]:
		case <-h.stop:
			return
		}
		seats = seats[n:]
	}
}

// sweepRoomPacing forgets the pacing of rooms quiet for a while.
func (h *Hub) sweepRoomPacing() {
	h.roomMu.Lock()
	defer h.roomMu.Unlock()
	for room, p := range h.roomPacing {
		if !p.due && time.Since(p.last) > time.Minute {
			delete(h.roomPacing, room)
		}
	}
}

// sweepRoomsLocked empties the seats of sessions whose stream has been gone
// for the room stay (or that never opened one within it).
func (h *Hub) sweepRoomsLocked(now time.Time) {
	for sid, seat := range h.seatOf {
		since := seat.joinedAt
		if seat.seenAt.After(since) {
			since = seat.seenAt
		}
		if s := h.sessions[sid]; s != nil {
			s.mu.Lock()
			attached, detachedAt := s.stream != nil, s.detachedAt
			s.mu.Unlock()
			if attached {
				seat.seenAt = now
				continue
			}
			if detachedAt.After(since) {
				since = detachedAt
			}
		}
		if now.Sub(since) >= h.opt.RoomStay {
			h.leaveRoomLocked(sid, "")
		}
	}
}

// RoomClients lists the distinct clients with a session seated in room,
// sorted.
func (h *Hub) RoomClients(room string) []string {
	h.mu.RLock()
	seen := make(map[string]struct{})
	for _, seat := range h.rooms[room] {
		seen[seat.clientID] = struct{}{}
	}
	h.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// LeaveClientsFromRoom unseats every session of the clients from room.
func (h *Hub) LeaveClientsFromRoom(room string, clientIDs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sid, seat := range h.rooms[room] {
		if slices.Contains(clientIDs, seat.clientID) {
			h.leaveRoomLocked(sid, room)
		}
	}
}
