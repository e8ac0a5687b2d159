package events

// Presence: a client is online while any of its sessions has a stream open or
// lost it less than the offline grace ago. Sessions subscribe to clients and
// get a presence event when a watched client's first session comes online
// or its last one goes offline.

// PresenceEvent is the data of a presence event.
type PresenceEvent struct {
	ClientID string `json:"clientId"`
	Online   bool   `json:"online"`
}

// Subscribe makes sessionID a watcher of the given clients' presence.
func (h *Hub) Subscribe(sessionID string, clientIDs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range clientIDs {
		set := h.watchers[c]
		if set == nil {
			set = make(map[string]struct{})
			h.watchers[c] = set
		}
		if _, ok := set[sessionID]; !ok {
			set[sessionID] = struct{}{}
			h.watching[sessionID] = append(h.watching[sessionID], c)
		}
	}
}

// unsubscribeLocked forgets what sessionID watched.
func (h *Hub) unsubscribeLocked(sessionID string) {
	for _, c := range h.watching[sessionID] {
		if set := h.watchers[c]; set != nil {
			delete(set, sessionID)
			if len(set) == 0 {
				delete(h.watchers, c)
			}
		}
	}
	delete(h.watching, sessionID)
}

// clientOnlineLocked reports whether any session of the client is online;
// h.mu is held.
func (h *Hub) clientOnlineLocked(clientID string) bool {
	now := h.opt.Now()
	for s := range h.byClient[clientID] {
		s.mu.Lock()
		online := s.onlineLocked(now, h.opt.OfflineGrace)
		s.mu.Unlock()
		if online {
			return true
		}
	}
	return false
}

// OnlineClients counts the clients online now (each once, whatever its
// sessions): what LeanCloud's stats call online_user_count.
func (h *Hub) OnlineClients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for c := range h.byClient {
		if h.clientOnlineLocked(c) {
			n++
		}
	}
	return n
}

// announcePresence tells the watchers of clientID that it came online or
// went offline.
func (h *Hub) announcePresence(clientID string, online bool) {
	ev := MustNew(NamePresence, PresenceEvent{ClientID: clientID, Online: online})
	now := h.opt.Now().UnixNano()
	ref := h.table.hold(ev)
	defer h.table.release(ref)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for sid := range h.watchers[clientID] {
		if s := h.sessions[sid]; s != nil {
			s.append(now, &h.opt, ref)
		}
	}
}

// Offline returns those of clientIDs that have no online session, in their
// order, under one lock.
func (h *Hub) Offline(clientIDs []string) []string {
	var out []string
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range clientIDs {
		if !h.clientOnlineLocked(c) {
			out = append(out, c)
		}
	}
	return out
}
