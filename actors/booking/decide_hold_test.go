package booking

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// holdFixture is a resource with d1=2, d2=2, d3=0, big=MaxCapacity and a 1-minute TTL, and
// one hold "h0" of 1 unit in d2.
func holdFixture(tb testing.TB) *State {
	s := MustCreate(tb, map[string]int64{"d1": 2, "d2": 2, "d3": 0, "big": MaxCapacity, "a|b": 1, "a": 1, "b": 1}, time.Minute)
	MustHold(tb, s, "h0", 1, t0, "d2")
	return s
}

func TestDecidePlaceHold(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("k%02d", i)
		}
		return out
	}
	tests := []struct {
		name string
		cmd  PlaceHold
		code string
	}{
		{"one bucket", PlaceHold{Buckets: []string{"d1"}, Quantity: 2}, ""},
		{"several buckets", PlaceHold{Buckets: []string{"d2", "d1"}, Quantity: 1}, ""},
		{"bucket key with pipe", PlaceHold{Buckets: []string{"a|b"}, Quantity: 1}, ""},
		{"max quantity", PlaceHold{Buckets: []string{"big"}, Quantity: MaxQuantity}, ""},
		{"sold out", PlaceHold{Buckets: []string{"d1"}, Quantity: 3}, CodeSoldOut},
		{"zero capacity", PlaceHold{Buckets: []string{"d3"}, Quantity: 1}, CodeSoldOut},
		{"one of several sold out", PlaceHold{Buckets: []string{"d1", "d2"}, Quantity: 2}, CodeSoldOut},
		{"unknown bucket", PlaceHold{Buckets: []string{"d1", "d9"}, Quantity: 1}, CodeInvalid},
		{"unknown bucket beats sold out", PlaceHold{Buckets: []string{"d3", "d9"}, Quantity: 1}, CodeInvalid},
		{"duplicate bucket", PlaceHold{Buckets: []string{"d1", "d1"}, Quantity: 1}, CodeInvalid},
		{"duplicate bucket after another", PlaceHold{Buckets: []string{"d1", "d2", "d1"}, Quantity: 1}, CodeInvalid},
		{"malformed bucket key", PlaceHold{Buckets: []string{"d1", "d 2"}, Quantity: 1}, CodeInvalid},
		{"no buckets", PlaceHold{Quantity: 1}, CodeInvalid},
		{"too many buckets", PlaceHold{Buckets: many(MaxHoldBuckets + 1), Quantity: 1}, CodeInvalid},
		{"quantity zero", PlaceHold{Buckets: []string{"d1"}, Quantity: 0}, CodeInvalid},
		{"quantity negative", PlaceHold{Buckets: []string{"d1"}, Quantity: -1}, CodeInvalid},
		{"quantity too large", PlaceHold{Buckets: []string{"big"}, Quantity: MaxQuantity + 1}, CodeInvalid},
		{"user empty", PlaceHold{Buckets: []string{"d1"}, Quantity: 1, UserID: "-"}, CodeInvalid},
		{"user with space", PlaceHold{Buckets: []string{"d1"}, Quantity: 1, UserID: "u 1"}, CodeInvalid},
		{"user with slash", PlaceHold{Buckets: []string{"d1"}, Quantity: 1, UserID: "u/1"}, CodeInvalid},
		{"user at max length", PlaceHold{Buckets: []string{"d1"}, Quantity: 1, UserID: strings.Repeat("u", MaxUserIDLength)}, ""},
		{"user too long", PlaceHold{Buckets: []string{"d1"}, Quantity: 1, UserID: strings.Repeat("u", MaxUserIDLength+1)}, CodeInvalid},
		{"user with pipe", PlaceHold{Buckets: []string{"d1"}, Quantity: 1, UserID: "u|1"}, ""},
		{"hold id empty", PlaceHold{HoldID: "-", Buckets: []string{"d1"}, Quantity: 1}, CodeInternal},
		{"hold id invalid", PlaceHold{HoldID: "h/1", Buckets: []string{"d1"}, Quantity: 1}, CodeInternal},
		{"hold id reused", PlaceHold{HoldID: "h0", Buckets: []string{"d1"}, Quantity: 1}, CodeInternal},
		{"idempotency key at max length", PlaceHold{IdempotencyKey: strings.Repeat("k", MaxIdempotencyLen), Buckets: []string{"d1"}, Quantity: 1}, ""},
		{"idempotency key too long", PlaceHold{IdempotencyKey: strings.Repeat("k", MaxIdempotencyLen+1), Buckets: []string{"d1"}, Quantity: 1}, CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := holdFixture(t)
			if tt.name == "too many buckets" {
				m := map[string]int64{}
				for _, k := range tt.cmd.Buckets {
					m[k] = 1
				}
				evs, _ := s.DecideUpdate(UpdateResource{Buckets: m}, t0)
				MustApply(t, s, evs)
			}
			cmd := tt.cmd
			switch cmd.HoldID {
			case "":
				cmd.HoldID = "h1"
			case "-":
				cmd.HoldID = ""
			}
			switch cmd.UserID {
			case "":
				cmd.UserID = "u1"
			case "-":
				cmd.UserID = ""
			}
			now := t0.Add(10 * time.Second)
			before := observe(s)
			d, err := s.DecidePlaceHold(cmd, now)
			wantCode(t, err, tt.code)
			wantUnchanged(t, s, before)
			if err != nil {
				if !reflect.DeepEqual(d, Decision{}) {
					t.Fatalf("refusal returned decision %+v", d)
				}
				return
			}
			if d.Replayed || d.HoldID != cmd.HoldID || len(d.Events) != 1 {
				t.Fatalf("decision = %+v", d)
			}
			want := Hold{ID: cmd.HoldID, ResourceID: "r1", UserID: cmd.UserID, IdempotencyKey: cmd.IdempotencyKey,
				Buckets: slices.Clone(cmd.Buckets), Quantity: cmd.Quantity, Status: StatusHeld,
				CreatedAt: now, ExpiresAt: now.Add(time.Minute), UpdatedAt: now}
			if got := d.Events[0].(HoldPlaced).Hold.AsHold("r1"); !reflect.DeepEqual(got, want) {
				t.Fatalf("hold = %+v\nwant  %+v", got, want)
			}
			cmd.Buckets[0] = "mutated" // the event must not alias the command
			if got := d.Events[0].(HoldPlaced).Hold.Buckets[0]; got == "mutated" {
				t.Fatal("event aliases the command's bucket slice")
			}
			MustApply(t, s, d.Events)
			if got, ok := s.Hold(cmd.HoldID); !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("applied hold = %+v\nwant  %+v", got, want)
			}
			for _, k := range want.Buckets {
				if b, _ := s.Bucket(k); b.Held < cmd.Quantity {
					t.Fatalf("bucket %+v does not count the hold", b)
				}
			}
		})
	}
}

