package booking

import (
	"reflect"
	"testing"
	"time"
)

func expiredIDs(tb testing.TB, evs []Event, at time.Time) []string {
	tb.Helper()
	var ids []string
	for _, e := range evs {
		x, ok := e.(HoldExpired)
		if !ok || !x.At.Equal(at) {
			tb.Fatalf("event %#v, want HoldExpired at %v", e, at)
		}
		ids = append(ids, x.HoldID)
	}
	return ids
}

func TestExpireDue(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 10, "b": 10}, time.Minute)
	MustHold(t, s, "h-late", 1, t0.Add(2*time.Minute), "a") // deadline t0+3m
	MustHold(t, s, "h2b", 1, t0.Add(time.Minute), "a", "b") // t0+2m
	MustHold(t, s, "h2a", 2, t0.Add(time.Minute), "b")      // t0+2m, same deadline: id order
	MustHold(t, s, "h1", 1, t0, "a")                        // t0+1m
	MustHold(t, s, "h-conf", 1, t0, "a")                    // t0+1m, confirmed
	MustHold(t, s, "h-canc", 1, t0, "b")                    // t0+1m, cancelled
	MustTransition(t, s, "h-conf", true, t0)
	MustTransition(t, s, "h-canc", false, t0)
	wantBucket(t, s, "a", 10, 3, 1)
	wantBucket(t, s, "b", 10, 3, 0)

	if next, ok := s.NextExpiry(); !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextExpiry = %v, %v", next, ok)
	}
	if evs := s.ExpireDue(t0.Add(time.Minute - time.Nanosecond)); evs != nil {
		t.Fatalf("before the first deadline: %v", evs)
	}
	at := t0.Add(time.Minute) // exactly the first deadline: due
	if got := expiredIDs(t, s.ExpireDue(at), at); !reflect.DeepEqual(got, []string{"h1"}) {
		t.Fatalf("due at %v = %v", at, got)
	}
	at = t0.Add(5 * time.Minute)
	evs := s.ExpireDue(at)
	if got := expiredIDs(t, evs, at); !reflect.DeepEqual(got, []string{"h1", "h2a", "h2b", "h-late"}) {
		t.Fatalf("due at %v = %v", at, got)
	}
	// Deciding expiry changes nothing: asking again gives the same answer.
	before := observe(s)
	if again := s.ExpireDue(at); !reflect.DeepEqual(again, evs) {
		t.Fatalf("second ExpireDue = %v, want %v", again, evs)
	}
	if after := observe(s); !reflect.DeepEqual(before.Buckets, after.Buckets) || !reflect.DeepEqual(before.Holds, after.Holds) {
		t.Fatal("ExpireDue changed the state")
	}
	MustApply(t, s, evs)
	wantBucket(t, s, "a", 10, 0, 1) // only the confirmed hold still counts
	wantBucket(t, s, "b", 10, 0, 0)
	for _, id := range []string{"h1", "h2a", "h2b", "h-late"} {
		if h, _ := s.Hold(id); h.Status != StatusExpired || !h.UpdatedAt.Equal(at) {
			t.Fatalf("%s = %+v", id, h)
		}
	}
	if evs := s.ExpireDue(at.Add(time.Hour)); evs != nil {
		t.Fatalf("after applying: %v", evs)
	}
	if _, ok := s.NextExpiry(); ok {
		t.Fatal("NextExpiry with no held hold")
	}
	// The freed capacity can be held again.
	MustHold(t, s, "h-new", 9, at, "a")
}

func TestNextExpirySkipsStale(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 10}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "a")
	MustHold(t, s, "h2", 1, t0.Add(time.Second), "a")
	MustHold(t, s, "h3", 1, t0.Add(2*time.Second), "a")
	MustTransition(t, s, "h1", true, t0)
	if next, ok := s.NextExpiry(); !ok || !next.Equal(t0.Add(time.Minute+time.Second)) {
		t.Fatalf("NextExpiry = %v, %v; want h2's deadline", next, ok)
	}
	MustTransition(t, s, "h2", false, t0)
	if next, ok := s.NextExpiry(); !ok || !next.Equal(t0.Add(time.Minute+2*time.Second)) {
		t.Fatalf("NextExpiry = %v, %v; want h3's deadline", next, ok)
	}
	at := t0.Add(time.Hour)
	MustApply(t, s, s.ExpireDue(at))
	if next, ok := s.NextExpiry(); ok {
		t.Fatalf("NextExpiry = %v after everything expired", next)
	}
}

