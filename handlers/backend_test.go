package handlers

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-im/parley/store"
)

func wantCode(t *testing.T, what string, err error, code Code) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func TestDeleteConversation(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	master, tom := Principal{Master: true}, Principal{ClientID: "tom"}
	c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"jerry"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Send(ctx, tom, c.ID, text("hi")); err != nil {
		t.Fatal(err)
	}
	if kind, err := s.ConversationKind(ctx, master, c.ID); err != nil || kind != KindNormal {
		t.Errorf("kind %q, %v", kind, err)
	}
	_, err = s.ConversationKind(ctx, tom, c.ID)
	wantCode(t, "a client asks the kind", err, CodeForbidden)
	wantCode(t, "a client deletes", s.DeleteConversation(ctx, tom, c.ID), CodeForbidden)
	if err := s.DeleteConversation(ctx, master, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetConversation(ctx, master, c.ID)
	wantCode(t, "get after delete", err, CodeConversationNotFound)
	_, _, err = s.Send(ctx, tom, c.ID, text("anyone?")) // the writer's cache forgot it too
	wantCode(t, "send after delete", err, CodeConversationNotFound)
	wantCode(t, "delete twice", s.DeleteConversation(ctx, master, c.ID), CodeConversationNotFound)
	_, err = s.ConversationKind(ctx, master, c.ID)
	wantCode(t, "the kind of a deleted conversation", err, CodeConversationNotFound)
}

func TestDeleteMessage(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	master, tom := Principal{Master: true}, Principal{ClientID: "tom"}
	c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"jerry"}})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := s.Send(ctx, tom, c.ID, SendRequest{Content: Content{Type: intp(TypeText), Text: "hi @jerry", MentionList: []string{"jerry"}}})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := s.Send(ctx, tom, c.ID, text("there"))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "a client deletes", s.DeleteMessage(ctx, tom, c.ID, first.ID), CodeForbidden)
	if err := s.DeleteMessage(ctx, master, c.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	page, err := s.History(ctx, tom, c.ID, HistoryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].ID != second.ID {
		t.Errorf("history after delete: %+v", page.Messages)
	}
	n, err := s.db.R().QueryContext(ctx, "SELECT 1 FROM mentions WHERE conversation_id = ?", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.Next() {
		t.Error("the deleted message's mention stayed")
	}
	n.Close()
	wantCode(t, "delete twice", s.DeleteMessage(ctx, master, c.ID, first.ID), CodeMessageNotFound)
	wantCode(t, "delete a bad id", s.DeleteMessage(ctx, master, c.ID, "nosuchmessage"), CodeMessageNotFound)
	wantCode(t, "delete in no conversation", s.DeleteMessage(ctx, master, "nosuchconv", second.ID), CodeConversationNotFound)
}

// The master key edits a message only as the sender it names.
func TestMasterEditsAsTheSender(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	tom := Principal{ClientID: "tom"}
	c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"jerry"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Send(ctx, tom, c.ID, text("hi"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := Content{Type: intp(TypeText), Text: "hello"}
	_, err = s.Edit(ctx, Principal{Master: true}, c.ID, m.ID, fixed)
	wantCode(t, "the master key names no sender", err, CodeForbidden)
	_, err = s.Edit(ctx, Principal{Master: true, ClientID: "jerry"}, c.ID, m.ID, fixed)
	wantCode(t, "the master key names another sender", err, CodeForbidden)
	got, err := s.Edit(ctx, Principal{Master: true, ClientID: "tom"}, c.ID, m.ID, fixed)
	if err != nil || got.Text != "hello" || got.PatchedAt == nil {
		t.Fatalf("edit as tom: %+v, %v", got, err)
	}
}

func TestSubscribers(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	master := Principal{Master: true}
	sys, _, err := s.CreateConversation(ctx, master, CreateConversationRequest{Kind: KindSystem, Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"mary", "jerry", "tom", "jerry"} {
		if err := s.Subscribe(ctx, master, sys.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.MemberCount(ctx, master, sys.ID); err != nil || n != 3 {
		t.Errorf("count %d, %v", n, err)
	}
	page, err := s.Subscribers(ctx, master, sys.ID, "", 2)
	if err != nil || len(page) != 2 || page[0].ClientID != "jerry" || page[1].ClientID != "mary" || page[0].SubscribedAt == 0 {
		t.Fatalf("first page %+v, %v", page, err)
	}
	page, err = s.Subscribers(ctx, master, sys.ID, "mary", 2)
	if err != nil || len(page) != 1 || page[0].ClientID != "tom" {
		t.Fatalf("second page %+v, %v", page, err)
	}
	// A subscriber reads what the backend sends.
	if _, _, err := s.AdminSend(ctx, master, sys.ID, "news", text("extra")); err != nil {
		t.Fatal(err)
	}
	if h, err := s.History(ctx, Principal{ClientID: "tom"}, sys.ID, HistoryRequest{}); err != nil || len(h.Messages) != 1 {
		t.Fatalf("tom's history %+v, %v", h, err)
	}
	if err := s.Unsubscribe(ctx, master, sys.ID, "tom"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, master, sys.ID, "tom"); err != nil {
		t.Fatalf("unsubscribe twice: %v", err)
	}
	_, err = s.History(ctx, Principal{ClientID: "tom"}, sys.ID, HistoryRequest{})
	wantCode(t, "history after unsubscribing", err, CodeNotAMember)

	wantCode(t, "a client subscribes another", s.Subscribe(ctx, Principal{ClientID: "x"}, sys.ID, "tom"), CodeForbidden)
	wantCode(t, "a bad clientId", s.Subscribe(ctx, master, sys.ID, "a:b"), CodeInvalidRequest)
	_, err = s.Subscribers(ctx, master, sys.ID, "", 0)
	wantCode(t, "limit 0", err, CodeInvalidRequest)
	normal, _, err := s.CreateConversation(ctx, master, CreateConversationRequest{Members: []string{"tom"}})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "subscribe to a normal conversation", s.Subscribe(ctx, master, normal.ID, "mary"), CodeOperationNotSupported)
}

// ListMembers names a member's imported role row, for LeanCloud's REST API.
func TestListMembersKeepsImportedInfoIDs(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	tom := Principal{ClientID: "tom"}
	c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"jerry", "mary"}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.PutMemberInfo(&store.MemberInfo{ConversationID: c.ID, ClientID: "jerry", Role: RoleManager, InfoID: "5a5d7433c3422b31ed845e76", CreatedAt: 1, UpdatedAt: 1})
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	members, err := s.ListMembers(ctx, tom, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, m := range members {
		ids[m.ClientID] = m.Role + " " + m.InfoID
	}
	if ids["jerry"] != "manager 5a5d7433c3422b31ed845e76" || ids["mary"] != "member " || ids["tom"] != "owner " {
		t.Errorf("members %v", ids)
	}
}

// A subscriber's private message shares the seq of the public message
// before it: deleting it leaves that message's mentions alone.
func TestDeleteAPrivateMessageKeepsMentions(t *testing.T) {
	s := newService(t, Config{})
	ctx := context.Background()
	master, tom := Principal{Master: true}, Principal{ClientID: "tom"}
	sys, _, err := s.CreateConversation(ctx, master, CreateConversationRequest{Kind: KindSystem})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, master, sys.ID, "tom"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AdminSend(ctx, master, sys.ID, "news", SendRequest{Content: Content{Type: intp(TypeText), Text: "@tom", MentionList: []string{"tom"}}}); err != nil {
		t.Fatal(err)
	}
	private, _, err := s.Send(ctx, tom, sys.ID, text("thanks"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMessage(ctx, master, sys.ID, private.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.R().QueryRowxContext(ctx, "SELECT count(*) FROM mentions WHERE conversation_id = ?", sys.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("mentions left: %d, %v", n, err)
	}
}
