package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/persistence"
)

// Renewals are folded into the writer's groups like commits: a fenced one fails alone, and
// an activation later in the group sees the lease stored before it.
func TestGroupCommitFoldsRenewals(t *testing.T) {
	s := MustOpen(t, Config{})
	for _, id := range []string{"blocker", "ok", "fenced", "lease"} {
		mustCommit(t, s, createBatch(id))
	}
	if _, err := s.Activate(context.Background(), "fenced", time.Time{}); err != nil {
		t.Fatal(err)
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)

	ctx := context.Background()
	var snap *persistence.Snapshot
	calls := []struct {
		name string
		run  func() error
		want func(error) bool
	}{
		{"renew", func() error { return s.Renew(ctx, "ok", 1, t0.Add(time.Second)) }, func(err error) bool { return err == nil }},
		{"fenced", func() error { return s.Renew(ctx, "fenced", 1, t0.Add(time.Second)) }, func(err error) bool { return errors.Is(err, persistence.ErrFenced) }},
		{"absent", func() error { return s.Renew(ctx, "absent", 1, t0.Add(time.Second)) }, func(err error) bool { return errors.Is(err, persistence.ErrFenced) }},
		{"commit", func() error {
			return s.Commit(ctx, &persistence.Batch{ResourceID: "lease", Epoch: 1, Version: 2, Resource: res("lease"), LeaseUntil: t0.Add(2 * time.Second)})
		}, func(err error) bool { return err == nil }},
		{"activate", func() error {
			var err error
			snap, err = s.Activate(ctx, "ok", time.Time{})
			return err
		}, func(err error) bool { return err == nil }},
	}
	errs := make([]chan error, len(calls))
	for i, c := range calls {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- c.run() }()
		<-g.enqueued // enqueue in this order, one at a time
	}
	close(g.release)
	if err := <-blocked; err != nil {
		t.Fatalf("blocking commit: %v", err)
	}
	if n := <-g.entered; n != len(calls) {
		t.Fatalf("second group has %d ops, want %d", n, len(calls))
	}
	for i, c := range calls {
		if err := <-errs[i]; !c.want(err) {
			t.Errorf("%s: unexpected result %v", c.name, err)
		}
	}
	if snap == nil || snap.Epoch != 2 || snap.Version != 1 || !snap.LeaseUntil.Equal(t0.Add(time.Second)) {
		t.Errorf("activation in the group: %+v", snap)
	}
	for id, want := range map[string]time.Time{"fenced": {}, "lease": t0.Add(2 * time.Second)} {
		snap, err := s.Activate(ctx, id, time.Time{})
		if err != nil || !snap.LeaseUntil.Equal(want) {
			t.Errorf("%s: lease %v (%v), want %v", id, snap.LeaseUntil, err, want)
		}
	}
	if snap, err := s.Activate(ctx, "absent", time.Time{}); err != nil || snap.Exists {
		t.Errorf("renewal of an absent resource created it: %+v %v", snap, err)
	}
}

// A file at schema version 1 with a resource in it takes step 2 (the lease column) at Open:
// the resource has no lease, and activates, renews and commits.
func TestOpenMigratesLeasesOnExistingData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allot.db")
	steps, err := persistence.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	func() { // what a version-1 store left
		db, err := sql.Open("sqlite", DefaultConfig(path).dsn(path, true))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if err := migrateStep(ctx, c, steps[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, `INSERT INTO resources (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms)
VALUES ('r', 'r', NULL, NULL, 60000, 3, 5, ?, ?)`, t0.UnixMilli(), t0.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}()
	if got := countMigrations(t, path); got != 1 {
		t.Fatalf("schema_migrations has %d rows before Open, want 1", got)
	}
	s := MustOpen(t, DefaultConfig(path))
	if got := countMigrations(t, path); got != len(steps) {
		t.Fatalf("schema_migrations has %d rows after Open, want %d", got, len(steps))
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Exists || snap.Epoch != 4 || snap.Version != 5 || !snap.LeaseUntil.IsZero() {
		t.Fatalf("after the migration: %+v, want epoch 4, version 5, no lease", snap)
	}
	if err := s.Renew(ctx, "r", snap.Epoch, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Epoch: snap.Epoch, Version: 6, Resource: snap.Resource}); err != nil {
		t.Fatal(err)
	}
	if snap, err = s.Activate(ctx, "r", time.Time{}); err != nil || !snap.LeaseUntil.Equal(t0.Add(time.Second)) || snap.Version != 6 {
		t.Fatalf("after renew and commit: %+v %v", snap, err)
	}
}
