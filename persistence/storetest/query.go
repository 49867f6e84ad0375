package storetest

import (
	"fmt"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// testGetHold: GetHold finds a hold in any status, and answers ErrNotFound for an unknown
// hold, an unknown resource, and a hold asked for under the wrong resource.
func testGetHold(f *fixture) {
	r1, r2 := f.id("r1"), f.id("r2")
	f.create(r1, booking.Bucket{Key: "a", Capacity: 10})
	f.create(r2, booking.Bucket{Key: "a", Capacity: 10})
	u := f.id("u")
	var hs []booking.Hold
	for i, st := range []booking.Status{booking.StatusHeld, booking.StatusConfirmed, booking.StatusCancelled, booking.StatusExpired} {
		h := hold(r1, f.id(string(st)), u, int64(i), int64(i+1), "a")
		h.Status = st
		h.IdempotencyKey = fmt.Sprintf("idem-%d", i)
		hs = append(hs, h)
	}
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Holds: hs})
	for _, h := range hs {
		f.expectHold(h)
		f.expectNoHold(r2, h.ID)
	}
	f.expectNoHold(r1, f.id("missing"))
	f.expectNoHold(f.id("no-such-resource"), hs[0].ID)
}

// testListHolds: filters by resource, user and status, alone and combined; order by
// CreatedAt then ID; limits.
func testListHolds(f *fixture) {
	r1, r2, r3 := f.id("r1"), f.id("r2"), f.id("r3")
	for _, r := range []string{r1, r2, r3} {
		f.create(r, booking.Bucket{Key: "a", Capacity: 10})
	}
	u1, u2 := f.id("u1"), f.id("u2")
	mk := func(res, name, user string, ms int64, st booking.Status) booking.Hold {
		h := hold(res, f.id(name), user, ms, 1, "a")
		h.Status = st
		return h
	}
	// x2 is written before x1 and both are created at the same ms: ID breaks the tie.
	a := mk(r1, "x2", u1, 10, booking.StatusHeld)
	b := mk(r1, "x1", u1, 10, booking.StatusConfirmed)
	c := mk(r1, "x3", u2, 5, booking.StatusCancelled)
	d := mk(r1, "x0", u1, 20, booking.StatusExpired)
	e := mk(r2, "y1", u1, 7, booking.StatusHeld)
	g := mk(r2, "y0", u2, 30, booking.StatusHeld)
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 2, Resource: f.resource(r1), Holds: []booking.Hold{a, b, c, d}})
	f.commit(&persistence.Batch{ResourceID: r2, Epoch: 1, Version: 2, Resource: f.resource(r2), Holds: []booking.Hold{e, g}})

	for _, tc := range []struct {
		filter persistence.HoldFilter
		want   []booking.Hold
	}{
		{persistence.HoldFilter{ResourceID: r1}, []booking.Hold{c, b, a, d}},
		{persistence.HoldFilter{ResourceID: r2}, []booking.Hold{e, g}},
		{persistence.HoldFilter{ResourceID: r3}, nil},
		{persistence.HoldFilter{UserID: u1}, []booking.Hold{e, b, a, d}},
		{persistence.HoldFilter{UserID: u2}, []booking.Hold{c, g}},
		{persistence.HoldFilter{ResourceID: r1, UserID: u1}, []booking.Hold{b, a, d}},
		{persistence.HoldFilter{ResourceID: r2, UserID: u2}, []booking.Hold{g}},
		{persistence.HoldFilter{UserID: u1, Status: booking.StatusHeld}, []booking.Hold{e, a}},
		{persistence.HoldFilter{ResourceID: r1, Status: booking.StatusConfirmed}, []booking.Hold{b}},
		{persistence.HoldFilter{ResourceID: r1, Status: booking.StatusExpired}, []booking.Hold{d}},
		{persistence.HoldFilter{ResourceID: r1, UserID: u2, Status: booking.StatusCancelled}, []booking.Hold{c}},
		{persistence.HoldFilter{ResourceID: r1, UserID: u2, Status: booking.StatusHeld}, nil},
		{persistence.HoldFilter{ResourceID: r1, Limit: 2}, []booking.Hold{c, b}},
		{persistence.HoldFilter{UserID: u1, Limit: 1}, []booking.Hold{e}},
		{persistence.HoldFilter{UserID: u1, Limit: 1000}, []booking.Hold{e, b, a, d}},
		{persistence.HoldFilter{UserID: f.id("nobody")}, nil},
	} {
		f.expectList(tc.filter, tc.want)
	}

	// A status change moves a hold between status filters.
	a.Status = booking.StatusCancelled
	a.UpdatedAt = at(50)
	f.commit(&persistence.Batch{ResourceID: r1, Epoch: 1, Version: 3, Resource: f.resource(r1), Holds: []booking.Hold{a}})
	f.expectList(persistence.HoldFilter{UserID: u1, Status: booking.StatusHeld}, []booking.Hold{e})
	f.expectList(persistence.HoldFilter{ResourceID: r1, Status: booking.StatusCancelled}, []booking.Hold{c, a})
}

// testListHoldsDefaultLimit: Limit 0 means 100.
func testListHoldsDefaultLimit(f *fixture) {
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 1000})
	u := f.id("u")
	var hs []booking.Hold
	for i := range 150 {
		hs = append(hs, hold(id, f.id(fmt.Sprintf("h%03d", i)), u, int64(150-i), 1, "a"))
	}
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id), Holds: hs})
	want := canonHolds(hs)
	f.expectList(persistence.HoldFilter{ResourceID: id}, want[:100])
	f.expectList(persistence.HoldFilter{UserID: u}, want[:100])
	f.expectList(persistence.HoldFilter{UserID: u, Limit: 150}, want)
}

// testListHoldsInvalidFilter: filters that Normalize refuses fail with CodeInvalid.
func testListHoldsInvalidFilter(f *fixture) {
	for _, filter := range []persistence.HoldFilter{
		{},
		{Status: booking.StatusHeld},
		{ResourceID: f.id("r"), Status: "bogus"},
		{UserID: f.id("u"), Limit: -1},
		{ResourceID: f.id("r"), Limit: 1001},
	} {
		hs, err := f.s.ListHolds(f.ctx(), filter)
		if code := booking.ErrorCode(err); code != booking.CodeInvalid {
			f.Fatalf("ListHolds %+v: got %d holds, err %v (code %q), want code %q", filter, len(hs), err, code, booking.CodeInvalid)
		}
	}
}
