package booking

import (
	"testing"
	"time"
)

// createWith creates resource "r1" from cmd (ID and Name filled in) at t0.
func createWith(tb testing.TB, cmd CreateResource) *State {
	tb.Helper()
	cmd.ID, cmd.Name = "r1", "Room"
	s := NewState("r1")
	evs, err := s.DecideCreate(cmd, t0)
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	MustApply(tb, s, evs)
	return s
}

func holdAs(tb testing.TB, s *State, id, user string, qty int64, now time.Time, buckets ...string) error {
	tb.Helper()
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: id, UserID: user, Quantity: qty, Buckets: buckets}, now)
	if err == nil {
		MustApply(tb, s, d.Events)
	}
	return err
}

func TestCreateRuleDefaults(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 1}, 0)
	r, _ := s.Resource()
	if r.MaxExtensions != DefaultMaxExtensions || r.WaitlistOfferTTL != DefaultWaitlistOfferTTL || r.MaxPerUser != 0 ||
		r.Allowance != (Allowance{}) || r.Timezone != "" || r.SlotEvery != 0 {
		t.Fatalf("defaults: %+v", r)
	}
	zero := 0
	s = createWith(t, CreateResource{Buckets: map[string]int64{"a": 1}, MaxExtensions: &zero, Timezone: "Europe/Berlin"})
	if r, _ := s.Resource(); r.MaxExtensions != 0 || r.Timezone != "Europe/Berlin" {
		t.Fatalf("explicit: %+v", r)
	}
}

func TestCreateRuleValidation(t *testing.T) {
	neg, tooMany := -1, MaxExtensionsLimit+1
	for name, cmd := range map[string]CreateResource{
		"negative max_extensions":    {MaxExtensions: &neg},
		"too many extensions":        {MaxExtensions: &tooMany},
		"units and percent":          {Allowance: Allowance{Units: 1, Percent: 10}},
		"negative units":             {Allowance: Allowance{Units: -1}},
		"percent over 100":           {Allowance: Allowance{Percent: 101}},
		"negative max_per_user":      {MaxPerUser: -1},
		"offer TTL too short":        {WaitlistOfferTTL: time.Millisecond},
		"offer TTL not whole ms":     {WaitlistOfferTTL: time.Second + 1},
		"unknown timezone":           {Timezone: "Mars/Olympus"},
		"Local is not a zone name":   {Timezone: "Local"},
		"buckets and calendar":       {Buckets: map[string]int64{"a": 1}, Calendar: &Calendar{From: "2026-12-01", To: "2026-12-03", Every: Day, Capacity: 1}},
		"calendar too long":          {Calendar: &Calendar{From: "2026-01-01", To: "2029-01-01", Every: Day, Capacity: 1}},
		"calendar bad every":         {Calendar: &Calendar{From: "2026-01-01", To: "2026-01-02", Every: 7 * time.Minute, Capacity: 1}},
		"calendar negative capacity": {Calendar: &Calendar{From: "2026-01-01", To: "2026-01-02", Every: Day, Capacity: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			cmd.ID, cmd.Name = "r1", "Room"
			if cmd.Buckets == nil && cmd.Calendar == nil {
				cmd.Buckets = map[string]int64{"a": 1}
			}
			_, err := NewState("r1").DecideCreate(cmd, t0)
			wantCode(t, err, CodeInvalid)
		})
	}
}

