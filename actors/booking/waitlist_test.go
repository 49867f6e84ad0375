package booking

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func join(tb testing.TB, s *State, id, user string, qty int64, now time.Time, buckets ...string) error {
	tb.Helper()
	d, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: id, OfferHoldID: "o-" + id, UserID: user, Quantity: qty, Buckets: buckets}, now)
	if err == nil {
		MustApply(tb, s, d.Events)
	}
	return err
}

// offers returns the entry ids offered by evs, in order, checking that every WaitlistOffered
// is followed by the HoldPlaced of its offer.
func offers(tb testing.TB, evs []Event) []string {
	tb.Helper()
	var out []string
	for i, e := range evs {
		o, ok := e.(WaitlistOffered)
		if !ok {
			continue
		}
		if i+1 >= len(evs) {
			tb.Fatalf("offer %+v without a hold", o)
		}
		h := evs[i+1].(HoldPlaced).Hold
		if h.ID != o.HoldID || h.WaitlistEntryID != o.EntryID || h.UserID != o.UserID || !h.ExpiresAt().Equal(o.ExpiresAt) {
			tb.Fatalf("offer %+v with hold %+v", o, h)
		}
		out = append(out, o.EntryID)
	}
	return out
}

func TestWaitlistJoin(t *testing.T) {
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 1, "b": 5}, MaxPerUser: 3})
	wantCode(t, holdAs(t, s, "h1", "u1", 1, t0, "a"), "")
	before := observe(s)
	for name, tc := range map[string]struct {
		cmd  JoinWaitlist
		code string
	}{
		"units available":    {JoinWaitlist{UserID: "u2", Quantity: 1, Buckets: []string{"b"}}, CodeConflict},
		"over the limit":     {JoinWaitlist{UserID: "u2", Quantity: 2, Buckets: []string{"a", "b"}}, CodeLimitExceeded},
		"limit counts holds": {JoinWaitlist{UserID: "u1", Quantity: 3, Buckets: []string{"a"}}, CodeLimitExceeded},
		"unknown bucket":     {JoinWaitlist{UserID: "u2", Quantity: 1, Buckets: []string{"z"}}, CodeInvalid},
		"no bucket":          {JoinWaitlist{UserID: "u2", Quantity: 1}, CodeInvalid},
		"bad quantity":       {JoinWaitlist{UserID: "u2", Quantity: 0, Buckets: []string{"a"}}, CodeInvalid},
		"bad user":           {JoinWaitlist{UserID: "u 2", Quantity: 1, Buckets: []string{"a"}}, CodeInvalid},
		"offer id is a hold": {JoinWaitlist{OfferHoldID: "h1", UserID: "u2", Quantity: 1, Buckets: []string{"a"}}, CodeInternal},
		"same ids":           {JoinWaitlist{EntryID: "x", OfferHoldID: "x", UserID: "u2", Quantity: 1, Buckets: []string{"a"}}, CodeInternal},
	} {
		if tc.cmd.EntryID == "" {
			tc.cmd.EntryID = "w1"
		}
		if tc.cmd.OfferHoldID == "" {
			tc.cmd.OfferHoldID = "o1"
		}
		_, err := s.DecideJoinWaitlist(tc.cmd, t0)
		if ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	wantUnchanged(t, s, before)
	wantCode(t, join(t, s, "w1", "u2", 1, t0, "a", "b"), "")
	wantCode(t, join(t, s, "w2", "u2", 1, t0, "a"), CodeConflict) // once per user
	wantCode(t, join(t, s, "w1", "u3", 1, t0, "a"), CodeInternal) // entry id reused
	_, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w3", OfferHoldID: "o-w1", UserID: "u3", Quantity: 1, Buckets: []string{"a"}}, t0)
	wantCode(t, err, CodeInternal) // offer hold id reused
	wantCode(t, join(t, s, "w3", "u3", 1, t0, "a"), "")
	if e, pos, ok := s.WaitlistOf("u3"); !ok || pos != 2 || e.ID != "w3" || e.Seq != 2 {
		t.Fatalf("u3: %+v at %d (%v)", e, pos, ok)
	}
	// Leaving: only one's own entry; the next moves up.
	_, err = s.DecideLeaveWaitlist(LeaveWaitlist{EntryID: "w1", UserID: "u3"}, t0)
	wantCode(t, err, CodeNotFound)
	evs, err := s.DecideLeaveWaitlist(LeaveWaitlist{EntryID: "w1", UserID: "u2"}, t0)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	if _, pos, ok := s.WaitlistEntry("w3"); !ok || pos != 1 {
		t.Fatalf("w3 at %d (%v)", pos, ok)
	}
	_, err = s.DecideLeaveWaitlist(LeaveWaitlist{EntryID: "w1", UserID: "u2"}, t0)
	wantCode(t, err, CodeNotFound)
}

