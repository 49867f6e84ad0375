package booking

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// joinKeyed decides a join with an Idempotency-Key and applies it; ids are fresh per call, as
// the actor chooses them per command (a retry comes with new ones).
func joinKeyed(tb testing.TB, s *State, id, key, user string, qty int64, now time.Time, buckets ...string) (JoinDecision, error) {
	tb.Helper()
	d, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: id, OfferHoldID: "o-" + id, UserID: user, Quantity: qty,
		Buckets: buckets, IdempotencyKey: key}, now)
	if err == nil {
		MustApply(tb, s, d.Events)
	}
	return d, err
}

// soldOutRoom is a resource whose one unit of "a" (and of "b") u0 holds, with a waiting entry
// w1 of u1 for a and b that joined with key k1 at t0.
func soldOutRoom(t *testing.T) *State {
	t.Helper()
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 1, "b": 1}, WaitlistOfferTTL: 5 * time.Minute})
	wantCode(t, holdAs(t, s, "h0", "u0", 1, t0, "a", "b"), "")
	d, err := joinKeyed(t, s, "w1", "k1", "u1", 1, t0, "a", "b")
	wantCode(t, err, "")
	if d.Replayed || len(d.Events) != 1 || d.Entry.ID != "w1" || d.Events[0].(WaitlistJoined).IdempotencyKey != "k1" {
		t.Fatalf("first join %+v", d)
	}
	return s
}

func TestJoinRecordsKey(t *testing.T) {
	s := soldOutRoom(t)
	ie, ok := s.Idempotency("k1")
	if !ok || ie.HoldID != "o-w1" || !ie.CreatedAt.Equal(t0) || !strings.HasPrefix(ie.Fingerprint, joinFingerprintPrefix) {
		t.Fatalf("key entry %+v (%v)", ie, ok)
	}
	// A hold's fingerprint starts with its quantity: the two kinds never share one.
	if hf := Fingerprint([]string{"a", "b"}, 1, "u1"); ie.Fingerprint == hf || !strings.HasSuffix(ie.Fingerprint, hf) {
		t.Fatalf("join fingerprint %q, hold's %q", ie.Fingerprint, hf)
	}
	// Without a key nothing is recorded.
	before := len(s.idemLog)
	_, err := joinKeyed(t, s, "w2", "", "u2", 1, t0, "a")
	wantCode(t, err, "")
	if len(s.idemLog) != before {
		t.Fatalf("a join without a key recorded %v", s.idemLog)
	}
}

func TestJoinReplayWhileWaiting(t *testing.T) {
	s := soldOutRoom(t)
	before := observe(s)
	wl := s.Waitlist()
	for name, cmd := range map[string]JoinWaitlist{
		"same":          {UserID: "u1", Quantity: 1, Buckets: []string{"a", "b"}},
		"other order":   {UserID: "u1", Quantity: 1, Buckets: []string{"b", "a"}},
		"reused new id": {EntryID: "w1", OfferHoldID: "h0", UserID: "u1", Quantity: 1, Buckets: []string{"a", "b"}},
	} {
		if cmd.EntryID == "" {
			cmd.EntryID, cmd.OfferHoldID = "w9", "o-w9"
		}
		cmd.IdempotencyKey = "k1"
		d, err := s.DecideJoinWaitlist(cmd, t0.Add(time.Minute))
		wantCode(t, err, "")
		if !d.Replayed || len(d.Events) != 0 || d.LookupHold != "" || d.Entry.ID != "w1" || d.Entry.OfferHoldID != "o-w1" ||
			d.Entry.Seq != wl[0].Seq || !d.Entry.CreatedAt.Equal(t0) {
			t.Errorf("%s: replay %+v", name, d)
		}
	}
	wantUnchanged(t, s, before)
}