func TestExtend(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 5}, time.Minute) // MaxExtensions 2
	h := MustHold(t, s, "h1", 1, t0, "a")
	// 30 s in: a fresh minute from now, never less than what is left.
	evs, err := extendEvents(s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1"}, t0.Add(30*time.Second)))
	wantCode(t, err, "")
	want := HoldExtended{HoldID: "h1", ExpiresAt: t0.Add(90 * time.Second), Extensions: 1, At: t0.Add(30 * time.Second)}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("events %+v, want %+v", evs, want)
	}
	MustApply(t, s, evs)
	if got, _ := s.Hold("h1"); !got.ExpiresAt.Equal(want.ExpiresAt) || got.Extensions != 1 || !got.UpdatedAt.Equal(want.At) {
		t.Fatalf("hold after extend: %+v", got)
	}
	if next, _ := s.NextExpiry(); !next.Equal(want.ExpiresAt) {
		t.Fatalf("NextExpiry = %v, want %v: the old deadline must not count", next, want.ExpiresAt)
	}
	// The old deadline passes: nothing expires.
	if evs := s.ExpireDue(h.ExpiresAt); len(evs) != 0 {
		t.Fatalf("expired at the old deadline: %v", evs)
	}
	// Right away again: the deadline stays (never shortened), the renewal counts.
	evs, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1"}, t0.Add(31*time.Second)))
	wantCode(t, err, "")
	if x := evs[0].(HoldExtended); !x.ExpiresAt.Equal(t0.Add(91*time.Second)) || x.Extensions != 2 {
		t.Fatalf("second extension %+v", x)
	}
	MustApply(t, s, evs)
	_, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1"}, t0.Add(40*time.Second)))
	wantCode(t, err, CodeLimitExceeded)

	// Someone else's hold is not found; refusals change nothing.
	MustHold(t, s, "h2", 1, t0, "a")
	before := observe(s)
	_, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h2", UserID: "u2"}, t0))
	wantCode(t, err, CodeNotFound)
	_, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "nope", UserID: "u1"}, t0))
	wantCode(t, err, CodeNotFound)
	// At the deadline a hold cannot be renewed, even before ExpireDue ran.
	_, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h2", UserID: "u1"}, t0.Add(time.Minute)))
	wantCode(t, err, CodeConflict)
	wantUnchanged(t, s, before)
	// Confirmed and cancelled holds cannot be renewed.
	MustTransition(t, s, "h2", true, t0)
	_, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h2", UserID: "u1"}, t0))
	wantCode(t, err, CodeConflict)
	MustTransition(t, s, "h2", false, t0)
	_, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h2", UserID: "u1"}, t0))
	wantCode(t, err, CodeConflict)
}

// TestExtendKeepingTheDeadline: a renewal that leaves the deadline where it was (the hold TTL
// was shortened since) counts, and the hold still expires once.
func TestExtendKeepingTheDeadline(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 1}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "a")
	short := time.Second
	evs, err := s.DecideUpdate(UpdateResource{HoldTTL: &short}, t0)
	wantCode(t, err, "")
	MustApply(t, s, evs)
	evs, err = extendEvents(s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1"}, t0))
	wantCode(t, err, "")
	if x := evs[0].(HoldExtended); !x.ExpiresAt.Equal(t0.Add(time.Minute)) || x.Extensions != 1 {
		t.Fatalf("extension %+v", x)
	}
	MustApply(t, s, evs)
	if evs := s.ExpireDue(t0.Add(time.Minute)); len(evs) != 1 {
		t.Fatalf("ExpireDue = %v, want the hold once", evs)
	}
}

func TestExtendZeroAllowsNone(t *testing.T) {
	zero := 0
	s := createWith(t, CreateResource{Buckets: map[string]int64{"a": 1}, MaxExtensions: &zero})
	MustHold(t, s, "h1", 1, t0, "a")
	_, err := extendEvents(s.DecideExtend(ExtendHold{HoldID: "h1", UserID: "u1"}, t0))
	wantCode(t, err, CodeLimitExceeded)
}

