package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestNextBatchBeforeCommitIsFenced records why the store's pipeline (Enqueue, pipeline.go)
// sends a resource's batches on one connection: a resource's next batch that reaches
// PostgreSQL on another connection while the batch before it has written but not yet
// committed does not wait for it. At SERIALIZABLE its snapshot still has the old version, so
// its version check matches no row and it is refused as fenced at once; the actor would take
// that for a successor's fence and die. On one connection the server starts the next
// transaction only after the previous COMMIT.
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
	q, err := newCommitBatch(batch(2, "first"), new(commitArena), false, true)
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

// TestEnqueueFaults: batches of one resource pipelined on one connection while the connection
// is killed (pg_terminate_backend) or a batch's ctx is cancelled, at a random point (fixed
// seeds). Whatever happens, the batches acknowledged are a prefix of those placed and are
// stored; a batch stored but not acknowledged failed as an unknown outcome (ErrUnavailable:
// the connection closed while the server committed it); none behind a failure is
// acknowledged; and the resource takes the next batch on top of what is stored.
func TestEnqueueFaults(t *testing.T) {
	srv := pgtest.MustServer(t)
	url := srv.MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	killer := mustConn(t, url)
	ctx := context.Background()
	const n = 30
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 17))
		id := fmt.Sprintf("faults-%d", seed)
		mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 1000})
		snap, err := s.Activate(ctx, id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		batch := func(epoch, v uint64) *persistence.Batch {
			return &persistence.Batch{ResourceID: id, Epoch: epoch, Version: v, Resource: testResource(id),
				Buckets: []booking.Bucket{{Key: "a", Capacity: 1000, Held: int64(v - 1)}},
				Holds:   []booking.Hold{testHold(id, fmt.Sprintf("%s-h%d", id, v), int64(v), 1, "a")}, NewHolds: 1}
		}
		kill := seed%2 == 0
		at := rng.IntN(n)
		var waits []func() error
		var cancels []context.CancelFunc
		for i := range n {
			bctx, cancel := context.WithTimeout(ctx, time.Minute)
			cancels = append(cancels, cancel)
			waits = append(waits, s.Enqueue(bctx, batch(snap.Epoch, uint64(2+i))))
			if i == at {
				if kill {
					if _, err := killer.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
						t.Fatal(err)
					}
				} else {
					cancels[rng.IntN(i+1)]()
				}
			}
			if rng.IntN(4) == 0 {
				time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
			}
		}
		acked, failedAt := 0, -1
		var firstErr error
		errs := make([]error, n)
		for i, wait := range waits {
			err := wait()
			errs[i] = err
			switch {
			case err == nil && failedAt >= 0:
				t.Fatalf("seed %d: batch %d acknowledged behind batch %d, which failed: %v", seed, i, failedAt, firstErr)
			case err == nil:
				acked++
			case failedAt < 0:
				failedAt, firstErr = i, err
			}
		}
		for _, cancel := range cancels {
			cancel()
		}
		var got *persistence.Snapshot
		for range 50 { // the pool may hand out connections that were killed
			if got, err = s.Activate(ctx, id, time.Time{}); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("seed %d: activate after the fault: %v", seed, err)
		}
		stored := int(got.Version) - 1 // batches applied
		if stored < acked {
			t.Fatalf("seed %d: %d batches stored, %d acknowledged", seed, stored, acked)
		}
		for i := acked; i < stored; i++ { // applied, but reported failed: only as unknown
			if !errors.Is(errs[i], persistence.ErrUnavailable) {
				t.Fatalf("seed %d: batch %d is stored, but failed with %v (not an unknown outcome)", seed, i, errs[i])
			}
		}
		if len(got.Holds) != stored || got.Buckets[0].Held != int64(stored) {
			t.Fatalf("seed %d: version %d with %d holds, held %d", seed, got.Version, len(got.Holds), got.Buckets[0].Held)
		}
		t.Logf("seed %d (kill %v at %d): %d acknowledged, %d stored, first failure: %v", seed, kill, at, acked, stored, firstErr)
		if err := s.Enqueue(ctx, batch(got.Epoch, got.Version+1))(); err != nil {
			t.Fatalf("seed %d: the next batch: %v", seed, err)
		}
	}
}

