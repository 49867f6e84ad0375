package reports_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
)

// TestViewKeySharedThroughTheDatabase: every store on one database reads the same key, made
// once; PostgreSQL is told apart from CockroachDB.
func TestViewKeySharedThroughTheDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	a := mustSQLiteStore(t, path)
	b, closeB := openSQLite(t, path)
	defer closeB()
	k1, err := a.ViewKey(ctx)
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x, %v", k1, err)
	}
	k2, err := b.ViewKey(ctx)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second store's key %x (%v), want %x", k2, err, k1)
	}
	pg := mustPostgresStore(t)
	kp, err := pg.ViewKey(ctx)
	if err != nil || len(kp) != 32 || bytes.Equal(kp, k1) {
		t.Fatalf("PostgreSQL key %x, %v", kp, err)
	}
}

// TestPruneApplied: ids of events that occurred before the horizon are forgotten, later ones
// kept; a forgotten event would be applied again, which is why the node prunes only past
// what the bus can still deliver.
func TestPruneApplied(t *testing.T) {
	for name, s := range map[string]*reports.SQLStore{
		"sqlite":   mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db")),
		"postgres": mustPostgresStore(t),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			old := storetest.HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 1, storetest.T0, []string{"x"}, 1)
			recent := storetest.HoldEvent(reports.TypeHoldPlaced, "r1", "h2", 2, storetest.T0.Add(48*time.Hour), []string{"x"}, 1)
			for _, ev := range []feed.Event{old, recent} {
				if ok, err := s.Apply(ctx, ev); !ok || err != nil {
					t.Fatalf("apply %s: %v %v", ev.ID, ok, err)
				}
			}
			n, err := s.PruneApplied(ctx, storetest.T0.Add(24*time.Hour))
			if err != nil || n != 1 {
				t.Fatalf("pruned %d, %v; want 1", n, err)
			}
			if ok, err := s.Apply(ctx, recent); ok || err != nil {
				t.Fatalf("the recent event applied again: %v %v", ok, err)
			}
			if ok, err := s.Apply(ctx, old); !ok || err != nil {
				t.Fatalf("the forgotten event: %v %v; want applied again", ok, err)
			}
		})
	}
}
