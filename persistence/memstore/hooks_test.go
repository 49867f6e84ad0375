package memstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

var t0 = time.UnixMilli(1_900_000_000_000).UTC()

func res(id string) booking.Resource {
	return booking.Resource{ID: id, Name: id, HoldTTL: time.Minute, CreatedAt: t0, UpdatedAt: t0}
}

func mustCreate(t *testing.T, s *Store, id string) {
	t.Helper()
	err := s.Commit(context.Background(), &persistence.Batch{ResourceID: id, Version: 1, Create: true, Resource: res(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10}}})
	if err != nil {
		t.Fatal(err)
	}
}

func newHold(res, id string) booking.Hold {
	return booking.Hold{ID: id, ResourceID: res, UserID: "u", Buckets: []string{"a"}, Quantity: 1,
		Status: booking.StatusHeld, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0}
}

func TestCommitHookErrorWritesNothing(t *testing.T) {
	s := New()
	mustCreate(t, s, "r")
	boom := errors.New("boom")
	var seen *persistence.Batch
	s.SetCommitHook(func(_ context.Context, b *persistence.Batch) error { seen = b; return boom })
	b := &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res("r"), Holds: []booking.Hold{newHold("r", "h")}}
	if err := s.Commit(context.Background(), b); err != boom {
		t.Fatalf("err = %v, want the hook's error itself", err)
	}
	if seen != b {
		t.Fatal("hook did not see the batch")
	}
	if _, err := s.GetHold(context.Background(), "r", "h"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("hold written despite hook error: %v", err)
	}
	s.SetCommitHook(nil)
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatalf("after clearing the hook: %v", err)
	}
}

// A hook that blocks delays only its caller, and returns when the caller's ctx ends.
func TestCommitHookBlocksAndHonoursContext(t *testing.T) {
	s := New()
	mustCreate(t, s, "slow")
	mustCreate(t, s, "fast")
	entered := make(chan struct{})
	s.SetCommitHook(func(ctx context.Context, b *persistence.Batch) error {
		if b.ResourceID != "slow" {
			return nil
		}
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Commit(ctx, &persistence.Batch{ResourceID: "slow", Epoch: 1, Version: 2, Resource: res("slow"), Holds: []booking.Hold{newHold("slow", "h1")}})
	}()
	<-entered
	// The store is not blocked by the hook.
	if err := s.Commit(context.Background(), &persistence.Batch{ResourceID: "fast", Epoch: 1, Version: 2, Resource: res("fast")}); err != nil {
		t.Fatalf("commit beside a blocked hook: %v", err)
	}
	if _, err := s.Activate(context.Background(), "fast", time.Time{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked commit: err = %v, want context.Canceled", err)
	}
	if _, err := s.GetHold(context.Background(), "slow", "h1"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("cancelled commit wrote: %v", err)
	}
}

func TestActivateHook(t *testing.T) {
	s := New()
	mustCreate(t, s, "r")
	boom := errors.New("boom")
	var got string
	s.SetActivateHook(func(_ context.Context, id string) error { got = id; return boom })
	if _, err := s.Activate(context.Background(), "r", time.Time{}); err != boom {
		t.Fatalf("err = %v, want the hook's error", err)
	}
	if got != "r" {
		t.Fatalf("hook saw %q", got)
	}
	s.SetActivateHook(nil)
	snap, err := s.Activate(context.Background(), "r", time.Time{})
	if err != nil || snap.Epoch != 2 {
		t.Fatalf("activate after failed hook: epoch %v err %v, want 2 (the failed one must not bump)", snap, err)
	}
	// The creator (epoch 1) is fenced by the successful activation only.
	if err := s.Commit(context.Background(), &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res("r")}); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("err = %v, want ErrFenced", err)
	}
}

