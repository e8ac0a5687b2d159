package handlers

import "testing"

func TestOnlineCountNeedsTheMasterKey(t *testing.T) {
	s := newService(t, Config{})
	s.hub.Attach("s1", "Tom", "")
	s.hub.Attach("s2", "Tom", "")
	s.hub.Attach("s3", "Jerry", "")
	if n, err := s.OnlineCount(Principal{Master: true}); err != nil || n != 2 {
		t.Errorf("OnlineCount: %d, %v; want 2", n, err)
	}
	if _, err := s.OnlineCount(Principal{ClientID: "Tom"}); codeOf(err) != CodeForbidden {
		t.Errorf("as a client: %v", err)
	}
}