func TestExpireDueUnappliedKeepsIndex(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 10}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "a")
	MustHold(t, s, "h2", 1, t0, "a")
	at := t0.Add(time.Hour)
	_ = s.ExpireDue(at) // e.g. a batch that failed and was rolled back
	if next, ok := s.NextExpiry(); !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextExpiry = %v, %v after discarded ExpireDue", next, ok)
	}
	if got := expiredIDs(t, s.ExpireDue(at), at); !reflect.DeepEqual(got, []string{"h1", "h2"}) {
		t.Fatalf("ExpireDue = %v", got)
	}
}

func TestPruneIdempotency(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 10}, time.Minute)
	for i, key := range []string{"k0", "k1", "k2"} {
		at := t0.Add(time.Duration(i) * time.Hour)
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h" + key, IdempotencyKey: key, Buckets: []string{"a"}, Quantity: 1, UserID: "u"}, at)
		wantCode(t, err, "")
		MustApply(t, s, d.Events)
	}
	keys := func() []string {
		var out []string
		for _, k := range []string{"k0", "k1", "k2"} {
			if _, ok := s.Idempotency(k); ok {
				out = append(out, k)
			}
		}
		return out
	}
	s.PruneIdempotency(t0.Add(-time.Hour))
	if got := keys(); len(got) != 3 {
		t.Fatalf("early cutoff pruned: %v", got)
	}
	before := observe(s)
	s.PruneIdempotency(t0.Add(time.Hour)) // k1 is at the cutoff: kept
	if got := keys(); !reflect.DeepEqual(got, []string{"k1", "k2"}) {
		t.Fatalf("keys = %v", got)
	}
	after := observe(s)
	if !reflect.DeepEqual(before.Buckets, after.Buckets) || !reflect.DeepEqual(before.Holds, after.Holds) {
		t.Fatal("pruning changed bookings")
	}
	// A pruned key is decided afresh.
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h-again", IdempotencyKey: "k0", Buckets: []string{"a"}, Quantity: 1, UserID: "u"}, t0.Add(3*time.Hour))
	wantCode(t, err, "")
	if d.Replayed || d.HoldID != "h-again" {
		t.Fatalf("decision = %+v", d)
	}
	MustApply(t, s, d.Events)
	s.PruneIdempotency(t0.Add(3 * time.Hour))
	if got := keys(); !reflect.DeepEqual(got, []string{"k0"}) {
		t.Fatalf("keys = %v", got)
	}
	if e, _ := s.Idempotency("k0"); e.HoldID != "h-again" {
		t.Fatalf("k0 = %+v", e)
	}
	s.PruneIdempotency(t0.Add(24 * time.Hour))
	if got := keys(); got != nil || len(s.idemLog) != 0 {
		t.Fatalf("keys = %v, log = %v", got, s.idemLog)
	}
}

// TestPruneIdempotencyNeverForgetsYoungKeys: with keys created out of order (a clock that
// stepped back, or a restore followed by a node with a slower clock) pruning may keep old
// keys longer, but must never forget a key created at or after the cutoff.
func TestPruneIdempotencyNeverForgetsYoungKeys(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 10}, time.Minute)
	for _, k := range []struct {
		key string
		at  time.Duration
	}{{"young", 2 * time.Hour}, {"old", 0}, {"edge", time.Hour}} {
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h-" + k.key, IdempotencyKey: k.key, Buckets: []string{"a"}, Quantity: 1, UserID: "u"}, t0.Add(k.at))
		wantCode(t, err, "")
		MustApply(t, s, d.Events)
	}
	s.PruneIdempotency(t0.Add(time.Hour))
	for _, k := range []string{"young", "edge"} {
		if _, ok := s.Idempotency(k); !ok {
			t.Fatalf("%s was pruned", k)
		}
	}
	s.PruneIdempotency(t0.Add(3 * time.Hour))
	if (s.idem != nil && s.idem.seq.len() != 0) || len(s.idemLog) != 0 {
		t.Fatalf("left after pruning everything: %v %v", s.idem, s.idemLog)
	}
}

