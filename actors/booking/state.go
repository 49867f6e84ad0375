package booking

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"
)

// State is one resource's booking state. It is not safe for concurrent use: the resource
// actor owns it and serializes all calls.
//
// Decide* methods never mutate; Apply is the only mutator and never fails for events that a
// Decide* method of the same State returned.
type State struct {
	id       string
	exists   bool
	resource resourceMem
	buckets  bucketList
	holds    holdList
	// idemLog holds the idempotency entries in CreatedAt order (the order pruning forgets
	// them); idem maps a key to its entry's sequence number: idemLog[seq-idem.base]. An entry
	// whose key maps to a later one was superseded. One slice of values and a map of small
	// values, instead of a map of entries and a slice of keys: a third of the memory. idem is
	// nil while the log has at most smallIdem entries: a key is then found by scanning the
	// log from its end (the latest entry of a key is its current one), which is as fast and
	// saves the map of every resource with a few keys. See idempotency.go.
	idem    *idemIndex
	idemLog []idemEntry
	// expiry is the deadline index, nil while the state has at most smallIndex holds and
	// never had more: the earliest deadline of a few holds is found by scanning them (see
	// NextExpiry), which saves every small state the heap's array (48 bytes for 3 holds)
	// and every clone its copy. Once non-nil it stays so in the state and its clones.
	expiry expiryHeap

	// units is, per user, the Units of their held and confirmed holds (MaxPerUser); users
	// with none have no entry. It is kept only while the resource has a MaxPerUser, the one
	// rule that reads it on every decision; otherwise it is nil and UserUnits sums the holds.
	units map[string]int64
	// wait is the waitlist, nil until the first entry joins (see waitState).
	wait *waitState
}

// NewState returns the state of a resource that does not exist yet. Its maps are allocated
// when first written (a nil map reads as empty): most resources never use some of them
// (idempotency index, per-user units, waitlist), and a resource that does not exist uses none.
func NewState(resourceID string) *State {
	return &State{id: resourceID, resource: resourceMem{rules: &noRules}}
}

// Saved is what a store keeps of a resource's booking state: what RestoreSaved rebuilds a
// State from.
type Saved struct {
	Resource    Resource
	Buckets     []Bucket
	Holds       []Hold // the held and confirmed ones; others are ignored
	Idempotency []IdempotencyEntry
	Waitlist    []WaitlistEntry // waiting entries, in any order
}

// Restore rebuilds a state from what a store loaded. Bucket counters are recomputed from the
// active holds (the holds are the source of truth); stored counters are ignored. It is
// RestoreSaved without a waitlist.
func Restore(res Resource, buckets []Bucket, holds []Hold, idem []IdempotencyEntry) *State {
	return RestoreSaved(Saved{Resource: res, Buckets: buckets, Holds: holds, Idempotency: idem})
}