// TestEnqueueWithTracer: a store with a Config.Tracer pipelines through Commit, one batch at a
// time in the order placed (the tracer sees every statement), and fails a batch behind one
// that was refused.
func TestEnqueueWithTracer(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	cfg := testConfig(url)
	cfg.Tracer = new(retryCounter)
	s := mustOpen(t, cfg)
	ctx := context.Background()
	const id = "traced"
	mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 100})
	batch := func(v uint64) *persistence.Batch {
		return &persistence.Batch{ResourceID: id, Epoch: 1, Version: v, Resource: testResource(id),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 100, Held: int64(v - 1)}},
			Holds:   []booking.Hold{testHold(id, fmt.Sprintf("t%d", v), int64(v), 1, "a")}, NewHolds: 1}
	}
	var waits []func() error
	for v := uint64(2); v <= 11; v++ {
		waits = append(waits, s.Enqueue(ctx, batch(v)))
	}
	refused := s.Enqueue(ctx, batch(13)) // skips version 12
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if err := refused(); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("a batch skipping a version: err = %v, want ErrFenced", err)
	}
	snap, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 11 || len(snap.Holds) != 10 {
		t.Fatalf("version %d, %d holds; want 11, 10", snap.Version, len(snap.Holds))
	}
}

// TestEnqueueRetriesARefusedBatch: a pipelined batch the server refuses whole with a retryable
// error (here a plain insert of a key the store still has, as a client reusing a key a day
// later does; a serialization failure takes the same path) is sent again through Commit, as
// Commit alone would have, instead of failing: the reused key is replaced, and a batch placed
// after the retry applies on top of it.
func TestEnqueueRetriesARefusedBatch(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	ctx := context.Background()
	mustCreate(t, s, "r1", booking.Bucket{Key: "a", Capacity: 10})
	h1 := testHold("r1", "h1", 1, 1, "a")
	key := booking.IdempotencyEntry{Key: "k", Fingerprint: "f1", HoldID: h1.ID, CreatedAt: t0}
	if err := s.Enqueue(ctx, &persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 2, Resource: testResource("r1"),
		Holds: []booking.Hold{h1}, NewHolds: 1, Idempotency: []booking.IdempotencyEntry{key}})(); err != nil {
		t.Fatal(err)
	}
	h2 := testHold("r1", "h2", 2, 1, "a")
	reused := booking.IdempotencyEntry{Key: "k", Fingerprint: "f2", HoldID: h2.ID, CreatedAt: t0.Add(booking.IdempotencyRetention)}
	if err := s.Enqueue(ctx, &persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 3, Resource: testResource("r1"),
		Holds: []booking.Hold{h2}, NewHolds: 1, Idempotency: []booking.IdempotencyEntry{reused}})(); err != nil {
		t.Fatalf("a reused key through the pipe: %v (Commit would have retried it)", err)
	}
	h3 := testHold("r1", "h3", 3, 1, "a")
	if err := s.Enqueue(ctx, &persistence.Batch{ResourceID: "r1", Epoch: 1, Version: 4, Resource: testResource("r1"),
		Holds: []booking.Hold{h3}, NewHolds: 1})(); err != nil {
		t.Fatalf("the batch after the retried one: %v", err)
	}
	snap, err := s.Activate(ctx, "r1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Idempotency) != 1 || snap.Idempotency[0] != reused || len(snap.Holds) != 3 || snap.Version != 4 {
		t.Fatalf("keys %+v, %d holds, version %d; want the reused key, 3 holds, version 4", snap.Idempotency, len(snap.Holds), snap.Version)
	}
}
