package booking

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// The commands of the simulation: each draws its arguments from the chooser, runs them
// through State and the reference model, compares the decisions and applies the events.
// advance moves the fake clock on, sometimes past deadlines and sometimes exactly onto one.
func (m *sim) advance() {
	switch m.c.Intn(10) {
	case 0, 1, 2, 3:
	case 4, 5, 6:
		m.now = m.now.Add(time.Duration(m.c.Intn(20)) * time.Second)
	case 7:
		m.now = m.now.Add(time.Duration(m.c.Intn(15)) * time.Minute)
	case 8:
		if next, ok := m.ref.nextExpiry(); ok && next.After(m.now) {
			m.now = next
		}
	case 9:
		m.now = m.now.Add(time.Duration(m.c.Intn(1000)) * time.Millisecond)
	}
}

func (m *sim) genKey() string {
	if m.oneIn(15) {
		return m.pick(simBadKeys)
	}
	return m.pick(simKeys)
}

func (m *sim) genCap() int64 {
	switch m.c.Intn(20) {
	case 0:
		return -1
	case 1:
		return MaxCapacity + 1
	case 2:
		return MaxCapacity
	}
	return int64(m.c.Intn(6))
}

func (m *sim) create() {
	cmd := CreateResource{ID: "r1", Name: m.pick(simNames[:2]), Buckets: map[string]int64{}, HoldTTL: simTTLs[m.c.Intn(5)]}
	if m.oneIn(10) {
		cmd.ID = "r2"
	}
	if m.oneIn(10) {
		cmd.Name = m.pick(simNames)
	}
	if m.oneIn(10) {
		cmd.HoldTTL = simTTLs[m.c.Intn(len(simTTLs))]
	}
	switch m.c.Intn(9) {
	case 0:
		cmd.Price = &Money{Amount: 12900, Currency: "EUR"}
	case 3:
		cmd.Price = &Money{Amount: 100, Currency: "ZZZ"}
	case 1:
		cmd.Price = &Money{Amount: -1, Currency: "EUR"}
	case 2:
		cmd.Price = &Money{Amount: 0, Currency: "eur"}
	}
	n := m.c.Intn(5)
	if n == 0 && !m.oneIn(10) {
		n = 1
	}
	for range n {
		cmd.Buckets[m.genKey()] = m.genCap()
	}
	m.genRuleCreate(&cmd)
	evs, err := m.s.DecideCreate(cmd, m.now)
	want := m.ref.create(cmd)
	m.logf("create %+v -> %v", cmd, err)
	m.wantCode("create", err, want)
	if err == nil {
		rc := evs[0].(ResourceCreated)
		if len(rc.Buckets) != len(cmd.Buckets) || rc.Resource.HoldTTL != m.ref.ttl {
			m.fatalf("create event %+v for %+v", rc, cmd)
		}
		MustApply(m.tb, m.s, evs)
	}
}

func (m *sim) update() {
	cmd := UpdateResource{Buckets: map[string]int64{}}
	known := m.s.Buckets()
	for n := m.c.Intn(4); n > 0; n-- {
		if len(known) > 0 && !m.oneIn(4) {
			b := known[m.c.Intn(len(known))]
			booked := b.Held + b.Confirmed
			cmd.Buckets[b.Key] = max(booked+int64(m.c.Intn(6))-2, 0) // around what is booked
			if m.oneIn(20) {
				cmd.Buckets[b.Key] = m.genCap()
			}
		} else {
			cmd.Buckets[m.genKey()] = m.genCap()
		}
	}
	if m.oneIn(4) {
		cmd.Name = ptr(m.pick(simNames))
	}
	if m.oneIn(4) {
		cmd.HoldTTL = ptr(simTTLs[m.c.Intn(len(simTTLs))])
	}
	m.genRuleUpdate(&cmd)
	evs, err := m.s.DecideUpdate(cmd, m.now)
	want, changed := m.ref.update(cmd, m.now)
	m.logf("update %v name=%v ttl=%v -> %v", cmd.Buckets, cmd.Name != nil, cmd.HoldTTL, err)
	m.wantCode("update", err, want)
	if err == nil {
		if got := evs[0].(ResourceUpdated).Capacities; !reflect.DeepEqual(got, changed) {
			m.fatalf("update event capacities %v, want %v", got, changed)
		}
		m.checkOffers("update", evs[1:])
		MustApply(m.tb, m.s, evs)
	}
}