func TestDecidePlaceHoldNotFound(t *testing.T) {
	_, err := NewState("r1").DecidePlaceHold(PlaceHold{HoldID: "h1", Buckets: []string{"a"}, Quantity: 1, UserID: "u"}, t0)
	wantCode(t, err, CodeNotFound)
}

func TestPlaceHoldAllOrNothing(t *testing.T) {
	s := MustCreate(t, map[string]int64{"n1": 2, "n2": 2, "n3": 2}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "n2")
	// n1 and n3 could take 2, n2 cannot: nothing is claimed anywhere.
	_, err := s.DecidePlaceHold(PlaceHold{HoldID: "h2", Buckets: []string{"n1", "n2", "n3"}, Quantity: 2, UserID: "u"}, t0)
	wantCode(t, err, CodeSoldOut)
	wantBucket(t, s, "n1", 2, 0, 0)
	wantBucket(t, s, "n2", 2, 1, 0)
	wantBucket(t, s, "n3", 2, 0, 0)
	MustHold(t, s, "h3", 1, t0, "n1", "n2", "n3")
	wantBucket(t, s, "n1", 2, 1, 0)
	wantBucket(t, s, "n2", 2, 2, 0)
	wantBucket(t, s, "n3", 2, 1, 0)
	// Sold out until something is released.
	_, err = s.DecidePlaceHold(PlaceHold{HoldID: "h4", Buckets: []string{"n2"}, Quantity: 1, UserID: "u"}, t0)
	wantCode(t, err, CodeSoldOut)
	MustTransition(t, s, "h1", false, t0)
	MustHold(t, s, "h4", 1, t0, "n2")
}

// TestHeldPastDeadlineCountsUntilExpired pins the model's choice: a held hold whose deadline
// has passed still counts until its HoldExpired event is applied (the actor expires due
// holds before deciding).
func TestHeldPastDeadlineCountsUntilExpired(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 1}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "a")
	late := t0.Add(time.Hour)
	_, err := s.DecidePlaceHold(PlaceHold{HoldID: "h2", Buckets: []string{"a"}, Quantity: 1, UserID: "u"}, late)
	wantCode(t, err, CodeSoldOut)
	MustApply(t, s, s.ExpireDue(late))
	MustHold(t, s, "h2", 1, late, "a")
}