func TestRenewHook(t *testing.T) {
	s := New()
	mustCreate(t, s, "r")
	ctx := context.Background()
	boom := errors.New("boom")
	type call struct {
		id    string
		epoch uint64
		until time.Time
	}
	var got call
	s.SetRenewHook(func(_ context.Context, id string, epoch uint64, until time.Time) error {
		got = call{id, epoch, until}
		return boom
	})
	if err := s.Renew(ctx, "r", 1, t0.Add(time.Second)); err != boom {
		t.Fatalf("err = %v, want the hook's error", err)
	}
	if got != (call{"r", 1, t0.Add(time.Second)}) {
		t.Fatalf("hook saw %+v", got)
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil || !snap.LeaseUntil.IsZero() {
		t.Fatalf("after a failed hook: lease %v err %v, want none", snap.LeaseUntil, err)
	}
	s.SetRenewHook(nil)
	if err := s.Renew(ctx, "r", snap.Epoch, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if snap, err := s.Activate(ctx, "r", time.Time{}); err != nil || !snap.LeaseUntil.Equal(t0.Add(time.Second)) {
		t.Fatalf("after clearing the hook: lease %v err %v", snap.LeaseUntil, err)
	}
}

// Callers can neither change the store through a batch after Commit, nor through what
// Activate, GetHold or ListHolds returned.
func TestNoAliasing(t *testing.T) {
	s := New()
	ctx := context.Background()
	r := res("r")
	r.Price = &booking.Money{Amount: 100, Currency: "EUR"}
	h := newHold("r", "h")
	b := &persistence.Batch{ResourceID: "r", Version: 1, Create: true, Resource: r,
		Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: 1}}, Holds: []booking.Hold{h}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.Resource.Price.Amount = 1
	b.Holds[0].Buckets[0] = "mutated"
	b.Holds[0].Status = booking.StatusCancelled
	b.Buckets[0].Held = 9

	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Resource.Price.Amount != 100 || snap.Holds[0].Buckets[0] != "a" || snap.Holds[0].Status != booking.StatusHeld || snap.Buckets[0].Held != 1 {
		t.Fatalf("store state changed through the committed batch: %+v %+v", snap.Resource.Price, snap.Holds)
	}
	snap.Resource.Price.Amount = 2
	snap.Holds[0].Buckets[0] = "mutated"
	got, err := s.GetHold(ctx, "r", "h")
	if err != nil {
		t.Fatal(err)
	}
	got.Buckets[0] = "mutated"
	list, err := s.ListHolds(ctx, persistence.HoldFilter{ResourceID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	list[0].Buckets[0] = "mutated"
	snap, err = s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Resource.Price.Amount != 100 || snap.Holds[0].Buckets[0] != "a" {
		t.Fatalf("store state changed through a returned value: %+v %+v", snap.Resource.Price, snap.Holds)
	}
}

// Times and TTLs come back as a database gives them: ms precision, UTC.
func TestMillisecondPrecision(t *testing.T) {
	s := New()
	ctx := context.Background()
	zone := time.FixedZone("X", 3600)
	at := time.Date(2031, 1, 2, 3, 4, 5, 123_456_789, zone)
	r := res("r")
	r.CreatedAt, r.HoldTTL = at, time.Minute+1500*time.Microsecond
	h := newHold("r", "h")
	h.ExpiresAt = at
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Version: 1, Create: true, Resource: r, Holds: []booking.Hold{h}}); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Activate(ctx, "r", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2031, 1, 2, 2, 4, 5, 123_000_000, time.UTC)
	if got := snap.Resource.CreatedAt; got != want {
		t.Fatalf("CreatedAt = %v, want %v", got, want)
	}
	if got := snap.Holds[0].ExpiresAt; got != want {
		t.Fatalf("ExpiresAt = %v, want %v", got, want)
	}
	if got := snap.Resource.HoldTTL; got != time.Minute+time.Millisecond {
		t.Fatalf("HoldTTL = %v", got)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := New()
	mustCreate(t, s, "r")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 2, Resource: res("r")}); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := s.Activate(ctx, "r", time.Time{}); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Activate: %v", err)
	}
	if _, err := s.GetHold(ctx, "r", "h"); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("GetHold: %v", err)
	}
	if _, err := s.ListHolds(ctx, persistence.HoldFilter{ResourceID: "r"}); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("ListHolds: %v", err)
	}
	if err := s.Renew(ctx, "r", 1, t0); !errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("Renew: %v", err)
	}
}
