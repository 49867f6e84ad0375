package booking

import (
	"container/heap"
	"sort"
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
	resource Resource
	buckets  map[string]*Bucket
	holds    map[string]*Hold
	// idemLog holds the idempotency entries in CreatedAt order (the order pruning forgets
	// them); idem maps a key to its entry's sequence number: idemLog[seq-idemBase]. An entry
	// whose key maps to a later one was superseded. One slice of values and a map of small
	// values, instead of a map of entries and a slice of keys: a third of the memory.
	idem     map[string]uint64
	idemLog  []IdempotencyEntry
	idemBase uint64
	expiry   expiryHeap

	// units is, per user, the Units of their held and confirmed holds (MaxPerUser); users
	// with none have no entry.
	units map[string]int64
	// waitlist holds the waiting entries in first-come order (Seq ascending); waitByID
	// indexes them. waitSeq is the highest Seq handed out.
	waitlist []*WaitlistEntry
	waitByID map[string]*WaitlistEntry
	waitSeq  uint64
}

// NewState returns the state of a resource that does not exist yet.
func NewState(resourceID string) *State {
	return &State{
		id:       resourceID,
		buckets:  make(map[string]*Bucket),
		holds:    make(map[string]*Hold),
		idem:     make(map[string]uint64),
		units:    make(map[string]int64),
		waitByID: make(map[string]*WaitlistEntry),
	}
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
	s.resource = copyResource(res) // the state owns its copy, as Clone and Resource assume
	for _, b := range buckets {
		s.buckets[b.Key] = &Bucket{Key: b.Key, Capacity: b.Capacity, Allowance: res.Allowance.For(b.Capacity)}
	}
	for i := range holds {
		h := holds[i].Clone()
		s.holds[h.ID] = h
		if h.Status.Active() {
			s.claim(h, h.Status, +1)
		}
		if h.Status == StatusHeld {
			heap.Push(&s.expiry, expiryItem{at: h.ExpiresAt, id: h.ID})
		}
	}
	sorted := append([]IdempotencyEntry(nil), idem...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.Before(sorted[j].CreatedAt) })
	for _, e := range sorted {
		s.addIdem(e)
	}
	for _, e := range sv.Waitlist {
		s.addWaiting(e)
	}
	sort.SliceStable(s.waitlist, func(i, j int) bool { return s.waitlist[i].Seq < s.waitlist[j].Seq })
	return s
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := &State{
		id:       s.id,
		exists:   s.exists,
		resource: s.resource,
		buckets:  make(map[string]*Bucket, len(s.buckets)),
		holds:    make(map[string]*Hold, len(s.holds)),
		idem:     make(map[string]uint64, len(s.idem)),
		idemLog:  append([]IdempotencyEntry(nil), s.idemLog...),
		idemBase: s.idemBase,
		expiry:   append(expiryHeap(nil), s.expiry...),
		units:    make(map[string]int64, len(s.units)),
		waitlist: make([]*WaitlistEntry, 0, len(s.waitlist)),
		waitByID: make(map[string]*WaitlistEntry, len(s.waitByID)),
		waitSeq:  s.waitSeq,
	}
	for u, n := range s.units {
		c.units[u] = n
	}
	for _, e := range s.waitlist {
		x := e.clone()
		c.waitlist = append(c.waitlist, x)
		c.waitByID[x.ID] = x
	}
	c.resource = copyResource(s.resource)
	for k, b := range s.buckets {
		bb := *b
		c.buckets[k] = &bb
	}
	for k, h := range s.holds {
		c.holds[k] = h.Clone()
	}
	for k, seq := range s.idem {
		c.idem[k] = seq
	}
	return c
}

// ID is the resource id this state belongs to.
func (s *State) ID() string { return s.id }

// Exists reports whether the resource has been created.
func (s *State) Exists() bool { return s.exists }

// Resource returns the resource's metadata; ok is false before creation.
func (s *State) Resource() (r Resource, ok bool) {
	return copyResource(s.resource), s.exists
}

