package storetest

import (
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// testAfterImages: buckets, holds and the resource are upserted as after-images; hold status
// changes, price nil and set, ms times in any location, TTLs and bucket lists in order all
// round-trip.
func testAfterImages(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5})
	u := f.id("u")

	res := f.resource(id)
	res.Name = "Suite ✓ \"quoted\" 'single'"
	res.Price = &booking.Money{Amount: 12999, Currency: "EUR"}
	res.HoldTTL = 90*time.Second + 123*time.Millisecond
	res.UpdatedAt = at(100)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	h1 := hold(id, f.id("h1"), u, 1_234_567, 2, "2031-03-02", "a", "2031-03-01", "b")
	h1.IdempotencyKey = "idem-1"
	h1.CreatedAt = h1.CreatedAt.In(zone)
	h1.ExpiresAt = at(9_999_999_999).In(zone)
	h2 := hold(id, f.id("h2"), u, 1_234_568, 1, "b")
	buckets := []booking.Bucket{{Key: "a", Capacity: 5, Held: 2}, {Key: "b", Capacity: 7, Held: 3, Confirmed: 0}}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: res, Buckets: buckets, Holds: []booking.Hold{h1, h2}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 2, Resource: res, Buckets: buckets, Holds: []booking.Hold{h1, h2},
	})

	// Status changes, a capacity change, the price cleared, one bucket left untouched.
	h1.Status = booking.StatusConfirmed
	h1.UpdatedAt = at(2_000_001)
	h2.Status = booking.StatusCancelled
	h2.UpdatedAt = at(2_000_002)
	res.Price = nil
	res.UpdatedAt = at(2_000_003)
	bucketB := booking.Bucket{Key: "b", Capacity: 9, Held: 0, Confirmed: 2}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 2, Version: 3, Resource: res, Buckets: []booking.Bucket{bucketB}, Holds: []booking.Hold{h1, h2}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 3, Version: 3, Resource: res,
		Buckets: []booking.Bucket{buckets[0], bucketB}, Holds: []booking.Hold{h1},
	})
	f.expectHold(h2)

	// A zero price is a price; confirmed -> cancelled; held -> expired.
	res.Price = &booking.Money{Amount: 0, Currency: "JPY"}
	h1.Status = booking.StatusCancelled
	h3 := hold(id, f.id("h3"), u, 3_000_000, 1, "a")
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 3, Version: 4, Resource: res, Holds: []booking.Hold{h1, h3}})
	h3.Status = booking.StatusExpired
	h3.UpdatedAt = at(3_000_001)
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 3, Version: 5, Resource: res, Holds: []booking.Hold{h3}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 4, Version: 5, Resource: res, Buckets: []booking.Bucket{buckets[0], bucketB},
	})
	f.expectHold(h1)
	f.expectHold(h3)
}

// testIdempotencyInsertOnce: a key is written once per resource; a later batch carrying the
// same key again commits but leaves the first entry, unless the new entry is at least
// booking.IdempotencyRetention younger (a client reused a key the actor had forgotten): then
// it replaces the old one. Keys are scoped by resource.
func testIdempotencyInsertOnce(f *fixture) {
	r1, r2 := f.id("r1"), f.id("r2")
	f.create(r1, booking.Bucket{Key: "a", Capacity: 5})
	f.create(r2, booking.Bucket{Key: "a", Capacity: 5})
	first := booking.IdempotencyEntry{Key: "same", Fingerprint: "1|u|a", HoldID: f.id("h1"), CreatedAt: at(10)}
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Idempotency: []booking.IdempotencyEntry{first}})
	again := booking.IdempotencyEntry{Key: "same", Fingerprint: "2|v|b", HoldID: f.id("h2"), CreatedAt: at(20)}
	other := booking.IdempotencyEntry{Key: "other", Fingerprint: "3|w|c", HoldID: f.id("h3"), CreatedAt: at(20)}
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 3, Resource: f.resource(r1), Idempotency: []booking.IdempotencyEntry{again, other}})
	inR2 := booking.IdempotencyEntry{Key: "same", Fingerprint: "4|x|d", HoldID: f.id("h4"), CreatedAt: at(30)}
	f.commit(&persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Idempotency: []booking.IdempotencyEntry{inR2}})

	f.expectSnapshot(f.activate(r1, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 3, Resource: f.resource(r1), Buckets: []booking.Bucket{{Key: "a", Capacity: 5}},
		Idempotency: []booking.IdempotencyEntry{first, other},
	})
	f.expectSnapshot(f.activate(r2, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 2, Resource: f.resource(r2), Buckets: []booking.Bucket{{Key: "a", Capacity: 5}},
		Idempotency: []booking.IdempotencyEntry{inR2},
	})
	reused := booking.IdempotencyEntry{Key: "same", Fingerprint: "5|y|e", HoldID: f.id("h5"), CreatedAt: first.CreatedAt.Add(booking.IdempotencyRetention)}
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 2, Version: 4, Resource: f.resource(r1), Idempotency: []booking.IdempotencyEntry{reused}})
	f.expectSnapshot(f.activate(r1, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 3, Version: 4, Resource: f.resource(r1), Buckets: []booking.Bucket{{Key: "a", Capacity: 5}},
		Idempotency: []booking.IdempotencyEntry{other, reused},
	})
}