// TestWaitlistFirstFit: freed units go to the first entries that fit, in order; a larger
// entry that does not fit yet keeps its place and does not block smaller ones behind it.
func TestWaitlistFirstFit(t *testing.T) {
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 3, "b": 1}, WaitlistOfferTTL: 5 * time.Minute})
	wantCode(t, holdAs(t, s, "h1", "x", 2, t0, "a"), "")
	wantCode(t, holdAs(t, s, "h2", "y", 1, t0, "a"), "")
	wantCode(t, holdAs(t, s, "h3", "z", 1, t0, "b"), "")
	wantCode(t, join(t, s, "big", "u1", 2, t0, "a"), "")
	wantCode(t, join(t, s, "ab", "u2", 1, t0, "a", "b"), "")
	wantCode(t, join(t, s, "one", "u3", 1, t0, "a"), "")
	wantCode(t, join(t, s, "two", "u4", 1, t0, "a"), "")

	// One unit of a freed: "big" does not fit, "ab" needs b too, "one" gets it.
	now := t0.Add(time.Second)
	evs, err := s.DecideCancel(CancelHold{HoldID: "h2"}, now)
	wantCode(t, err, "")
	if got := offers(t, evs); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("offers %v", got)
	}
	h := evs[2].(HoldPlaced).Hold
	if h.ID != "o-one" || h.UserID != "u3" || h.Quantity != 1 || !h.ExpiresAt().Equal(now.Add(5*time.Minute)) {
		t.Fatalf("offer hold %+v", h)
	}
	MustApply(t, s, evs)
	wantBucket(t, s, "a", 3, 3, 0)

	// Two units of a: "big" is first and fits now.
	evs, err = s.DecideCancel(CancelHold{HoldID: "h1"}, now)
	wantCode(t, err, "")
	if got := offers(t, evs); !slices.Equal(got, []string{"big"}) {
		t.Fatalf("offers %v", got)
	}
	MustApply(t, s, evs)
	// The offer expires: its units go to the next that fit, in the same decision.
	later := now.Add(5 * time.Minute)
	wantCode(t, holdAs(t, s, "h4", "y", 1, t0, "b"), CodeSoldOut)
	evs = s.ExpireDue(later)
	var expired []string
	for _, e := range evs {
		if x, ok := e.(HoldExpired); ok {
			expired = append(expired, x.HoldID)
		}
	}
	// h3 (b) has the 10-minute hold TTL: only the two offers are due.
	if !slices.Equal(expired, []string{"o-big", "o-one"}) {
		t.Fatalf("expired %v", expired)
	}
	if got := offers(t, evs); !slices.Equal(got, []string{"two"}) {
		t.Fatalf("offers after expiry %v", got)
	}
	MustApply(t, s, evs)
	wantBucket(t, s, "a", 3, 1, 0)
	if wl := s.Waitlist(); len(wl) != 1 || wl[0].ID != "ab" {
		t.Fatalf("waitlist %+v", wl)
	}
	// Raising b's capacity serves "ab".
	evs, err = s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"b": 2}}, later)
	wantCode(t, err, "")
	if got := offers(t, evs); !slices.Equal(got, []string{"ab"}) {
		t.Fatalf("offers after update %v", got)
	}
	MustApply(t, s, evs)
	if len(s.Waitlist()) != 0 {
		t.Fatalf("waitlist %+v", s.Waitlist())
	}
}

// TestWaitlistPerUserLimit: an offer counts against the user's limit; an entry whose user is
// at the limit waits, and is served once the user frees units.
func TestWaitlistPerUserLimit(t *testing.T) {
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 2}, MaxPerUser: 2})
	wantCode(t, holdAs(t, s, "h1", "u1", 1, t0, "a"), "")
	wantCode(t, holdAs(t, s, "h2", "u2", 1, t0, "a"), "")
	wantCode(t, join(t, s, "w1", "u1", 1, t0, "a"), "")
	wantCode(t, holdAs(t, s, "h3", "u1", 1, t0, "a"), CodeSoldOut)
	wantCode(t, join(t, s, "w2", "u3", 1, t0, "a"), "")
	// u1 leaves h1: u1 has 0 units, the unit goes to w1 (u1) first.
	evs, err := s.DecideCancel(CancelHold{HoldID: "h1"}, t0)
	wantCode(t, err, "")
	if got := offers(t, evs); !slices.Equal(got, []string{"w1"}) {
		t.Fatalf("offers %v", got)
	}
	MustApply(t, s, evs)
	// A lower limit makes w3 wait behind its user's units.
	one := int64(1)
	evs, err = s.DecideUpdate(UpdateResource{MaxPerUser: &one}, t0)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	evs, err = s.DecideCancel(CancelHold{HoldID: "h2"}, t0)
	wantCode(t, err, "")
	if got := offers(t, evs); !slices.Equal(got, []string{"w2"}) {
		t.Fatalf("offers %v", got)
	}
}

