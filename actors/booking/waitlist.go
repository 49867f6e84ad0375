package booking

import (
	"slices"
	"time"
)

// The waitlist: users who found the units they wanted sold out wait, first come first
// served, and freed units are offered to them as holds.
//
// Rules (the reference model in model_rules_test.go writes them out again):
//   - An entry asks for Quantity units in each of Buckets, like a hold. A user may join only
//     when that request cannot be held right now (some bucket has too few units: sold_out),
//     only once per resource (conflict), and only within MaxPerUser counting the units they
//     already have (limit_exceeded); the waitlist holds at most MaxWaitlist entries.
//   - Offers are made by the decision that frees units (a cancellation, an expiry, a higher
//     capacity, allowance or per-user limit): the waiting entries are scanned in first-come
//     order and every entry that fits what is free at that point becomes a hold (first fit,
//     as pretix does): an entry that cannot be satisfied yet does not block smaller ones
//     behind it, but it keeps its place and is served first as soon as it fits. Each offer is
//     a WaitlistOffered followed by a HoldPlaced of hold OfferHoldID for the entry's user,
//     lasting the resource's WaitlistOfferTTL, and the entry leaves the waitlist.
//   - An offer is a hold like any other: its user confirms, cancels or extends it; when it
//     expires or is cancelled, its units are offered to the next entries that fit. An entry is
//     offered once; units are never offered twice, since an offer claims them.
//   - Invariant, after every decision: no waiting entry fits what is free (else it would
//     have been offered). So joining never jumps ahead of waiting users for units they could
//     take, and a hold placed by someone not waiting takes only units no waiting entry fits.

// WaitlistEntry is one user waiting for units.
type WaitlistEntry struct {
	ID          string
	ResourceID  string
	UserID      string
	OfferHoldID string   // the id the offered hold will have
	Buckets     []string // distinct keys, in request order
	Quantity    int64
	Seq         uint64 // first come, first served: lower Seq waits longer
	CreatedAt   time.Time
}

// Units is what an offer to the entry counts against its user's MaxPerUser.
func (e *WaitlistEntry) Units() int64 { return e.Quantity * int64(len(e.Buckets)) }

func (e *WaitlistEntry) clone() *WaitlistEntry {
	c := *e
	c.Buckets = append([]string(nil), e.Buckets...)
	return &c
}

// Waitlist returns copies of the waiting entries in first-come order.
func (s *State) Waitlist() []WaitlistEntry {
	out := make([]WaitlistEntry, len(s.waiting()))
	for i, e := range s.waiting() {
		out[i] = *e.clone()
	}
	return out
}

// WaitlistLen is the number of waiting entries.
func (s *State) WaitlistLen() int { return len(s.waiting()) }

// WaitlistEntry returns a waiting entry and its position (1 for the first in line).
func (s *State) WaitlistEntry(id string) (e WaitlistEntry, position int, ok bool) {
	for i, x := range s.waiting() {
		if x.ID == id {
			return *x.clone(), i + 1, true
		}
	}
	return WaitlistEntry{}, 0, false
}

// WaitlistOf returns the waiting entry of a user and its position (1 for the first in line).
func (s *State) WaitlistOf(userID string) (e WaitlistEntry, position int, ok bool) {
	for i, x := range s.waiting() {
		if x.UserID == userID {
			return *x.clone(), i + 1, true
		}
	}
	return WaitlistEntry{}, 0, false
}

// UserUnits returns the units a user has held or confirmed on the resource (Hold.Units
// summed): what MaxPerUser limits.
func (s *State) UserUnits(userID string) int64 {
	if s.resource.MaxPerUser() > 0 {
		return s.units[userID]
	}
	var n int64 // not kept without a limit: summed (see State.units)
	for _, h := range s.holds.list {
		if h.UserID == userID && h.Status().Active() {
			n += h.Units()
		}
	}
	return n
}

// JoinDecision is the outcome of DecideJoinWaitlist: the events to apply (none for a replay)
// and the entry to answer with. LookupHold, when set, is a replay's question for the caller
// instead (see waitlist_replay.go): nothing else is set then.
type JoinDecision struct {
	Events     []Event
	Entry      WaitlistEntry
	Replayed   bool
	LookupHold string
}

