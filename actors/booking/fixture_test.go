package booking

import (
	"reflect"
	"testing"
	"time"
)

// t0 is the instant every test starts at; tests move time by passing later instants.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// MustCreate returns the state of a created resource "r1" with the given buckets and TTL.
func MustCreate(tb testing.TB, buckets map[string]int64, ttl time.Duration) *State {
	tb.Helper()
	s := NewState("r1")
	evs, err := s.DecideCreate(CreateResource{ID: "r1", Name: "Room", Buckets: buckets, HoldTTL: ttl}, t0)
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	MustApply(tb, s, evs)
	return s
}

// MustApply applies events in order.
func MustApply(tb testing.TB, s *State, evs []Event) {
	tb.Helper()
	for _, e := range evs {
		s.Apply(e)
	}
}

// MustHold decides and applies a hold placed at now by user "u1" and returns it.
func MustHold(tb testing.TB, s *State, id string, qty int64, now time.Time, buckets ...string) Hold {
	tb.Helper()
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: id, Buckets: buckets, Quantity: qty, UserID: "u1"}, now)
	if err != nil {
		tb.Fatalf("hold %s: %v", id, err)
	}
	MustApply(tb, s, d.Events)
	h, ok := s.Hold(id)
	if !ok {
		tb.Fatalf("hold %s not found after apply", id)
	}
	return h
}

// MustTransition decides a confirmation (confirm=true) or cancellation and applies it.
func MustTransition(tb testing.TB, s *State, id string, confirm bool, now time.Time) {
	tb.Helper()
	var evs []Event
	var err error
	if confirm {
		evs, err = s.DecideConfirm(ConfirmHold{HoldID: id}, now)
	} else {
		evs, err = s.DecideCancel(CancelHold{HoldID: id}, now)
	}
	if err != nil {
		tb.Fatalf("transition %s: %v", id, err)
	}
	MustApply(tb, s, evs)
}

// wantCode fails unless err carries code ("" means no error).
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// wantBucket fails unless bucket key has the given counters.
func wantBucket(tb testing.TB, s *State, key string, capacity, held, confirmed int64) {
	tb.Helper()
	b, ok := s.Bucket(key)
	if !ok {
		tb.Fatalf("bucket %q missing", key)
	}
	want := Bucket{Key: key, Capacity: capacity, Held: held, Confirmed: confirmed}
	if b != want {
		tb.Fatalf("bucket %q = %+v, want %+v", key, b, want)
	}
}

// observable is everything a caller can see of a State through its API (and the internal
// indexes that decide future answers). Two states with equal observables behave alike.
type observable struct {
	Exists   bool
	Resource Resource
	Price    Money
	Buckets  []Bucket
	Holds    map[string]Hold
	Idem     map[string]IdempotencyEntry
	FIFO     []string
	Expiry   []expiryItem
}

func observe(s *State) observable {
	o := observable{Exists: s.exists, Buckets: s.Buckets(), Holds: map[string]Hold{}, Idem: map[string]IdempotencyEntry{}}
	o.Resource, _ = s.Resource()
	if o.Resource.Price != nil {
		o.Price = *o.Resource.Price
		o.Resource.Price = nil // compare the value, not the pointer
	}
	for _, h := range s.holds.list {
		o.Holds[h.ID], _ = s.Hold(h.ID)
	}
	for i := range s.idemLog { // every key with an entry has one in the log
		o.Idem[s.idemKey(i)], _ = s.Idempotency(s.idemKey(i))
	}
	for i := range s.idemLog {
		o.FIFO = append(o.FIFO, s.idemKey(i))
	}
	o.Expiry = append(o.Expiry, s.expiry...)
	return o
}

// wantUnchanged fails if s no longer looks like before.
func wantUnchanged(tb testing.TB, s *State, before observable) {
	tb.Helper()
	if after := observe(s); !reflect.DeepEqual(before, after) {
		tb.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
