package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/allot/allot/persistence/pgtest"
)

// TestIdempotencyKeysIndexes: after the migrations idempotency_keys has its primary key and
// no other index (0016 dropped idempotency_keys_by_age, which no query used and every hold
// paid for), and the activation's prune walks that primary key.
func TestIdempotencyKeysIndexes(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	mustOpen(t, testConfig(url))
	conn := mustConn(t, url)
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = 'idempotency_keys' ORDER BY indexname`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "idempotency_keys_pkey" {
		t.Fatalf("indexes of idempotency_keys = %q, want only the primary key", names)
	}
}

// TestOutboxIndexes: after the migrations the outbox has its primary key, outbox_pending (a
// partial index on the unpublished rows in the claim's order) and outbox_pending_by_resource
// (the same rows by resource and version, for the claim's prefix check): 0017; they replaced
// outbox_unpublished, which kept an entry for every row and a second one for every row
// marked published.
func TestOutboxIndexes(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	mustOpen(t, testConfig(url))
	conn := mustConn(t, url)
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox' ORDER BY indexname`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var n, def string
		if err := rows.Scan(&n, &def); err != nil {
			t.Fatal(err)
		}
		got[n] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"outbox_pending":             "CREATE INDEX outbox_pending ON public.outbox USING btree (occurred_at_ms, resource_id, version, idx) WHERE (published_at_ms = 0)",
		"outbox_pending_by_resource": "CREATE INDEX outbox_pending_by_resource ON public.outbox USING btree (resource_id, version, idx) WHERE (published_at_ms = 0)",
	}
	if len(got) != 3 || got["outbox_pkey"] == "" || got["outbox_pending"] != want["outbox_pending"] ||
		got["outbox_pending_by_resource"] != want["outbox_pending_by_resource"] {
		t.Fatalf("indexes of outbox = %q, want outbox_pkey and %q", got, want)
	}
}

// TestPrefixCheckIsARange: the claim's prefix check (sqlUnpublishedUpTo) can read a
// resource's unpublished rows up to the last claimed one as a range of
// outbox_pending_by_resource: both the resource and the (version, idx) bound are index
// conditions. With the bound as a filter it read the relay's whole backlog in every claim.
func TestPrefixCheckIsARange(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	mustOpen(t, testConfig(url))
	conn := mustConn(t, url)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil { // the table is empty
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN `+sqlUnpublishedUpTo, []string{"r1"}, []int64{7}, []int64{0})
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	p := strings.Join(plan, "\n")
	if !strings.Contains(p, "outbox_pending_by_resource") || !strings.Contains(p, "Index Cond: ((resource_id = k.r) AND (ROW(version, idx) <= ROW(k.v, k.i)))") {
		t.Fatalf("prefix check plan:\n%s\nwant a range of outbox_pending_by_resource", p)
	}
}
