package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// model is the reference a randomized run compares a store with: plain maps, and the rules
// of the contract written the obvious way.
type model struct {
	id      string
	exists  bool
	epoch   uint64 // the current activation's epoch; 0 while absent
	version uint64
	lease   time.Time // rounded up to the ms; zero for none
	res     booking.Resource
	buckets map[string]booking.Bucket
	holds   map[string]booking.Hold
	idem    map[string]booking.IdempotencyEntry
	waiting map[string]booking.WaitlistEntry
	// idemFloor is the highest idemSince an activation passed: the generator makes no entry
	// created before it, as the actor makes none (its idemSince is now - the retention).
	idemFloor int64
}

func (m *model) snapshot(since int64) persistence.Snapshot {
	if !m.exists {
		return persistence.Snapshot{}
	}
	s := persistence.Snapshot{Exists: true, Epoch: m.epoch, Version: m.version, Resource: m.res, LeaseUntil: m.lease}
	for _, b := range m.buckets {
		s.Buckets = append(s.Buckets, b)
	}
	sort.Slice(s.Buckets, func(i, j int) bool { return s.Buckets[i].Key < s.Buckets[j].Key })
	for _, h := range m.holds {
		if h.Status.Active() {
			s.Holds = append(s.Holds, h)
		}
	}
	for _, e := range m.idem {
		if !e.CreatedAt.Before(at(since)) {
			s.Idempotency = append(s.Idempotency, e)
		}
	}
	for _, e := range m.waiting {
		s.Waitlist = append(s.Waitlist, e)
	}
	sort.Slice(s.Waitlist, func(i, j int) bool { return s.Waitlist[i].Seq < s.Waitlist[j].Seq })
	return s
}

// prune drops the keys an activation since since deleted: all that are older (the suite's
// resources hold far fewer than persistence.IdempotencyPruneLimit).
func (m *model) prune(since int64) {
	m.idemFloor = max(m.idemFloor, since)
	for k, e := range m.idem {
		if e.CreatedAt.Before(at(since)) {
			delete(m.idem, k)
		}
	}
}

// apply records an acknowledged batch.
func (m *model) apply(b *persistence.Batch) {
	if b.Create {
		m.exists, m.epoch, m.lease = true, 1, time.Time{}
		m.buckets = map[string]booking.Bucket{}
		m.holds = map[string]booking.Hold{}
		m.idem = map[string]booking.IdempotencyEntry{}
		m.waiting = map[string]booking.WaitlistEntry{}
	}
	m.version, m.res = b.Version, b.Resource
	if !b.LeaseUntil.IsZero() {
		m.lease = leaseMS(b.LeaseUntil)
	}
	for _, x := range b.Buckets {
		m.buckets[x.Key] = x
	}
	for _, h := range b.Holds {
		m.holds[h.ID] = *h.Clone()
	}
	for _, e := range b.Idempotency {
		if _, ok := m.idem[e.Key]; !ok {
			m.idem[e.Key] = e
		}
	}
	for _, e := range b.Waitlist {
		e.Buckets = append([]string(nil), e.Buckets...)
		m.waiting[e.ID] = e
	}
	for _, id := range b.WaitlistRemoved {
		delete(m.waiting, id)
	}
}

// randomizer drives one randomized run.
type randomizer struct {
	*fixture
	rng    *rand.Rand
	models []*model
	users  []string
	keys   []string
	seq    int
	clock  int64 // ms after base; advances with every operation
}

