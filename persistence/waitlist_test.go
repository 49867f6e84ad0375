package persistence

import (
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func TestWaitlistFilterNormalize(t *testing.T) {
	for _, tc := range []struct {
		f    WaitlistFilter
		code string
		lim  int
	}{
		{WaitlistFilter{UserID: "u"}, "", 100},
		{WaitlistFilter{ResourceID: "r", Limit: 1000}, "", 1000},
		{WaitlistFilter{}, booking.CodeInvalid, 0},
		{WaitlistFilter{UserID: "u", Limit: -1}, booking.CodeInvalid, -1},
		{WaitlistFilter{UserID: "u", Limit: 1001}, booking.CodeInvalid, 1001},
	} {
		f := tc.f
		if err := f.Normalize(); booking.ErrorCode(err) != tc.code || f.Limit != tc.lim {
			t.Errorf("%+v: err %v limit %d, want code %q limit %d", tc.f, err, f.Limit, tc.code, tc.lim)
		}
	}
}

// TestSnapshotSaved: a snapshot restores with everything it loaded, the waitlist included.
func TestSnapshotSaved(t *testing.T) {
	t0 := time.UnixMilli(1_900_000_000_000).UTC()
	snap := &Snapshot{
		Exists: true, Epoch: 2, Version: 3,
		Resource:    booking.Resource{ID: "r", Name: "R", HoldTTL: time.Minute, MaxExtensions: 2, WaitlistOfferTTL: time.Hour},
		Buckets:     []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}},
		Holds:       []booking.Hold{{ID: "h", ResourceID: "r", UserID: "u", Buckets: []string{"a"}, Quantity: 1, Status: booking.StatusHeld, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), UpdatedAt: t0}},
		Idempotency: []booking.IdempotencyEntry{{Key: "k", Fingerprint: "f", HoldID: "h", CreatedAt: t0}},
		Waitlist:    []booking.WaitlistEntry{{ID: "w", ResourceID: "r", UserID: "v", OfferHoldID: "o", Buckets: []string{"a"}, Quantity: 1, Seq: 1, CreatedAt: t0}},
	}
	sv := snap.Saved()
	if !reflect.DeepEqual(sv, booking.Saved{Resource: snap.Resource, Buckets: snap.Buckets, Holds: snap.Holds, Idempotency: snap.Idempotency, Waitlist: snap.Waitlist}) {
		t.Fatalf("Saved = %+v", sv)
	}
	s := booking.RestoreSaved(sv)
	if e, pos, ok := s.WaitlistOf("v"); !ok || pos != 1 || e.ID != "w" {
		t.Fatalf("restored waitlist: %+v at %d (%v)", e, pos, ok)
	}
	if _, ok := s.Idempotency("k"); !ok || s.UserUnits("u") != 1 {
		t.Fatalf("restored state lacks the key or the user's units")
	}
}