// testCapacityCheck: a bucket after-image that breaks the schema CHECK fails the whole batch
// with a validation error (not ErrFenced, not ErrUnavailable), writes nothing, and leaves the
// activation able to commit.
func testCapacityCheck(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5}, booking.Bucket{Key: "b", Capacity: 5})
	u := f.id("u")
	bad := []struct {
		name   string
		bucket booking.Bucket
	}{
		{"held+confirmed over capacity", booking.Bucket{Key: "a", Capacity: 5, Held: 4, Confirmed: 2}},
		{"held over capacity", booking.Bucket{Key: "a", Capacity: 5, Held: 6}},
		{"capacity lowered below booked", booking.Bucket{Key: "a", Capacity: 0, Confirmed: 1}},
		{"negative held", booking.Bucket{Key: "a", Capacity: 5, Held: -1}},
		{"negative confirmed", booking.Bucket{Key: "a", Capacity: 5, Confirmed: -1}},
		{"new bucket oversold", booking.Bucket{Key: "c", Capacity: 1, Held: 2}},
	}
	renamed := f.resource(id)
	renamed.Name = "Renamed"
	for i, tc := range bad {
		h := hold(id, f.id(fmt.Sprintf("bad%d", i)), u, int64(i), 1, "a")
		err := f.s.Commit(f.ctx(), &persistence.Batch{
			ResourceID: id, Epoch: 1, Version: 2, Resource: renamed,
			// The valid bucket comes first, so a store that writes in order must undo it.
			Buckets:     []booking.Bucket{{Key: "b", Capacity: 5, Held: 1}, tc.bucket},
			Holds:       []booking.Hold{h},
			Idempotency: []booking.IdempotencyEntry{{Key: fmt.Sprintf("k%d", i), Fingerprint: "f", HoldID: h.ID, CreatedAt: at(1)}},
		})
		f.expectInvalidBatch(tc.name, err)
		f.expectNoHold(id, h.ID)
	}
	good := hold(id, f.id("good"), u, 100, 5, "a")
	f.commit(&persistence.Batch{
		ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 5, Held: 5}}, Holds: []booking.Hold{good},
	})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 5, Held: 5}, {Key: "b", Capacity: 5}},
		Holds:   []booking.Hold{good},
	})

	// An oversold creation creates nothing.
	id2 := f.id("r2")
	err := f.s.Commit(f.ctx(), &persistence.Batch{
		ResourceID: id2, Version: 1, Create: true, Resource: f.resource(id2),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 2}},
	})
	f.expectInvalidBatch("oversold creation", err)
	f.expectSnapshot(f.activate(id2, time.Time{}), persistence.Snapshot{})
	f.create(id2, booking.Bucket{Key: "a", Capacity: 1})
}

