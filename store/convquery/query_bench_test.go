package convquery

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/parley-im/parley/store"
)

// The conversation query benchmark: 100,000 conversations (PARLEY_BENCH_CONVS
// to change it; filling them takes about a minute) with a realistic mix of
// custom attributes and members drawn from a pool, then the queries a client
// typically sends, each timed as the handler runs it (compile + query).
//
//	go test ./store/convquery -run '^$' -bench BenchmarkQueryConversations -benchtime 1s
//
// planQuery's choice for a query is kept for a few seconds (planCache), so the
// iterations after the first skip the counting of the lookups' sizes;
// PARLEY_BENCH_PLANS=fresh forgets it before each one, to time a query seen
// for the first time.
//
// Selectivities (of 100,000): topic 1/50, lang 1/8, vip 1/5, level in
// [90, 95) 1/20, score > 990 1/100, owner.team 1/300, a tag 3/200 (0 to 6
// of 200 each), code unique, promo present on 1/100, ratings on 1/10, a
// member in about 25 conversations, a title starting with a word 1/30 and
// holding it 1/15.

var benchWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
	"kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
	"whiskey", "xray", "yankee", "zulu", "amber", "basil", "cedar", "dune"}

var benchLangs = []string{"en", "de", "fr", "es", "it", "ja", "zh", "pt"}

// benchAttributes returns the attributes of the i-th benchmark conversation.
func benchAttributes(r *rand.Rand, i int) string {
	attrs := map[string]any{
		"topic": fmt.Sprintf("topic-%d", r.Intn(50)),
		"level": r.Intn(100),
		"score": float64(r.Intn(100000)) / 100,
		"lang":  benchLangs[r.Intn(len(benchLangs))],
		"vip":   r.Intn(5) == 0,
		"code":  fmt.Sprintf("C%06d", i),
		"owner": map[string]any{"team": fmt.Sprintf("team-%d", r.Intn(300)), "region": benchLangs[r.Intn(4)]},
		"title": benchWords[r.Intn(len(benchWords))] + " " + benchWords[r.Intn(len(benchWords))] + " room",
	}
	tags := make([]any, r.Intn(7))
	for j := range tags {
		tags[j] = fmt.Sprintf("tag-%d", r.Intn(200))
	}
	attrs["tags"] = tags
	if r.Intn(100) == 0 {
		attrs["promo"] = map[string]any{"until": 1800000000000 + r.Intn(1000)}
	}
	if r.Intn(10) == 0 {
		attrs["ratings"] = []any{r.Intn(5) + 1, r.Intn(5) + 1, float64(r.Intn(50)) / 10}
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// benchID is a random conversation id like the handlers' (20 characters of
// base32hex): rows are stored in creation order, ids in random order.
func benchID(r *rand.Rand) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

// fillBenchConversations stores n conversations in db.
func fillBenchConversations(tb testing.TB, db *store.DB, n int) {
	r := rand.New(rand.NewSource(42))
	const clients = 20000
	const day = 24 * 3600 * 1000
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			for i := start; i < start+batch && i < n; i++ {
				c := &store.Conversation{ID: benchID(r), Kind: "normal", Name: fmt.Sprintf("Room %d", i),
					Creator: fmt.Sprintf("client-%d", r.Intn(clients)), Attributes: benchAttributes(r, i),
					CreatedAt: 1790000000000 + int64(i)*1000}
				c.UpdatedAt = c.CreatedAt
				switch k := r.Intn(100); {
				case k < 4:
					c.Kind = "chatroom"
				case k < 7:
					c.Kind = "system"
				case k < 10:
					c.Kind, c.ID = "temporary", "_tmp:"+c.ID
					ttl, exp := int64(86400), int64(1890000000000)
					c.TTL, c.ExpiresAt = &ttl, &exp
				}
				var members []string
				if c.Kind != "chatroom" {
					members = append(members, c.Creator)
					for j := r.Intn(8); j > 0; j-- {
						members = append(members, fmt.Sprintf("client-%d", r.Intn(clients)))
					}
				}
				if err := tx.InsertConversation(c, members); err != nil {
					return err
				}
				if r.Intn(100) < 85 {
					lm := c.CreatedAt + int64(r.Intn(30*day))
					if _, err := tx.Exec("UPDATE conversations SET last_message_at = ? WHERE id = ?", lm, c.ID); err != nil {
						return err
					}
				}
			}
			return nil
		}, nil)
		if err != nil {
			tb.Fatal(err)
		}
	}
}

type benchQuery struct {
	name, where, sort string
	limit             int
}