// RestoreSaved rebuilds a state from what a store loaded. Bucket counters and allowances are
// recomputed from the active holds and the resource's Allowance (the holds and the resource
// are the source of truth); stored counters are ignored. Waitlist entries keep their order by
// Seq.
func RestoreSaved(sv Saved) *State {
	res, buckets, holds, idem := sv.Resource, sv.Buckets, sv.Holds, sv.Idempotency
	s := NewState(res.ID)
	s.exists = true
	s.resource.set(copyResource(res), s.id) // the state owns its copy, as Clone and Resource assume
	s.buckets.grow(len(buckets))
	for _, b := range buckets {
		if x := s.buckets.get(b.Key); x != nil { // a store's row twice: the later one, as a map would keep
			*x = Bucket{Key: b.Key, Capacity: b.Capacity, Allowance: res.Allowance.For(b.Capacity)}
			continue
		}
		s.buckets.add(Bucket{Key: b.Key, Capacity: b.Capacity, Allowance: res.Allowance.For(b.Capacity)})
	}
	s.holds.reserve(len(holds))
	for i := range holds {
		h := s.holds.newHold()
		h.setHold(&holds[i], s.id)
		s.setBuckets(h, holds[i].Buckets)
		s.putHold(h)
		if st := h.Status(); st.Active() {
			s.claim(h, st, +1)
		}
		if h.status == statusHeld {
			s.pushExpiry(len(s.holds.list) - 1)
		}
	}
	sorted := append([]IdempotencyEntry(nil), idem...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.Before(sorted[j].CreatedAt) })
	if len(sorted) > smallIdem { // the index at its size at once, not grown key by key
		s.idem = &idemIndex{seq: newHashIndex(len(sorted))}
	}
	for _, e := range sorted {
		s.addIdem(e)
	}
	for _, e := range sv.Waitlist {
		s.addWaiting(e)
	}
	if s.wait != nil {
		l := s.wait.list
		sort.SliceStable(l, func(i, j int) bool { return l[i].Seq < l[j].Seq })
	}
	return s
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	// Maps and slices stay nil when empty, as in a state that never used them.
	c := &State{
		id:     s.id,
		exists: s.exists,
	}
	// The log and the heap get room for one entry more than they have: a clone is taken for
	// a decision (the activation's speculative state), which most often places one hold with
	// a key, and without it that append would reallocate the clone's arrays at once (from 2
	// entries to 4: 64 bytes each where 3 take 48, for every resource of 3 holds).
	if n := len(s.idemLog); n > 0 {
		c.idemLog = append(make([]idemEntry, 0, n+1), s.idemLog...) // a hold's position is the same in c
	}
	if s.expiry != nil { // indexed stays indexed, even when empty (see State.expiry)
		c.expiry = append(make(expiryHeap, 0, len(s.expiry)+1), s.expiry...)
	}
	if len(s.units) > 0 {
		c.units = make(map[string]int64, len(s.units))
		for u, n := range s.units {
			c.units[u] = n
		}
	}
	if s.wait != nil {
		c.wait = &waitState{seq: s.wait.seq}
		if len(s.wait.list) > 0 {
			c.wait.list = make([]*WaitlistEntry, 0, len(s.wait.list))
			c.wait.byID = make(map[string]*WaitlistEntry, len(s.wait.list))
			for _, e := range s.wait.list {
				x := e.clone()
				c.wait.list = append(c.wait.list, x)
				c.wait.byID[x.ID] = x
			}
		}
	}
	c.resource = s.resource.clone()
	c.buckets = s.buckets.clone()
	c.holds = s.holds.clone()
	if s.idem != nil {
		c.idem = &idemIndex{seq: s.idem.seq.clone(), base: s.idem.base}
	}
	return c
}

// ID is the resource id this state belongs to.
func (s *State) ID() string { return s.id }

// Exists reports whether the resource has been created.
func (s *State) Exists() bool { return s.exists }

// Resource returns the resource's metadata; ok is false before creation.
func (s *State) Resource() (r Resource, ok bool) {
	return copyResource(s.resource.view(s.id, s.exists)), s.exists
}