// testForeignHold: a batch may only write its own resource's rows. A hold or resource
// after-image naming another resource, or a hold id that another resource owns, fails the
// batch as a validation error and writes nothing.
func testForeignHold(f *fixture) {
	r1, r2 := f.id("r1"), f.id("r2")
	f.create(r1, booking.Bucket{Key: "a", Capacity: 5})
	f.create(r2, booking.Bucket{Key: "a", Capacity: 5})
	u := f.id("u")
	owned := hold(r1, f.id("owned"), u, 1, 1, "a")
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Holds: []booking.Hold{owned}})

	stolen := hold(r2, owned.ID, u, 2, 3, "a")
	mine := hold(r2, f.id("mine"), u, 3, 1, "a")
	misfiled := hold(r1, f.id("misfiled"), u, 4, 1, "a")
	cases := []struct {
		name  string
		batch *persistence.Batch
	}{
		{"hold id owned by another resource", &persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Holds: []booking.Hold{mine, stolen}}},
		// Said new (a store may insert it without looking): refused all the same.
		{"new hold id owned by another resource", &persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Holds: []booking.Hold{stolen, mine}, NewHolds: 2}},
		{"new hold, then a hold id owned by another resource", &persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Holds: []booking.Hold{mine, stolen}, NewHolds: 1}},
		{"hold naming another resource", &persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Holds: []booking.Hold{mine, misfiled}}},
		{"resource naming another resource", &persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r1), Holds: []booking.Hold{mine}}},
	}
	for _, tc := range cases {
		f.expectInvalidBatch(tc.name, f.s.Commit(f.ctx(), tc.batch))
		f.expectNoHold(r2, mine.ID)
		f.expectNoHold(r2, owned.ID)
		f.expectNoHold(r1, misfiled.ID)
		f.expectHold(owned)
	}
	f.commit(&persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Holds: []booking.Hold{mine}})
	f.expectHold(mine)
}

// testLargeBatch: 2,000 new holds and 2,000 idempotency keys commit in one batch and load
// back; a second batch changes all of them.
func testLargeBatch(f *fixture) {
	const n, nb = 2000, 20
	id := f.id("r")
	var buckets []booking.Bucket
	for i := range nb {
		buckets = append(buckets, booking.Bucket{Key: fmt.Sprintf("2031-01-%02d", i+1), Capacity: 1000})
	}
	f.create(id, buckets...)
	holds := make([]booking.Hold, n)
	idem := make([]booking.IdempotencyEntry, n)
	u := f.id("u")
	for i := range holds {
		holds[i] = hold(id, f.id(fmt.Sprintf("h%05d", i)), u, int64(i/3), 1, buckets[i%nb].Key, buckets[(i+1)%nb].Key)
		holds[i].IdempotencyKey = fmt.Sprintf("key-%d", i)
		idem[i] = booking.IdempotencyEntry{Key: holds[i].IdempotencyKey, Fingerprint: fmt.Sprintf("fp-%d", i), HoldID: holds[i].ID, CreatedAt: holds[i].CreatedAt}
	}
	after := make([]booking.Bucket, nb)
	for i := range after {
		after[i] = buckets[i]
		after[i].Held = 2 * n / nb
	}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id), Buckets: after, Holds: holds, NewHolds: n, Idempotency: idem})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 2, Resource: f.resource(id), Buckets: after, Holds: holds, Idempotency: idem,
	})
	sorted := canonHolds(holds)
	f.expectList(persistence.HoldFilter{ResourceID: id, Limit: 1000}, sorted[:1000])

	for i := range holds {
		holds[i].Status = booking.StatusConfirmed
		holds[i].UpdatedAt = at(10_000)
	}
	for i := range after {
		after[i].Held, after[i].Confirmed = 0, 2*n/nb
	}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 2, Version: 3, Resource: f.resource(id), Buckets: after, Holds: holds})
	f.expectSnapshot(f.activate(id, at(n)), persistence.Snapshot{
		Exists: true, Epoch: 3, Version: 3, Resource: f.resource(id), Buckets: after, Holds: holds,
	})
	f.expectList(persistence.HoldFilter{ResourceID: id, Status: booking.StatusHeld}, nil)
}

// testIdempotencyKeysShareAHold: several keys may name the same hold — the key that placed it
// and the keys of its renewals (booking's extend_replay.go), each with its own fingerprint,
// committed with the renewal in a later batch; every one is kept and loaded.
func testIdempotencyKeysShareAHold(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5})
	h := f.id("h1")
	placed := booking.IdempotencyEntry{Key: "place", Fingerprint: "1|u|a", HoldID: h, CreatedAt: at(10)}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id), Idempotency: []booking.IdempotencyEntry{placed}})
	renew1 := booking.IdempotencyEntry{Key: "renew-1", Fingerprint: "extend|u|" + h, HoldID: h, CreatedAt: at(20)}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 3, Resource: f.resource(id), Idempotency: []booking.IdempotencyEntry{renew1}})
	renew2 := booking.IdempotencyEntry{Key: "renew-2", Fingerprint: "extend|u|" + h, HoldID: h, CreatedAt: at(30)}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 4, Resource: f.resource(id), Idempotency: []booking.IdempotencyEntry{renew2}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 4, Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 5}},
		Idempotency: []booking.IdempotencyEntry{placed, renew1, renew2},
	})
}