var benchQueries = []benchQuery{
	{"default/limit10", `{}`, "", 10},
	{"default/limit100", `{}`, "", 100},
	{"member", `{"m":"client-123"}`, "", 10},
	{"eq/topic", `{"topic":"topic-17"}`, "", 10},
	{"eq/topic/limit100", `{"topic":"topic-17"}`, "", 100},
	{"eq/topic+member", `{"topic":"topic-17","m":"client-123"}`, "", 10},
	{"eq/lang+member", `{"lang":"de","m":"client-123"}`, "", 10},
	{"eq/unique", `{"code":"C012345"}`, "", 10},
	{"eq/bool", `{"vip":true}`, "", 10},
	{"eq/nested", `{"owner.team":"team-7"}`, "", 10},
	{"eq/array", `{"tags":"tag-42"}`, "", 10},
	{"eq/topic+lang+vip", `{"topic":"topic-17","lang":"de","vip":true}`, "", 10},
	{"in/lang", `{"lang":{"$in":["de","fr"]}}`, "", 10},
	{"in/topic", `{"topic":{"$in":["topic-1","topic-2","topic-3"]}}`, "", 100},
	{"all/tags", `{"tags":{"$all":["tag-1","tag-2"]}}`, "", 10},
	{"range/level", `{"level":{"$gte":90,"$lt":95}}`, "", 10},
	{"range/level/limit100", `{"level":{"$gte":90,"$lt":95}}`, "", 100},
	{"range/level/and", `{"$and":[{"level":{"$gte":90}},{"level":{"$lt":95}}]}`, "", 10},
	{"range/score", `{"score":{"$gt":990}}`, "", 10},
	{"range/level+topic", `{"level":{"$gte":90},"topic":"topic-3"}`, "", 10},
	{"regex/title", `{"title":{"$regex":"^zulu"}}`, "", 10},
	{"regex/title/i", `{"title":{"$regex":"DUNE","$options":"i"}}`, "", 10},
	{"regex/topic/limit100", `{"topic":{"$regex":"^topic-(1|2|3)$"}}`, "", 100},
	{"regex/lang/i/limit100", `{"lang":{"$regex":"^(DE|FR)$","$options":"i"}}`, "", 100},
	{"exists/promo", `{"promo":{"$exists":true}}`, "", 10},
	{"or/topic|team", `{"$or":[{"topic":"topic-5"},{"owner.team":"team-9"}]}`, "", 10},
	{"or/topic|tag/limit100", `{"$or":[{"topic":"topic-5"},{"tags":"tag-9"}]}`, "", 100},
	{"ne/topic", `{"topic":{"$ne":"topic-1"}}`, "", 10},
	{"eq/topic/sort-createdAt", `{"topic":"topic-17"}`, "-createdAt", 10},
}

func BenchmarkQueryConversations(b *testing.B) {
	n := 100000
	if s := os.Getenv("PARLEY_BENCH_CONVS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "query.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	fillBenchConversations(b, db, n)
	b.Logf("filled %d conversations in %v", n, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	fresh := os.Getenv("PARLEY_BENCH_PLANS") == "fresh"
	for _, q := range benchQueries {
		b.Run(q.name, func(b *testing.B) {
			var found int
			for i := 0; i < b.N; i++ {
				if fresh {
					if plans, _ := plansOf(db.R(), ConversationQuery{}); plans != nil {
						plans.clear()
					}
				}
				w, err := CompileWhere([]byte(q.where))
				if err != nil {
					b.Fatal(err)
				}
				order, oargs, err := CompileSort(q.sort)
				if err != nil {
					b.Fatal(err)
				}
				rows, err := QueryConversations(ctx, db.R(), ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: q.limit})
				if err != nil {
					b.Fatal(err)
				}
				found = len(rows)
			}
			b.ReportMetric(float64(found), "rows")
		})
	}
}

// BenchmarkConversationWrites measures what the attribute index costs the
// writes that keep it: creating a conversation with realistic attributes
// and three members, and replacing its attributes (PATCH), 100 to a
// transaction.
//
//	go test ./store/convquery -run '^$' -bench BenchmarkConversationWrites -benchtime 20000x
func BenchmarkConversationWrites(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "writes.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewSource(1))
	ctx := context.Background()
	const batch = 100
	b.Run("insert", func(b *testing.B) {
		for i := 0; i < b.N; i += batch {
			err := db.Write(ctx, func(tx *store.Tx) error {
				for j := i; j < i+batch && j < b.N; j++ {
					c := &store.Conversation{ID: benchID(r), Kind: "normal", Attributes: benchAttributes(r, j), CreatedAt: 1, UpdatedAt: 1}
					if err := tx.InsertConversation(c, []string{"a", "b", "c"}); err != nil {
						return err
					}
				}
				return nil
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	var ids []string
	if err := sqlx.SelectContext(context.Background(), db.R(), &ids, "SELECT id FROM conversations ORDER BY id"); err != nil {
		b.Fatal(err)
	}
	b.Run("update", func(b *testing.B) {
		// A PATCH of one attribute, as the handler merges it.
		var attrs []string
		if err := sqlx.SelectContext(context.Background(), db.R(), &attrs, "SELECT attributes FROM conversations ORDER BY id"); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i += batch {
			err := db.Write(ctx, func(tx *store.Tx) error {
				for j := i; j < i+batch && j < b.N; j++ {
					var m map[string]any
					if err := json.Unmarshal([]byte(attrs[j%len(ids)]), &m); err != nil {
						return err
					}
					m["topic"] = fmt.Sprintf("topic-%d", r.Intn(50))
					patched, _ := json.Marshal(m)
					if err := tx.UpdateInfo(ids[j%len(ids)], "renamed", string(patched), 2); err != nil {
						return err
					}
				}
				return nil
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
