package cmd

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/persistence/pgtest"
)

// TestWarmWAL checks on a fresh initdb, as the bench's, that crossing into new WAL segments
// creates files (walSnapshot counts them), and that after warmWAL the next segments are
// recycled ones: crossing them creates none.
func TestWarmWAL(t *testing.T) {
	pg := pgtest.MustNewServer(t)
	url := pg.URL("postgres")
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cross := func(n int) {
		for range n {
			if _, err := conn.Exec(ctx, "SELECT txid_current()"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
				t.Fatal(err)
			}
		}
	}

	cold := walSnapshot(ctx, url)
	cross(3)
	// initdb's checkpoint leaves at most one segment made ahead.
	if n := cold.created(walSnapshot(ctx, url)); n < 2 {
		t.Fatalf("a fresh server crossing 3 segments: %d created, want at least 2", n)
	}

	ready, err := warmWAL(ctx, url, 8)
	if err != nil {
		t.Fatal(err)
	}
	if ready < 8 {
		t.Fatalf("%d segments ready after warming 8, want at least 8", ready)
	}
	warm := walSnapshot(ctx, url)
	cross(ready - 1)
	if n := warm.created(walSnapshot(ctx, url)); n != 0 {
		t.Fatalf("crossing %d segments after warming created %d, want 0 (recycled)", ready-1, n)
	}
}

func TestWALCreated(t *testing.T) {
	a := walFiles{files: 10, checkpoint: "0/1000000"}
	for _, c := range []struct {
		later walFiles
		want  int
	}{
		{walFiles{files: 13, checkpoint: "0/1000000"}, 3},
		{walFiles{files: 10, checkpoint: "0/1000000"}, 0},
		{walFiles{files: 13, checkpoint: "0/9000000"}, -1}, // a checkpoint completed: files may have gone
		{walFiles{}, -1}, // not measured
	} {
		if got := a.created(c.later); got != c.want {
			t.Errorf("created(%+v) = %d, want %d", c.later, got, c.want)
		}
	}
	if got := (walFiles{}).created(a); got != -1 {
		t.Errorf("from an unmeasured snapshot: %d, want -1", got)
	}
	n, runs := walCreated([]benchRun{{WALSegments: 4, Holds: 1}, {WALSegments: -1, Holds: 1}, {WALSegments: 0, Holds: 1}, {WALSegments: 2}})
	if n != 4 || runs != 2 {
		t.Errorf("walCreated = %d in %d runs, want 4 in 2", n, runs)
	}
}
