package storetest

import (
	"errors"
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// testActivateAbsent: an absent resource activates as Exists false, Epoch 0, and the
// activation writes nothing (the resource can still be created, with epoch 1).
func testActivateAbsent(f *fixture) {
	id := f.id("absent")
	for range 2 {
		snap := f.activate(id, time.Time{})
		f.expectSnapshot(snap, persistence.Snapshot{})
	}
	f.create(id, booking.Bucket{Key: "all", Capacity: 1})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 1, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "all", Capacity: 1}},
	})
}

// testCreate: a creation batch creates the resource with epoch 1, with everything in the batch;
// the creator may go on committing with epoch 1; a second creation is fenced and writes
// nothing.
func testCreate(f *fixture) {
	id := f.id("r")
	h := hold(id, f.id("h1"), f.id("u"), 5, 2, "a")
	idem := booking.IdempotencyEntry{Key: "k1", Fingerprint: "fp", HoldID: h.ID, CreatedAt: at(5)}
	create := &persistence.Batch{
		ResourceID: id, Epoch: 99, Version: 1, Create: true, Resource: f.resource(id),
		Buckets:     []booking.Bucket{{Key: "b", Capacity: 3}, {Key: "a", Capacity: 5, Held: 2}},
		Holds:       []booking.Hold{h},
		Idempotency: []booking.IdempotencyEntry{idem},
	}
	f.commit(create)
	f.expectHold(h)

	// The creator's activation owns epoch 1.
	h2 := hold(id, f.id("h2"), f.id("u"), 6, 1, "b")
	f.commit(&persistence.Batch{
		ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "b", Capacity: 3, Held: 1}}, Holds: []booking.Hold{h2},
	})

	// A second creation is fenced and writes nothing.
	other := f.resource(id)
	other.Name = "Impostor"
	h3 := hold(id, f.id("h3"), f.id("u"), 7, 1, "a")
	err := f.s.Commit(f.ctx(), &persistence.Batch{
		ResourceID: id, Version: 1, Create: true, Resource: other,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 100, Held: 1}}, Holds: []booking.Hold{h3},
		Idempotency: []booking.IdempotencyEntry{{Key: "k3", Fingerprint: "x", HoldID: h3.ID, CreatedAt: at(7)}},
	})
	if !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("second creation: err = %v, want ErrFenced", err)
	}
	f.expectNoHold(id, h3.ID)
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 2, Resource: f.resource(id),
		Buckets:     []booking.Bucket{{Key: "a", Capacity: 5, Held: 2}, {Key: "b", Capacity: 3, Held: 1}},
		Holds:       []booking.Hold{h, h2},
		Idempotency: []booking.IdempotencyEntry{idem},
	})
}

// testCommitToAbsent: a non-creation batch for a resource that does not exist is fenced, at
// any epoch, and writes nothing.
func testCommitToAbsent(f *fixture) {
	id := f.id("ghost")
	h := hold(id, f.id("h"), f.id("u"), 1, 1, "a")
	for _, epoch := range []uint64{0, 1, 2} {
		err := f.s.Commit(f.ctx(), &persistence.Batch{
			ResourceID: id, Epoch: epoch, Version: 1, Resource: f.resource(id),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}}, Holds: []booking.Hold{h},
		})
		if !errors.Is(err, persistence.ErrFenced) {
			f.Fatalf("commit to absent resource at epoch %d: err = %v, want ErrFenced", epoch, err)
		}
	}
	f.expectNoHold(id, h.ID)
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{})
	f.expectList(persistence.HoldFilter{ResourceID: id}, nil)
}

// testActivateBumpsEpoch: every activation increments the epoch and loads the resource, its
// buckets sorted by key, only its held and confirmed holds, and its idempotency keys created
// at or after idemSince (inclusive, ms precision); older keys are gone afterwards.
func testActivateBumpsEpoch(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "z", Capacity: 10}, booking.Bucket{Key: "a", Capacity: 10}, booking.Bucket{Key: "m", Capacity: 10})
	u := f.id("u")
	held := hold(id, f.id("held"), u, 10, 1, "a")
	conf := hold(id, f.id("conf"), u, 11, 2, "a", "z")
	conf.Status = booking.StatusConfirmed
	canc := hold(id, f.id("canc"), u, 12, 3, "m")
	canc.Status = booking.StatusCancelled
	expd := hold(id, f.id("expd"), u, 13, 4, "m")
	expd.Status = booking.StatusExpired
	idem := []booking.IdempotencyEntry{
		{Key: "old", Fingerprint: "f0", HoldID: held.ID, CreatedAt: at(999)},
		{Key: "edge", Fingerprint: "f1", HoldID: conf.ID, CreatedAt: at(1000)},
		{Key: "new", Fingerprint: "f2", HoldID: canc.ID, CreatedAt: at(5000)},
	}
	buckets := []booking.Bucket{{Key: "a", Capacity: 10, Held: 1, Confirmed: 2}, {Key: "m", Capacity: 10}, {Key: "z", Capacity: 10, Confirmed: 2}}
	f.commit(&persistence.Batch{
		ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id),
		Buckets: buckets, Holds: []booking.Hold{held, conf, canc, expd}, Idempotency: idem,
	})
	for epoch := uint64(2); epoch <= 4; epoch++ {
		f.expectSnapshot(f.activate(id, at(1000)), persistence.Snapshot{
			Exists: true, Epoch: epoch, Version: 2, Resource: f.resource(id), Buckets: buckets,
			Holds: []booking.Hold{held, conf}, Idempotency: idem[1:],
		})
	}
	// The activations since at(1000) pruned the key created before (testIdempotencyPruned).
	snap := f.activate(id, time.Time{})
	if len(snap.Idempotency) != 2 {
		f.Fatalf("idemSince zero: got %d keys, want 2", len(snap.Idempotency))
	}
	if snap := f.activate(id, at(5001)); len(snap.Idempotency) != 0 {
		f.Fatalf("idemSince after all keys: got %+v, want none", snap.Idempotency)
	}
	// Terminal holds are still readable one by one.
	f.expectHold(canc)
	f.expectHold(expd)
}

