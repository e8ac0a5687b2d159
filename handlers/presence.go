package handlers

// maxPresenceIDs bounds one presence request.
const maxPresenceIDs = 100

// Online reports which of the clients are online now.
func (s *Service) Online(clientIDs []string) (map[string]bool, error) {
	if len(clientIDs) == 0 || len(clientIDs) > maxPresenceIDs {
		return nil, fail(CodeInvalidRequest, "ids: give 1 to %d clientIds, comma-separated", maxPresenceIDs)
	}
	if err := checkClientIDs(clientIDs, "ids"); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(clientIDs))
	for _, id := range clientIDs {
		out[id] = s.hub.Online(id)
	}
	return out, nil
}

// OnlineCount counts the clients online now.
func (s *Service) OnlineCount(p Principal) (int, error) {
	if !p.Master {
		return 0, fail(CodeForbidden, "the master key is required")
	}
	return s.hub.OnlineClients(), nil
}

// SubscribePresence makes the caller's session watch the clients' presence
// and answers their status now.
func (s *Service) SubscribePresence(p Principal, clientIDs []string) (map[string]bool, error) {
	if p.SessionID == "" {
		return nil, fail(CodeForbidden, "presence events go to a session: log in")
	}
	online, err := s.Online(clientIDs)
	if err != nil {
		return nil, err
	}
	s.hub.Subscribe(p.SessionID, clientIDs)
	return online, nil
}
