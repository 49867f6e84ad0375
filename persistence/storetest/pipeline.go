package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// pipeliner is a store that takes a resource's next batch before the previous one returned
// (actors/resource defines it where it is used; sqlite, memstore and postgres have it).
type pipeliner interface {
	Enqueue(ctx context.Context, b *persistence.Batch) (wait func() error)
}

// testPipeline: a store with Enqueue applies one resource's batches in the order they were
// placed, all of them placed before any result is waited for; a batch that fails fails every
// batch placed behind it (none of them is applied: their versions follow the failed one's),
// the resource stays usable with the next batch on top of what was applied, and a stale
// epoch is fenced.
func testPipeline(f *fixture) {
	p, ok := f.s.(pipeliner)
	if !ok {
		f.Skip("the store does not pipeline")
	}
	id := f.id("r")
	const capacity = 100
	f.create(id, booking.Bucket{Key: "a", Capacity: capacity})
	snap := f.activate(id, time.Time{})
	h := func(n int) booking.Hold { return hold(id, f.id(fmt.Sprintf("h%d", n)), "u", int64(n), 1, "a") }
	batch := func(epoch, v uint64, held int64, hs ...booking.Hold) *persistence.Batch {
		return &persistence.Batch{ResourceID: id, Epoch: epoch, Version: v, Resource: f.resource(id),
			Buckets: []booking.Bucket{{Key: "a", Capacity: capacity, Held: held}}, Holds: hs, NewHolds: len(hs)}
	}
	ctx, cancel := context.WithTimeout(f.ctx(), time.Minute)
	defer cancel()

	// In order: version v on top of v-1, all placed at once.
	const n = 20
	var waits []func() error
	for i := 1; i <= n; i++ {
		waits = append(waits, p.Enqueue(ctx, batch(snap.Epoch, uint64(1+i), int64(i), h(i))))
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			f.Fatalf("batch %d of %d: %v", i+1, n, err)
		}
	}
	got := f.activate(id, time.Time{})
	if got.Version != 1+n || len(got.Holds) != n || got.Buckets[0].Held != n {
		f.Fatalf("after %d batches: version %d, %d holds, held %d; want version %d, %d holds, held %d",
			n, got.Version, len(got.Holds), got.Buckets[0].Held, 1+n, n, n)
	}
	epoch := got.Epoch

	// The second of four oversells: it fails, and so do the two placed behind it.
	v := uint64(1 + n)
	ok1 := p.Enqueue(ctx, batch(epoch, v+1, n+1, h(n+1)))
	bad := p.Enqueue(ctx, batch(epoch, v+2, capacity+1, h(n+2)))
	behind := []func() error{
		p.Enqueue(ctx, batch(epoch, v+3, n+2, h(n+3))),
		p.Enqueue(ctx, batch(epoch, v+4, n+3, h(n+4))),
	}
	if err := ok1(); err != nil {
		f.Fatalf("the batch ahead of the failing one: %v", err)
	}
	if err := bad(); err == nil || errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("an oversold batch: err = %v, want a failure that is not a fence", err)
	}
	for i, wait := range behind {
		if err := wait(); err == nil {
			f.Fatalf("batch %d behind the failed one: applied, want an error", i+1)
		}
	}
	for i := n + 2; i <= n+4; i++ {
		f.expectNoHold(id, h(i).ID)
	}
	got = f.activate(id, time.Time{})
	if got.Version != v+1 || len(got.Holds) != n+1 {
		f.Fatalf("after the failure: version %d, %d holds; want version %d, %d holds", got.Version, len(got.Holds), v+1, n+1)
	}

	// Usable again on top of what was applied, with the new epoch; the old one is fenced.
	if err := p.Enqueue(ctx, batch(got.Epoch, v+2, n+2, h(n+2)))(); err != nil {
		f.Fatalf("the next batch after the failure: %v", err)
	}
	if err := p.Enqueue(ctx, batch(epoch, v+3, n+3, h(n+3)))(); !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("a batch of the old epoch: err = %v, want ErrFenced", err)
	}
	f.expectNoHold(id, h(n+3).ID)
}