func (m *sim) genHold() PlaceHold {
	m.nextID++
	cmd := PlaceHold{HoldID: fmt.Sprintf("h%d", m.nextID), UserID: m.pick(simUsers), Quantity: int64(1 + m.c.Intn(3))}
	switch m.c.Intn(40) {
	case 0:
		cmd.HoldID = ""
	case 1, 2:
		if len(m.holdIDs) > 0 {
			cmd.HoldID = m.pick(m.holdIDs)
		}
	}
	switch k := m.c.Intn(20); {
	case k < 9:
	case k < 18:
		cmd.IdempotencyKey = fmt.Sprintf("k%d", m.nextID)
	case k < 19:
		if len(m.keys) > 0 {
			cmd.IdempotencyKey = m.pick(m.keys)
		}
	default:
		cmd.IdempotencyKey = strings.Repeat("k", 129)
	}
	known := m.s.Buckets() // distinct known buckets, then sometimes an unknown or a repeat
	for n := 1 + m.c.Intn(3); n > 0 && len(known) > 0; n-- {
		i := m.c.Intn(len(known))
		cmd.Buckets = append(cmd.Buckets, known[i].Key)
		known = slices.Delete(known, i, i+1)
	}
	if len(cmd.Buckets) == 0 || m.oneIn(15) {
		cmd.Buckets = append(cmd.Buckets, m.genKey())
	}
	if m.oneIn(20) {
		cmd.Buckets = append(cmd.Buckets, cmd.Buckets[0])
	}
	switch m.c.Intn(30) {
	case 0:
		cmd.Buckets = nil
	case 1:
		cmd.Buckets = slices.Repeat([]string{"a"}, 63)
	case 2:
		cmd.Quantity = 0
	case 3:
		cmd.Quantity = -1
	case 4:
		cmd.Quantity = MaxQuantity + 1
	case 5:
		cmd.UserID = m.pick(simBadUsers)
	}
	return cmd
}