func TestAllowance(t *testing.T) {
	// 10 % of 20 is 2, of 5 is 0 (rounded down); units are per bucket.
	s := createWith(t, CreateResource{Buckets: map[string]int64{"big": 20, "small": 5}, Allowance: Allowance{Percent: 10}})
	wantBucketFull(t, s, Bucket{Key: "big", Capacity: 20, Allowance: 2})
	wantBucketFull(t, s, Bucket{Key: "small", Capacity: 5})
	wantCode(t, holdAs(t, s, "h1", "u1", 22, t0, "big"), "")
	wantCode(t, holdAs(t, s, "h2", "u1", 1, t0, "big"), CodeSoldOut)
	if b, _ := s.Bucket("big"); b.Overbooked() != 2 || b.Available() != 0 {
		t.Fatalf("big %+v: overbooked %d available %d", b, b.Overbooked(), b.Available())
	}

	// Lowering the allowance or capacity below what is booked is refused.
	_, err := s.DecideUpdate(UpdateResource{Allowance: &Allowance{Units: 1}}, t0)
	wantCode(t, err, CodeConflict)
	_, err = s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"big": 19}}, t0)
	wantCode(t, err, CodeConflict) // 19 + 1 (10 %) < 22
	// Units instead: every bucket's allowance changes, in one event.
	evs, err := s.DecideUpdate(UpdateResource{Allowance: &Allowance{Units: 3}}, t0)
	wantCode(t, err, "")
	ev := evs[0].(ResourceUpdated)
	if len(ev.Allowances) != 2 || ev.Allowances["big"] != 3 || ev.Allowances["small"] != 3 || len(ev.ChangedBuckets()) != 2 {
		t.Fatalf("allowances %v, changed %v", ev.Allowances, ev.ChangedBuckets())
	}
	MustApply(t, s, evs)
	wantBucketFull(t, s, Bucket{Key: "small", Capacity: 5, Allowance: 3})
	wantCode(t, holdAs(t, s, "h3", "u1", 8, t0, "small"), "")
	// A new bucket gets the allowance; a capacity change under units keeps it.
	evs, err = s.DecideUpdate(UpdateResource{Buckets: map[string]int64{"new": 1, "small": 6}}, t0)
	wantCode(t, err, "")
	if ev := evs[0].(ResourceUpdated); len(ev.Allowances) != 1 || ev.Allowances["new"] != 3 {
		t.Fatalf("allowances %v", ev.Allowances)
	}
	MustApply(t, s, evs)
	wantBucketFull(t, s, Bucket{Key: "new", Capacity: 1, Allowance: 3})
	wantBucketFull(t, s, Bucket{Key: "small", Capacity: 6, Allowance: 3, Held: 8})

	// Restore recomputes allowances from the resource, whatever the stored ones.
	r, _ := s.Resource()
	bs := s.Buckets()
	for i := range bs {
		bs[i].Allowance = 99
	}
	var holds []Hold
	for _, id := range []string{"h1", "h3"} {
		h, _ := s.Hold(id)
		holds = append(holds, h)
	}
	if got, want := observe(Restore(r, bs, holds, nil)), observe(s); !equalBuckets(got.Buckets, want.Buckets) {
		t.Fatalf("restored buckets %+v, want %+v", got.Buckets, want.Buckets)
	}
}