// TestWaitlistScenario is the end-to-end story in the model: 10 seats, 100 users try,
// 40 of the refused join the waitlist, 5 holders cancel, and exactly the first 5 waiting
// users get offers, in order, each of a seat no one else was offered.
func TestWaitlistScenario(t *testing.T) {
	s := createWith(t, CreateResource{Buckets: map[string]int64{"all": 10}})
	var refused []string
	for i := range 100 {
		u := fmt.Sprintf("user%03d", i)
		switch err := holdAs(t, s, "h-"+u, u, 1, t0, "all"); ErrorCode(err) {
		case "":
		case CodeSoldOut:
			refused = append(refused, u)
		default:
			t.Fatal(err)
		}
	}
	if len(refused) != 90 {
		t.Fatalf("%d refused", len(refused))
	}
	for _, u := range refused[:40] {
		wantCode(t, join(t, s, "w-"+u, u, 1, t0, "all"), "")
	}
	var offered []string
	seats := map[string]bool{}
	for i := range 5 {
		evs, err := s.DecideCancel(CancelHold{HoldID: fmt.Sprintf("h-user%03d", 2*i)}, t0.Add(time.Duration(i)*time.Second))
		wantCode(t, err, "")
		got := offers(t, evs)
		if len(got) != 1 {
			t.Fatalf("cancel %d offered %v", i, got)
		}
		offered = append(offered, got...)
		h := evs[2].(HoldPlaced).Hold
		if seats[h.ID] {
			t.Fatalf("offer %s made twice", h.ID)
		}
		seats[h.ID] = true
		MustApply(t, s, evs)
		if _, pos, ok := s.WaitlistOf(refused[5]); !ok || pos != 5-i {
			t.Fatalf("after %d offers, %s is at %d", i+1, refused[5], pos)
		}
	}
	want := []string{}
	for _, u := range refused[:5] {
		want = append(want, "w-"+u)
	}
	if !slices.Equal(offered, want) {
		t.Fatalf("offers %v, want %v", offered, want)
	}
	wantBucket(t, s, "all", 10, 10, 0)
	if n := len(s.Waitlist()); n != 35 {
		t.Fatalf("%d still waiting", n)
	}
}

// TestWaitlistRange: an entry may name its nights by range, like a hold.
func TestWaitlistRange(t *testing.T) {
	s := createWith(t, CreateResource{Calendar: &Calendar{From: "2026-12-20", To: "2026-12-31", Every: Day, Capacity: 1}})
	wantCode(t, holdAs(t, s, "h1", "u1", 1, t0, "2026-12-25"), "")
	d, err := s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w1", OfferHoldID: "o1", UserID: "u2", Quantity: 1,
		Range: &Range{From: "2026-12-24", To: "2026-12-27"}}, t0)
	wantCode(t, err, "")
	if e := d.Events[0].(WaitlistJoined).Entry; !slices.Equal(e.Buckets, []string{"2026-12-24", "2026-12-25", "2026-12-26"}) {
		t.Fatalf("entry buckets %v", e.Buckets)
	}
	_, err = s.DecideJoinWaitlist(JoinWaitlist{EntryID: "w2", OfferHoldID: "o2", UserID: "u3", Quantity: 1,
		Range: &Range{From: "2026-12-30", To: "2027-01-02"}}, t0)
	wantCode(t, err, CodeInvalid) // past the calendar
}

// TestWaitlistRestore: entries survive a restore in first-come order, and Seq goes on.
func TestWaitlistRestore(t *testing.T) {
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 1}})
	wantCode(t, holdAs(t, s, "h1", "u0", 1, t0, "a"), "")
	for i := range 3 {
		wantCode(t, join(t, s, fmt.Sprintf("w%d", i), fmt.Sprintf("u%d", i+1), 1, t0, "a"), "")
	}
	r, _ := s.Resource()
	h, _ := s.Hold("h1")
	wl := s.Waitlist()
	slices.Reverse(wl) // a store's order
	c := RestoreSaved(Saved{Resource: r, Buckets: s.Buckets(), Holds: []Hold{h}, Waitlist: wl})
	if !slices.EqualFunc(c.Waitlist(), s.Waitlist(), func(a, b WaitlistEntry) bool { return a.ID == b.ID && a.Seq == b.Seq }) {
		t.Fatalf("restored %+v", c.Waitlist())
	}
	wantCode(t, join(t, c, "w9", "u9", 1, t0, "a"), "")
	if e, pos, _ := c.WaitlistEntry("w9"); e.Seq != 4 || pos != 4 {
		t.Fatalf("w9 %+v at %d", e, pos)
	}
	if cl := c.Clone(); !slices.EqualFunc(cl.Waitlist(), c.Waitlist(), func(a, b WaitlistEntry) bool { return a.ID == b.ID }) {
		t.Fatal("clone lost the waitlist")
	}
}
