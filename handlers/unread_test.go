package handlers

import (
	"context"
	"testing"

	"github.com/parley-im/parley/store"
)

// One-to-one conversations, those of receipts and of the other member's
// read positions, are the normal and the temporary conversations of two
// members (the OpenAPI document's lastdeliveredatupdate and lastreadatupdate).
func TestIsOneToOne(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		members int
		want    bool
	}{
		{KindNormal, 2, true}, {KindTemporary, 2, true},
		{KindNormal, 1, false}, {KindNormal, 3, false}, {KindTemporary, 1, false}, {KindTemporary, 3, false},
		{KindSystem, 2, false}, {KindChatRoom, 2, false}, {KindChatRoom, 0, false},
	} {
		if got := isOneToOne(&store.Conversation{Kind: tc.kind, MemberCount: tc.members}); got != tc.want {
			t.Errorf("%s of %d members: %v, want %v", tc.kind, tc.members, got, tc.want)
		}
	}
}

// In a temporary conversation of two, each member sees how far the other
// received and read (lastDeliveredAt, lastReadAt), as in a normal one: the
// positions a read and a confirmed delivery record, shown by the
// conversation object; a temporary conversation of three shows none.
func TestTemporaryPairShowsReadPositions(t *testing.T) {
	s := testService(t, nil)
	ctx := context.Background()
	tom, jerry := Principal{ClientID: "tom"}, Principal{ClientID: "jerry"}
	create := func(members ...string) *Conversation {
		c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Kind: KindTemporary, Members: members})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		conv  *Conversation
		shown bool
	}{{create("jerry"), true}, {create("jerry", "mary"), false}} {
		m, _, err := s.Send(ctx, tom, tc.conv.ID, SendRequest{Content: Content{Type: intp(-1), Text: "hi"}, Receipt: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDelivered(ctx, jerry, tc.conv.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkRead(ctx, jerry, []string{tc.conv.ID}, m.ID); err != nil {
			t.Fatal(err)
		}
		c, err := s.GetConversation(ctx, tom, tc.conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !tc.shown {
			if c.LastDeliveredAt != nil || c.LastReadAt != nil {
				t.Errorf("a temporary conversation of %d shows lastDeliveredAt %v lastReadAt %v", len(c.Members), c.LastDeliveredAt, c.LastReadAt)
			}
			continue
		}
		if c.LastDeliveredAt == nil || *c.LastDeliveredAt != m.Timestamp || c.LastReadAt == nil || *c.LastReadAt != m.Timestamp {
			t.Errorf("tom's view of the pair: lastDeliveredAt %v lastReadAt %v, want %d", c.LastDeliveredAt, c.LastReadAt, m.Timestamp)
		}
		// Jerry's view: Tom read up to his own message.
		if c, err := s.GetConversation(ctx, jerry, tc.conv.ID); err != nil || c.LastReadAt == nil || *c.LastReadAt != m.Timestamp {
			t.Errorf("jerry's view of the pair: %+v %v", c, err)
		}
	}
}
