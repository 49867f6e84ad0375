package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestNextBatchBeforeCommitIsFenced records why the store offers no pipeline (no Enqueue, so
// an actor has one commit of a resource at the store at a time; see docs/ARCHITECTURE.md,
// Group commit): a resource's next batch that reaches PostgreSQL while the batch before it
// has written but not yet committed does not wait for it. At SERIALIZABLE its snapshot still
// has the old version, so its version check matches no row and it is refused as fenced at
// once; the actor would take that for a successor's fence and die. Batches of one resource
// can only go one after the other, after each COMMIT, which is what the actor does.
func TestNextBatchBeforeCommitIsFenced(t *testing.T) {
	srv := pgtest.MustServer(t)
	if srv.External() {
		t.Skip("shows a PostgreSQL behaviour (CockroachDB makes the second wait on the first's intent)")
	}
	url := srv.MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	ctx := context.Background()
	const id = "piped"
	mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 10})
	snap, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(version uint64, hold string) *persistence.Batch {
		return &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: version, Resource: testResource(id),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: int64(version - 1)}},
			Holds:   []booking.Hold{testHold(id, hold, int64(version), 1, "a")}}
	}
	// The first batch, on a connection of its own, stopped before its COMMIT.
	first := mustConn(t, url)
	tx, err := first.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		t.Fatal(err)
	}
	q, err := newCommitBatch(batch(2, "first"), new(commitArena), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range q.queries {
		if _, err := tx.Exec(ctx, x.sql, x.args...); err != nil {
			t.Fatalf("first batch: %v", err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Commit(wait, batch(3, "second")); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("second batch while the first is uncommitted: err = %v, want ErrFenced at once", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("first batch's COMMIT: %v", err)
	}
	if err := s.Commit(ctx, batch(3, "second")); err != nil {
		t.Fatalf("second batch after the first committed: %v", err)
	}
}
