package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/parley-im/parley/store"
)

var (
	queryConvs   = flag.Int("query-convs", 100_000, "query: conversations to seed into the database file")
	queryClients = flag.Int("query-clients", 10_000, "query: the pool of clients the conversations' members come from")
)

func init() {
	register(&Scenario{
		Name: "query",
		Help: "conversation queries (GET /v1/conversations?where=...) over -query-convs conversations (default 100,000, seeded " +
			"into the database file before the server starts): p50/p99 per query kind at limit 10 and 100",
		Concurrency: 1,
		NoBaseline:  true, // one reader's latencies: no ratio to a flat-out ceiling
		Run:         runQuery,
	})
}

// The attribute vocabulary of the seeded conversations. Topics are skewed
// (the first is the most common, the last rare), so that the queries meet
// both common and rare values.
var (
	queryTopics = []string{"music", "sports", "travel", "food", "games", "movies", "books", "tech",
		"news", "art", "hiking", "cooking", "gaming", "fashion", "science", "pets", "cars", "finance", "chess", "origami"}
	queryTags = []string{"go", "rust", "python", "js", "java", "kotlin", "swift", "ruby", "sql", "linux",
		"cloud", "ml", "design", "ops", "mobile", "web", "games", "music", "jazz", "rock",
		"news", "eu", "us", "asia", "beta", "vip", "support", "sales", "hr", "random",
		"weekly", "daily", "remote", "local", "open", "closed", "archive", "draft", "team", "fun"}
	queryRegions = []string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"}
	queryTiers   = []string{"gold", "silver", "bronze"}
)

// queryKind is one kind of query the scenario times.
type queryKind struct {
	key, label, where string
}

func queryKinds(member string) []queryKind {
	return []queryKind{
		{"all", "no filter (newest first)", `{}`},
		{"eq_common", "attribute equality, common value", `{"topic":"music"}`},
		{"eq_rare", "attribute equality, rare value", `{"topic":"origami"}`},
		{"nested", "nested attribute equality", `{"meta.region":"eu-west","meta.owner.tier":"gold"}`},
		{"member_attr", "member + attribute", `{"m":"` + member + `","topic":"music"}`},
		{"member", "member only (a client's conversations)", `{"m":"` + member + `"}`},
		{"in", "$in of three values", `{"topic":{"$in":["travel","food","chess"]}}`},
		{"range", "number range", `{"level":{"$gte":40,"$lt":45}}`},
		{"regex", "regex on one attribute", `{"topic":{"$regex":"^(hik|cook|gam)ing$","$options":"i"}}`},
		{"or", "$or of two", `{"$or":[{"topic":"origami"},{"tags":"jazz"}]}`},
		{"array_and", "array contains + range", `{"tags":"rust","level":{"$gt":90}}`},
	}
}

