package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Scratch experiments; not part of the change.
func TestZZScratch(t *testing.T) {
	path := os.Getenv("ZZ_DB")
	if path == "" {
		t.Skip()
	}
	_, statErr := os.Stat(path)
	db, err := Open(path, Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if statErr != nil {
		start := time.Now()
		fillBenchConversations(t, db, 100000)
		t.Logf("filled in %v", time.Since(start))
		if _, err := db.write.Exec("ANALYZE"); err != nil {
			t.Fatal(err)
		}
	}
	db.read.SetMaxOpenConns(1)
	if p := os.Getenv("ZZ_PRAGMA"); p != "" {
		for _, s := range strings.Split(p, ";") {
			if _, err := db.read.Exec("PRAGMA " + s); err != nil {
				t.Fatal(err)
			}
		}
	}
	f, err := os.ReadFile(os.Getenv("ZZ_SQL"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range strings.Split(string(f), ";;") {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		if strings.HasPrefix(q, "!") {
			start := time.Now()
			if _, err := db.write.Exec(q[1:]); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("=== exec %v: %s\n", time.Since(start), q[1:])
			continue
		}
		rows, err := db.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Logf("ERR %v\n%s", err, q)
			continue
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, fmt.Sprintf("%d/%d %s", id, parent, detail))
		}
		rows.Close()
		var n int
		var start time.Time
		const reps = 10
		for i := -1; i < reps; i++ {
			if i == 0 {
				start = time.Now()
			}
			rows, err := db.read.QueryContext(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			n = 0
			cols, _ := rows.Columns()
			for rows.Next() {
				n++
				if i == 0 && n <= 25 && os.Getenv("ZZ_SHOW") != "" {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for j := range vals {
						ptrs[j] = &vals[j]
					}
					rows.Scan(ptrs...)
					for j, v := range vals {
						if b, ok := v.([]byte); ok {
							vals[j] = string(b)
						}
					}
					fmt.Println("   ", vals)
				}
			}
			rows.Close()
		}
		el := time.Since(start) / reps
		w := bufio.NewWriter(os.Stdout)
		fmt.Fprintf(w, "=== %v rows=%d\n%s\n  %s\n", el, n, q, strings.Join(plan, "\n  "))
		w.Flush()
	}
}