// Buckets returns copies of all buckets, sorted by key.
func (s *State) Buckets() []Bucket {
	out := make([]Bucket, 0, len(s.buckets))
	for _, b := range s.buckets {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Bucket returns a copy of one bucket.
func (s *State) Bucket(key string) (Bucket, bool) {
	b, ok := s.buckets[key]
	if !ok {
		return Bucket{}, false
	}
	return *b, true
}

// Hold returns a copy of a hold known to this state. Terminal holds created before the
// state was restored are not known: callers look those up in the store.
func (s *State) Hold(id string) (Hold, bool) {
	h, ok := s.holds[id]
	if !ok {
		return Hold{}, false
	}
	return *h.Clone(), true
}

// HoldCount returns the number of holds in memory.
func (s *State) HoldCount() int { return len(s.holds) }

// Idempotency returns the entry recorded for key.
func (s *State) Idempotency(key string) (IdempotencyEntry, bool) {
	seq, ok := s.idem[key]
	if !ok {
		return IdempotencyEntry{}, false
	}
	return s.idemLog[seq-s.idemBase], true
}

// addIdem records e as the entry of its key, after every entry recorded before.
func (s *State) addIdem(e IdempotencyEntry) {
	s.idem[e.Key] = s.idemBase + uint64(len(s.idemLog))
	s.idemLog = append(s.idemLog, e)
}

// NextExpiry returns the earliest deadline of a held hold, if any.
func (s *State) NextExpiry() (time.Time, bool) {
	for len(s.expiry) > 0 {
		top := s.expiry[0]
		if h, ok := s.holds[top.id]; ok && h.Status == StatusHeld && h.ExpiresAt.Equal(top.at) {
			return top.at, true
		}
		heap.Pop(&s.expiry) // stale entry: the hold moved on; dropping it changes no observable state
	}
	return time.Time{}, false
}

// PruneIdempotency forgets keys created before cutoff. It changes only what replays can find,
// never bookings, so it produces no event; stores keep keys at least as long.
func (s *State) PruneIdempotency(cutoff time.Time) {
	n := 0
	for n < len(s.idemLog) {
		key := s.idemLog[n].Key
		if e, ok := s.Idempotency(key); ok && !e.CreatedAt.Before(cutoff) {
			break // the key's current entry (a later one, if this was superseded) stays
		}
		delete(s.idem, key)
		n++
	}
	clear(s.idemLog[:n]) // the backing array keeps no strings of forgotten entries
	s.idemLog, s.idemBase = s.idemLog[n:], s.idemBase+uint64(n)
	if len(s.idemLog) == 0 {
		s.idemLog = nil
	}
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
	for len(s.expiry) > 0 && !s.expiry[0].at.After(now) {
		it := heap.Pop(&s.expiry).(expiryItem)
		if h, ok := s.holds[it.id]; ok && h.Status == StatusHeld && h.ExpiresAt.Equal(it.at) {
			evs = append(evs, HoldExpired{HoldID: it.id, At: now})
			due = append(due, it)
			if len(s.waitlist) > 0 {
				f.release(h)
			}
		}
	}
	for _, it := range due { // keep the index complete until the events are applied
		heap.Push(&s.expiry, it)
	}
	return s.appendOffers(evs, now, f)
}

// Apply moves the state on by one event. It panics on an event that this state could not
// have decided: that is a bug in the caller, and going on would break the invariant.
func (s *State) Apply(e Event) {
	switch e := e.(type) {
	case ResourceCreated:
		s.exists = true
		s.resource = copyResource(e.Resource) // do not share the event's Money or Tags with the state
		for _, b := range e.Buckets {
			s.buckets[b.Key] = &Bucket{Key: b.Key, Capacity: b.Capacity, Allowance: b.Allowance}
		}
	case ResourceUpdated:
		r := &s.resource
		r.Name, r.HoldTTL, r.UpdatedAt = e.Name, e.HoldTTL, e.At
		r.MaxExtensions, r.Allowance, r.MaxPerUser, r.WaitlistOfferTTL = e.MaxExtensions, e.Allowance, e.MaxPerUser, e.WaitlistOfferTTL
		r.Tags, r.Location, r.Refunds = normalTags(e.Tags), e.Location, copyRefunds(e.Refunds)
		for k, c := range e.Capacities {
			if b, ok := s.buckets[k]; ok {
				b.Capacity = c
			} else {
				s.buckets[k] = &Bucket{Key: k, Capacity: c}
			}
		}
		for k, a := range e.Allowances {
			if b, ok := s.buckets[k]; ok {
				b.Allowance = a
			} else {
				s.buckets[k] = &Bucket{Key: k, Allowance: a}
			}
		}
	case HoldPlaced:
		h := e.Hold.Clone()
		s.intern(h)
		s.holds[h.ID] = h
		s.claim(h, StatusHeld, +1)
		heap.Push(&s.expiry, expiryItem{at: h.ExpiresAt, id: h.ID})
		if h.IdempotencyKey != "" {
			s.addIdem(IdempotencyEntry{
				Key:         h.IdempotencyKey,
				Fingerprint: Fingerprint(h.Buckets, h.Quantity, h.UserID),
				HoldID:      h.ID,
				CreatedAt:   h.CreatedAt,
			})
		}
	case HoldConfirmed:
		s.transition(e.HoldID, StatusConfirmed, e.At)
	case HoldCancelled:
		s.transition(e.HoldID, StatusCancelled, e.At)
	case HoldExpired:
		s.transition(e.HoldID, StatusExpired, e.At)
	case HoldExtended:
		h, ok := s.holds[e.HoldID]
		if !ok || h.Status != StatusHeld {
			panic("booking: extension of a hold that is not held: " + e.HoldID)
		}
		if !h.ExpiresAt.Equal(e.ExpiresAt) { // the old item goes stale; an unchanged one stays valid
			heap.Push(&s.expiry, expiryItem{at: e.ExpiresAt, id: h.ID})
		}
		h.ExpiresAt, h.Extensions, h.UpdatedAt = e.ExpiresAt, e.Extensions, e.At
	case WaitlistJoined:
		s.addWaiting(e.Entry)
	case WaitlistLeft:
		s.removeWaiting(e.EntryID)
	case WaitlistOffered:
		s.removeWaiting(e.EntryID)
	case ResourceArchived:
		s.resource.ArchivedAt, s.resource.UpdatedAt = e.At, e.At
	default:
		if !s.applyPayment(e) { // payment.go
			panic("booking: unknown event")
		}
	}
}

// intern makes h share the state's copies of its resource id and bucket keys (equal strings),
// so that a hold in memory does not keep the strings of the request that placed it.
func (s *State) intern(h *Hold) {
	if h.ResourceID == s.id {
		h.ResourceID = s.id
	}
	for i, k := range h.Buckets {
		if b := s.buckets[k]; b != nil {
			h.Buckets[i] = b.Key
		}
	}
}

func (s *State) transition(id string, to Status, at time.Time) {
	h, ok := s.holds[id]
	if !ok {
		panic("booking: transition of unknown hold " + id)
	}
	s.claim(h, h.Status, -1)
	h.Status = to
	h.UpdatedAt = at
	if to.Active() {
		s.claim(h, to, +1)
	}
}

// claim adds (sign=+1) or removes (sign=-1) h's quantity from the counter of status st in
// each of h's buckets, and its units from its user's.
func (s *State) claim(h *Hold, st Status, sign int64) {
	if n := s.units[h.UserID] + sign*h.Units(); n != 0 {
		s.units[h.UserID] = n
	} else {
		delete(s.units, h.UserID)
	}
	for _, k := range h.Buckets {
		b := s.buckets[k]
		if b == nil {
			panic("booking: hold " + h.ID + " claims unknown bucket " + k)
		}
		switch st {
		case StatusHeld:
			b.Held += sign * h.Quantity
		case StatusConfirmed:
			b.Confirmed += sign * h.Quantity
		}
	}
}

type expiryItem struct {
	at time.Time
	id string
}

// expiryHeap orders held holds by deadline (then id, for determinism). Entries go stale when a
// hold leaves status held; they are skipped lazily rather than removed.
type expiryHeap []expiryItem

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].id < h[j].id
}
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)   { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
