package handlers

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A client's subscriptions, in the order made, either way, from a cursor;
// its other conversations are not among them.
func TestSubscriptions(t *testing.T) {
	s, clock := clockedService(t, Config{})
	ctx := context.Background()
	master := Principal{Master: true}
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		sys, _, err := s.CreateConversation(ctx, master, CreateConversationRequest{Kind: KindSystem, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sys.ID)
	}
	// Subscribed to c, then a, then b, a second apart.
	for _, i := range []int{2, 0, 1} {
		*clock = clock.Add(time.Second)
		if err := s.Subscribe(ctx, master, ids[i], "tom"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateConversation(ctx, master, CreateConversationRequest{Members: []string{"tom", "jerry"}}); err != nil {
		t.Fatal(err)
	}
	page := func(req SubscriptionsRequest) string {
		t.Helper()
		req.ClientID = "tom"
		subs, err := s.Subscriptions(ctx, master, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range subs {
			for i, id := range ids {
				if id == x.ConversationID {
					out = append(out, string("abc"[i]))
				}
			}
			if x.SubscribedAt == 0 {
				t.Errorf("no subscription time: %+v", x)
			}
		}
		return strings.Join(out, "")
	}
	all, err := s.Subscriptions(ctx, master, SubscriptionsRequest{ClientID: "tom", Limit: 10})
	if err != nil || len(all) != 3 {
		t.Fatalf("all: %+v, %v", all, err)
	}
	for _, c := range []struct {
		req  SubscriptionsRequest
		want string
	}{
		{SubscriptionsRequest{Limit: 10}, "cab"},
		{SubscriptionsRequest{Limit: 2}, "ca"},
		{SubscriptionsRequest{Limit: 10, Newest: true}, "bac"},
		{SubscriptionsRequest{Limit: 10, After: all[0].ConversationID, AfterTime: all[0].SubscribedAt}, "ab"},
		{SubscriptionsRequest{Limit: 10, After: all[1].ConversationID, AfterTime: all[1].SubscribedAt, Newest: true}, "c"},
	} {
		if got := page(c.req); got != c.want {
			t.Errorf("%+v: %q, want %q", c.req, got, c.want)
		}
	}
	if subs, err := s.Subscriptions(ctx, master, SubscriptionsRequest{ClientID: "jerry", Limit: 10}); err != nil || len(subs) != 0 {
		t.Errorf("jerry, in a normal conversation only: %+v, %v", subs, err)
	}
	_, err = s.Subscriptions(ctx, Principal{ClientID: "tom"}, SubscriptionsRequest{ClientID: "tom", Limit: 10})
	wantCode(t, "a client", err, CodeForbidden)
	_, err = s.Subscriptions(ctx, master, SubscriptionsRequest{ClientID: "a:b", Limit: 10})
	wantCode(t, "a bad clientId", err, CodeInvalidRequest)
	_, err = s.Subscriptions(ctx, master, SubscriptionsRequest{ClientID: "tom"})
	wantCode(t, "limit 0", err, CodeInvalidRequest)
}
