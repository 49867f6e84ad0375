package postgres

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestHotPathIndexesHaveReaders: a durable hold writes one row of holds and one of outbox, and
// every B-tree of those two tables is one more insert per hold, a third of PostgreSQL's CPU per
// hold between them (BenchmarkCommitShapes; docs/PERFORMANCE.md, rounds 18 and 20). The test
// pins the indexes to exactly these, each with a statement of the store that reads through it
// (its plan names the index), on tables shaped like a live node's (most events published, a
// few unpublished, many resources and users). It fails if an index is added (every hold pays
// for it: add its reader here, and measure it), if one is dropped that a reader needs, or if a
// reader changes so that its index no longer serves it (an index every hold pays for that
// nothing reads, or a reader that now scans).
func TestHotPathIndexesHaveReaders(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	mustOpen(t, testConfig(url))
	conn := mustConn(t, url)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for _, sql := range []string{
		// 4,000 holds of 40 resources and 400 users, a few with an open payment.
		`INSERT INTO holds (id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms,
    expires_at_ms, updated_at_ms, payment, payment_open, idem_entry)
SELECT 'h' || g, 'r' || (g % 40), 'u' || (g % 400), CASE WHEN g % 3 = 0 THEN 'held' ELSE 'confirmed' END, 1,
    '["all"]', 'k' || g, $1::INT8 - g, $1::INT8 + 600000, $1::INT8 - g, CASE WHEN g % 500 = 0 THEN 'p' || g ELSE '' END,
    g % 500 = 0, true
FROM generate_series(1, 4000) AS g`,
		// 4,000 events of 40 resources, all but the last 20 published.
		`INSERT INTO outbox (occurred_at_ms, resource_id, version, idx, event_type, subject, data, published_at_ms, claimed_until_ms)
SELECT $1::INT8 - 4000 + g, 'r' || (g % 40), g / 40 + 1, 0, 'hold.placed', 'u', '{}',
    CASE WHEN g > 3980 THEN 0 ELSE $1::INT8 END, 0
FROM generate_series(1, 4000) AS g`,
	} {
		if _, err := conn.Exec(ctx, sql, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE holds`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE outbox`); err != nil {
		t.Fatal(err)
	}

	want := map[string][]string{
		"holds":  {"holds_by_resource", "holds_by_user", "holds_payment_open", "holds_pkey"},
		"outbox": {"outbox_pkey", "outbox_unpublished", "outbox_unpublished_by_resource"},
	}
	for table, indexes := range want {
		rows, err := conn.Query(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`, table)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, indexes) {
			t.Errorf("indexes of %s = %q, want %q: every one is a B-tree insert per durable hold; give a new one its reader here", table, got, indexes)
		}
	}

	byUser, byUserArgs := listHoldsQuery(persistence.HoldFilter{UserID: "u7", Limit: 100})
	log, logArgs := listEventsQuery(persistence.EventFilter{Limit: 100,
		After: &persistence.EventKey{OccurredMS: now - 100, ResourceID: "r1", Version: 1}})
	readers := []struct {
		index, reader, sql string
		args               []any
	}{
		{"holds_pkey", "GetHold", sqlGetHold, []any{"h7", "r7"}},
		{"holds_by_resource", "Activate's holds", sqlLoadHolds, []any{"r7"}},
		{"holds_by_resource", "Activate's entries carried by holds", sqlLoadHoldIdempotency, []any{"r7"}},
		{"holds_by_user", "ListHolds of a user", byUser, byUserArgs},
		{"holds_payment_open", "ListPayments, open ones", paymentsQuery(true), []any{100}},
		{"outbox_pkey", "ListEvents after a cursor", log, logArgs},
		{"outbox_unpublished", "ClaimEvents' candidates", sqlClaimOutbox, []any{now, 256}},
		{"outbox_unpublished_by_resource", "ClaimEvents' prefix check", sqlUnpublishedUpTo,
			[]any{[]string{"r7"}, []int64{-1}, []int64{-1}, []int64{200}, []int64{0}, int64(256)}},
	}
	for _, r := range readers {
		rows, err := conn.Query(ctx, "EXPLAIN "+r.sql, r.args...)
		if err != nil {
			t.Fatalf("explain %s: %v", r.reader, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("explain %s: %v", r.reader, err)
		}
		p := strings.Join(plan, "\n")
		// "Index Scan using <index> on", "Bitmap Index Scan on <index>": the whole name (the
		// claim's index is a prefix of the prefix check's).
		if !regexp.MustCompile(`\b` + r.index + `\b`).MatchString(p) {
			t.Errorf("%s does not read %s; its plan:\n%s", r.reader, r.index, p)
		}
	}
}
