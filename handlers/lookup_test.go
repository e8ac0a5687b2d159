package handlers

import (
	"context"
	"testing"
)

func TestMessageConversation(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	master := Principal{Master: true}
	conv, _, err := s.CreateConversation(ctx, master, CreateConversationRequest{Members: []string{"tom", "jerry"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := s.AdminSend(ctx, master, conv.ID, "tom", text("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.MessageConversation(ctx, master, m.ID); err != nil || got != conv.ID {
		t.Errorf("MessageConversation(%s): %q, %v; want %s", m.ID, got, err, conv.ID)
	}
	_, err = s.MessageConversation(ctx, master, formatMessageID(12345))
	wantCode(t, "an unknown id", err, CodeMessageNotFound)
	_, err = s.MessageConversation(ctx, master, "qNkRkFWOeSqP65S9fDyHJw")
	wantCode(t, "a LeanCloud id", err, CodeMessageNotFound)
	_, err = s.MessageConversation(ctx, Principal{ClientID: "tom"}, m.ID)
	wantCode(t, "a client", err, CodeForbidden)
}
