package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// A pipeline of one resource's batches, enqueued in order while the writer is busy, applies
// in that order in one group; a batch behind one that failed is refused by its version and
// writes nothing, and the next batch on top of the stored version applies.
func TestEnqueuePipelineAppliesInOrder(t *testing.T) {
	s := MustOpen(t, Config{})
	for _, id := range []string{"blocker", "r"} {
		mustCommit(t, s, createBatch(id))
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)

	ctx := context.Background()
	batch := func(v uint64, hold string, held int64) *persistence.Batch {
		return &persistence.Batch{ResourceID: "r", Epoch: 1, Version: v, Resource: res("r"),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 3, Held: held}}, Holds: []booking.Hold{newHold("r", hold)}}
	}
	waits := []func() error{
		s.Enqueue(ctx, batch(2, "h1", 1)),
		s.Enqueue(ctx, batch(3, "h2", 2)),
		s.Enqueue(ctx, batch(4, "h3", 4)), // oversold: fails alone
		s.Enqueue(ctx, batch(5, "h4", 3)), // decided on top of it: refused
	}
	for range waits {
		<-g.enqueued
	}
	g.release <- struct{}{} // the blocker's group
	if n := <-g.entered; n != len(waits) {
		t.Fatalf("the pipeline went out in a group of %d, want %d", n, len(waits))
	}
	g.release <- struct{}{}
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	for i, w := range waits {
		err := w()
		switch i {
		case 0, 1:
			if err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		case 2:
			if err == nil || errors.Is(err, persistence.ErrFenced) || errors.Is(err, persistence.ErrUnavailable) {
				t.Fatalf("oversold batch: err = %v, want a plain error", err)
			}
		case 3:
			if !errors.Is(err, persistence.ErrFenced) {
				t.Fatalf("batch behind a failed one: err = %v, want ErrFenced", err)
			}
		}
	}
	if _, err := s.GetHold(ctx, "r", "h4"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("hold of the refused batch: %v, want not found", err)
	}
	s.groupHook.Store(nil) // ungated from here
	if err := s.Enqueue(ctx, batch(4, "h5", 3))(); err != nil {
		t.Fatalf("the next batch on top of the stored version: %v", err)
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 4 || len(snap.Holds) != 3 || snap.Buckets[0].Held != 3 {
		t.Fatalf("stored version %d, holds %d, buckets %+v; want 4, 3, held 3", snap.Version, len(snap.Holds), snap.Buckets)
	}
}