func TestRestore(t *testing.T) {
	orig := MustCreate(t, map[string]int64{"a": 10, "b": 4, "empty": 0}, time.Minute)
	evs, _ := orig.DecideUpdate(UpdateResource{Name: ptr("Suite")}, t0)
	MustApply(t, orig, evs)
	place := func(id, key string, qty int64, at time.Time, buckets ...string) {
		d, err := orig.DecidePlaceHold(PlaceHold{HoldID: id, IdempotencyKey: key, Buckets: buckets, Quantity: qty, UserID: "u"}, at)
		wantCode(t, err, "")
		MustApply(t, orig, d.Events)
	}
	place("held", "k-held", 2, t0.Add(time.Hour), "a", "b")
	place("due", "k-due", 1, t0, "a") // held, deadline passed by the time of the restore
	place("conf", "k-conf", 3, t0, "a")
	place("canc", "k-canc", 1, t0, "b")
	place("exp", "", 1, t0, "b")
	MustTransition(t, orig, "conf", true, t0)
	MustTransition(t, orig, "canc", false, t0)
	MustApply(t, orig, []Event{HoldExpired{HoldID: "exp", At: t0}})

	res, _ := orig.Resource()
	buckets := orig.Buckets()
	for i := range buckets { // stored counters are ignored
		buckets[i].Held, buckets[i].Confirmed = 999, -7
	}
	var holds []Hold // what a store's Activate returns: held and confirmed
	for _, id := range []string{"conf", "held", "due"} {
		h, _ := orig.Hold(id)
		holds = append(holds, h)
	}
	var idem []IdempotencyEntry // in no particular order
	for _, k := range []string{"k-held", "k-canc", "k-conf", "k-due"} {
		e, _ := orig.Idempotency(k)
		idem = append(idem, e)
	}

	s := Restore(res, buckets, holds, idem)
	holds[0].Buckets[0] = "mutated" // the state must not alias its inputs
	buckets[0].Capacity = 12345
	wantBucket(t, s, "a", 10, 3, 3)
	wantBucket(t, s, "b", 4, 2, 0)
	wantBucket(t, s, "empty", 0, 0, 0)
	if !reflect.DeepEqual(s.Buckets(), orig.Buckets()) {
		t.Fatalf("buckets = %+v, want %+v", s.Buckets(), orig.Buckets())
	}
	if got, _ := s.Resource(); !s.Exists() || s.ID() != "r1" || got.Name != "Suite" || got.HoldTTL != time.Minute {
		t.Fatalf("resource = %+v", got)
	}
	if s.HoldCount() != 3 {
		t.Fatalf("HoldCount = %d, want 3 (terminal holds are not loaded)", s.HoldCount())
	}
	// The expiry index is rebuilt: the overdue hold is due first.
	if next, ok := s.NextExpiry(); !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextExpiry = %v, %v", next, ok)
	}
	at := t0.Add(2 * time.Hour)
	if got, want := expiredIDs(t, s.ExpireDue(at), at), expiredIDs(t, orig.ExpireDue(at), at); !reflect.DeepEqual(got, want) || len(got) != 2 {
		t.Fatalf("restored ExpireDue = %v, original %v", got, want)
	}
	// Idempotency keys replay, including one whose hold is no longer in memory.
	for key, holdID := range map[string]string{"k-held": "held", "k-canc": "canc"} {
		qty, bs := int64(2), []string{"b", "a"}
		if key == "k-canc" {
			qty, bs = 1, []string{"b"}
		}
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: "x", IdempotencyKey: key, Buckets: bs, Quantity: qty, UserID: "u"}, at)
		wantCode(t, err, "")
		if !d.Replayed || d.HoldID != holdID {
			t.Fatalf("replay of %s = %+v", key, d)
		}
	}
	// Pruning follows CreatedAt even though the entries came unordered.
	s.PruneIdempotency(t0.Add(time.Nanosecond))
	for _, k := range []string{"k-canc", "k-conf", "k-due"} {
		if _, ok := s.Idempotency(k); ok {
			t.Fatalf("%s survived pruning", k)
		}
	}
	if _, ok := s.Idempotency("k-held"); !ok {
		t.Fatal("k-held was pruned")
	}
	// The restored state goes on like the original.
	MustTransition(t, s, "held", true, t0.Add(time.Hour))
	wantBucket(t, s, "b", 4, 0, 2)
}

func TestRestoreDoesNotAliasPrice(t *testing.T) {
	res := Resource{ID: "r1", Name: "Room", HoldTTL: time.Minute, Price: &Money{Amount: 100, Currency: "EUR"}}
	s := Restore(res, []Bucket{{Key: "a", Capacity: 1}}, nil, nil)
	res.Price.Amount = 1
	if got, _ := s.Resource(); got.Price.Amount != 100 {
		t.Fatalf("price = %d, want 100: Restore aliases the caller's Money", got.Price.Amount)
	}
}