func TestIdempotency(t *testing.T) {
	place := func(s *State, holdID, key string, qty int64, user string, now time.Time, buckets ...string) (Decision, error) {
		return s.DecidePlaceHold(PlaceHold{HoldID: holdID, IdempotencyKey: key, Buckets: buckets, Quantity: qty, UserID: user}, now)
	}
	setup := func(t *testing.T) *State {
		s := MustCreate(t, map[string]int64{"n1": 3, "n2": 3, "a": 5, "b": 5, "a|b": 5}, time.Minute)
		d, err := place(s, "h1", "key-1", 2, "u1", t0, "n1", "n2")
		wantCode(t, err, "")
		MustApply(t, s, d.Events)
		return s
	}
	later := t0.Add(10 * time.Second)

	t.Run("entry recorded", func(t *testing.T) {
		s := setup(t)
		e, ok := s.Idempotency("key-1")
		want := IdempotencyEntry{Key: "key-1", Fingerprint: Fingerprint([]string{"n1", "n2"}, 2, "u1"), HoldID: "h1", CreatedAt: t0}
		if !ok || e != want {
			t.Fatalf("entry = %+v, %v; want %+v", e, ok, want)
		}
	})
	replays := []struct {
		name  string
		setup func(*testing.T, *State) // runs before the replay
		order []string
	}{
		{"same request", func(*testing.T, *State) {}, []string{"n1", "n2"}},
		{"buckets in another order", func(*testing.T, *State) {}, []string{"n2", "n1"}},
		{"now sold out", func(t *testing.T, s *State) { MustHold(t, s, "h2", 1, t0, "n1") }, []string{"n1", "n2"}},
		{"hold confirmed", func(t *testing.T, s *State) { MustTransition(t, s, "h1", true, t0) }, []string{"n1", "n2"}},
		{"hold cancelled", func(t *testing.T, s *State) { MustTransition(t, s, "h1", false, t0) }, []string{"n1", "n2"}},
		{"hold expired", func(t *testing.T, s *State) { MustApply(t, s, s.ExpireDue(t0.Add(time.Hour))) }, []string{"n2", "n1"}},
	}
	for _, tt := range replays {
		t.Run("replay/"+tt.name, func(t *testing.T) {
			s := setup(t)
			tt.setup(t, s)
			before := observe(s)
			d, err := place(s, "h-new", "key-1", 2, "u1", later, tt.order...)
			wantCode(t, err, "")
			if !d.Replayed || d.HoldID != "h1" || len(d.Events) != 0 {
				t.Fatalf("decision = %+v, want replay of h1 without events", d)
			}
			wantUnchanged(t, s, before)
		})
	}
	mismatches := []struct {
		name    string
		qty     int64
		user    string
		buckets []string
	}{
		{"other quantity", 1, "u1", []string{"n1", "n2"}},
		{"other user", 2, "u2", []string{"n1", "n2"}},
		{"fewer buckets", 2, "u1", []string{"n1"}},
		{"more buckets", 2, "u1", []string{"n1", "n2", "a"}},
		{"other buckets", 2, "u1", []string{"n1", "a"}},
		{"duplicate bucket", 2, "u1", []string{"n1", "n2", "n2"}},
		{"invalid request", 0, "", nil},
	}
	for _, tt := range mismatches {
		t.Run("mismatch/"+tt.name, func(t *testing.T) {
			s := setup(t)
			before := observe(s)
			d, err := place(s, "h-new", "key-1", tt.qty, tt.user, later, tt.buckets...)
			wantCode(t, err, CodeIdempotencyMismatch)
			if !reflect.DeepEqual(d, Decision{}) {
				t.Fatalf("decision = %+v", d)
			}
			wantUnchanged(t, s, before)
		})
	}

	t.Run("pipe in keys is not ambiguous", func(t *testing.T) {
		s := setup(t)
		d, err := place(s, "h2", "key-2", 1, "u1", t0, "a|b")
		wantCode(t, err, "")
		MustApply(t, s, d.Events)
		_, err = place(s, "h3", "key-2", 1, "u1", t0, "a", "b")
		wantCode(t, err, CodeIdempotencyMismatch)
		d, err = place(s, "h4", "key-3", 1, "u|a", t0, "b")
		wantCode(t, err, "")
		MustApply(t, s, d.Events)
		_, err = place(s, "h5", "key-3", 1, "u", t0, "a", "b")
		wantCode(t, err, CodeIdempotencyMismatch)
	})
	t.Run("refusal records no key", func(t *testing.T) {
		s := setup(t)
		_, err := place(s, "h2", "key-2", 5, "u1", t0, "n1")
		wantCode(t, err, CodeSoldOut)
		if _, ok := s.Idempotency("key-2"); ok {
			t.Fatal("a refused hold recorded its key")
		}
		evs, err := s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"n1": 10}}, t0)
		wantCode(t, err, "")
		MustApply(t, s, evs)
		d, err := place(s, "h2", "key-2", 5, "u1", t0, "n1")
		wantCode(t, err, "")
		if d.Replayed || d.HoldID != "h2" {
			t.Fatalf("retry after a refusal = %+v, want a fresh decision", d)
		}
	})
	t.Run("replay ignores the new hold id", func(t *testing.T) {
		s := setup(t)
		d, err := place(s, "h1", "key-1", 2, "u1", later, "n1", "n2") // h1 is taken, but this is a replay
		wantCode(t, err, "")
		if !d.Replayed || d.HoldID != "h1" {
			t.Fatalf("decision = %+v", d)
		}
	})
	t.Run("no key never replays", func(t *testing.T) {
		s := setup(t)
		d, err := place(s, "h2", "", 1, "u1", t0, "a")
		wantCode(t, err, "")
		MustApply(t, s, d.Events)
		d, err = place(s, "h3", "", 1, "u1", t0, "a")
		wantCode(t, err, "")
		if d.Replayed || d.HoldID != "h3" {
			t.Fatalf("decision = %+v", d)
		}
	})
}