func TestJoinReplayMismatch(t *testing.T) {
	s := soldOutRoom(t)
	before := observe(s)
	for name, tc := range map[string]struct {
		cmd  JoinWaitlist
		code string
	}{
		"other quantity": {JoinWaitlist{UserID: "u1", Quantity: 2, Buckets: []string{"a", "b"}}, CodeIdempotencyMismatch},
		"other user":     {JoinWaitlist{UserID: "u2", Quantity: 1, Buckets: []string{"a", "b"}}, CodeIdempotencyMismatch},
		"other buckets":  {JoinWaitlist{UserID: "u1", Quantity: 1, Buckets: []string{"a"}}, CodeIdempotencyMismatch},
		"unknown bucket": {JoinWaitlist{UserID: "u1", Quantity: 1, Buckets: []string{"a", "c"}}, CodeInvalid},
	} {
		tc.cmd.EntryID, tc.cmd.OfferHoldID, tc.cmd.IdempotencyKey = "w9", "o-w9", "k1"
		if _, err := s.DecideJoinWaitlist(tc.cmd, t0); ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	// A hold with the join's key is a different request, and so is a join with a hold's key.
	_, err := s.DecidePlaceHold(PlaceHold{HoldID: "h2", IdempotencyKey: "k1", UserID: "u1", Quantity: 1, Buckets: []string{"a", "b"}}, t0)
	wantCode(t, err, CodeIdempotencyMismatch)
	wantUnchanged(t, s, before)

	s2 := createWith(t, CreateResource{Buckets: map[string]int64{"a": 2}})
	hd, err := s2.DecidePlaceHold(PlaceHold{HoldID: "h1", IdempotencyKey: "k", UserID: "u1", Quantity: 2, Buckets: []string{"a"}}, t0)
	wantCode(t, err, "")
	MustApply(t, s2, hd.Events)
	_, err = s2.DecideJoinWaitlist(JoinWaitlist{EntryID: "w1", OfferHoldID: "o1", IdempotencyKey: "k", UserID: "u1", Quantity: 2, Buckets: []string{"a"}}, t0)
	wantCode(t, err, CodeIdempotencyMismatch)
}

// TestJoinReplayAfterOffer: once offered, a replay answers the entry as it was, with its
// offer's hold id, whether the state still knows the hold or the caller looked it up.
func TestJoinReplayAfterOffer(t *testing.T) {
	s := soldOutRoom(t)
	later := t0.Add(time.Minute)
	evs, err := s.DecideCancel(CancelHold{HoldID: "h0"}, later)
	wantCode(t, err, "")
	if got := offers(t, evs); !slices.Equal(got, []string{"w1"}) {
		t.Fatalf("offers %v", got)
	}
	MustApply(t, s, evs)
	want := WaitlistEntry{ID: "w1", ResourceID: "r1", UserID: "u1", OfferHoldID: "o-w1", Buckets: []string{"a", "b"}, Quantity: 1, CreatedAt: t0}
	replay := JoinWaitlist{EntryID: "w9", OfferHoldID: "o-w9", IdempotencyKey: "k1", UserID: "u1", Quantity: 1, Buckets: []string{"b", "a"}}
	check := func(name string, s *State, cmd JoinWaitlist) {
		t.Helper()
		d, err := s.DecideJoinWaitlist(cmd, later)
		wantCode(t, err, "")
		if !d.Replayed || len(d.Events) != 0 || d.LookupHold != "" || !entriesEqual(d.Entry, want) {
			t.Fatalf("%s: replay %+v, want entry %+v", name, d, want)
		}
	}
	check("offer known", s, replay)

	// The offer hold ends, and the state is restored: it knows the key but not the hold.
	evs, err = s.DecideCancel(CancelHold{HoldID: "o-w1"}, later)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	check("offer cancelled", s, replay)
	offer, _ := s.Hold("o-w1")
	ie, _ := s.Idempotency("k1")
	res, _ := s.Resource()
	r := RestoreSaved(Saved{Resource: res, Buckets: s.Buckets(), Idempotency: []IdempotencyEntry{ie}})
	d, err := r.DecideJoinWaitlist(replay, later)
	wantCode(t, err, "")
	if d.LookupHold != "o-w1" || d.Replayed || len(d.Events) != 0 {
		t.Fatalf("replay of an offer the state forgot: %+v, want a lookup of o-w1", d)
	}
	looked := replay
	looked.OfferLookedUp, looked.Offer = true, &offer
	check("offer looked up", r, looked)
	// A hold that is not the key's offer is no answer: as if the store had none.
	for name, h := range map[string]Hold{
		"another id":       {ID: "zz", ResourceID: "r1", WaitlistEntryID: "w1"},
		"another resource": {ID: "o-w1", ResourceID: "r2", WaitlistEntryID: "w1"},
		"not an offer":     {ID: "o-w1", ResourceID: "r1"},
	} {
		looked.Offer = &h
		_, err := r.DecideJoinWaitlist(looked, later)
		if ErrorCode(err) != CodeConflict {
			t.Errorf("%s: %v, want conflict", name, err)
		}
	}
}

// TestJoinReplayAfterLeave: an entry that left is refused with conflict; the state asks for
// a lookup first, since an offer it forgot looks the same.
func TestJoinReplayAfterLeave(t *testing.T) {
	s := soldOutRoom(t)
	evs, err := s.DecideLeaveWaitlist(LeaveWaitlist{EntryID: "w1", UserID: "u1"}, t0)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	replay := JoinWaitlist{EntryID: "w9", OfferHoldID: "o-w9", IdempotencyKey: "k1", UserID: "u1", Quantity: 1, Buckets: []string{"a", "b"}}
	d, err := s.DecideJoinWaitlist(replay, t0)
	wantCode(t, err, "")
	if d.LookupHold != "o-w1" || d.Replayed || len(d.Events) != 0 {
		t.Fatalf("replay after leave %+v, want a lookup of o-w1", d)
	}
	before := observe(s)
	replay.OfferLookedUp = true
	_, err = s.DecideJoinWaitlist(replay, t0)
	wantCode(t, err, CodeConflict)
	if !strings.Contains(err.Error(), "left the waitlist") {
		t.Fatalf("refusal %q does not say the entry left", err)
	}
	wantUnchanged(t, s, before)
	// A new key joins again.
	d, err = joinKeyed(t, s, "w2", "k2", "u1", 1, t0, "a", "b")
	wantCode(t, err, "")
	if d.Replayed || d.Entry.ID != "w2" {
		t.Fatalf("join with a new key %+v", d)
	}
}

// TestJoinKeyRestoreAndPrune: a join's key survives a restore like a hold's, and is forgotten
// after the retention like one: the same request then joins afresh.
func TestJoinKeyRestoreAndPrune(t *testing.T) {
	s := soldOutRoom(t)
	ie, _ := s.Idempotency("k1")
	res, _ := s.Resource()
	holds := []Hold{}
	h0, _ := s.Hold("h0")
	holds = append(holds, h0)
	r := RestoreSaved(Saved{Resource: res, Buckets: s.Buckets(), Holds: holds, Idempotency: []IdempotencyEntry{ie}, Waitlist: s.Waitlist()})
	replay := JoinWaitlist{EntryID: "w9", OfferHoldID: "o-w9", IdempotencyKey: "k1", UserID: "u1", Quantity: 1, Buckets: []string{"a", "b"}}
	d, err := r.DecideJoinWaitlist(replay, t0)
	wantCode(t, err, "")
	if !d.Replayed || d.Entry.ID != "w1" {
		t.Fatalf("replay after restore %+v", d)
	}
	evs, err := r.DecideLeaveWaitlist(LeaveWaitlist{EntryID: "w1", UserID: "u1"}, t0)
	wantCode(t, err, "")
	MustApply(t, r, evs)
	r.PruneIdempotency(t0.Add(IdempotencyRetention + time.Millisecond))
	d, err = r.DecideJoinWaitlist(replay, t0.Add(IdempotencyRetention+time.Second))
	wantCode(t, err, "")
	if d.Replayed || len(d.Events) != 1 || d.Entry.ID != "w9" {
		t.Fatalf("join after the key was pruned %+v", d)
	}
}

func entriesEqual(a, b WaitlistEntry) bool {
	return a.ID == b.ID && a.ResourceID == b.ResourceID && a.UserID == b.UserID && a.OfferHoldID == b.OfferHoldID &&
		slices.Equal(a.Buckets, b.Buckets) && a.Quantity == b.Quantity && a.Seq == b.Seq && a.CreatedAt.Equal(b.CreatedAt)
}
