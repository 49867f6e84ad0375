package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// sqlRecorder is a pgx tracer that records the SQL of a commit's statements and whether each failed.
type sqlRecorder struct {
	mu  sync.Mutex
	ran []string // "ok " or "err " + SQL
}

func (r *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (r *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *sqlRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (r *sqlRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.Err != nil {
		r.ran = append(r.ran, "err "+d.SQL)
	} else {
		r.ran = append(r.ran, "ok "+d.SQL)
	}
}
func (r *sqlRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns what ran since the last take.
func (r *sqlRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ran
	r.ran = nil
	return out
}

// TestCommitInsertsNewRows: a batch's new holds (Batch.NewHolds) and its idempotency keys are
// plain inserts; changed holds are upserted. A key the store still has, or a new hold id
// another resource owns, makes the plain insert fail: the batch is sent again with upserts,
// which keep today's rules (the key replaced 24 h later; the foreign hold refuses the batch).
func TestCommitInsertsNewRows(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	rec := &sqlRecorder{}
	cfg := testConfig(url)
	cfg.Tracer = rec
	s := mustOpen(t, cfg)
	ctx := context.Background()
	mustCreate(t, s, "r1", booking.Bucket{Key: "a", Capacity: 10})
	mustCreate(t, s, "r2", booking.Bucket{Key: "a", Capacity: 10})
	rec.take()
	expect := func(what string, want ...string) {
		t.Helper()
		if got := rec.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: statements\n%q\nwant\n%q", what, got, want)
		}
	}
	ok, fail := func(sql string) string { return "ok " + sql }, func(sql string) string { return "err " + sql }
	commit := func(b *persistence.Batch) error { return s.Commit(ctx, b) }

	h1, h2 := testHold("r1", "h1", 1, 1, "a"), testHold("r1", "h2", 2, 1, "a")
	key := booking.IdempotencyEntry{Key: "k", Fingerprint: "f1", HoldID: h1.ID, CreatedAt: t0}
	if err := commit(&persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 2, Resource: testResource("r1"),
		Holds: []booking.Hold{h1, h2}, NewHolds: 2, Idempotency: []booking.IdempotencyEntry{key}}); err != nil {
		t.Fatal(err)
	}
	expect("new holds and a key", ok(sqlBegin), ok(sqlUpdateResource), ok(sqlInsertHolds), ok(sqlInsertIdempotencyNew), ok(sqlCommit))

	h1.Status = booking.StatusConfirmed
	h3 := testHold("r1", "h3", 3, 1, "a")
	if err := commit(&persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 3, Resource: testResource("r1"),
		Holds: []booking.Hold{h3, h1}, NewHolds: 1}); err != nil {
		t.Fatal(err)
	}
	expect("a new hold and a changed one", ok(sqlBegin), ok(sqlUpdateResource), ok(sqlInsertHolds), ok(sqlUpsertHolds), ok(sqlCommit))

	// The key again, a day later (the actor forgot it; a client reused it): replaced.
	reused := booking.IdempotencyEntry{Key: "k", Fingerprint: "f2", HoldID: h3.ID, CreatedAt: t0.Add(booking.IdempotencyRetention)}
	if err := commit(&persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 4, Resource: testResource("r1"),
		Idempotency: []booking.IdempotencyEntry{reused}}); err != nil {
		t.Fatal(err)
	}
	expect("a reused key", ok(sqlBegin), ok(sqlUpdateResource), fail(sqlInsertIdempotencyNew),
		ok(sqlBegin), ok(sqlUpdateResource), ok(sqlInsertIdempotency), ok(sqlCommit))
	snap, err := s.Activate(ctx, "r1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Idempotency) != 1 || snap.Idempotency[0] != reused || len(snap.Holds) != 3 {
		t.Fatalf("after the reused key: keys %+v, %d holds", snap.Idempotency, len(snap.Holds))
	}
	rec.take() // the activation's

	// r1's hold id said new in r2's batch: refused whole, after the exact attempt.
	stolen := testHold("r2", "h2", 4, 1, "a")
	mine := testHold("r2", "m1", 4, 1, "a")
	err = commit(&persistence.Batch{ResourceID: "r2", Epoch: 1, Version: 2, Resource: testResource("r2"),
		Holds: []booking.Hold{mine, stolen}, NewHolds: 2})
	if !errors.Is(err, errHoldOfOtherResource) || errors.Is(err, persistence.ErrFenced) || errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("foreign new hold: err = %v, want errHoldOfOtherResource", err)
	}
	expect("a foreign new hold", ok(sqlBegin), ok(sqlUpdateResource), fail(sqlInsertHolds),
		ok(sqlBegin), ok(sqlUpdateResource), fail(sqlUpsertHolds))
	if _, err := s.GetHold(ctx, "r2", mine.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("the refused batch's own hold: err = %v, want ErrNotFound", err)
	}
}