// Buckets returns copies of all buckets, sorted by key.
func (s *State) Buckets() []Bucket {
	out := append([]Bucket(nil), s.buckets.list...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Bucket returns a copy of one bucket.
func (s *State) Bucket(key string) (Bucket, bool) {
	b := s.buckets.get(key)
	if b == nil {
		return Bucket{}, false
	}
	return *b, true
}

// Hold returns a copy of a hold known to this state. Terminal holds created before the
// state was restored are not known: callers look those up in the store.
func (s *State) Hold(id string) (Hold, bool) {
	h := s.holds.get(id)
	if h == nil {
		return Hold{}, false
	}
	return h.view(s.id, s.bucketsOf(h)), true
}

// HoldCount returns the number of holds in memory.
func (s *State) HoldCount() int { return len(s.holds.list) }

// putHold makes h, whose id is new, known to the state; past smallIndex holds, the deadline
// index is built from the holds before h (see State.expiry): whoever puts a held hold indexes
// its deadline (pushExpiry), as with an index.
func (s *State) putHold(h *hold) {
	if s.expiry == nil && len(s.holds.list) >= smallIndex {
		s.indexExpiry()
	}
	s.holds.add(h)
}

// indexExpiry builds the deadline index from the held holds.
func (s *State) indexExpiry() {
	s.expiry = make(expiryHeap, 0, 2*len(s.holds.list)+1)
	for i, h := range s.holds.list {
		if h.status == statusHeld {
			s.expiry.push(expiryItem{at: h.expires, hold: i}, s.holds.list)
		}
	}
}

// firstDue returns the position of the held hold that the deadline index would give first
// (the earliest deadline, then the least id), -1 if none is held; for a state without the
// index (a few holds, see State.expiry).
func (s *State) firstDue() int {
	first := -1
	for i, h := range s.holds.list {
		if h.status != statusHeld {
			continue
		}
		if first < 0 || h.expires < s.holds.list[first].expires ||
			h.expires == s.holds.list[first].expires && h.ID < s.holds.list[first].ID {
			first = i
		}
	}
	return first
}

// NextExpiry returns the earliest deadline of a held hold, if any.
func (s *State) NextExpiry() (time.Time, bool) {
	if s.expiry == nil {
		if i := s.firstDue(); i >= 0 {
			return s.holds.list[i].ExpiresAt(), true
		}
		return time.Time{}, false
	}
	for len(s.expiry) > 0 {
		if h := s.holds.list[s.expiry[0].hold]; s.expiry[0].current(h) {
			return h.ExpiresAt(), true
		}
		s.expiry.pop(s.holds.list) // stale entry: the hold moved on; dropping it changes no observable state
	}
	return time.Time{}, false
}

// ExpireDue returns a HoldExpired event for every held hold whose deadline is at or before
// now, in deadline order, followed by the waitlist offers the freed units make (WaitlistOffered
// and HoldPlaced pairs; see waitlist.go). It changes nothing observable: it only drops stale
// entries from the internal deadline index.
func (s *State) ExpireDue(now time.Time) []Event {
	if at, ok := s.NextExpiry(); !ok || at.After(now) {
		return nil // the common case: O(1)
	}
	var evs []Event
	var due []expiryItem
	var f freed
	if s.expiry == nil { // a few holds: those due, in the index's order (see firstDue)
		var buf [smallIndex]int
		held := buf[:0]
		for i, h := range s.holds.list {
			if h.status == statusHeld && !h.expires.time().After(now) {
				held = append(held, i)
			}
		}
		slices.SortFunc(held, func(i, j int) int {
			x, y := s.holds.list[i], s.holds.list[j]
			if c := cmp.Compare(x.expires, y.expires); c != 0 {
				return c
			}
			return strings.Compare(x.ID, y.ID)
		})
		for _, i := range held {
			h := s.holds.list[i]
			evs = append(evs, HoldExpired{HoldID: h.ID, At: now})
			if len(s.waiting()) > 0 {
				f.release(h, s.bucketsOf(h))
			}
		}
		return s.appendOffers(evs, now, f)
	}
	for len(s.expiry) > 0 && !s.expiry[0].at.time().After(now) {
		it := s.expiry.pop(s.holds.list)
		if h := s.holds.list[it.hold]; it.current(h) {
			evs = append(evs, HoldExpired{HoldID: h.ID, At: now})
			due = append(due, it)
			if len(s.waiting()) > 0 {
				f.release(h, s.bucketsOf(h))
			}
		}
	}
	for _, it := range due { // keep the index complete until the events are applied
		s.expiry.push(it, s.holds.list)
	}
	return s.appendOffers(evs, now, f)
}

// Apply moves the state on by one event. It panics on an event that this state could not
// have decided: that is a bug in the caller, and going on would break the invariant.
func (s *State) Apply(e Event) {
	switch e := e.(type) {
	case ResourceCreated:
		s.exists = true
		s.resource.set(copyResource(e.Resource), s.id) // do not share the event's Money or Tags with the state
		s.buckets.grow(len(e.Buckets))
		for _, b := range e.Buckets {
			nb := Bucket{Key: b.Key, Capacity: b.Capacity, Allowance: b.Allowance}
			if x := s.buckets.get(b.Key); x != nil {
				*x = nb
			} else {
				s.buckets.add(nb)
			}
		}
	case ResourceUpdated:
		r := &s.resource
		r.Name, r.HoldTTL = e.Name, e.HoldTTL
		r.setTime(resUpdatedAt, e.At)
		r.setRuleFields(e.MaxExtensions, e.Allowance, e.MaxPerUser, e.WaitlistOfferTTL)
		r.setRare(r.price(), copyRefunds(e.Refunds), normalTags(e.Tags), e.Location)
		s.countUnits()
		for k, c := range e.Capacities {
			if b := s.buckets.get(k); b != nil {
				b.Capacity = c
			} else {
				s.buckets.add(Bucket{Key: k, Capacity: c})
			}
		}
		for k, a := range e.Allowances {
			if b := s.buckets.get(k); b != nil {
				b.Allowance = a
			} else {
				s.buckets.add(Bucket{Key: k, Allowance: a})
			}
		}
	case HoldPlaced:
		h := s.holds.newHold()
		h.setPlaced(e.Hold) // the state's own copy: the event's hold is shared (see HoldPlaced)
		s.setBuckets(h, e.Hold.Buckets)
		s.putHold(h)
		s.claim(h, StatusHeld, +1)
		s.pushExpiry(len(s.holds.list) - 1)
		if h.IdempotencyKey != "" {
			s.addIdemHold(len(s.holds.list) - 1) // the entry is the hold's: see idemEntry
		}
	case HoldConfirmed:
		s.transition(e.HoldID, StatusConfirmed, e.At)
	case HoldCancelled:
		s.transition(e.HoldID, StatusCancelled, e.At)
	case HoldExpired:
		s.transition(e.HoldID, StatusExpired, e.At)
	case HoldExtended:
		i := s.holds.index(e.HoldID)
		if i < 0 || s.holds.list[i].status != statusHeld {
			panic("booking: extension of a hold that is not held: " + e.HoldID)
		}
		h := s.holds.list[i]
		moved := !h.ExpiresAt().Equal(e.ExpiresAt)
		h.setTime(expiresAt, e.ExpiresAt)
		h.setExtensions(e.Extensions)
		h.setTime(updatedAt, e.At)
		if moved { // the old item goes stale; an unchanged one stays valid
			s.pushExpiry(i)
		}
		if e.IdempotencyKey != "" {
			s.addIdem(extendIdempotency(&e, h.UserID))
		}
	case WaitlistJoined:
		s.addWaiting(e.Entry)
		if e.IdempotencyKey != "" {
			s.addIdem(joinIdempotency(e.IdempotencyKey, &e.Entry))
		}
	case WaitlistLeft:
		s.removeWaiting(e.EntryID)
	case WaitlistOffered:
		s.removeWaiting(e.EntryID)
	case ResourceArchived:
		s.resource.setTime(resArchivedAt, e.At)
		s.resource.setTime(resUpdatedAt, e.At)
	default:
		if !s.applyPayment(e) { // payment.go
			panic("booking: unknown event")
		}
	}
}

// setBuckets gives h the bucket list keys. A list of consecutive keys of the state, as
// DecidePlaceHold makes them (one bucket, or a range of a calendar's days), is kept as that
// run of the state's keys (hold.bkAt, hold.bkN): nothing allocated, no string of the caller's
// kept. Any other list (keys out of their creation order, or unknown to the state) is
// appended to the hold list's lists (holdMore.lists), with the state's own copies of the keys
// it knows (equal strings), and kept as a run of them (hold.bkAt < 0): a hold in memory keeps
// no string of the request or row that made it. keys is not kept.
func (s *State) setBuckets(h *hold, keys []string) {
	h.bkN = int32(len(keys))
	at, first := -1, 0
	for i, k := range keys {
		prev := at
		if at = s.buckets.next(k, at); at < 0 || i > 0 && at != prev+1 {
			pos := s.holds.addList(keys)
			own := s.holds.listAt(pos, len(keys))
			for j, k := range own {
				if b := s.buckets.get(k); b != nil {
					own[j] = b.Key // the array is the state's and not yet shared: written once, here
				}
			}
			h.bkAt = int32(-1 - pos)
			return
		}
		if i == 0 {
			first = at
		}
	}
	h.bkAt = int32(first)
}

// bucketsOf returns h's bucket list, which the caller must not write: a slice of the state's
// keys or of its hold list's lists that no append can write through.
func (s *State) bucketsOf(h *hold) []string {
	if h.bkAt < 0 {
		return s.holds.listAt(int(-1-h.bkAt), int(h.bkN))
	}
	return s.buckets.keysAt(int(h.bkAt), int(h.bkN))
}

func (s *State) transition(id string, to Status, at time.Time) {
	h := s.holds.get(id)
	if h == nil {
		panic("booking: transition of unknown hold " + id)
	}
	s.claim(h, h.Status(), -1)
	h.setStatus(to)
	h.setTime(updatedAt, at)
	if to.Active() {
		s.claim(h, to, +1)
	}
}

// claim adds (sign=+1) or removes (sign=-1) h's quantity from the counter of status st in
// each of h's buckets, and its units from its user's.
// countUnits makes units what it should be under the resource's MaxPerUser (see State.units):
// counted afresh from the holds when there is a limit, nil when there is none.
func (s *State) countUnits() {
	s.units = nil
	if s.resource.MaxPerUser() <= 0 {
		return
	}
	for _, h := range s.holds.list {
		if h.Status().Active() {
			if s.units == nil {
				s.units = make(map[string]int64)
			}
			s.units[h.UserID] += h.Units()
		}
	}
	for u, n := range s.units {
		if n == 0 { // as claim keeps it: users with none have no entry
			delete(s.units, u)
		}
	}
}

func (s *State) claim(h *hold, st Status, sign int64) {
	if s.resource.MaxPerUser() <= 0 {
		// no per-user units to keep (see State.units)
	} else if n := s.units[h.UserID] + sign*h.Units(); n != 0 {
		if s.units == nil {
			s.units = make(map[string]int64)
		}
		s.units[h.UserID] = n
	} else {
		delete(s.units, h.UserID)
	}
	at := -1
	for _, k := range s.bucketsOf(h) {
		if at = s.buckets.next(k, at); at < 0 {
			panic("booking: hold " + h.ID + " claims unknown bucket " + k)
		}
		b := &s.buckets.list[at]
		switch st {
		case StatusHeld:
			b.Held += sign * h.Quantity
		case StatusConfirmed:
			b.Confirmed += sign * h.Quantity
		}
	}
}

// expiryItem is a held hold in the deadline index: its position in the state's hold list, and
// its deadline when it was indexed. An item whose hold is no longer held at that deadline is
// stale (current).
type expiryItem struct {
	at   instant
	hold int
}

// current reports whether the item, of hold h, is still h's deadline.
func (it expiryItem) current(h *hold) bool { return h.status == statusHeld && h.expires == it.at }

// pushExpiry indexes the deadline of the hold at position i of the hold list.
func (s *State) pushExpiry(i int) {
	if s.expiry == nil {
		return // a few holds: scanned (see State.expiry)
	}
	s.expiry.push(expiryItem{at: s.holds.list[i].expires, hold: i}, s.holds.list)
}

// expiryHeap orders held holds by deadline (then id, for determinism). Entries go stale when a
// hold leaves status held; they are skipped lazily rather than removed. It is a binary min-heap
// laid out as container/heap's (the same moves, so the same order), without boxing every item
// into an interface on the way in and out. Its methods take the state's hold list, which the
// items point into.
type expiryHeap []expiryItem

func (h expiryHeap) less(i, j int, holds []*hold) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return holds[h[i].hold].ID < holds[h[j].hold].ID
}

func (h *expiryHeap) push(it expiryItem, holds []*hold) {
	*h = append(*h, it)
	h.up(len(*h)-1, holds)
}

// pop removes and returns the first item; h must not be empty.
func (h *expiryHeap) pop(holds []*hold) expiryItem {
	n := len(*h) - 1
	(*h)[0], (*h)[n] = (*h)[n], (*h)[0]
	h.down(0, n, holds)
	old := *h
	it := old[n]
	*h = old[:n]
	return it
}

func (h expiryHeap) up(j int, holds []*hold) {
	for {
		i := (j - 1) / 2 // parent
		if i == j || !h.less(j, i, holds) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

func (h expiryHeap) down(i0, n int, holds []*hold) {
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 { // j1 < 0 after int overflow
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && h.less(j2, j1, holds) {
			j = j2 // = 2*i + 2  // right child
		}
		if !h.less(j, i, holds) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
