package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// TestEnqueueOnALingeringPipe: an actor's rhythm, a commit placed as soon as the one before
// it is answered, so that batches reach an idle pipe that lingers on its connection and are
// sent by Enqueue's caller (pipelinger.go), three at a time: all good, or one of them refused
// (a version skipped: ErrFenced) or failed unsent (its ctx ended before it was placed), at a
// random position (fixed seed). Whatever happens, the batches acknowledged are those ahead of
// the failure, none behind it is, what is stored is what was acknowledged (versions apply in
// the order placed), the next round applies on top; and Close ends a pipe that lingers.
func TestEnqueueOnALingeringPipe(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	s := mustOpen(t, testConfig(url))
	ctx := context.Background()
	const id = "linger"
	mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 100000})
	snap, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	next, held := snap.Version+1, int64(0) // the version the next batch must carry
	batch := func(v uint64, h int64, n int) *persistence.Batch {
		return &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: v, Resource: testResource(id),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 100000, Held: h}},
			Holds:   []booking.Hold{testHold(id, fmt.Sprintf("l%d", n), int64(n), 1, "a")}, NewHolds: 1}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	rng := rand.New(rand.NewPCG(19, 5))
	idleAtPlace, n := 0, 0
	for round := range 150 {
		kind, at := rng.IntN(3), rng.IntN(3) // 0: all good, 1: at skips a version, 2: at's ctx ended
		waits := make([]func() error, 3)
		for i := range 3 {
			s.pipesMu.Lock()
			if p := s.pipes[id]; p != nil && p.idle() {
				idleAtPlace++
			}
			s.pipesMu.Unlock()
			n++
			v, bctx := next+uint64(i), ctx
			if i == at && kind == 1 {
				v += 7
			}
			if i == at && kind == 2 {
				bctx = cancelled
			}
			waits[i] = s.Enqueue(bctx, batch(v, held+int64(i)+1, n))
		}
		acked := 0
		for i, wait := range waits {
			err := wait()
			switch {
			case kind == 0 || i < at:
				if err != nil {
					t.Fatalf("round %d (kind %d at %d): batch %d: %v", round, kind, at, i, err)
				}
				acked++
			case i == at && kind == 1:
				if !errors.Is(err, persistence.ErrFenced) {
					t.Fatalf("round %d: batch %d skipped a version: err = %v, want ErrFenced", round, i, err)
				}
			case i == at && kind == 2:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("round %d: batch %d's ctx ended: err = %v, want context.Canceled", round, i, err)
				}
			default: // behind the failure
				if err == nil {
					t.Fatalf("round %d (kind %d at %d): batch %d acknowledged behind a failure", round, kind, at, i)
				}
			}
		}
		next += uint64(acked)
		held += int64(acked)
	}
	got, err := s.Activate(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != next-1 || got.Buckets[0].Held != held || int64(len(got.Holds)) != held {
		t.Fatalf("stored version %d, held %d, %d holds; acknowledged up to version %d, %d held", got.Version,
			got.Buckets[0].Held, len(got.Holds), next-1, held)
	}
	// Not a speed goal: that the path under test ran at all (a commit placed microseconds
	// after the last answer meets a pipe lingering for milliseconds).
	if idleAtPlace == 0 {
		t.Fatalf("no batch of %d met an idle pipe: the caller-side path was not exercised", n)
	}
	t.Logf("%d of %d batches met an idle pipe", idleAtPlace, n)

	// A batch answered just now leaves its pipe lingering: Close ends it (and is safe twice).
	snap = got // Activate took the resource over: a new epoch
	if err := s.Enqueue(ctx, batch(next, held+1, n+1))(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s.pipesMu.Lock()
	left := len(s.pipes)
	s.pipesMu.Unlock()
	if left != 0 {
		t.Fatalf("%d pipes after Close", left)
	}
	if err := s.Enqueue(ctx, batch(next+1, held+2, n+2))(); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Enqueue after Close: err = %v, want ErrUnavailable", err)
	}
}
