package booking

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestExpiryScanMatchesIndex: a state of a few holds keeps no deadline index and scans its
// holds (State.expiry); it must answer NextExpiry and ExpireDue exactly as the index does:
// the same deadline, the same holds in the same order (deadline, then id), the same waitlist
// offers. Random states of up to smallIndex holds (shared deadlines, every status, extended
// and expired holds, waiting entries), each compared with a clone whose index is built, at
// random times, for fixed seeds.
func TestExpiryScanMatchesIndex(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 17))
		s := MustCreate(t, map[string]int64{"a": 6, "b": 3}, time.Minute)
		n := 1 + rng.IntN(smallIndex)
		for i := range n {
			at := t0.Add(time.Duration(rng.IntN(4)) * 10 * time.Second) // deadlines shared often
			buckets := []string{"a", "b"}[:1+rng.IntN(2)]
			d, err := s.DecidePlaceHold(PlaceHold{HoldID: fmt.Sprintf("h%d", rng.IntN(1000)*10+i), Buckets: buckets, Quantity: 1,
				UserID: "u", IdempotencyKey: fmt.Sprintf("k%d", i)}, at)
			if err != nil {
				continue // sold out: fine, fewer holds
			}
			MustApply(t, s, d.Events)
			id := d.HoldID
			switch rng.IntN(5) {
			case 0:
				MustTransition(t, s, id, true, at)
			case 1:
				MustTransition(t, s, id, false, at)
			case 2:
				if evs, err := s.DecideExtend(ExtendHold{HoldID: id, UserID: "u"}, at.Add(time.Duration(rng.IntN(30))*time.Second)); err == nil {
					MustApply(t, s, evs.Events)
				}
			}
		}
		if rng.IntN(2) == 0 { // a waiting entry takes units the expiries free
			if r, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w1", OfferHoldID: "o1", UserID: "v", Buckets: []string{"a"}, Quantity: 1}, t0); err == nil {
				MustApply(t, s, r.Events)
			}
		}
		if s.expiry != nil {
			t.Fatalf("seed %d: %d holds and an expiry index", seed, len(s.holds.list))
		}
		idx := s.Clone()
		idx.indexExpiry()
		for range 5 {
			now := t0.Add(time.Duration(rng.IntN(150)) * time.Second)
			at, ok := s.NextExpiry()
			iat, iok := idx.NextExpiry()
			if ok != iok || !at.Equal(iat) {
				t.Fatalf("seed %d: NextExpiry scan %v %v, index %v %v", seed, at, ok, iat, iok)
			}
			evs, ievs := s.ExpireDue(now), idx.ExpireDue(now)
			if !reflect.DeepEqual(evs, ievs) {
				t.Fatalf("seed %d at %v: ExpireDue scan %+v, index %+v", seed, now, evs, ievs)
			}
			MustApply(t, s, evs)
			MustApply(t, idx, ievs)
		}
	}
}

// TestExpiryIndexPastSmallIndex: the index is built when a state passes smallIndex holds, and
// a clone of an indexed state is indexed, even with no hold held.
func TestExpiryIndexPastSmallIndex(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 100}, time.Minute)
	for i := range smallIndex + 1 {
		if s.expiry != nil {
			t.Fatalf("index built at %d holds", i)
		}
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: fmt.Sprintf("h%d", i), Buckets: []string{"a"}, Quantity: 1, UserID: "u"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		MustApply(t, s, d.Events)
	}
	if len(s.expiry) != smallIndex+1 {
		t.Fatalf("index of %d items after %d held holds", len(s.expiry), smallIndex+1)
	}
	for i := range smallIndex + 1 {
		MustTransition(t, s, fmt.Sprintf("h%d", i), true, t0)
	}
	MustApply(t, s, s.ExpireDue(t0.Add(time.Hour)))
	if c := s.Clone(); c.expiry == nil {
		t.Fatal("clone of an indexed state has no index")
	}
	// A store's state of many holds is indexed as it is restored: every held hold once, and
	// none of the others.
	res, _ := s.Resource()
	var holds []Hold
	for i := range 2 * smallIndex {
		h, _ := s.Hold(fmt.Sprintf("h%d", i%(smallIndex+1)))
		h.ID, h.Status, h.ExpiresAt = fmt.Sprintf("r%d", i), StatusHeld, t0.Add(time.Duration(i)*time.Second)
		if i%3 == 0 {
			h.Status = StatusConfirmed
		}
		holds = append(holds, h)
	}
	r := Restore(res, s.Buckets(), holds, nil)
	if want := 2*smallIndex - (2*smallIndex+2)/3; len(r.expiry) != want {
		t.Fatalf("restored state of %d holds, %d held: %d items in its index", len(holds), want, len(r.expiry))
	}
	if at, ok := r.NextExpiry(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("restored NextExpiry = %v %v, want %v", at, ok, t0.Add(time.Second))
	}
}
