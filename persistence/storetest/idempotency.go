package storetest

import (
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// testIdempotencyPruned: an Activate deletes the resource's keys created before its idemSince,
// at most persistence.IdempotencyPruneLimit of them, and no other resource's: a later
// Activate that asks for everything (zero idemSince) no longer sees them. Without pruning the
// table grows forever and every activation reads the resource's whole history.
func testIdempotencyPruned(f *fixture) {
	r1, r2 := f.id("r1"), f.id("r2")
	f.create(r1, booking.Bucket{Key: "a", Capacity: 5})
	f.create(r2, booking.Bucket{Key: "a", Capacity: 5})
	entry := func(key string, t time.Time) booking.IdempotencyEntry {
		return booking.IdempotencyEntry{Key: key, Fingerprint: "1|u|a", HoldID: f.id("h-" + key), CreatedAt: t}
	}
	// More expired keys than one activation prunes, so that the bound shows.
	const extra = 3
	old := make([]booking.IdempotencyEntry, 0, persistence.IdempotencyPruneLimit+extra)
	for i := range persistence.IdempotencyPruneLimit + extra {
		old = append(old, entry(fmt.Sprintf("old%05d", i), at(int64(i%50))))
	}
	since := at(100).Add(booking.IdempotencyRetention)
	young := entry("young", since)
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Idempotency: append(old, young)})
	inR2 := entry("old00000", at(0))
	f.commit(&persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Idempotency: []booking.IdempotencyEntry{inR2}})

	want := func(epoch uint64, keys ...booking.IdempotencyEntry) persistence.Snapshot {
		return persistence.Snapshot{Exists: true, Epoch: epoch, Version: 2, Resource: f.resource(r1),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 5}}, Idempotency: keys}
	}
	// The first activation loads the young key only, and prunes all but extra of the old.
	f.expectSnapshot(f.activate(r1, since), want(2, young))
	if got := f.activate(r1, time.Time{}); len(got.Idempotency) != extra+1 {
		f.Fatalf("after one pruning activation: %d keys, want %d (%d expired left over and the young one)",
			len(got.Idempotency), extra+1, extra)
	}
	// That one (zero idemSince) pruned nothing; the next prunes the rest.
	f.expectSnapshot(f.activate(r1, since), want(4, young))
	f.expectSnapshot(f.activate(r1, time.Time{}), want(5, young))
	// Another resource's keys are its own activation's to prune.
	f.expectSnapshot(f.activate(r2, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 2, Resource: f.resource(r2),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 5}}, Idempotency: []booking.IdempotencyEntry{inR2}})
}
