package postgres

import (
	"context"
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

// TestOutboxIndexes: after the migrations the outbox has its primary key and outbox_pending,
// a partial index on the unpublished rows in the claim's order (0017; it replaced
// outbox_unpublished, which kept an entry for every row and a second one for every row
// marked published).
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
	const want = "CREATE INDEX outbox_pending ON public.outbox USING btree (occurred_at_ms, resource_id, version, idx) WHERE (published_at_ms = 0)"
	if len(got) != 2 || got["outbox_pkey"] == "" || got["outbox_pending"] != want {
		t.Fatalf("indexes of outbox = %q, want outbox_pkey and %q", got, want)
	}
}
