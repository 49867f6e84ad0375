package storetest

import (
	"errors"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// expectLease activates id and expects the snapshot to report the lease end want (zero: no
// lease) with everything else as in rest; it returns the snapshot.
func (f *fixture) expectLease(id string, want time.Time, rest persistence.Snapshot) *persistence.Snapshot {
	f.Helper()
	snap := f.activate(id, time.Time{})
	rest.LeaseUntil = want
	f.expectSnapshot(snap, rest)
	return snap
}

// renew renews and fails the test on error.
func (f *fixture) renew(id string, epoch uint64, until time.Time) {
	f.Helper()
	if err := f.s.Renew(f.ctx(), id, epoch, until); err != nil {
		f.Fatalf("renew %s epoch %d until %s: %v", id, epoch, until.Format(time.RFC3339Nano), err)
	}
}

// testLeaseOnCommit: a creation stores its LeaseUntil, and Activate reports it; Activate
// leaves the stored lease as it is; a batch with a zero LeaseUntil leaves it, a batch with
// one replaces it, a fenced one does neither; a creation without one has none.
func testLeaseOnCommit(f *fixture) {
	id := f.id("r")
	buckets := []booking.Bucket{{Key: "a", Capacity: 5}}
	f.commit(&persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: f.resource(id), Buckets: buckets, LeaseUntil: at(5_000)})
	want := persistence.Snapshot{Exists: true, Epoch: 2, Version: 1, Resource: f.resource(id), Buckets: buckets}
	f.expectLease(id, at(5_000), want)
	want.Epoch = 3
	snap := f.expectLease(id, at(5_000), want) // the activation at epoch 2 did not touch it

	// The new activation commits without a lease end, then with one.
	f.commit(&persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: 2, Resource: f.resource(id)})
	want.Epoch, want.Version = 4, 2
	snap = f.expectLease(id, at(5_000), want)
	f.commit(&persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: 3, Resource: f.resource(id), LeaseUntil: at(7_000)})
	want.Epoch, want.Version = 5, 3
	f.expectLease(id, at(7_000), want)

	// Fenced batches store no lease: a stale one, and a second creation.
	err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: 4, Resource: f.resource(id), LeaseUntil: at(9_000)})
	if !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("stale commit with a lease: err = %v, want ErrFenced", err)
	}
	err = f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: f.resource(id), LeaseUntil: at(9_000)})
	if !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("second creation with a lease: err = %v, want ErrFenced", err)
	}
	want.Epoch = 6
	f.expectLease(id, at(7_000), want)

	plain := f.id("plain")
	f.create(plain, buckets...)
	if snap := f.activate(plain, time.Time{}); !snap.LeaseUntil.IsZero() {
		f.Fatalf("creation without a lease: LeaseUntil = %v, want the zero time", snap.LeaseUntil)
	}
}

// testRenew: Renew at the current epoch (the creator's 1, or an activation's) stores the lease
// end, and the next Activate reports it; a later Renew moves it, also backwards; a zero until
// ends it (the zero time again). Renew changes nothing else, the version included.
func testRenew(f *fixture) {
	id := f.id("r")
	h := hold(id, f.id("h"), f.id("u"), 1, 1, "a")
	buckets := []booking.Bucket{{Key: "a", Capacity: 5, Held: 1}}
	f.commit(&persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: f.resource(id), Buckets: buckets, Holds: []booking.Hold{h}})
	want := persistence.Snapshot{Exists: true, Version: 1, Resource: f.resource(id), Buckets: buckets, Holds: []booking.Hold{h}}

	f.renew(id, 1, at(1_000))
	want.Epoch = 2
	snap := f.expectLease(id, at(1_000), want)
	f.renew(id, snap.Epoch, at(3_000))
	f.renew(id, snap.Epoch, at(2_000))
	want.Epoch = 3
	snap = f.expectLease(id, at(2_000), want)
	f.renew(id, snap.Epoch, at(4_000))
	f.renew(id, snap.Epoch, time.Time{})
	want.Epoch = 4
	snap = f.expectLease(id, time.Time{}, want)
	if !snap.LeaseUntil.IsZero() {
		f.Fatalf("ended lease: LeaseUntil = %v, want the zero time", snap.LeaseUntil)
	}
	// The activation renewed, and still commits with its epoch and the version it loaded.
	f.renew(id, snap.Epoch, at(6_000))
	f.commit(&persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: snap.Version + 1, Resource: f.resource(id)})
	want.Epoch, want.Version = 5, 2
	f.expectLease(id, at(6_000), want)
}