// testRandomized commits random batches (valid, stale, oversold; some with a lease end) to a
// few resources, with random activations and renewals (current, stale or future epochs) in
// between, and compares every Activate, GetHold and ListHolds with the reference model. The
// seed is fixed: a failure replays exactly.
func testRandomized(f *fixture) {
	r := &randomizer{fixture: f, rng: rand.New(rand.NewPCG(20240822, 7)), keys: []string{"k0", "k1", "k2", "k3", "k4"}}
	for i := range 3 {
		r.models = append(r.models, &model{id: f.id(fmt.Sprintf("r%d", i))})
	}
	for i := range 4 {
		r.users = append(r.users, f.id(fmt.Sprintf("u%d", i)))
	}
	const ops = 400
	for op := range ops {
		r.clock += int64(r.rng.IntN(3))
		m := r.models[r.rng.IntN(len(r.models))]
		switch p := r.rng.IntN(100); {
		case p < 6:
			r.create(op, m)
		case p < 18:
			r.activate(op, m)
		case p < 25:
			r.renew(op, m)
		case p < 65:
			r.commit(op, m)
		case p < 80:
			r.get(op)
		default:
			r.list(op)
		}
	}
	for _, m := range r.models {
		r.activate(ops, m)
	}
}

func (r *randomizer) create(op int, m *model) {
	var buckets []booking.Bucket
	for _, k := range r.keys[:1+r.rng.IntN(len(r.keys))] {
		buckets = append(buckets, booking.Bucket{Key: k, Capacity: int64(r.rng.IntN(8))})
	}
	res := r.resource(m.id)
	res.CreatedAt, res.UpdatedAt = at(r.clock), at(r.clock)
	b := &persistence.Batch{ResourceID: m.id, Version: 1, Create: true, Resource: res, Buckets: buckets}
	if r.rng.IntN(2) == 0 {
		b.LeaseUntil = r.leaseEnd()
	}
	err := r.s.Commit(r.ctx(), b)
	switch {
	case m.exists && !errors.Is(err, persistence.ErrFenced):
		r.Fatalf("op %d: second creation of %s: err = %v, want ErrFenced", op, m.id, err)
	case !m.exists && err != nil:
		r.Fatalf("op %d: creation of %s: %v", op, m.id, err)
	case !m.exists:
		m.apply(b)
	}
}

func (r *randomizer) activate(op int, m *model) {
	since := r.rng.Int64N(r.clock + 2)
	snap, err := r.s.Activate(r.ctx(), m.id, at(since))
	if err != nil {
		r.Fatalf("op %d: activate %s: %v", op, m.id, err)
	}
	if m.exists {
		m.epoch++
	}
	r.Logf("op %d: activate %s since %d -> epoch %d", op, m.id, since, snap.Epoch)
	r.expectSnapshot(snap, m.snapshot(since))
	m.prune(since)
}

// leaseEnd is a random lease end near the clock, zero (none) one time in five, and off the
// millisecond one time in three.
func (r *randomizer) leaseEnd() time.Time {
	if r.rng.IntN(5) == 0 {
		return time.Time{}
	}
	t := at(r.clock + int64(r.rng.IntN(2_000)))
	if r.rng.IntN(3) == 0 {
		t = t.Add(time.Duration(1 + r.rng.IntN(999_999)))
	}
	return t
}

func (r *randomizer) renew(op int, m *model) {
	epoch, until := m.epoch, r.leaseEnd()
	stale := !m.exists || r.rng.IntN(100) < 30
	if stale && m.exists {
		if m.epoch > 1 && r.rng.IntN(2) == 0 {
			epoch = m.epoch - 1 - uint64(r.rng.IntN(int(m.epoch-1)))
		} else {
			epoch = m.epoch + 1 + uint64(r.rng.IntN(2))
		}
	}
	err := r.s.Renew(r.ctx(), m.id, epoch, until)
	r.Logf("op %d: renew %s epoch %d (current %d) until %s -> %v", op, m.id, epoch, m.epoch, fmtLease(until), err)
	switch {
	case stale:
		if !errors.Is(err, persistence.ErrFenced) {
			r.Fatalf("op %d: stale renew: err = %v, want ErrFenced", op, err)
		}
	case err != nil:
		r.Fatalf("op %d: renew: %v", op, err)
	default:
		m.lease = leaseMS(until)
	}
}

