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
