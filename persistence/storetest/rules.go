package storetest

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// The booking rules' columns (migration 0003, and the cancellation policy of 0015): resource settings, bucket allowances, hold
// renewals and waitlist origins, and the waitlist table.

// ruled returns f.resource(id) with every rule field set to a non-default value.
func (f *fixture) ruled(id string) booking.Resource {
	r := f.resource(id)
	r.MaxExtensions, r.Allowance, r.MaxPerUser = 5, booking.Allowance{Percent: 10}, 7
	r.Timezone, r.SlotEvery, r.WaitlistOfferTTL = "Europe/Berlin", 30*time.Minute, 90*time.Second+250*time.Millisecond
	r.Refunds = []booking.RefundTier{{Before: 48 * time.Hour, Percent: 100}, {Before: 24*time.Hour + 500*time.Millisecond, Percent: 50}}
	return r
}

// testRuleColumns: the rule fields of a resource round-trip through a creation and an update,
// and a hold's Extensions and WaitlistEntryID through GetHold, ListHolds and Activate.
func testRuleColumns(f *fixture) {
	id := f.id("r")
	res := f.ruled(id)
	if err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: res,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Allowance: 1}}}); err != nil {
		f.Fatalf("create: %v", err)
	}
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 1, Resource: res,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Allowance: 1}}})

	res.MaxExtensions, res.Allowance, res.MaxPerUser, res.WaitlistOfferTTL = 0, booking.Allowance{Units: 3}, 0, time.Hour
	res.Refunds = []booking.RefundTier{{Before: 0, Percent: 30}}
	res.UpdatedAt = at(50)
	h := hold(id, f.id("h"), f.id("u"), 10, 2, "a")
	h.Extensions, h.WaitlistEntryID, h.ExpiresAt = 2, f.id("w"), at(1_200_000)
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 2, Version: 2, Resource: res,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Allowance: 3, Held: 2}}, Holds: []booking.Hold{h}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 3, Version: 2, Resource: res,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Allowance: 3, Held: 2}}, Holds: []booking.Hold{h}})
	f.expectHold(h)
	f.expectList(persistence.HoldFilter{ResourceID: id}, []booking.Hold{h})

	// No policy any more: stored as none, read back as nil (the node's default applies).
	res.Refunds = nil
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 3, Version: 3, Resource: res})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 4, Version: 3, Resource: res,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Allowance: 3, Held: 2}}, Holds: []booking.Hold{h}})
}

// testAllowanceCheck: with an allowance a bucket may hold up to Capacity + Allowance; one more
// unit, a negative allowance or a negative capacity fails the batch and writes nothing.
func testAllowanceCheck(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5, Allowance: 2})
	u := f.id("u")
	for i, b := range []booking.Bucket{
		{Key: "a", Capacity: 5, Allowance: 2, Held: 6, Confirmed: 2},
		{Key: "a", Capacity: 5, Allowance: -1, Held: 1},
		{Key: "a", Capacity: -1, Allowance: 3, Held: 1},
		{Key: "a", Capacity: 5, Allowance: 0, Held: 6},
	} {
		h := hold(id, f.id(fmt.Sprintf("bad%d", i)), u, int64(i), 1, "a")
		err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id),
			Buckets: []booking.Bucket{b}, Holds: []booking.Hold{h}})
		f.expectInvalidBatch(fmt.Sprintf("bucket %+v", b), err)
		f.expectNoHold(id, h.ID)
	}
	full := booking.Bucket{Key: "a", Capacity: 5, Allowance: 2, Held: 4, Confirmed: 3}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id), Buckets: []booking.Bucket{full}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 2,
		Resource: f.resource(id), Buckets: []booking.Bucket{full}})
}

// entry returns a waiting entry of resource res.
func entry(res, id, user string, seq uint64, qty int64, buckets ...string) booking.WaitlistEntry {
	return booking.WaitlistEntry{ID: id, ResourceID: res, UserID: user, OfferHoldID: id + "-offer",
		Buckets: append([]string(nil), buckets...), Quantity: qty, Seq: seq, CreatedAt: at(int64(seq))}
}

// testWaitlist: entries are upserted and removed by id; an entry added and removed in one
// batch ends removed; removing an unknown id is no error; the snapshot lists them by Seq.
func testWaitlist(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 1})
	u := f.id("u")
	w1, w2, w3 := entry(id, f.id("w1"), u+"1", 1, 1, "a"), entry(id, f.id("w2"), u+"2", 2, 2, "a", "b"), entry(id, f.id("w3"), u+"3", 3, 1, "a")
	// Out of order on purpose: the snapshot is by Seq.
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id), Waitlist: []booking.WaitlistEntry{w3, w1, w2}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 2,
		Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 1}}, Waitlist: []booking.WaitlistEntry{w1, w2, w3}})

	// w1 offered (its hold names it), w4 joins and is offered in the same batch, w2 rewritten.
	offer := hold(id, w1.OfferHoldID, w1.UserID, 100, 1, "a")
	offer.WaitlistEntryID = w1.ID
	w4 := entry(id, f.id("w4"), u+"4", 4, 1, "a")
	w2.Quantity = 3
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 2, Version: 3, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}}, Holds: []booking.Hold{offer},
		Waitlist: []booking.WaitlistEntry{w4, w2}, WaitlistRemoved: []string{w1.ID, w4.ID, f.id("never")}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 3, Version: 3,
		Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}}, Holds: []booking.Hold{offer},
		Waitlist: []booking.WaitlistEntry{w2, w3}})

	// A stale batch removes nothing.
	err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: id, Epoch: 2, Version: 4, Resource: f.resource(id), WaitlistRemoved: []string{w2.ID}})
	if err == nil {
		f.Fatal("stale batch committed")
	}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 3, Version: 4, Resource: f.resource(id), WaitlistRemoved: []string{w2.ID, w3.ID}})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 4, Version: 4,
		Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}}, Holds: []booking.Hold{offer}})
}

