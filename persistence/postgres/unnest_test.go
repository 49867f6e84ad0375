package postgres

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/allot/allot/persistence/pgtest"
)

// TestCommitStatementsUnnestInSelectList: every statement of a commit that takes arrays reads
// them through set-returning functions in its select list (a ProjectSet, one element at a
// time), never through a function scan in FROM, which materializes each array into a
// tuplestore of its own (16 KB allocated and freed per array per commit: commit.go). The
// statements are the ones newCommitBatch builds for random batches (new and changed holds,
// keys, the waitlist, events), planned by PostgreSQL with their own arguments.
func TestCommitStatementsUnnestInSelectList(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	mustOpen(t, testConfig(url)) // the schema
	conn := mustConn(t, url)
	ctx := context.Background()

	rng := rand.New(rand.NewPCG(14, 14))
	seen := map[string]bool{}
	for i := 0; i < 400; i++ {
		b := randomCommitBatch(rng, 6)
		b.NewHolds = rng.IntN(len(b.Holds) + 1) // the first ones are new: a plain insert
		for _, exact := range []bool{false, true} {
			q, err := newCommitBatch(b, new(commitArena), exact, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range q.queries {
				if !strings.Contains(x.sql, "unnest(") || seen[x.sql] {
					continue
				}
				seen[x.sql] = true
				if strings.Contains(x.sql, "FROM unnest") {
					t.Errorf("unnest in FROM:\n%s", x.sql)
				}
				var plan []string
				rows, err := conn.Query(ctx, "EXPLAIN "+x.sql, x.args...)
				if err == nil {
					for rows.Next() {
						var line string
						if err = rows.Scan(&line); err != nil {
							break
						}
						plan = append(plan, line)
					}
					rows.Close()
					if err == nil {
						err = rows.Err()
					}
				}
				if err != nil {
					t.Fatalf("explain %s: %v", x.sql, err)
				}
				p := strings.Join(plan, "\n")
				if !strings.Contains(p, "ProjectSet") || strings.Contains(p, "Function Scan") {
					t.Errorf("plan of\n%s\nis\n%s\nwant a ProjectSet and no Function Scan", x.sql, p)
				}
			}
		}
	}
	for _, want := range []string{sqlUpsertBuckets, sqlInsertHolds, sqlUpsertHolds, sqlUpsertWaitlist,
		sqlInsertIdempotency, sqlInsertIdempotencyNew, sqlInsertOutbox} {
		if !seen[want] {
			t.Errorf("no random batch sent\n%s", want)
		}
	}
}
