package handlers

import (
	"context"
	"errors"
	"testing"
)

// ReadPositions shows every member's read and delivered positions to
// members and the master key only, in normal and temporary conversations;
// IsMember answers for the caller itself.
func TestReadPositionsAndIsMember(t *testing.T) {
	s := testService(t, nil)
	ctx := context.Background()
	tom, jerry, mary := Principal{ClientID: "tom"}, Principal{ClientID: "jerry"}, Principal{ClientID: "mary"}
	conv, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"jerry", "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Send(ctx, tom, conv.ID, SendRequest{Content: Content{Type: intp(-1), Text: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkRead(ctx, jerry, []string{conv.ID}, m.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Principal{tom, {Master: true}} {
		pos, err := s.ReadPositions(ctx, p, conv.ID)
		if err != nil || len(pos) != 3 {
			t.Fatalf("%+v: %+v, %v", p, pos, err)
		}
		for _, x := range pos {
			switch {
			case x.ClientID == "jerry" && (x.ReadAt == nil || *x.ReadAt != m.Timestamp):
				t.Errorf("jerry read at %v, the message at %d", x.ReadAt, m.Timestamp)
			case x.ClientID == "bob" && x.ReadAt != nil:
				t.Errorf("bob read at %d", *x.ReadAt)
			}
		}
	}
	var he *Error
	if _, err := s.ReadPositions(ctx, mary, conv.ID); !errors.As(err, &he) || he.Code != CodeNotAMember {
		t.Errorf("a non-member: %v", err)
	}
	room, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Kind: KindChatRoom})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadPositions(ctx, tom, room.ID); !errors.As(err, &he) || he.Code != CodeOperationNotSupported {
		t.Errorf("a chat room: %v", err)
	}
	if _, err := s.ReadPositions(ctx, tom, "nope"); !errors.As(err, &he) || he.Code != CodeConversationNotFound {
		t.Errorf("no such conversation: %v", err)
	}

	for p, want := range map[Principal]bool{tom: true, jerry: true, mary: false} {
		if in, err := s.IsMember(ctx, p, conv.ID); err != nil || in != want {
			t.Errorf("IsMember(%s) = %v, %v", p.ClientID, in, err)
		}
	}
	if _, err := s.IsMember(ctx, Principal{Master: true}, conv.ID); !errors.As(err, &he) || he.Code != CodeForbidden {
		t.Errorf("the master key: %v", err)
	}
}