// testStaleEpochFenced: once a newer activation exists, a commit with the older epoch is
// fenced, forever, and nothing of it is visible; the newer activation's commits land.
func testStaleEpochFenced(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 10})
	if snap := f.activate(id, time.Time{}); snap.Epoch != 2 {
		f.Fatalf("epoch = %d, want 2", snap.Epoch)
	}
	u := f.id("u")
	for i, epoch := range []uint64{1, 1, 0} {
		stale := hold(id, f.id("stale"), u, int64(i), 1, "a")
		err := f.s.Commit(f.ctx(), &persistence.Batch{
			ResourceID: id, Epoch: epoch, Version: 2, Resource: booking.Resource{ID: id, Name: "Stale", HoldTTL: time.Minute, CreatedAt: base, UpdatedAt: at(1)},
			Buckets:     []booking.Bucket{{Key: "a", Capacity: 10, Held: 1}, {Key: "new", Capacity: 5}},
			Holds:       []booking.Hold{stale},
			Idempotency: []booking.IdempotencyEntry{{Key: "stale", Fingerprint: "f", HoldID: stale.ID, CreatedAt: at(1)}},
		})
		if !errors.Is(err, persistence.ErrFenced) {
			f.Fatalf("stale commit (epoch %d): err = %v, want ErrFenced", epoch, err)
		}
		f.expectNoHold(id, stale.ID)
	}
	// A future epoch is fenced too: only the current epoch may write.
	if err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Epoch: 3, Version: 2, Resource: f.resource(id)}); !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("future epoch commit: err = %v, want ErrFenced", err)
	}
	fresh := hold(id, f.id("fresh"), u, 5, 2, "a")
	f.commit(&persistence.Batch{
		ResourceID: id, Epoch: 2, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: 2}}, Holds: []booking.Hold{fresh},
	})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 3, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: 2}}, Holds: []booking.Hold{fresh},
	})
	f.expectList(persistence.HoldFilter{ResourceID: id}, []booking.Hold{fresh})
	// Epoch 2 is now fenced as well.
	if err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Epoch: 2, Version: 3, Resource: f.resource(id)}); !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("commit after re-activation: err = %v, want ErrFenced", err)
	}
}

// testVersion: Version is stored by every batch and returned by Activate; activations do not
// change it, fenced batches do not either.
func testVersion(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 1})
	for v := uint64(2); v <= 4; v++ {
		f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: v, Resource: f.resource(id)})
	}
	snap := f.activate(id, time.Time{})
	if snap.Version != 4 {
		f.Fatalf("version = %d, want 4", snap.Version)
	}
	if err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Epoch: 1, Version: 5, Resource: f.resource(id)}); !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("stale commit: err = %v, want ErrFenced", err)
	}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: 5, Resource: f.resource(id)})
	if snap := f.activate(id, time.Time{}); snap.Version != 5 {
		f.Fatalf("version = %d, want 5", snap.Version)
	}
}

// testVersionOrder: a batch applies only on top of the stored version (Version = stored + 1):
// an actor pipelines its commits, so a batch repeated, out of order or behind one that did not
// apply must be refused with ErrFenced, writing nothing, and the activation stays usable.
func testVersionOrder(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 3})
	snap := f.activate(id, time.Time{})
	h := func(n int) booking.Hold { return hold(id, f.id(fmt.Sprintf("h%d", n)), "u", int64(n), 1, "a") }
	batch := func(v uint64, held int64, hs ...booking.Hold) *persistence.Batch {
		return &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: v, Resource: f.resource(id),
			Buckets: []booking.Bucket{{Key: "a", Capacity: 3, Held: held}}, Holds: hs}
	}
	refused := func(what string, b *persistence.Batch) {
		f.Helper()
		if err := f.s.Commit(f.ctx(), b); !errors.Is(err, persistence.ErrFenced) {
			f.Fatalf("%s (version %d): err = %v, want ErrFenced", what, b.Version, err)
		}
		for _, x := range b.Holds {
			f.expectNoHold(id, x.ID)
		}
	}
	// The second of a pipeline arriving before the first, then the first.
	refused("a batch ahead of the stored version", batch(3, 2, h(2)))
	first := batch(2, 1, h(1))
	f.commit(first)
	refused("the same batch again", batch(2, 1, h(3)))
	refused("a batch behind the stored version", batch(1, 1, h(4)))
	refused("a batch skipping a version", batch(4, 2, h(5)))
	f.commit(batch(3, 2, h(2)))
	got := f.activate(id, time.Time{})
	if got.Version != 3 || len(got.Holds) != 2 || len(got.Buckets) != 1 || got.Buckets[0].Held != 2 {
		f.Fatalf("after the refusals: version %d, holds %v, buckets %v; want version 3, h1 and h2, held 2", got.Version, got.Holds, got.Buckets)
	}
}
