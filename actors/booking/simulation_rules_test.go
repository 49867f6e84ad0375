package booking

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The simulation's steps for the booking rules: rule settings on create and update, renewals,
// joining and leaving the waitlist, and the offers that freeing units makes.

func (m *sim) genRuleCreate(cmd *CreateResource) {
	if m.oneIn(2) {
		cmd.MaxExtensions = ptr(m.c.Intn(4) - m.c.Intn(2)*m.c.Intn(2)) // sometimes -1
	}
	switch m.c.Intn(6) {
	case 0:
		cmd.Allowance = Allowance{Units: int64(m.c.Intn(3))}
	case 1:
		cmd.Allowance = Allowance{Percent: int64(25 * m.c.Intn(3))}
	case 2:
		if m.oneIn(4) {
			cmd.Allowance = Allowance{Units: 1, Percent: 10} // refused: both
		}
	}
	if m.oneIn(2) {
		cmd.MaxPerUser = int64(m.c.Intn(7))
	}
	if m.oneIn(3) {
		cmd.WaitlistOfferTTL = []time.Duration{30 * time.Second, 2 * time.Minute, time.Millisecond}[m.c.Intn(3)]
	}
}

func (m *sim) genRuleUpdate(cmd *UpdateResource) {
	if m.oneIn(6) {
		cmd.MaxExtensions = ptr(m.c.Intn(4))
	}
	if m.oneIn(6) {
		a := Allowance{Units: int64(m.c.Intn(3))}
		if m.oneIn(2) {
			a = Allowance{Percent: int64(50 * m.c.Intn(3))}
		}
		cmd.Allowance = &a
	}
	if m.oneIn(6) {
		cmd.MaxPerUser = ptr(int64(m.c.Intn(8)))
	}
	if m.oneIn(10) {
		cmd.WaitlistOfferTTL = ptr([]time.Duration{0, 45 * time.Second, -time.Second}[m.c.Intn(3)])
	}
}

// pickHoldID returns a hold id the state knows, mostly, or one it does not.
func (m *sim) pickHoldID() string {
	if len(m.ref.holds) == 0 || m.oneIn(10) {
		return "nope"
	}
	ids := make([]string, 0, len(m.ref.holds))
	for id := range m.ref.holds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return m.pick(ids)
}

func (m *sim) extend() {
	cmd := ExtendHold{HoldID: m.pickHoldID(), UserID: m.pick(simUsers)}
	if h, ok := m.ref.holds[cmd.HoldID]; ok && !m.oneIn(5) {
		cmd.UserID = h.user
	}
	switch k := m.c.Intn(20); {
	case k < 8:
	case k < 13:
		m.nextID++
		cmd.IdempotencyKey = fmt.Sprintf("e%d", m.nextID)
	case k < 18:
		m.replayExtend(&cmd)
	case k < 19:
		if len(m.keys) > 0 {
			cmd.IdempotencyKey = m.pick(m.keys) // a hold's, a join's or a renewal's, with another request
		}
	default:
		cmd.IdempotencyKey = strings.Repeat("e", 129)
	}
	d, err := m.s.DecideExtend(cmd, m.now)
	want, until, replayed := m.ref.extend(cmd, m.now)
	m.logf("extend %+v -> %+v %v", cmd, d, err)
	m.wantCode("extend", err, want)
	if err != nil {
		return
	}
	if d.Replayed != replayed {
		m.fatalf("extend decision %+v, want replayed=%v", d, replayed)
	}
	if d.Replayed {
		m.seen["extend:replay"]++
		if len(d.Events) != 0 {
			m.fatalf("extend replay with events %v", d.Events)
		}
		return
	}
	evs := d.Events
	if x := evs[0].(HoldExtended); len(evs) != 1 || !x.ExpiresAt.Equal(until) || x.IdempotencyKey != cmd.IdempotencyKey {
		m.fatalf("extend events %v, want until %v", evs, until)
	}
	MustApply(m.tb, m.s, evs)
	if cmd.IdempotencyKey != "" {
		m.keys = append(m.keys, cmd.IdempotencyKey)
	}
}