// DecideJoinWaitlist validates a join (see the rules above). A known idempotency key answers
// with the entry it created and no events (see waitlist_replay.go).
func (s *State) DecideJoinWaitlist(cmd JoinWaitlist, now time.Time) (JoinDecision, error) {
	if !s.exists {
		return JoinDecision{}, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	if err := s.refuseArchived(); err != nil {
		return JoinDecision{}, err
	}
	if cmd.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(cmd.IdempotencyKey); err != nil {
			return JoinDecision{}, err
		}
		if ie, ok := s.Idempotency(cmd.IdempotencyKey); ok {
			// The fingerprint is of the buckets a range names, as for a hold.
			buckets, err := s.holdBuckets(cmd.Buckets, cmd.Range)
			if err != nil {
				return JoinDecision{}, err
			}
			return s.replayJoin(cmd, buckets, ie)
		}
	}
	if !ValidID(cmd.EntryID) || !ValidID(cmd.OfferHoldID) || cmd.EntryID == cmd.OfferHoldID {
		return JoinDecision{}, Errorf(CodeInternal, "waitlist ids %q and %q are not valid", cmd.EntryID, cmd.OfferHoldID)
	}
	if _, dup := s.waitingEntry(cmd.EntryID); dup {
		return JoinDecision{}, Errorf(CodeInternal, "waitlist entry id %q already used", cmd.EntryID)
	}
	if s.holds.get(cmd.OfferHoldID) != nil {
		return JoinDecision{}, Errorf(CodeInternal, "hold id %q already used", cmd.OfferHoldID)
	}
	for _, e := range s.waiting() {
		if e.OfferHoldID == cmd.OfferHoldID {
			return JoinDecision{}, Errorf(CodeInternal, "hold id %q already used", cmd.OfferHoldID)
		}
	}
	if err := ValidateUserID("user_id", cmd.UserID); err != nil {
		return JoinDecision{}, err
	}
	if err := ValidateQuantity(cmd.Quantity); err != nil {
		return JoinDecision{}, err
	}
	buckets, err := s.holdBuckets(cmd.Buckets, cmd.Range)
	if err != nil {
		return JoinDecision{}, err
	}
	if _, _, waiting := s.WaitlistOf(cmd.UserID); waiting {
		return JoinDecision{}, Errorf(CodeConflict, "user %s is already on the waitlist of resource %s", quote(cmd.UserID), quote(s.id))
	}
	if len(s.waiting()) >= MaxWaitlist {
		return JoinDecision{}, Errorf(CodeLimitExceeded, "the waitlist of resource %s is full (%d entries)", quote(s.id), MaxWaitlist)
	}
	e := WaitlistEntry{ID: cmd.EntryID, ResourceID: s.id, UserID: cmd.UserID, OfferHoldID: cmd.OfferHoldID,
		Buckets: buckets, Quantity: cmd.Quantity, Seq: s.waitSeq() + 1, CreatedAt: now}
	if err := s.checkUserLimit(cmd.UserID, e.Units(), 0); err != nil {
		return JoinDecision{}, err
	}
	soldOut := false
	for _, k := range buckets {
		soldOut = soldOut || s.buckets.get(k).Available() < cmd.Quantity
	}
	if !soldOut {
		return JoinDecision{}, Errorf(CodeConflict, "the units are available: place a hold instead of waiting")
	}
	return JoinDecision{Events: []Event{WaitlistJoined{Entry: e, IdempotencyKey: cmd.IdempotencyKey}}, Entry: e}, nil
}