func (r *randomizer) commit(op int, m *model) {
	b := &persistence.Batch{ResourceID: m.id, Epoch: m.epoch, Version: m.version + 1, Resource: m.res}
	if !m.exists {
		b.Epoch, b.Version, b.Resource = uint64(r.rng.IntN(3)), 1, r.resource(m.id)
		if err := r.s.Commit(r.ctx(), b); !errors.Is(err, persistence.ErrFenced) {
			r.Fatalf("op %d: commit to absent %s: err = %v, want ErrFenced", op, m.id, err)
		}
		return
	}
	stale := r.rng.IntN(100) < 15
	if stale {
		if m.epoch > 1 && r.rng.IntN(4) > 0 {
			b.Epoch = m.epoch - 1 - uint64(r.rng.IntN(int(m.epoch-1)))
		} else {
			b.Epoch = m.epoch + 1 + uint64(r.rng.IntN(2))
		}
	}
	if r.rng.IntN(4) == 0 {
		b.Resource.Name = fmt.Sprintf("name at op %d", op)
		b.Resource.UpdatedAt = at(r.clock)
		if r.rng.IntN(2) == 0 {
			b.Resource.Price = &booking.Money{Amount: int64(r.rng.IntN(10000)), Currency: "EUR"}
		} else {
			b.Resource.Price = nil
		}
	}
	// Oversold batches are never stale: which of the two failures a store reports first is
	// not part of the contract.
	oversold := !stale && r.rng.IntN(100) < 10
	for i, k := range r.pick(r.keys, r.rng.IntN(3)) {
		c := int64(r.rng.IntN(8))
		a := int64(0)
		if r.rng.IntN(3) == 0 { // an overbooking allowance
			a = int64(r.rng.IntN(4))
		}
		held := int64(r.rng.IntN(int(c+a) + 1))
		conf := int64(r.rng.IntN(int(c+a-held) + 1))
		if oversold && i == 0 {
			held = c + a - conf + 1
		}
		b.Buckets = append(b.Buckets, booking.Bucket{Key: k, Capacity: c, Allowance: a, Held: held, Confirmed: conf})
	}
	// Waitlist entries join (sometimes leaving again in the same batch) and leave.
	for range r.rng.IntN(3) {
		r.seq++
		e := entry(m.id, r.id(fmt.Sprintf("w%04d", r.seq)), r.users[r.rng.IntN(len(r.users))], uint64(r.seq), 1+int64(r.rng.IntN(3)), r.pick(r.keys, 1+r.rng.IntN(2))...)
		e.CreatedAt = at(r.clock)
		b.Waitlist = append(b.Waitlist, e)
		if r.rng.IntN(5) == 0 {
			b.WaitlistRemoved = append(b.WaitlistRemoved, e.ID)
		}
	}
	var waiting []string
	for id := range m.waiting {
		waiting = append(waiting, id)
	}
	sort.Strings(waiting)
	b.WaitlistRemoved = append(b.WaitlistRemoved, r.pick(waiting, r.rng.IntN(2))...)
	if r.rng.IntN(4) == 0 {
		b.LeaseUntil = r.leaseEnd()
	}
	if oversold && len(b.Buckets) == 0 {
		b.Buckets = append(b.Buckets, booking.Bucket{Key: r.keys[0], Capacity: 1, Confirmed: 2})
	}
	usedIdem := map[string]bool{}
	for range r.rng.IntN(4) {
		r.seq++
		h := hold(m.id, r.id(fmt.Sprintf("h%04d", r.seq)), r.users[r.rng.IntN(len(r.users))], r.clock-int64(r.rng.IntN(3)), 1+int64(r.rng.IntN(3)), r.pick(r.keys, 1+r.rng.IntN(3))...)
		// A key is given as the actor gives one (persistence.Store's contract): not one the
		// resource still has (the actor would replay or refuse), nor to a hold created before
		// an activation's idemSince.
		key := fmt.Sprintf("i%d", r.rng.IntN(12))
		_, live := m.idem[key]
		if r.rng.IntN(2) == 0 && !usedIdem[key] && !live && !h.CreatedAt.Before(at(m.idemFloor)) {
			usedIdem[key] = true
			h.IdempotencyKey = key
			b.Idempotency = append(b.Idempotency, booking.IdempotencyEntry{Key: key, Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt})
		}
		b.Holds = append(b.Holds, h)
	}
	if r.seq%2 == 0 { // the new holds said new half the time (a store may insert them)
		b.NewHolds = len(b.Holds)
	}
	var existing []string
	for id := range m.holds {
		existing = append(existing, id)
	}
	sort.Strings(existing)
	all := []booking.Status{booking.StatusHeld, booking.StatusConfirmed, booking.StatusCancelled, booking.StatusExpired}
	for _, id := range r.pick(existing, r.rng.IntN(3)) {
		old := m.holds[id]
		h := *old.Clone()
		h.Status = all[r.rng.IntN(len(all))]
		h.UpdatedAt = at(r.clock)
		b.Holds = append(b.Holds, h)
	}

	err := r.s.Commit(r.ctx(), b)
	r.Logf("op %d: commit %s epoch %d (current %d) oversold=%v: %d buckets %d holds -> %v", op, m.id, b.Epoch, m.epoch, oversold, len(b.Buckets), len(b.Holds), err)
	switch {
	case stale:
		if !errors.Is(err, persistence.ErrFenced) {
			r.Fatalf("op %d: stale commit: err = %v, want ErrFenced", op, err)
		}
	case oversold:
		r.expectInvalidBatch(fmt.Sprintf("op %d: oversold commit", op), err)
	case err != nil:
		r.Fatalf("op %d: commit: %v", op, err)
	default:
		m.apply(b)
	}
}

