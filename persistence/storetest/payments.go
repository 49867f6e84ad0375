package storetest

import (
	"context"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// paymentLister is the payments reconciler's view of a store (api/payments defines its own
// interface for it).
type paymentLister interface {
	ListPayments(ctx context.Context, f persistence.PaymentFilter) ([]booking.Hold, error)
}

// testPayments: a hold's payment record and open flag (migration 0009) round-trip through
// Commit, GetHold, ListHolds and Activate, are replaced by a later after-image, and
// ListPayments lists the holds with a payment (the open ones only, when asked) by UpdatedAt.
// Other runs may share the database: only this subtest's holds are looked at.
func testPayments(f *fixture) {
	l, ok := f.s.(paymentLister)
	if !ok {
		f.Fatalf("store %T has no ListPayments", f.s)
	}
	id := f.id("r")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5})
	u := f.id("u")
	paid := hold(id, f.id("paid"), u, 10, 1, "a")
	paid.Payment, paid.PaymentOpen, paid.ExpiresAt, paid.UpdatedAt = `{"HoldID":"x","Attempt":1}`, true, at(600_000), at(30)
	plain := hold(id, f.id("plain"), u, 11, 1, "a")
	plain.ExpiresAt = at(600_000)
	done := hold(id, f.id("done"), u, 12, 1, "a")
	done.Payment, done.Status, done.UpdatedAt = `{"done":true}`, booking.StatusExpired, at(20)
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 5, Held: 2}}, Holds: []booking.Hold{paid, plain, done}})
	f.expectHold(paid)
	f.expectHold(done)
	f.expectList(persistence.HoldFilter{ResourceID: id, Status: booking.StatusHeld}, []booking.Hold{paid, plain})
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{Exists: true, Epoch: 2, Version: 2,
		Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 5, Held: 2}}, Holds: []booking.Hold{paid, plain}})

	list := func(open bool) []string {
		f.Helper()
		hs, err := l.ListPayments(f.ctx(), persistence.PaymentFilter{Open: open, Limit: 1000})
		if err != nil {
			f.Fatalf("list payments open=%v: %v", open, err)
		}
		var ids []string
		for _, h := range hs {
			if strings.HasPrefix(h.ID, f.prefix+"-") {
				if h.Payment == "" {
					f.Errorf("listed hold %s has no payment", h.ID)
				}
				ids = append(ids, h.ID)
			}
		}
		return ids
	}
	expectIDs := func(what string, got []string, want ...string) {
		f.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			f.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	expectIDs("open payments", list(true), paid.ID)
	expectIDs("all payments by UpdatedAt", list(false), done.ID, paid.ID)

	// The payment settles: the next after-image closes it.
	paid.Payment, paid.PaymentOpen, paid.Status, paid.UpdatedAt = `{"HoldID":"x","Attempt":1,"Status":"captured"}`, false, booking.StatusConfirmed, at(40)
	f.commit(&persistence.Batch{ResourceID: id, Epoch: 2, Version: 3, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 5, Held: 1, Confirmed: 1}}, Holds: []booking.Hold{paid}})
	f.expectHold(paid)
	expectIDs("open payments after settling", list(true))
	expectIDs("all payments after settling", list(false), done.ID, paid.ID)

	if _, err := l.ListPayments(f.ctx(), persistence.PaymentFilter{Limit: -1}); booking.ErrorCode(err) != booking.CodeInvalid {
		f.Errorf("limit -1: got %v, want an invalid filter", err)
	}
}
