package handlers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-im/parley/store"
)

// testService is a Service on a fresh database, with the conversations
// given (id → members), created normal.
func testService(t *testing.T, convs map[string][]string) *Service {
	t.Helper()
	s := newService(t, Config{})
	err := s.db.Write(context.Background(), func(tx *store.Tx) error {
		for id, members := range convs {
			row := &store.Conversation{ID: id, Kind: KindNormal, Attributes: "{}", CreatedAt: 1, UpdatedAt: 1}
			if err := tx.InsertConversation(row, members); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A history page is selected by message ids or by times, not both ways;
// times are not negative; a time given where a message id goes is no
// message, and the answer points at the time parameter.
func TestHistoryRequestRules(t *testing.T) {
	s := testService(t, map[string][]string{"c": {"tom", "jerry"}})
	ctx := context.Background()
	tom := Principal{ClientID: "tom"}
	m, _, err := s.Send(ctx, tom, "c", SendRequest{Content: Content{Type: intp(-1), Text: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	at := func(v int64) *int64 { return &v }
	code := func(err error) Code {
		var e *Error
		if errors.As(err, &e) {
			return e.Code
		}
		return ""
	}
	for _, c := range []struct {
		what   string
		req    HistoryRequest
		code   Code
		detail string
	}{
		{"before and beforeTime", HistoryRequest{Before: m.ID, BeforeTime: at(m.Timestamp)}, CodeInvalidRequest, "not both ways"},
		{"after and afterTime", HistoryRequest{After: m.ID, AfterTime: at(0)}, CodeInvalidRequest, "not both ways"},
		{"before and afterTime", HistoryRequest{Before: m.ID, AfterTime: at(0)}, CodeInvalidRequest, "not both ways"},
		{"after and beforeTime", HistoryRequest{After: m.ID, BeforeTime: at(m.Timestamp)}, CodeInvalidRequest, "not both ways"},
		{"negative beforeTime", HistoryRequest{BeforeTime: at(-1)}, CodeInvalidRequest, "beforeTime"},
		{"negative afterTime", HistoryRequest{AfterTime: at(-1)}, CodeInvalidRequest, "afterTime"},
		{"a time as before", HistoryRequest{Before: "1795449600000"}, CodeMessageNotFound, "beforeTime"},
		{"a time as after", HistoryRequest{After: "1795449600000"}, CodeMessageNotFound, "afterTime"},
		{"an unknown id", HistoryRequest{Before: "zzzzzzzzzzz"}, CodeMessageNotFound, "no message"},
	} {
		_, err := s.History(ctx, tom, "c", c.req)
		if code(err) != c.code || !strings.Contains(err.Error(), c.detail) {
			t.Errorf("%s: %v, want %s mentioning %q", c.what, err, c.code, c.detail)
		}
	}
	if got := func() string {
		_, err := s.History(ctx, tom, "c", HistoryRequest{Before: "zzzzzzzzzzz"})
		return err.Error()
	}(); strings.Contains(got, "Time") {
		t.Errorf("an id that is no time points at a time parameter: %s", got)
	}
	for _, req := range []HistoryRequest{
		{BeforeTime: at(m.Timestamp + 1)}, {AfterTime: at(m.Timestamp - 1)}, {AfterTime: at(0), BeforeTime: at(m.Timestamp + 1)},
	} {
		page, err := s.History(ctx, tom, "c", req)
		if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != m.ID || page.HasMore {
			t.Errorf("%+v: %+v %v", req, page, err)
		}
	}
}
