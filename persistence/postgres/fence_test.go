package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// staleBatch is what a fenced activation tries to write: a new hold, a bucket after-image, a
// new idempotency key, new metadata.
func staleBatch(id string, epoch uint64) *persistence.Batch {
	res := testResource(id)
	res.Name = "written by the stale activation"
	h := testHold(id, "stale-hold", 1, 3, "a")
	h.IdempotencyKey = "stale-key"
	return &persistence.Batch{
		ResourceID: id, Epoch: epoch, Version: 2, Resource: res,
		Buckets:     []booking.Bucket{{Key: "a", Capacity: 10, Held: 3}},
		Holds:       []booking.Hold{h},
		Idempotency: []booking.IdempotencyEntry{{Key: "stale-key", Fingerprint: "fp", HoldID: h.ID, CreatedAt: t0}},
	}
}

// expectUntouched checks that nothing of staleBatch is visible.
func expectUntouched(t *testing.T, s *Store, id string, wantEpoch uint64) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.GetHold(ctx, id, "stale-hold"); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("stale hold: err = %v, want ErrNotFound", err)
	}
	snap, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Epoch != wantEpoch || snap.Version != 1 || snap.Resource.Name != testResource(id).Name ||
		len(snap.Holds) != 0 || len(snap.Idempotency) != 0 || len(snap.Buckets) != 1 || snap.Buckets[0].Held != 0 {
		t.Errorf("the stale writer changed the resource: %+v", snap)
	}
}

// TestFencingTwoActivations: activations A then B on two pools; A's commit is refused and
// writes nothing, B's goes through.
func TestFencingTwoActivations(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	a, b := mustOpen(t, testConfig(url)), mustOpen(t, testConfig(url))
	ctx := context.Background()
	const id = "contended"
	mustCreate(t, a, id, booking.Bucket{Key: "a", Capacity: 10})

	snapA, err := a.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	snapB, err := b.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snapA.Epoch != 2 || snapB.Epoch != 3 {
		t.Fatalf("epochs %d, %d; want 2, 3", snapA.Epoch, snapB.Epoch)
	}
	if err := a.Commit(ctx, staleBatch(id, snapA.Epoch)); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("stale commit: err = %v, want ErrFenced", err)
	}
	// A stale creation is fenced too.
	cb := staleBatch(id, 0)
	cb.Create = true
	if err := a.Commit(ctx, cb); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("stale creation: err = %v, want ErrFenced", err)
	}
	expectUntouched(t, b, id, 4)

	snapB, err = b.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	good := staleBatch(id, snapB.Epoch)
	if err := b.Commit(ctx, good); err != nil {
		t.Fatalf("current activation's commit: %v", err)
	}
	if _, err := a.GetHold(ctx, id, "stale-hold"); err != nil {
		t.Fatalf("the current activation's hold: %v", err)
	}
}

// TestFencingWhileCommitWaits: the stale writer's commit is already waiting on the resource
// row when the new activation (here by hand, on a third connection) bumps the epoch and
// commits. PostgreSQL fails the waiting commit with 40001, cockroach-go re-runs it, the re-run
// sees the new epoch: ErrFenced, nothing written.
func TestFencingWhileCommitWaits(t *testing.T) {
	srv := pgtest.MustServer(t)
	if srv.External() {
		t.Skip("watches pg_locks, which is PostgreSQL's")
	}
	url := srv.MustDatabase(t)
	var retries retryCounter
	cfg := testConfig(url)
	cfg.Tracer = &retries
	a := mustOpen(t, cfg)
	ctx := context.Background()
	const id = "contended"
	mustCreate(t, a, id, booking.Bucket{Key: "a", Capacity: 10})
	snapA, err := a.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	fencedWhileWaiting(t, url, id, &retries, func() error { return a.Commit(ctx, staleBatch(id, snapA.Epoch)) })
	expectUntouched(t, a, id, 4)
}

// TestFencingWhileRenewWaits is TestFencingWhileCommitWaits for Renew: the stale renewal is
// re-run after 40001 and fenced, and the lease stays the one the activation stored before.
func TestFencingWhileRenewWaits(t *testing.T) {
	srv := pgtest.MustServer(t)
	if srv.External() {
		t.Skip("watches pg_locks, which is PostgreSQL's")
	}
	url := srv.MustDatabase(t)
	var retries retryCounter
	cfg := testConfig(url)
	cfg.Tracer = &retries
	a := mustOpen(t, cfg)
	ctx := context.Background()
	const id = "contended"
	mustCreate(t, a, id, booking.Bucket{Key: "a", Capacity: 10})
	snapA, err := a.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(ctx, id, snapA.Epoch, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	fencedWhileWaiting(t, url, id, &retries, func() error { return a.Renew(ctx, id, snapA.Epoch, t0.Add(time.Minute)) })
	snap, err := a.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Epoch != 4 || snap.Version != 1 || !snap.LeaseUntil.Equal(t0.Add(time.Second)) {
		t.Fatalf("after the fenced renewal: epoch %d version %d lease %v; want 4, 1, %v", snap.Epoch, snap.Version, snap.LeaseUntil, t0.Add(time.Second))
	}
}

// fencedWhileWaiting bumps the epoch of id by hand in a transaction on its own connection,
// runs write while that transaction holds the row, waits until write waits for the row lock,
// commits the bump, and expects write to end in ErrFenced after at least one 40001.
func fencedWhileWaiting(t *testing.T, url, id string, retries *retryCounter, write func() error) {
	t.Helper()
	ctx := context.Background()
	activator := mustConn(t, url)
	tx, err := activator.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE resources SET epoch = epoch + 1 WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- write() }()

	// Wait until the write waits for the row lock (another session's state: polled).
	watcher := mustConn(t, url)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := watcher.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stale write never waited for the row lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("stale write: err = %v, want ErrFenced", err)
	}
	if retries.n.Load() == 0 {
		t.Error("the waiting write was not retried after a serialization failure")
	}
}