func (r *randomizer) get(op int) {
	var all []booking.Hold
	for _, m := range r.models {
		for _, h := range m.holds {
			all = append(all, h)
		}
	}
	sortHolds(all)
	if len(all) == 0 || r.rng.IntN(5) == 0 {
		r.seq++
		r.expectNoHold(r.models[0].id, r.id(fmt.Sprintf("h%04d", r.seq+1000000)))
		return
	}
	h := all[r.rng.IntN(len(all))]
	r.expectHold(h)
	if other := r.models[r.rng.IntN(len(r.models))]; other.id != h.ResourceID {
		r.expectNoHold(other.id, h.ID)
	}
	_ = op
}

func (r *randomizer) list(op int) {
	var f persistence.HoldFilter
	switch r.rng.IntN(3) {
	case 0:
		f.ResourceID = r.models[r.rng.IntN(len(r.models))].id
	case 1:
		f.UserID = r.users[r.rng.IntN(len(r.users))]
	default:
		f.ResourceID = r.models[r.rng.IntN(len(r.models))].id
		f.UserID = r.users[r.rng.IntN(len(r.users))]
	}
	statuses := []booking.Status{"", booking.StatusHeld, booking.StatusConfirmed, booking.StatusCancelled, booking.StatusExpired}
	f.Status = statuses[r.rng.IntN(len(statuses))]
	if r.rng.IntN(2) == 0 {
		f.Limit = 1 + r.rng.IntN(10)
	}
	var want []booking.Hold
	for _, m := range r.models {
		for _, h := range m.holds {
			if (f.ResourceID == "" || h.ResourceID == f.ResourceID) && (f.UserID == "" || h.UserID == f.UserID) && (f.Status == "" || h.Status == f.Status) {
				want = append(want, h)
			}
		}
	}
	sortHolds(want)
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	if len(want) > limit {
		want = want[:limit]
	}
	r.Logf("op %d: list %+v -> %d", op, f, len(want))
	r.expectList(f, want)
}

// pick returns n distinct elements of from in random order (fewer if from is shorter).
func (r *randomizer) pick(from []string, n int) []string {
	idx := r.rng.Perm(len(from))
	if n > len(idx) {
		n = len(idx)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = from[idx[i]]
	}
	return out
}