func equalBuckets(a, b []Bucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantBucketFull(tb testing.TB, s *State, want Bucket) {
	tb.Helper()
	if b, ok := s.Bucket(want.Key); !ok || b != want {
		tb.Fatalf("bucket %q = %+v, want %+v", want.Key, b, want)
	}
}

func TestMaxPerUser(t *testing.T) {
	// Units are quantity times buckets: 2 rooms for 2 nights are 4 units.
	s := createWith(t, CreateResource{Buckets: map[string]int64{"n1": 10, "n2": 10, "all": 100}, MaxPerUser: 4})
	wantCode(t, holdAs(t, s, "h1", "u1", 2, t0, "n1", "n2"), "")
	if s.UserUnits("u1") != 4 {
		t.Fatalf("units %d", s.UserUnits("u1"))
	}
	before := observe(s)
	err := holdAs(t, s, "h2", "u1", 1, t0, "all")
	wantCode(t, err, CodeLimitExceeded)
	wantUnchanged(t, s, before)
	wantCode(t, holdAs(t, s, "h3", "u2", 5, t0, "all"), CodeLimitExceeded) // alone over the limit
	wantCode(t, holdAs(t, s, "h4", "u2", 4, t0, "all"), "")                // per user
	// Sold out is reported before the limit: the user could not have had it anyway.
	wantCode(t, holdAs(t, s, "h5", "u1", 11, t0, "n1"), CodeSoldOut)
	// Confirming keeps the units; cancelling and expiring give them back.
	MustTransition(t, s, "h1", true, t0)
	wantCode(t, holdAs(t, s, "h6", "u1", 1, t0, "all"), CodeLimitExceeded)
	MustTransition(t, s, "h1", false, t0)
	if s.UserUnits("u1") != 0 {
		t.Fatalf("units after cancel %d", s.UserUnits("u1"))
	}
	wantCode(t, holdAs(t, s, "h7", "u1", 4, t0, "all"), "")
	MustApply(t, s, s.ExpireDue(t0.Add(time.Hour)))
	if s.UserUnits("u1") != 0 || s.UserUnits("u2") != 0 || len(s.units) != 0 {
		t.Fatalf("units after expiry %v", s.units)
	}
	// Raising the limit takes effect at once; 0 lifts it.
	none := int64(0)
	evs, err := s.DecideUpdate(UpdateResource{MaxPerUser: &none}, t0.Add(time.Hour))
	wantCode(t, err, "")
	MustApply(t, s, evs)
	wantCode(t, holdAs(t, s, "h8", "u1", 100, t0.Add(time.Hour), "all"), "")
}

func TestHoldRange(t *testing.T) {
	s := createWith(t, CreateResource{Calendar: &Calendar{From: "2026-12-20", To: "2027-01-05", Every: Day, Capacity: 2}, Timezone: "Europe/Berlin"})
	if n := len(s.Buckets()); n != 16 {
		t.Fatalf("%d buckets", n)
	}
	d, err := s.DecidePlaceHold(PlaceHold{HoldID: "h1", UserID: "u1", Quantity: 1, Range: &Range{From: "2026-12-24", To: "2026-12-27"}}, t0)
	wantCode(t, err, "")
	if got := d.Events[0].(HoldPlaced).Hold.Buckets; len(got) != 3 || got[0] != "2026-12-24" || got[2] != "2026-12-26" {
		t.Fatalf("buckets %v", got)
	}
	for name, r := range map[string]Range{
		"outside the calendar":    {From: "2027-01-04", To: "2027-01-07"},
		"reversed":                {From: "2026-12-27", To: "2026-12-24"},
		"empty":                   {From: "2026-12-24", To: "2026-12-24"},
		"slots on a day calendar": {From: "2026-12-24T10:00", To: "2026-12-24T12:00"},
		"not a date":              {From: "christmas", To: "2026-12-27"},
	} {
		_, err := s.DecidePlaceHold(PlaceHold{HoldID: "h2", UserID: "u1", Quantity: 1, Range: &r}, t0)
		if ErrorCode(err) != CodeInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	_, err = s.DecidePlaceHold(PlaceHold{HoldID: "h2", UserID: "u1", Quantity: 1, Buckets: []string{"2026-12-24"}, Range: &Range{From: "2026-12-24", To: "2026-12-25"}}, t0)
	wantCode(t, err, CodeInvalid)
	// The same stay by range or by list is the same idempotent request.
	d, err = s.DecidePlaceHold(PlaceHold{HoldID: "h3", IdempotencyKey: "k", UserID: "u1", Quantity: 1, Range: &Range{From: "2026-12-28", To: "2026-12-30"}}, t0)
	wantCode(t, err, "")
	MustApply(t, s, d.Events)
	d, err = s.DecidePlaceHold(PlaceHold{HoldID: "h4", IdempotencyKey: "k", UserID: "u1", Quantity: 1, Buckets: []string{"2026-12-29", "2026-12-28"}}, t0)
	if err != nil || !d.Replayed || d.HoldID != "h3" {
		t.Fatalf("replay by list: %+v %v", d, err)
	}

	// Slots: a resource with an hourly calendar takes slot ranges.
	s = createWith(t, CreateResource{Calendar: &Calendar{From: "2026-03-29", To: "2026-03-30", Every: time.Hour, Capacity: 1}, Timezone: "Europe/Berlin"})
	if r, _ := s.Resource(); r.SlotEvery != time.Hour || len(s.Buckets()) != 23 {
		t.Fatalf("slot resource %+v with %d buckets", r, len(s.Buckets()))
	}
	d, err = s.DecidePlaceHold(PlaceHold{HoldID: "h1", UserID: "u1", Quantity: 1, Range: &Range{From: "2026-03-29T01:00", To: "2026-03-29T04:00"}}, t0)
	wantCode(t, err, "")
	if got := d.Events[0].(HoldPlaced).Hold.Buckets; len(got) != 2 || got[0] != "2026-03-29T01:00" || got[1] != "2026-03-29T03:00" {
		t.Fatalf("slots across the spring gap %v", got)
	}
}