// DecideLeaveWaitlist validates leaving: the entry must be waiting and be the user's.
func (s *State) DecideLeaveWaitlist(cmd LeaveWaitlist, now time.Time) ([]Event, error) {
	if !s.exists {
		return nil, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	e, ok := s.waitingEntry(cmd.EntryID)
	if !ok || e.UserID != cmd.UserID {
		return nil, Errorf(CodeNotFound, "waitlist entry %s not found", quote(cmd.EntryID))
	}
	return []Event{WaitlistLeft{EntryID: e.ID, At: now}}, nil
}

// checkUserLimit refuses, with CodeLimitExceeded, units more for user when they would take
// the user past MaxPerUser; delta corrects the user's current units for what the same
// decision already changed.
func (s *State) checkUserLimit(user string, units, delta int64) error {
	limit := s.resource.MaxPerUser()
	if limit == 0 {
		return nil
	}
	if have := s.units[user] + delta; have+units > limit {
		return Errorf(CodeLimitExceeded, "user %s may have at most %d units of resource %s; has %d, asks %d",
			quote(user), limit, quote(s.id), have, units)
	}
	return nil
}

// freed is what a decision has changed so far, on top of the state, when it goes on to offer
// units to the waitlist: more (or, after offers, fewer) units available per bucket, and fewer
// (more) units per user.
type freed struct {
	avail map[string]int64
	units map[string]int64
}

// release records that hold h, whose buckets are buckets, gives its units back.
func (f *freed) release(h *hold, buckets []string) {
	if f.avail == nil {
		f.avail, f.units = map[string]int64{}, map[string]int64{}
	}
	for _, k := range buckets {
		f.avail[k] += h.Quantity
	}
	f.units[h.UserID] -= h.Units()
}

// appendOffers appends the offers due on top of the state plus f (see the rules above) to
// evs. It costs nothing when the waitlist is empty.
func (s *State) appendOffers(evs []Event, now time.Time, f freed) []Event {
	if len(s.waiting()) == 0 {
		return evs
	}
	if f.avail == nil {
		f.avail, f.units = map[string]int64{}, map[string]int64{}
	}
	ttl := s.resource.WaitlistOfferTTL()
	if ttl <= 0 {
		ttl = DefaultWaitlistOfferTTL
	}
	for _, e := range s.waiting() {
		if !s.fits(e, f) {
			continue
		}
		if s.holds.get(e.OfferHoldID) != nil {
			continue // cannot happen: DecideJoinWaitlist refused the id
		}
		h := &PlacedHold{ID: e.OfferHoldID, UserID: e.UserID, Buckets: s.keysOf(e.Buckets),
			Quantity: e.Quantity, CreatedAt: now, TTL: ttl, WaitlistEntryID: e.ID}
		evs = append(evs,
			WaitlistOffered{EntryID: e.ID, UserID: e.UserID, HoldID: h.ID, ExpiresAt: h.ExpiresAt(), At: now},
			HoldPlaced{Hold: h})
		for _, k := range e.Buckets {
			f.avail[k] -= e.Quantity
		}
		f.units[e.UserID] += e.Units()
	}
	return evs
}

// fits reports whether e could be held on top of the state plus f.
func (s *State) fits(e *WaitlistEntry, f freed) bool {
	for _, k := range e.Buckets {
		b := s.buckets.get(k)
		ok := b != nil
		if !ok || b.Available()+f.avail[k] < e.Quantity {
			return false
		}
	}
	return s.checkUserLimit(e.UserID, e.Units(), f.units[e.UserID]) == nil
}

// waitState is a resource's waitlist: the waiting entries in first-come order (Seq
// ascending), byID indexing them, and seq, the highest Seq handed out. A State makes it at the
// first join and keeps it (seq must survive the list emptying): most resources never have a
// waitlist, and three fields inline were 32 bytes of every State.
type waitState struct {
	list []*WaitlistEntry
	byID map[string]*WaitlistEntry
	seq  uint64
}

// waiting returns the waiting entries in first-come order.
func (s *State) waiting() []*WaitlistEntry {
	if s.wait == nil {
		return nil
	}
	return s.wait.list
}

// waitingEntry returns the waiting entry with the id.
func (s *State) waitingEntry(id string) (*WaitlistEntry, bool) {
	if s.wait == nil {
		return nil, false
	}
	e, ok := s.wait.byID[id]
	return e, ok
}

// waitSeq is the highest Seq handed out.
func (s *State) waitSeq() uint64 {
	if s.wait == nil {
		return 0
	}
	return s.wait.seq
}

func (s *State) addWaiting(e WaitlistEntry) {
	x := e.clone()
	if s.wait == nil {
		s.wait = new(waitState)
	}
	w := s.wait
	w.list = append(w.list, x)
	if w.byID == nil {
		w.byID = make(map[string]*WaitlistEntry)
	}
	w.byID[x.ID] = x
	w.seq = max(w.seq, x.Seq)
}

func (s *State) removeWaiting(id string) {
	if _, ok := s.waitingEntry(id); !ok {
		panic("booking: unknown waitlist entry " + id)
	}
	w := s.wait
	delete(w.byID, id)
	for i, x := range w.list {
		if x.ID == id {
			w.list = slices.Delete(w.list, i, i+1)
			break
		}
	}
}