// testForeignWaitlistEntry: an entry after-image of another resource, or an entry id another
// resource owns, fails the batch and writes nothing; removing another resource's entry id
// leaves it alone.
func testForeignWaitlistEntry(f *fixture) {
	r1, r2 := f.id("r1"), f.id("r2")
	f.create(r1, booking.Bucket{Key: "a", Capacity: 1})
	f.create(r2, booking.Bucket{Key: "a", Capacity: 1})
	owned := entry(r1, f.id("owned"), f.id("u"), 1, 1, "a")
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Waitlist: []booking.WaitlistEntry{owned}})

	mine := entry(r2, f.id("mine"), f.id("u"), 1, 1, "a")
	taken := owned
	taken.ResourceID = r2
	for name, b := range map[string]*persistence.Batch{
		"entry of another resource": {ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Waitlist: []booking.WaitlistEntry{mine, owned}},
		"entry id taken":            {ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Waitlist: []booking.WaitlistEntry{mine, taken}},
	} {
		f.expectInvalidBatch(name, f.s.Commit(f.ctx(), b))
	}
	f.commit(&persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), WaitlistRemoved: []string{owned.ID}})
	f.expectSnapshot(f.activate(r2, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 2,
		Resource: f.resource(r2), Buckets: []booking.Bucket{{Key: "a", Capacity: 1}}})
	f.expectSnapshot(f.activate(r1, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 2,
		Resource: f.resource(r1), Buckets: []booking.Bucket{{Key: "a", Capacity: 1}}, Waitlist: []booking.WaitlistEntry{owned}})
}

// waitlistLister is the waitlist query every store offers besides persistence.Store (the API
// defines its own interface for it).
type waitlistLister interface {
	ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error)
}

// testListWaitlist: a user's entries across resources with their positions as committed, by
// CreatedAt then ID; a resource's entries; the limit; a filter without user or resource.
func testListWaitlist(f *fixture) {
	l, ok := f.s.(waitlistLister)
	if !ok {
		f.Fatalf("store %T has no ListWaitlist", f.s)
	}
	r1, r2 := f.id("r1"), f.id("r2")
	f.create(r1, booking.Bucket{Key: "a", Capacity: 1})
	f.create(r2, booking.Bucket{Key: "a", Capacity: 1})
	me, other := f.id("me"), f.id("other")
	o1, o2 := entry(r1, f.id("o1"), other, 1, 1, "a"), entry(r1, f.id("o2"), other+"2", 2, 1, "a")
	mine1 := entry(r1, f.id("m1"), me, 3, 2, "a")
	mine1.CreatedAt = at(50)
	o3 := entry(r2, f.id("o3"), other, 7, 1, "a")
	mine2 := entry(r2, f.id("m2"), me, 9, 1, "a")
	mine2.CreatedAt = at(20)
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Waitlist: []booking.WaitlistEntry{mine1, o2, o1}})
	f.commit(&persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Waitlist: []booking.WaitlistEntry{o3, mine2}})
	expect := func(filter persistence.WaitlistFilter, want ...persistence.WaitlistPosition) {
		f.Helper()
		got, err := l.ListWaitlist(f.ctx(), filter)
		if err != nil {
			f.Fatalf("ListWaitlist %+v: %v", filter, err)
		}
		if !reflect.DeepEqual(canonPositions(got), canonPositions(want)) {
			f.Fatalf("ListWaitlist %+v:\n got %+v\nwant %+v", filter, got, want)
		}
	}
	expect(persistence.WaitlistFilter{UserID: me}, persistence.WaitlistPosition{Entry: mine2, Position: 2}, persistence.WaitlistPosition{Entry: mine1, Position: 3})
	expect(persistence.WaitlistFilter{UserID: me, Limit: 1}, persistence.WaitlistPosition{Entry: mine2, Position: 2})
	expect(persistence.WaitlistFilter{UserID: me, ResourceID: r1}, persistence.WaitlistPosition{Entry: mine1, Position: 3})
	expect(persistence.WaitlistFilter{ResourceID: r1}, persistence.WaitlistPosition{Entry: o1, Position: 1},
		persistence.WaitlistPosition{Entry: o2, Position: 2}, persistence.WaitlistPosition{Entry: mine1, Position: 3})
	// The first in line leaves: everyone behind moves up.
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 3, Resource: f.resource(r1), WaitlistRemoved: []string{o1.ID}})
	expect(persistence.WaitlistFilter{UserID: me, ResourceID: r1}, persistence.WaitlistPosition{Entry: mine1, Position: 2})
	expect(persistence.WaitlistFilter{UserID: f.id("nobody")})
	for _, bad := range []persistence.WaitlistFilter{{}, {UserID: me, Limit: -1}, {UserID: me, Limit: 1001}} {
		if _, err := l.ListWaitlist(f.ctx(), bad); booking.ErrorCode(err) != booking.CodeInvalid {
			f.Fatalf("ListWaitlist %+v: err = %v, want invalid", bad, err)
		}
	}
}

func canonPositions(ps []persistence.WaitlistPosition) []persistence.WaitlistPosition {
	out := make([]persistence.WaitlistPosition, len(ps))
	for i, p := range ps {
		p.Entry.Buckets = nonNil(p.Entry.Buckets)
		p.Entry.CreatedAt = p.Entry.CreatedAt.UTC()
		out[i] = p
	}
	return out
}
