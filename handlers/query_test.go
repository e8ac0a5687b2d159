package handlers

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/parley-im/parley/store"
)

// TestCompactQueryReadsWhatItShows: a compact query, which reads only the
// caller's member rows (and the other member's of one-to-one
// conversations), shows each conversation as the full query does, member
// lists left out: unread counts, mute, one-to-one receipts.
func TestCompactQueryReadsWhatItShows(t *testing.T) {
	s := newService(t, Config{})
	db := s.db
	ctx := context.Background()
	convs := []struct {
		id, kind string
		members  []string
	}{
		{"group", KindNormal, []string{"tom", "jerry", "mary"}},
		{"pair", KindNormal, []string{"tom", "jerry"}},
		{"others", KindNormal, []string{"jerry", "mary"}},
		{"alone", KindNormal, []string{"tom"}},
		{"room", KindChatRoom, nil},
		{"news", KindSystem, []string{"tom"}},
	}
	err := db.Write(ctx, func(tx *store.Tx) error {
		for i, c := range convs {
			row := &store.Conversation{ID: c.id, Kind: c.kind, Attributes: `{"n":1}`, CreatedAt: int64(i + 1), UpdatedAt: int64(i + 1)}
			if err := tx.InsertConversation(row, c.members); err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?", 10+i, 100+i, c.id); err != nil {
				return err
			}
			for j, m := range c.members {
				if _, err := tx.Exec("UPDATE members SET muted = ?, read_seq = ?, read_at = ?, delivered_at = ? WHERE conversation_id = ? AND client_id = ?",
					(i+j)%2, i+j, 1000+i*10+j, 2000+i*10+j, c.id, m); err != nil {
					return err
				}
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Principal{{ClientID: "tom"}, {ClientID: "jerry"}, {ClientID: "mary"}, {ClientID: "nobody"}, {Master: true}} {
		for _, where := range []string{`{}`, `{"n":1}`, `{"id":{"$ne":"pair"}}`, `{"id":{"$in":["group","alone","room"]}}`} {
			full, err := s.QueryConversations(ctx, p, QueryRequest{Where: where, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			compact, err := s.QueryConversations(ctx, p, QueryRequest{Where: where, Limit: 100, Compact: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(full) < 3 || len(compact) != len(full) {
				t.Fatalf("%+v where %s: %d and %d conversations", p, where, len(full), len(compact))
			}
			shown := 0
			for i := range full {
				want := *full[i]
				if want.UnreadCount != nil || want.Muted || want.LastReadAt != nil {
					shown++
				}
				want.Members, want.MutedMembers = nil, nil
				if got := *compact[i]; !reflect.DeepEqual(got, want) {
					t.Errorf("%+v where %s: compact shows\n%s\nwant\n%s", p, where, show(&got), show(&want))
				}
			}
			if p.ClientID == "tom" && where == `{}` && shown < 3 {
				t.Errorf("%+v: only %d conversations show the caller's rows: a weak test", p, shown)
			}
		}
	}
}

func show(c *Conversation) string {
	deref := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return fmt.Sprintf("%s members %v muted %v %v unread %v read %v delivered %v",
		c.ID, c.Members, c.MutedMembers, c.Muted, deref(c.UnreadCount), deref(c.LastReadAt), deref(c.LastDeliveredAt))
}
