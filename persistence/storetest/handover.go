package storetest

import (
	"errors"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// handoverStore is a store with the lease hand-over (every store of the project has it).
type handoverStore interface {
	persistence.Store
	persistence.LeaseHandover
}

// testHandOver: LeaseOf reports the current epoch and stored lease end; HandOver ends the
// stored lease only for the one successor of the activation at epoch (epoch + 1 current) and
// only while the stored end is the one it names (rounded as stored), once; otherwise it is
// fenced and writes nothing. It changes neither the epoch nor the version.
func testHandOver(f *fixture) {
	s, ok := f.s.(handoverStore)
	if !ok {
		f.Fatalf("%T has no lease hand-over (persistence.LeaseHandover)", f.s)
	}
	expect := func(id string, epoch uint64, until time.Time) {
		f.Helper()
		e, u, err := s.LeaseOf(f.ctx(), id)
		if err != nil || e != epoch || !u.Equal(until) {
			f.Fatalf("LeaseOf %s = %d, %v, %v; want %d, %v", id, e, u, err, epoch, until)
		}
	}
	fenced := func(id string, epoch uint64, until time.Time, why string) {
		f.Helper()
		if err := s.HandOver(f.ctx(), id, epoch, until); !errors.Is(err, persistence.ErrFenced) {
			f.Fatalf("HandOver %s epoch %d until %v (%s): err = %v, want ErrFenced", id, epoch, until, why, err)
		}
	}
	handOver := func(id string, epoch uint64, until time.Time) {
		f.Helper()
		if err := s.HandOver(f.ctx(), id, epoch, until); err != nil {
			f.Fatalf("HandOver %s epoch %d until %v: %v", id, epoch, until, err)
		}
	}

	id := f.id("r")
	buckets := []booking.Bucket{{Key: "a", Capacity: 5}}
	lease := at(5_000).Add(300 * time.Microsecond) // stored rounded up: 5,001 ms
	f.commit(&persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: f.resource(id), Buckets: buckets, LeaseUntil: lease})
	expect(id, 1, at(5_001))
	fenced(id, 1, lease, "no successor yet")
	fenced(id, 0, lease, "the creator is epoch 1")

	f.activate(id, time.Time{}) // epoch 2 fences the creator
	expect(id, 2, at(5_001))
	fenced(id, 1, at(4_000), "another lease end")
	fenced(id, 1, time.Time{}, "no lease end")
	fenced(id, 2, lease, "its own epoch")
	handOver(id, 1, lease)
	expect(id, 2, time.Time{})
	fenced(id, 1, lease, "a second time")

	// The successor stores a lease; a hand-over of another end leaves it.
	f.renew(id, 2, at(9_000))
	fenced(id, 1, lease, "the successor's lease")
	expect(id, 2, at(9_000))

	// Two activations later, the one below the current one hands over, and no other.
	f.activate(id, time.Time{})
	fenced(id, 1, at(9_000), "not the one successor")
	handOver(id, 2, at(9_000))
	expect(id, 3, time.Time{})
	f.expectLease(id, time.Time{}, persistence.Snapshot{Exists: true, Epoch: 4, Version: 1, Resource: f.resource(id), Buckets: buckets})

	absent := f.id("absent")
	if _, _, err := s.LeaseOf(f.ctx(), absent); !errors.Is(err, persistence.ErrNotFound) {
		f.Fatalf("LeaseOf an absent resource: err = %v, want ErrNotFound", err)
	}
	fenced(absent, 1, lease, "absent")
}