// replay reuses a known idempotency key with the original request (buckets shuffled) or a
// different one.
func (m *sim) replay() {
	if len(m.ref.idem) == 0 {
		m.hold(m.genHold())
		return
	}
	keys := make([]string, 0, len(m.ref.idem))
	for k := range m.ref.idem {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	key := m.pick(keys)
	e := m.ref.idem[key]
	m.nextID++
	cmd := PlaceHold{HoldID: fmt.Sprintf("h%d", m.nextID), IdempotencyKey: key, Buckets: slices.Clone(e.sorted), Quantity: e.qty, UserID: e.user}
	for i := len(cmd.Buckets) - 1; i > 0; i-- {
		j := m.c.Intn(i + 1)
		cmd.Buckets[i], cmd.Buckets[j] = cmd.Buckets[j], cmd.Buckets[i]
	}
	switch m.c.Intn(7) {
	case 0:
		cmd.Quantity++
	case 1:
		cmd.UserID = m.pick(simUsers)
	case 2:
		cmd.Buckets = m.genHold().Buckets
	case 3:
		confuse(&cmd)
	}
	m.hold(cmd)
}

// confuse rewrites a request into a different one that reads the same when its user and
// sorted buckets are joined with '|': "u|a"+[b] -> "u"+[a b], [a|b] -> [a b], [a b] -> [a|b].
func confuse(cmd *PlaceHold) {
	slices.Sort(cmd.Buckets)
	if user, rest, ok := strings.Cut(cmd.UserID, "|"); ok {
		cmd.UserID = user
		cmd.Buckets = append(strings.Split(rest, "|"), cmd.Buckets...)
		slices.Sort(cmd.Buckets)
		return
	}
	for i, k := range cmd.Buckets {
		if strings.Contains(k, "|") {
			cmd.Buckets = slices.Concat(cmd.Buckets[:i], strings.Split(k, "|"), cmd.Buckets[i+1:])
			return
		}
	}
	if len(cmd.Buckets) >= 2 {
		cmd.Buckets = append([]string{cmd.Buckets[0] + "|" + cmd.Buckets[1]}, cmd.Buckets[2:]...)
	}
}

func (m *sim) hold(cmd PlaceHold) {
	before := m.s.Buckets()
	d, err := m.s.DecidePlaceHold(cmd, m.now)
	want, wantID, replay := m.ref.hold(cmd, m.now)
	m.logf("hold %s key=%q %v x%d user=%q -> %+v %v", cmd.HoldID, cmd.IdempotencyKey, cmd.Buckets, cmd.Quantity, cmd.UserID, d, err)
	m.wantCode("hold", err, want)
	if !reflect.DeepEqual(before, m.s.Buckets()) {
		m.fatalf("DecidePlaceHold changed the buckets")
	}
	if err != nil {
		return
	}
	if d.HoldID != wantID || d.Replayed != replay {
		m.fatalf("decision %+v, want hold %q replayed=%v", d, wantID, replay)
	}
	if replay {
		m.seen["hold:replay"]++
		if len(d.Events) != 0 {
			m.fatalf("replay with events %v", d.Events)
		}
		return
	}
	if h := d.Events[0].(HoldPlaced).Hold; !h.ExpiresAt().Equal(m.now.Add(m.ref.ttl)) {
		m.fatalf("placed hold %+v", h)
	}
	MustApply(m.tb, m.s, d.Events)
	if h, ok := m.s.Hold(cmd.HoldID); !ok || h.Status != StatusHeld || !h.ExpiresAt.Equal(m.now.Add(m.ref.ttl)) {
		m.fatalf("applied hold %+v", h)
	}
	m.holdIDs = append(m.holdIDs, cmd.HoldID)
	if cmd.IdempotencyKey != "" {
		m.keys = append(m.keys, cmd.IdempotencyKey)
	}
}

func (m *sim) transition(confirm bool) {
	id := "nope"
	switch {
	case m.oneIn(20):
	case len(m.ref.holds) > 0 && !m.oneIn(4): // a hold the state still knows
		ids := make([]string, 0, len(m.ref.holds))
		for id := range m.ref.holds {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		id = m.pick(ids)
	case len(m.holdIDs) > 0: // possibly forgotten by a restore
		id = m.pick(m.holdIDs)
	}
	var evs []Event
	var err error
	if confirm {
		evs, err = m.s.DecideConfirm(ConfirmHold{HoldID: id}, m.now)
	} else {
		evs, err = m.s.DecideCancel(CancelHold{HoldID: id}, m.now)
	}
	want, event := m.ref.transition(id, confirm, m.now)
	m.logf("confirm=%v %s -> %d events, %v", confirm, id, len(evs), err)
	m.wantCode("transition", err, want)
	if event != (len(evs) >= 1) {
		m.fatalf("events %v, want event=%v", evs, event)
	}
	if len(evs) > 0 {
		m.checkOffers("transition", evs[1:])
	}
	MustApply(m.tb, m.s, evs)
}

func (m *sim) expire() {
	all := m.s.ExpireDue(m.now)
	due := m.ref.due(m.now)
	m.logf("expire-due -> %d events", len(all))
	if len(all) < len(due) {
		m.fatalf("ExpireDue = %v, want %d holds", all, len(due))
	}
	evs := all[:len(due)]
	for i, e := range evs {
		x := e.(HoldExpired)
		if x.HoldID != due[i].id || !x.At.Equal(m.now) {
			m.fatalf("ExpireDue[%d] = %+v, want %s", i, x, due[i].id)
		}
	}
	if m.oneIn(4) { // discarded, as when a batch fails
		return
	}
	for _, h := range due {
		h.status, h.updatedAt = StatusExpired, m.now
	}
	m.ref.offered = nil
	m.ref.offer(m.now)
	m.checkOffers("expire", all[len(due):])
	MustApply(m.tb, m.s, all)
}

func (m *sim) prune() {
	cutoff := m.now.Add(-time.Duration(m.c.Intn(600)) * time.Second)
	m.logf("prune before +%v", cutoff.Sub(t0))
	m.s.PruneIdempotency(cutoff)
	m.ref.prune(cutoff)
}

// cloneAndContinue goes on with a clone after wrecking the original, which must not touch
// the clone.
func (m *sim) cloneAndContinue() {
	c := m.s.Clone()
	before := observe(c)
	m.logf("clone")
	old := m.s
	MustApply(m.tb, old, old.ExpireDue(m.now.Add(2*MaxHoldTTL)))
	for _, b := range old.Buckets() {
		old.Apply(ResourceUpdated{Name: "wrecked", Capacities: map[string]int64{b.Key: b.Capacity + 1000}})
	}
	if bs := old.Buckets(); len(bs) > 0 {
		old.Apply(HoldPlaced{Hold: &PlacedHold{ID: "wreck", IdempotencyKey: "wreck", Buckets: []string{bs[0].Key}, Quantity: 1}})
	}
	for _, e := range old.waiting() {
		e.Buckets[0], e.Quantity = "wrecked", -1
	}
	if len(old.waiting()) > 0 {
		old.Apply(WaitlistLeft{EntryID: old.waiting()[0].ID})
	}
	old.Apply(WaitlistJoined{Entry: WaitlistEntry{ID: "wreck", UserID: "wreck", Seq: 1 << 60}})
	for _, h := range old.holds.list {
		// A run of the original's keys (its lists are never written: a clone shares them).
		if bs := old.bucketsOf(h); len(bs) > 0 && h.bkAt >= 0 {
			bs[0] = "wrecked"
		}
	}
	old.PruneIdempotency(m.now.Add(time.Hour))
	if after := observe(c); !reflect.DeepEqual(before, after) {
		m.fatalf("mutating the original changed its clone:\nbefore %+v\nafter  %+v", before, after)
	}
	m.s = c
}

// restore rebuilds the state from an export like a store's Activate, with garbage counters.
func (m *sim) restore() {
	if !m.s.Exists() {
		return
	}
	res, _ := m.s.Resource()
	buckets := m.s.Buckets()
	for i := range buckets {
		buckets[i].Held, buckets[i].Confirmed = int64(m.c.Intn(100)), -int64(m.c.Intn(100))
	}
	var holds []Hold // each hold once, although ids can have been reused across restores
	for _, id := range m.holdIDs {
		if h, ok := m.s.Hold(id); ok && h.Status.Active() && !slices.ContainsFunc(holds, func(x Hold) bool { return x.ID == id }) {
			holds = append(holds, h)
		}
	}
	since := m.now.Add(-time.Duration(m.c.Intn(3)) * time.Minute)
	var idem []IdempotencyEntry
	for _, k := range m.keys {
		if e, ok := m.s.Idempotency(k); ok && !e.CreatedAt.Before(since) && !slices.ContainsFunc(idem, func(x IdempotencyEntry) bool { return x.Key == k }) {
			idem = append(idem, e)
		}
	}
	// Stores return rows in their own order.
	for i := len(holds) - 1; i > 0; i-- {
		j := m.c.Intn(i + 1)
		holds[i], holds[j] = holds[j], holds[i]
	}
	for i := len(idem) - 1; i > 0; i-- {
		j := m.c.Intn(i + 1)
		idem[i], idem[j] = idem[j], idem[i]
	}
	waiting := m.s.Waitlist()
	for i := len(waiting) - 1; i > 0; i-- {
		j := m.c.Intn(i + 1)
		waiting[i], waiting[j] = waiting[j], waiting[i]
	}
	m.logf("restore %d holds, %d keys since +%v, %d waiting", len(holds), len(idem), since.Sub(t0), len(waiting))
	if len(waiting) == 0 && m.oneIn(2) {
		m.s = Restore(res, buckets, holds, idem)
	} else {
		m.s = RestoreSaved(Saved{Resource: res, Buckets: buckets, Holds: holds, Idempotency: idem, Waitlist: waiting})
	}
	m.ref.restore(since)
}