func runQuery(env *Env) error {
	ctx, rep := env.Ctx, env.Report
	n, pool := *queryConvs, *queryClients
	if n < 1 || pool < 10 {
		return fmt.Errorf("query needs at least 1 conversation and 10 clients")
	}
	rep.Param("conversations", n)
	rep.Param("clients", pool)
	path, err := env.DBPath()
	if err != nil {
		return err
	}
	progress("query: seeding %d conversations into %s", n, path)
	start := time.Now()
	st, err := seedQuery(ctx, path, n, pool)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(start)
	progress("query: seeded in %s (%.0f conversations/s)", seedTime.Round(time.Millisecond), float64(n)/seedTime.Seconds())
	rep.Metric("seed_seconds", "seeding time", seedTime.Seconds(), "s")
	rep.Metric("seed_convs_per_sec", "seeding rate", float64(n)/seedTime.Seconds(), "convs/s")
	rep.Metric("seed_members", "member rows", float64(st.members), "rows")
	rep.Metric("seed_messages", "messages (one per conversation with a lastMessageAt)", float64(st.messages), "msgs")
	var dbBytes int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			dbBytes += fi.Size()
		}
	}
	rep.Metric("db_mib", "database file", float64(dbBytes)/(1<<20), "MiB")

	c, err := env.StartServer()
	if err != nil {
		return err
	}
	token, err := c.Login(ctx, st.member)
	if err != nil {
		return err
	}
	rep.Param("caller", st.member+" (a logged-in client, member of "+strconv.Itoa(st.memberOf)+" conversations)")
	kinds := queryKinds(st.member)
	limits := []int{10, 100}
	combos := len(kinds) * len(limits)
	d := env.Duration / time.Duration(combos)
	warm := env.Warmup / time.Duration(combos)
	rep.Param("per_query", fmt.Sprintf("%s each (+ %s warm-up), %d reader(s)", d, warm, env.Concurrency))
	auth := "Bearer " + token
	all := &sendResult{Latency: &Hist{}}
	worst := 0.0
	cpu := env.CPU()
	profiled := false
	for _, k := range kinds {
		for _, limit := range limits {
			q := url.Values{}
			q.Set("where", k.where)
			q.Set("limit", strconv.Itoa(limit))
			u := c.Base + "/v1/conversations?" + q.Encode()
			var page struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := c.Call(ctx, http.MethodGet, u[len(c.Base):], token, nil, &page, http.StatusOK); err != nil {
				return fmt.Errorf("%s: %w", k.key, err)
			}
			w := newWindow(time.Now().Add(warm), d)
			if !profiled { // the profile covers the whole series of queries
				env.ProfileWindow(w.Start(), env.Duration)
				profiled = true
			}
			progress("query: %s, limit %d (%d results): %s", k.key, limit, len(page.Results), k.where)
			res := runGets(ctx, c.HTTP, u, auth, env.Concurrency, w)
			if err := ctx.Err(); err != nil {
				return err
			}
			key := fmt.Sprintf("%s_l%d", k.key, limit)
			label := fmt.Sprintf("%s, limit %d", k.label, limit)
			p99 := res.Latency.Quantile(0.99)
			rep.Metric(key+"_p50_ms", label+": p50", res.Latency.Quantile(0.5), "ms")
			rep.Metric(key+"_p99_ms", label+": p99", p99, "ms")
			rep.Metric(key+"_results", "", float64(len(page.Results)), "")
			if res.FirstErr != "" {
				rep.Note("%s: %d errors, first: %s", label, res.Errors, res.FirstErr)
			}
			worst = max(worst, p99)
			all.OK += res.OK
			all.Errors += res.Errors
			all.Elapsed += res.Elapsed
			all.Latency.Merge(res.Latency)
			rep.TargetFigure(fmt.Sprintf("query: %s under 10 ms (p99)", label), key+"_p99_ms", 10, true)
		}
	}
	for _, k := range kinds {
		rep.Note("%-11s where=%s", k.key, k.where)
	}
	rep.Metric("ops_per_sec", "queries per second (all kinds)", all.PerSec(), "queries/s")
	rep.Metric("p50_ms", "query latency p50 (all kinds)", all.Latency.Quantile(0.5), "ms")
	rep.Metric("p99_ms", "query latency p99 (all kinds)", all.Latency.Quantile(0.99), "ms")
	rep.Metric("worst_p99_ms", "worst p99 of a query kind", worst, "ms")
	rep.Metric("errors", "failed requests", float64(all.Errors), "")
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_mib", "server RSS", float64(rss)/1024, "MiB")
	}
	env.ReportCPU(cpu)
	return nil
}

type querySeed struct {
	members, messages int
	member            string // a client with a typical number of conversations, the caller
	memberOf          int
}

