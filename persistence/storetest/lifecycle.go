package storetest

import (
	"context"
	"errors"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// testCancelledContext: with a ctx already cancelled every method fails with an error that
// wraps context.Canceled, and nothing is written: the epoch is not bumped, the batch is not
// visible, the resource is not created, the lease is not renewed.
func testCancelledContext(f *fixture) {
	id, absent := f.id("r"), f.id("absent")
	f.create(id, booking.Bucket{Key: "a", Capacity: 5})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := hold(id, f.id("h"), f.id("u"), 1, 1, "a")
	expect := func(what string, err error) {
		f.Helper()
		if !errors.Is(err, context.Canceled) {
			f.Fatalf("%s with a cancelled ctx: err = %v, want one wrapping context.Canceled", what, err)
		}
	}
	_, err := f.s.Activate(ctx, id, time.Time{})
	expect("Activate", err)
	expect("Commit", f.s.Commit(ctx, &persistence.Batch{
		ResourceID: id, Epoch: 1, Version: 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 5, Held: 1}}, Holds: []booking.Hold{h},
	}))
	expect("Commit (creation)", f.s.Commit(ctx, &persistence.Batch{ResourceID: absent, Version: 1, Create: true, Resource: f.resource(absent)}))
	expect("Renew", f.s.Renew(ctx, id, 1, at(1_000)))
	_, err = f.s.GetHold(ctx, id, h.ID)
	expect("GetHold", err)
	_, err = f.s.ListHolds(ctx, persistence.HoldFilter{ResourceID: id})
	expect("ListHolds", err)
	expect("Ping", f.s.Ping(ctx))

	f.expectNoHold(id, h.ID)
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{ // no lease either
		Exists: true, Epoch: 2, Version: 1, Resource: f.resource(id), Buckets: []booking.Bucket{{Key: "a", Capacity: 5}},
	})
	f.expectSnapshot(f.activate(absent, time.Time{}), persistence.Snapshot{})
	if err := f.s.Ping(f.ctx()); err != nil {
		f.Fatalf("Ping: %v", err)
	}
}

// testCloseTwice: Close returns nil twice, and a closed store refuses work promptly.
func testCloseTwice(f *fixture) {
	if err := f.s.Ping(f.ctx()); err != nil {
		f.Fatalf("Ping before Close: %v", err)
	}
	if err := f.s.Close(); err != nil {
		f.Fatalf("first Close: %v", err)
	}
	if err := f.s.Close(); err != nil {
		f.Fatalf("second Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.s.Ping(ctx); err == nil {
		f.Fatal("Ping after Close succeeded")
	}
	if _, err := f.s.Activate(ctx, f.id("r"), time.Time{}); err == nil {
		f.Fatal("Activate after Close succeeded")
	}
}