func TestClone(t *testing.T) {
	build := func(t *testing.T) *State {
		s := NewState("r1")
		evs, err := s.DecideCreate(CreateResource{ID: "r1", Name: "Room", Buckets: map[string]int64{"a": 10, "b": 10}, HoldTTL: time.Minute, Price: &Money{Amount: 5, Currency: "EUR"}}, t0)
		wantCode(t, err, "")
		MustApply(t, s, evs)
		for i, id := range []string{"h1", "h2", "h3"} {
			d, err := s.DecidePlaceHold(PlaceHold{HoldID: id, IdempotencyKey: "k" + id, Buckets: []string{"a", "b"}, Quantity: 1, UserID: "u"}, t0.Add(time.Duration(i)*time.Second))
			wantCode(t, err, "")
			MustApply(t, s, d.Events)
		}
		MustTransition(t, s, "h2", true, t0)
		return s
	}
	mutate := func(t *testing.T, s *State) {
		evs, err := s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"a": 20, "c": 1}, Name: ptr("Other")}, t0)
		wantCode(t, err, "")
		MustApply(t, s, evs)
		MustTransition(t, s, "h1", true, t0)
		MustTransition(t, s, "h2", false, t0)
		MustHold(t, s, "h4", 1, t0, "b", "c")
		MustApply(t, s, s.ExpireDue(t0.Add(time.Hour)))
		s.PruneIdempotency(t0.Add(time.Hour))
		s.NextExpiry()
		for _, h := range s.holds.list { // reach into what a shallow copy would share
			if h.bkAt >= 0 { // (the lists are never written: clones share them)
				s.bucketsOf(h)[0] = "zz"
			}
		}
		s.resource.extra.Price.Amount = 99
		s.buckets.get("b").Capacity = 0
	}
	t.Run("mutating the clone", func(t *testing.T) {
		orig := build(t)
		before := observe(orig)
		c := orig.Clone()
		if !reflect.DeepEqual(observe(c), before) {
			t.Fatalf("clone differs:\n%+v\n%+v", observe(c), before)
		}
		mutate(t, c)
		wantUnchanged(t, orig, before)
	})
	t.Run("mutating the original", func(t *testing.T) {
		orig := build(t)
		c := orig.Clone()
		before := observe(c)
		mutate(t, orig)
		wantUnchanged(t, c, before)
	})
	t.Run("accessors return copies", func(t *testing.T) {
		s := build(t)
		before := observe(s)
		h, _ := s.Hold("h1")
		h.Buckets[0] = "zz"
		r, _ := s.Resource()
		r.Price.Amount = 1
		bs := s.Buckets()
		bs[0].Capacity = 0
		wantUnchanged(t, s, before)
	})
}

func TestApplyPanicsOnImpossibleEvents(t *testing.T) {
	type unknownEvent struct{ Event }
	tests := []struct {
		name string
		ev   Event
	}{
		{"unknown event", unknownEvent{}},
		{"transition of unknown hold", HoldConfirmed{HoldID: "nope", At: t0}},
		{"hold in unknown bucket", HoldPlaced{Hold: &PlacedHold{ID: "h", Buckets: []string{"nope"}, Quantity: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustCreate(t, map[string]int64{"a": 1}, 0)
			defer func() {
				if recover() == nil {
					t.Fatal("Apply did not panic")
				}
			}()
			s.Apply(tt.ev)
		})
	}
}

func TestHoldCountAndAccessorsBeforeCreate(t *testing.T) {
	s := NewState("r1")
	if s.Exists() || s.ID() != "r1" || s.HoldCount() != 0 || len(s.Buckets()) != 0 {
		t.Fatalf("fresh state = %+v", observe(s))
	}
	if _, ok := s.Resource(); ok {
		t.Fatal("Resource ok before create")
	}
	if _, ok := s.Bucket("a"); ok {
		t.Fatal("Bucket ok before create")
	}
	if _, ok := s.Hold("h"); ok {
		t.Fatal("Hold ok before create")
	}
	if _, ok := s.NextExpiry(); ok {
		t.Fatal("NextExpiry ok before create")
	}
	if s.ExpireDue(t0) != nil {
		t.Fatal("ExpireDue before create")
	}
	s.PruneIdempotency(t0)
}

func ptr[T any](v T) *T { return &v }