// replayExtend makes cmd a retry of a renewal the reference knows by its key: the same
// request, or now and then another hold or user.
func (m *sim) replayExtend(cmd *ExtendHold) {
	var keys []string
	for k, e := range m.ref.idem {
		if e.extend {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.Sort(keys)
	k := m.pick(keys)
	e := m.ref.idem[k]
	cmd.IdempotencyKey, cmd.HoldID, cmd.UserID = k, e.holdID, e.user
	switch m.c.Intn(8) {
	case 0:
		cmd.HoldID = m.pickHoldID()
	case 1:
		cmd.UserID = m.pick(simUsers)
	}
}

func (m *sim) join() {
	m.nextID++
	cmd := JoinWaitlist{EntryID: fmt.Sprintf("w%d", m.nextID), OfferHoldID: fmt.Sprintf("o%d", m.nextID),
		UserID: m.pick(simUsers), Quantity: int64(1 + m.c.Intn(3))}
	switch m.c.Intn(30) {
	case 0:
		cmd.OfferHoldID = m.pickHoldID() // taken, or "nope"
	case 1:
		cmd.OfferHoldID = cmd.EntryID
	case 2:
		if len(m.ref.waiting) > 0 {
			cmd.EntryID = m.ref.waiting[m.c.Intn(len(m.ref.waiting))].ID
		}
	case 3:
		cmd.UserID = m.pick(simBadUsers)
	case 4:
		cmd.Quantity = 0
	}
	known := m.s.Buckets()
	for n := 1 + m.c.Intn(2); n > 0 && len(known) > 0; n-- {
		i := m.c.Intn(len(known))
		cmd.Buckets = append(cmd.Buckets, known[i].Key)
		known = slices.Delete(known, i, i+1)
	}
	if len(cmd.Buckets) == 0 || m.oneIn(15) {
		cmd.Buckets = append(cmd.Buckets, m.genKey())
	}
	switch k := m.c.Intn(20); {
	case k < 8:
	case k < 14:
		cmd.IdempotencyKey = fmt.Sprintf("j%d", m.nextID)
	case k < 18:
		m.replayJoin(&cmd)
	case k < 19:
		if len(m.keys) > 0 {
			cmd.IdempotencyKey = m.pick(m.keys) // a hold's or a join's, with another request
		}
	default:
		cmd.IdempotencyKey = strings.Repeat("j", 129)
	}
	d, err := m.s.DecideJoinWaitlist(cmd, m.now)
	want := m.ref.join(cmd, m.now)
	m.logf("join %+v -> %+v %v", cmd, d, err)
	if want.lookup != "" {
		// The state asks for the offer hold too; the simulation answers as a store would.
		if err != nil || d.LookupHold != want.lookup || len(d.Events) != 0 || d.Replayed {
			m.fatalf("join decision %+v %v, want a lookup of %s", d, err, want.lookup)
		}
		m.seen["join:lookup"]++
		cmd.OfferLookedUp = true
		if h, ok := m.ref.gone[want.lookup]; ok {
			cmd.Offer = &Hold{ID: h.id, ResourceID: m.ref.id, UserID: h.user, Buckets: slices.Clone(h.buckets), Quantity: h.qty,
				Status: h.status, WaitlistEntryID: h.entry}
		}
		d, err = m.s.DecideJoinWaitlist(cmd, m.now)
		want = m.ref.join(cmd, m.now)
		m.logf("join after the lookup (%+v) -> %+v %v", cmd.Offer, d, err)
	}
	m.wantCode("join", err, want.code)
	if err != nil {
		return
	}
	if d.LookupHold != "" || d.Replayed != want.replayed || d.Entry.ID != want.entry {
		m.fatalf("join decision %+v, want entry %q replayed=%v", d, want.entry, want.replayed)
	}
	if d.Replayed {
		m.seen["join:replay"]++
		if len(d.Events) != 0 {
			m.fatalf("join replay with events %v", d.Events)
		}
		return
	}
	MustApply(m.tb, m.s, d.Events)
	if cmd.IdempotencyKey != "" {
		m.keys = append(m.keys, cmd.IdempotencyKey)
	}
}

// replayJoin makes cmd a retry of a join the reference knows by its key: the same request
// (buckets shuffled), or now and then another one.
func (m *sim) replayJoin(cmd *JoinWaitlist) {
	var keys []string
	for k, e := range m.ref.idem {
		if e.join {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.Sort(keys)
	k := m.pick(keys)
	e := m.ref.idem[k]
	cmd.IdempotencyKey, cmd.Buckets, cmd.Quantity, cmd.UserID = k, slices.Clone(e.sorted), e.qty, e.user
	for i := len(cmd.Buckets) - 1; i > 0; i-- {
		j := m.c.Intn(i + 1)
		cmd.Buckets[i], cmd.Buckets[j] = cmd.Buckets[j], cmd.Buckets[i]
	}
	switch m.c.Intn(8) {
	case 0:
		cmd.Quantity++
	case 1:
		cmd.UserID = m.pick(simUsers)
	}
}

func (m *sim) leave() {
	cmd := LeaveWaitlist{EntryID: "nope", UserID: m.pick(simUsers)}
	if len(m.ref.waiting) > 0 && !m.oneIn(5) {
		e := m.ref.waiting[m.c.Intn(len(m.ref.waiting))]
		cmd.EntryID = e.ID
		if !m.oneIn(5) {
			cmd.UserID = e.UserID
		}
	}
	evs, err := m.s.DecideLeaveWaitlist(cmd, m.now)
	want := m.ref.leave(cmd)
	m.logf("leave %+v -> %v", cmd, err)
	m.wantCode("leave", err, want)
	if err == nil {
		MustApply(m.tb, m.s, evs)
	}
}

// checkOffers compares the offers among evs (what a decision appended after its own events)
// with the entries the reference offered, in order: each a WaitlistOffered followed by the
// HoldPlaced of a new hold for the entry's user. An entry is offered once, and a hold is
// never placed twice.
func (m *sim) checkOffers(what string, evs []Event) {
	m.tb.Helper()
	want := m.ref.offered
	m.ref.offered = nil
	if len(evs) != 2*len(want) {
		m.fatalf("%s: offer events %v, reference offered %v", what, evs, want)
	}
	for i, id := range want {
		o, ok1 := evs[2*i].(WaitlistOffered)
		p, ok2 := evs[2*i+1].(HoldPlaced)
		if !ok1 || !ok2 || o.EntryID != id || p.Hold.ID != o.HoldID || p.Hold.WaitlistEntryID != id || p.Hold.UserID != o.UserID {
			m.fatalf("%s: offer %d = %+v %+v, reference offered %s", what, i, evs[2*i], evs[2*i+1], id)
		}
		if known := m.s.holds.get(o.HoldID) != nil; known {
			m.fatalf("%s: offer hold %s placed twice", what, o.HoldID)
		}
		m.holdIDs = append(m.holdIDs, o.HoldID)
	}
	if len(want) > 0 {
		m.seen[what+":offers"]++
	}
}

// checkRules compares the waitlist and per-user units with the reference, and checks that no
// waiting entry fits what is free (it would have been offered).
func (m *sim) checkRules() {
	m.tb.Helper()
	got := m.s.Waitlist()
	if len(got) != len(m.ref.waiting) {
		m.fatalf("waitlist %+v, reference %d entries", got, len(m.ref.waiting))
	}
	for i, e := range m.ref.waiting {
		g := got[i]
		if g.ID != e.ID || g.UserID != e.UserID || g.OfferHoldID != e.OfferHoldID || g.Quantity != e.Quantity ||
			g.Seq != e.Seq || !slices.Equal(g.Buckets, e.Buckets) || !g.CreatedAt.Equal(e.CreatedAt) || g.ResourceID != m.ref.id {
			m.fatalf("waitlist[%d] = %+v, reference %+v", i, g, *e)
		}
		if _, pos, ok := m.s.WaitlistEntry(e.ID); !ok || pos != i+1 {
			m.fatalf("WaitlistEntry(%s) at %d (%v), want %d", e.ID, pos, ok, i+1)
		}
		if m.ref.fits(e) {
			m.fatalf("waiting entry %+v fits what is free", *e)
		}
	}
	for _, u := range simUsers {
		if got, want := m.s.UserUnits(u), m.ref.userUnits(u); got != want {
			m.fatalf("UserUnits(%q) = %d, reference %d", u, got, want)
		}
	}
	if len(m.s.units) > len(simUsers) {
		m.fatalf("units kept for %d users: %v", len(m.s.units), m.s.units)
	}
}