// seedQuery fills a fresh database file with n conversations through the
// store package: Tx.InsertConversation (its migrations' triggers keep the
// conversation_attributes index of 0006), in transactions of 5,000, then one
// message for 90% of them with Tx.InsertMessage, in increasing time and in a
// random order of conversations, so that lastMessageAt has no relation to
// the attributes or the creation order. Kinds: 96% normal, 3% chat rooms (no
// members), 1% system (no members). Members: 2–10 from a pool of clients.
func seedQuery(ctx context.Context, path string, n, pool int) (*querySeed, error) {
	db, err := store.Open(path, store.Options{Synchronous: "normal"})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(4, 8))
	now := time.Now().UnixMilli()
	created := now - 30*24*3600*1000 // a month ago, one second apart at most
	ids := make([]string, n)
	clientName := func(i int) string { return fmt.Sprintf("qc%05d", i) }
	memberOf := make([]int, pool)
	st := &querySeed{}
	const batch = 5000
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		type row struct {
			conv    store.Conversation
			members []string
		}
		rows := make([]row, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ids[i] = fmt.Sprintf("benchquery%010d", i)
			kind := "normal"
			switch r := rng.IntN(100); {
			case r < 3:
				kind = "chatroom"
			case r < 4:
				kind = "system"
			}
			var members []string
			if kind == "normal" {
				k := 2 + rng.IntN(9)
				seen := map[int]bool{}
				for len(members) < k {
					m := rng.IntN(pool)
					if !seen[m] {
						seen[m] = true
						memberOf[m]++
						members = append(members, clientName(m))
					}
				}
			}
			attrs := queryAttributes(rng)
			at := created + int64(i)*(30*24*3600*1000/int64(n))
			creator := ""
			if len(members) > 0 {
				creator = members[0]
			}
			topic, _ := attrs["topic"].(string)
			b, _ := json.Marshal(attrs)
			rows = append(rows, row{store.Conversation{
				ID: ids[i], Kind: kind, Name: fmt.Sprintf("%s chat %d", topic, i), Creator: creator,
				Attributes: string(b), CreatedAt: at, UpdatedAt: at,
			}, members})
			st.members += len(members)
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			for i := range rows {
				if err := tx.InsertConversation(&rows[i].conv, rows[i].members); err != nil {
					return err
				}
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
	}
	// Messages: 90% of the conversations, in a random order, a second apart
	// at most, ending a minute ago.
	order := rng.Perm(n)
	order = order[:n*9/10]
	step := max(int64(1), (now-60_000-created)/int64(max(len(order), 1)))
	for lo := 0; lo < len(order); lo += 20_000 {
		hi := min(lo+20_000, len(order))
		err := db.Write(ctx, func(tx *store.Tx) error {
			for j := lo; j < hi; j++ {
				m := &store.Message{ConversationID: ids[order[j]], From: "qc-writer", Type: -1,
					Body: `{"type":-1,"text":"hello"}`, Timestamp: created + int64(j)*step}
				if err := tx.InsertMessage(m); err != nil {
					return err
				}
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	st.messages = len(order)
	// The caller: a client with the mean number of conversations.
	best := 0
	mean := float64(st.members) / float64(pool)
	for i := range memberOf {
		if math.Abs(float64(memberOf[i])-mean) < math.Abs(float64(memberOf[best])-mean) {
			best = i
		}
	}
	st.member, st.memberOf = clientName(best), memberOf[best]
	return st, nil
}

// queryAttributes makes one conversation's attributes: a topic (10% have
// none; topic i of the vocabulary with weight 1/(i+1), the last one rare:
// about 0.1%), a level 1–100 (80%), 0–4 tags (70%), a nested meta object
// (60%) and a language (always).
func queryAttributes(rng *rand.Rand) map[string]any {
	a := map[string]any{}
	if rng.IntN(10) != 0 {
		a["topic"] = queryTopics[pickWeighted(rng, queryTopicWeights)]
	}
	if rng.IntN(5) != 0 {
		a["level"] = 1 + rng.IntN(100)
	}
	if rng.IntN(10) < 7 {
		tags := []string{}
		for k := rng.IntN(5); len(tags) < k; {
			if t := queryTags[rng.IntN(len(queryTags))]; !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		a["tags"] = tags
	}
	if rng.IntN(10) < 6 {
		a["meta"] = map[string]any{
			"region": queryRegions[rng.IntN(len(queryRegions))],
			"owner":  map[string]any{"tier": queryTiers[rng.IntN(len(queryTiers))], "since": 2015 + rng.IntN(10)},
			"score":  float64(rng.IntN(10000)) / 100,
		}
	}
	a["lang"] = []string{"en", "en", "en", "de", "fr", "es", "ja", "pt"}[rng.IntN(8)]
	return a
}

var queryTopicWeights = func() []float64 {
	w := make([]float64, len(queryTopics))
	for i := range w {
		w[i] = 1 / float64(i+1)
	}
	w[len(w)-1] = 0.0035 // the rare one
	return w
}()

func pickWeighted(rng *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	r := rng.Float64() * sum
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}