// testRenewFenced: Renew with an epoch that is not the resource's current one (an earlier
// activation's, or one not handed out yet), or of a resource that does not exist, fails with
// ErrFenced and changes nothing: the lease, the version and the absence stay.
func testRenewFenced(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5})
	f.renew(id, 1, at(1_000))
	snap := f.activate(id, time.Time{}) // epoch 2 fences the creator
	want := persistence.Snapshot{Exists: true, Version: 1, Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 5}}}
	for _, epoch := range []uint64{1, 0, snap.Epoch + 1, snap.Epoch + 2} {
		for _, until := range []time.Time{at(9_000), {}} {
			if err := f.s.Renew(f.ctx(), id, epoch, until); !errors.Is(err, persistence.ErrFenced) {
				f.Fatalf("renew at epoch %d (current %d): err = %v, want ErrFenced", epoch, snap.Epoch, err)
			}
		}
	}
	want.Epoch = snap.Epoch + 1
	snap = f.expectLease(id, at(1_000), want)
	// The epoch that was current a moment ago is fenced too.
	if err := f.s.Renew(f.ctx(), id, snap.Epoch-1, time.Time{}); !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("renew after re-activation: err = %v, want ErrFenced", err)
	}
	want.Epoch = snap.Epoch + 1
	f.expectLease(id, at(1_000), want)

	ghost := f.id("ghost")
	for _, epoch := range []uint64{0, 1, 2} {
		if err := f.s.Renew(f.ctx(), ghost, epoch, at(1_000)); !errors.Is(err, persistence.ErrFenced) {
			f.Fatalf("renew of an absent resource at epoch %d: err = %v, want ErrFenced", epoch, err)
		}
	}
	f.expectSnapshot(f.activate(ghost, time.Time{}), persistence.Snapshot{})
	// It can still be created, without a lease.
	f.create(ghost)
	f.expectLease(ghost, time.Time{}, persistence.Snapshot{Exists: true, Epoch: 2, Version: 1, Resource: f.resource(ghost)})
}

// testLeaseRoundsUp: lease ends are stored at millisecond precision rounded up, so that a
// successor never sees a lease end earlier than its holder meant; whole milliseconds and the
// location do not matter.
func testLeaseRoundsUp(f *fixture) {
	id := f.id("r")
	f.commit(&persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: f.resource(id), LeaseUntil: at(100).Add(time.Nanosecond)})
	want := persistence.Snapshot{Exists: true, Epoch: 2, Version: 1, Resource: f.resource(id)}
	snap := f.expectLease(id, at(101), want)

	f.renew(id, snap.Epoch, at(200).Add(999_999*time.Nanosecond))
	want.Epoch = 3
	snap = f.expectLease(id, at(201), want)

	zone := time.FixedZone("UTC-3:30", -(3*3600 + 1800))
	f.renew(id, snap.Epoch, at(300).In(zone))
	want.Epoch = 4
	snap = f.expectLease(id, at(300), want)

	f.commit(&persistence.Batch{ResourceID: id, Epoch: snap.Epoch, Version: 2, Resource: f.resource(id), LeaseUntil: at(400).Add(500 * time.Microsecond).In(zone)})
	want.Epoch, want.Version = 5, 2
	f.expectLease(id, at(401), want)
}

// leaseMS rounds a lease end up to the millisecond, as the contract wants stores to.
func leaseMS(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	if d := t.Sub(t.Truncate(time.Millisecond)); d > 0 {
		return t.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	return t
}
