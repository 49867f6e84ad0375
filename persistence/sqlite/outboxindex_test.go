package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestClaimReadsThePendingIndex: the relay's read of the unpublished rows walks
// outbox_pending (migration 0017: a partial index on published_at_ms = 0 in log order) in
// order, with no sort, and outbox_unpublished is gone.
func TestClaimReadsThePendingIndex(t *testing.T) {
	s, err := Open(context.Background(), DefaultConfig(filepath.Join(t.TempDir(), "allot.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.rdb.Query(`EXPLAIN QUERY PLAN `+selectUnpublished, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	p := strings.Join(plan, "; ")
	if !strings.Contains(p, "outbox_pending") || strings.Contains(p, "TEMP B-TREE") {
		t.Fatalf("claim plan %q: want the outbox_pending index, in order", p)
	}
	var n int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'outbox_unpublished'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox_unpublished still there (%d, %v)", n, err)
	}
}
