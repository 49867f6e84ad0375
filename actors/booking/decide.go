package booking

import (
	"slices"
	"sort"
	"strconv"
	"time"
)

// Decision is the outcome of DecidePlaceHold: the events to apply (none for a replay) and the
// id of the hold the caller should answer with.
type Decision struct {
	Events   []Event
	HoldID   string
	Replayed bool
}

// DecideCreate validates a creation. The resource must not exist yet. Rule fields left zero
// get their defaults (DefaultMaxExtensions, DefaultWaitlistOfferTTL); a Calendar is expanded
// in the Timezone (at most MaxBuckets buckets).
func (s *State) DecideCreate(cmd CreateResource, now time.Time) ([]Event, error) {
	if s.exists {
		return nil, Errorf(CodeAlreadyExists, "resource %q already exists", s.id)
	}
	if cmd.ID != s.id {
		return nil, Errorf(CodeInvalid, "resource id %q does not match %q", cmd.ID, s.id)
	}
	if err := ValidateID("id", cmd.ID); err != nil {
		return nil, err
	}
	if err := ValidateName(cmd.Name); err != nil {
		return nil, err
	}
	if err := ValidateTimezone(cmd.Timezone); err != nil {
		return nil, err
	}
	if err := ValidateTags(cmd.Tags); err != nil {
		return nil, err
	}
	if err := ValidateLocation(cmd.Location); err != nil {
		return nil, err
	}
	bucketCaps := cmd.Buckets
	var slotEvery time.Duration
	if cmd.Calendar != nil {
		if len(cmd.Buckets) > 0 {
			return nil, Errorf(CodeInvalid, "a resource lists buckets or names a calendar, not both")
		}
		loc, _ := LoadTimezone(cmd.Timezone)
		var err error
		if bucketCaps, err = ExpandCalendar(*cmd.Calendar, loc); err != nil {
			return nil, err
		}
		if cmd.Calendar.Every < Day {
			slotEvery = cmd.Calendar.Every
		}
	}
	if len(bucketCaps) == 0 {
		return nil, Errorf(CodeInvalid, "a resource needs at least one bucket")
	}
	if err := ValidateCapacities(bucketCaps); err != nil {
		return nil, err
	}
	ttl := cmd.HoldTTL
	if ttl == 0 {
		ttl = DefaultHoldTTL
	}
	if err := ValidateHoldTTL(ttl); err != nil {
		return nil, err
	}
	var price *Money
	if cmd.Price != nil {
		if err := ValidatePrice(*cmd.Price); err != nil {
			return nil, err
		}
		p := *cmd.Price
		price = &p
	}
	maxExt := DefaultMaxExtensions
	if cmd.MaxExtensions != nil {
		maxExt = *cmd.MaxExtensions
	}
	offerTTL := cmd.WaitlistOfferTTL
	if offerTTL == 0 {
		offerTTL = DefaultWaitlistOfferTTL
	}
	if err := validateRules(maxExt, cmd.Allowance, cmd.MaxPerUser, offerTTL); err != nil {
		return nil, err
	}
	if err := ValidateRefundTiers(cmd.Refunds); err != nil {
		return nil, err
	}
	buckets := make([]Bucket, 0, len(bucketCaps))
	for k, c := range bucketCaps {
		buckets = append(buckets, Bucket{Key: k, Capacity: c, Allowance: cmd.Allowance.For(c)})
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].Key < buckets[j].Key })
	res := Resource{ID: cmd.ID, Name: cmd.Name, Price: price, HoldTTL: ttl, CreatedAt: now, UpdatedAt: now,
		MaxExtensions: maxExt, Allowance: cmd.Allowance, MaxPerUser: cmd.MaxPerUser, Timezone: cmd.Timezone,
		SlotEvery: slotEvery, WaitlistOfferTTL: offerTTL, Tags: normalTags(cmd.Tags), Location: cmd.Location,
		Refunds: copyRefunds(cmd.Refunds)}
	return []Event{ResourceCreated{Resource: res, Buckets: buckets}}, nil
}

// DecideUpdate validates a capacity, metadata or rule change. Lowering a capacity or an
// allowance below what is held plus confirmed is refused (conflict), and then nothing changes.
// When the waitlist is not empty, the room the update makes is offered in the same decision.
func (s *State) DecideUpdate(cmd UpdateResource, now time.Time) ([]Event, error) {
	if !s.exists {
		return nil, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	if len(cmd.Buckets) == 0 && cmd.Name == nil && cmd.HoldTTL == nil && cmd.MaxExtensions == nil &&
		cmd.Allowance == nil && cmd.MaxPerUser == nil && cmd.WaitlistOfferTTL == nil && cmd.Tags == nil && cmd.Location == nil && cmd.Refunds == nil {
		return nil, Errorf(CodeInvalid, "nothing to update")
	}
	if err := s.refuseArchived(); err != nil {
		return nil, err
	}
	r := s.resource.view(s.id, s.exists)
	ev := ResourceUpdated{Name: r.Name, HoldTTL: r.HoldTTL, At: now, Capacities: map[string]int64{},
		MaxExtensions: r.MaxExtensions, Allowance: r.Allowance, MaxPerUser: r.MaxPerUser, WaitlistOfferTTL: r.WaitlistOfferTTL,
		Tags: normalTags(r.Tags), Location: r.Location, Refunds: copyRefunds(r.Refunds)}
	if cmd.Refunds != nil {
		if err := ValidateRefundTiers(*cmd.Refunds); err != nil {
			return nil, err
		}
		ev.Refunds = copyRefunds(*cmd.Refunds)
	}
	if cmd.Tags != nil {
		if err := ValidateTags(*cmd.Tags); err != nil {
			return nil, err
		}
		ev.Tags = normalTags(*cmd.Tags)
	}
	if cmd.Location != nil {
		if err := ValidateLocation(*cmd.Location); err != nil {
			return nil, err
		}
		ev.Location = *cmd.Location
	}
	if cmd.Name != nil {
		if err := ValidateName(*cmd.Name); err != nil {
			return nil, err
		}
		ev.Name = *cmd.Name
	}
	if cmd.HoldTTL != nil {
		if err := ValidateHoldTTL(*cmd.HoldTTL); err != nil {
			return nil, err
		}
		ev.HoldTTL = *cmd.HoldTTL
	}
	if cmd.MaxExtensions != nil {
		ev.MaxExtensions = *cmd.MaxExtensions
	}
	if cmd.Allowance != nil {
		ev.Allowance = *cmd.Allowance
	}
	if cmd.MaxPerUser != nil {
		ev.MaxPerUser = *cmd.MaxPerUser
	}
	if cmd.WaitlistOfferTTL != nil {
		ev.WaitlistOfferTTL = *cmd.WaitlistOfferTTL
	}
	if err := validateRules(ev.MaxExtensions, ev.Allowance, ev.MaxPerUser, ev.WaitlistOfferTTL); err != nil {
		return nil, err
	}
	// Every validity check (in sorted key order) before any conflict check, so that the
	// refusal (code and message) does not depend on map iteration order.
	if err := ValidateCapacities(cmd.Buckets); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(cmd.Buckets))
	added := 0
	for k := range cmd.Buckets {
		keys = append(keys, k)
		if s.buckets.get(k) == nil {
			added++
		}
	}
	sort.Strings(keys)
	if len(s.buckets.list)+added > MaxBuckets {
		return nil, Errorf(CodeInvalid, "a resource has at most %d buckets", MaxBuckets)
	}
	for _, k := range keys {
		c := cmd.Buckets[k]
		if b := s.buckets.get(k); b == nil || b.Capacity != c {
			ev.Capacities[k] = c
		}
	}
	// Allowances after the update, for every bucket whose allowance changes (a new capacity
	// under a percentage, or a new rule), in sorted key order so that a refusal does not
	// depend on map iteration order.
	all := keys
	if ev.Allowance != r.Allowance {
		all = make([]string, 0, len(s.buckets.list)+len(cmd.Buckets))
		for i := range s.buckets.list {
			k := s.buckets.list[i].Key
			all = append(all, k)
		}
		for _, k := range keys {
			if s.buckets.get(k) == nil {
				all = append(all, k)
			}
		}
		sort.Strings(all)
	}
	for _, k := range all {
		b := s.buckets.get(k)
		ok := b != nil
		c, changed := cmd.Buckets[k]
		if !changed {
			c = b.Capacity
		}
		a := ev.Allowance.For(c)
		if ok && c+a < b.Held+b.Confirmed {
			return nil, Errorf(CodeConflict, "bucket %q has %d booked; capacity plus allowance cannot go below that", k, b.Held+b.Confirmed)
		}
		if !ok && a != 0 || ok && b.Allowance != a {
			if ev.Allowances == nil {
				ev.Allowances = map[string]int64{}
			}
			ev.Allowances[k] = a
		}
	}
	evs := []Event{ev}
	if len(s.waiting()) > 0 { // more capacity, allowance or per-user room may serve waiters
		c := s.Clone()
		c.Apply(ev)
		evs = c.appendOffers(evs, now, freed{})
	}
	return evs, nil
}

// validateRules checks the rule settings of a resource. A zero offer TTL stands for
// DefaultWaitlistOfferTTL (a resource stored before waitlists existed).
func validateRules(maxExtensions int, a Allowance, maxPerUser int64, offerTTL time.Duration) error {
	if maxExtensions < 0 || maxExtensions > MaxExtensionsLimit {
		return invalidf("max_extensions must be between 0 and %d", MaxExtensionsLimit)
	}
	if err := ValidateAllowance(a); err != nil {
		return err
	}
	if maxPerUser < 0 || maxPerUser > MaxCapacity {
		return invalidf("max_per_user must be between 0 (no limit) and %d", int64(MaxCapacity))
	}
	if offerTTL != 0 && (offerTTL < MinHoldTTL || offerTTL > MaxHoldTTL || offerTTL%time.Millisecond != 0) {
		return invalidf("waitlist_offer_ttl must be between %s and %s, in whole milliseconds", MinHoldTTL, MaxHoldTTL)
	}
	return nil
}

// DecidePlaceHold validates a hold. A known idempotency key with the same request answers
// with the original hold and no events; with a different request it is refused. A Range is
// expanded first (State.ExpandRange), so a stay named by range or by its list of nights is the
// same request. Refusals, in order: validation (invalid), sold_out when a bucket lacks the
// units within capacity + allowance, limit_exceeded when the user would pass MaxPerUser.
func (s *State) DecidePlaceHold(cmd PlaceHold, now time.Time) (Decision, error) {
	if !s.exists {
		return Decision{}, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	if err := s.refuseArchived(); err != nil {
		return Decision{}, err
	}
	if cmd.Range != nil {
		if len(cmd.Buckets) > 0 {
			return Decision{}, Errorf(CodeInvalid, "a hold lists buckets or names a range, not both")
		}
		keys, err := s.ExpandRange(*cmd.Range)
		if err != nil {
			return Decision{}, err
		}
		cmd.Buckets, cmd.Range = keys, nil // the fingerprint is of the buckets the range names
	}
	if cmd.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(cmd.IdempotencyKey); err != nil {
			return Decision{}, err
		}
		if e, ok := s.Idempotency(cmd.IdempotencyKey); ok {
			if e.Fingerprint != Fingerprint(cmd.Buckets, cmd.Quantity, cmd.UserID) {
				return Decision{}, Errorf(CodeIdempotencyMismatch, "Idempotency-Key %q was used with a different request", cmd.IdempotencyKey)
			}
			return Decision{HoldID: e.HoldID, Replayed: true}, nil
		}
	}
	if !ValidID(cmd.HoldID) {
		return Decision{}, Errorf(CodeInternal, "hold id %q is not valid", cmd.HoldID)
	}
	if s.holds.get(cmd.HoldID) != nil {
		return Decision{}, Errorf(CodeInternal, "hold id %q already used", cmd.HoldID)
	}
	if err := ValidateUserID("user_id", cmd.UserID); err != nil {
		return Decision{}, err
	}
	if err := ValidateQuantity(cmd.Quantity); err != nil {
		return Decision{}, err
	}
	// The buckets are looked up before they are validated: a key the resource has passed
	// ValidateBucketKey when the resource was created, so the request is checked key by key
	// (date parsing, a fifth of the decision's time) only when it names a key the resource
	// lacks, one twice, or too many; the answers are the same as validating first.
	//
	// The same pass notes the first bucket that lacks the units, reported only after every
	// check that comes before sold_out.
	var at [MaxHoldBuckets]int32  // positions in s.buckets
	first, consecutive := 0, true // whether the buckets follow one another in s.buckets
	short := -1                   // the first bucket without cmd.Quantity available
	n := len(cmd.Buckets)
	known := n >= 1 && n <= MaxHoldBuckets
	for i := 0; known && i < n; i++ {
		// A stay names consecutive buckets: the next key is tried at the next position (a
		// string comparison) before the index. Keys are distinct, so a match there is the
		// one the index finds.
		var j int
		if next := first + i; i > 0 && consecutive && next < len(s.buckets.keys) && s.buckets.keys[next] == cmd.Buckets[i] {
			j = next
		} else if j = s.buckets.index(cmd.Buckets[i]); j < 0 {
			known = false
			break
		}
		if i == 0 {
			first = j
		}
		consecutive = consecutive && j == first+i
		at[i] = int32(j)
		if !consecutive && slices.Contains(at[:i], at[i]) {
			known = false // named twice
			break
		}
		if short < 0 && s.buckets.list[j].Available() < cmd.Quantity {
			short = i
		}
	}
	if !known {
		if err := ValidateHoldBuckets(cmd.Buckets); err != nil {
			return Decision{}, err
		}
	}
	if err := cmd.Contact.Validate(); err != nil {
		return Decision{}, err
	}
	if !known { // valid keys, and one the resource lacks
		for _, k := range cmd.Buckets {
			if s.buckets.index(k) < 0 {
				return Decision{}, Errorf(CodeInvalid, "resource %s has no bucket %s", quote(s.id), quote(k))
			}
		}
	}
	// All or nothing: every bucket was checked before any is claimed.
	if short >= 0 {
		avail := s.buckets.list[at[short]].Available()
		return Decision{}, soldOut(cmd.Buckets[short], max(avail, 0), cmd.Quantity)
	}
	if s.resource.MaxPerUser() > 0 {
		if err := s.checkUserLimit(cmd.UserID, cmd.Quantity*int64(n), 0); err != nil {
			return Decision{}, err
		}
	}
	// The state's strings: a slice of the state's keys, which Apply keeps as a run of them
	// (setBuckets), when the buckets follow one another there (one bucket, or a range of a calendar).
	var keys []string
	if consecutive {
		keys = s.buckets.keysAt(first, n)
	} else {
		keys = make([]string, n)
		for i, j := range at[:n] {
			keys[i] = s.buckets.keys[j]
		}
	}
	// The placed hold and the decision's one-event list in one allocation; the event is a
	// pointer to the hold (no copy, no box).
	p := &placement{hold: PlacedHold{
		ID:             cmd.HoldID,
		UserID:         cmd.UserID,
		IdempotencyKey: cmd.IdempotencyKey,
		Buckets:        keys,
		Quantity:       cmd.Quantity,
		CreatedAt:      now,
		TTL:            s.resource.HoldTTL,
		Contact:        cmd.Contact,
	}}
	p.events[0] = HoldPlaced{Hold: &p.hold}
	return Decision{Events: p.events[:], HoldID: cmd.HoldID}, nil
}

// placement is what DecidePlaceHold allocates for an accepted hold: the placed hold and the
// list of the one event that places it, together (168 bytes: the allocator's size class of
// 176).
type placement struct {
	hold   PlacedHold
	events [1]Event
}

// DecideConfirm validates a confirmation. Confirming a confirmed hold succeeds with no events,
// so that a client retry is harmless.
func (s *State) DecideConfirm(cmd ConfirmHold, now time.Time) ([]Event, error) {
	h, err := s.liveHold(cmd.HoldID)
	if err != nil {
		return nil, err
	}
	switch {
	case h.Status() == StatusConfirmed:
		return nil, nil
	case h.Status() == StatusHeld && now.Before(h.ExpiresAt()):
		return []Event{HoldConfirmed{HoldID: h.ID, At: now}}, nil
	case h.Status() == StatusHeld:
		return nil, Errorf(CodeConflict, "hold %q expired at %s", h.ID, h.ExpiresAt().UTC().Format(time.RFC3339))
	default:
		return nil, Errorf(CodeConflict, "hold %q is %s and cannot be confirmed", h.ID, h.Status())
	}
}

// DecideCancel validates a cancellation of a held or confirmed hold. Cancelling a cancelled
// hold succeeds with no events; an expired hold cannot be cancelled. The freed units are
// offered to the waitlist in the same decision: HoldCancelled, then WaitlistOffered and
// HoldPlaced pairs.
func (s *State) DecideCancel(cmd CancelHold, now time.Time) ([]Event, error) {
	h, err := s.liveHold(cmd.HoldID)
	if err != nil {
		return nil, err
	}
	switch {
	case h.Status() == StatusCancelled:
		return nil, nil
	case h.Status() == StatusConfirmed || (h.Status() == StatusHeld && now.Before(h.ExpiresAt())):
		evs := []Event{HoldCancelled{HoldID: h.ID, At: now}}
		if len(s.waiting()) > 0 {
			var f freed
			f.release(h, s.bucketsOf(h))
			evs = s.appendOffers(evs, now, f)
		}
		return evs, nil
	default:
		return nil, Errorf(CodeConflict, "hold %q is expired and cannot be cancelled", h.ID)
	}
}

// holdBuckets returns the buckets a request names (listed, or as a range), checked as a hold's.
func (s *State) holdBuckets(keys []string, r *Range) ([]string, error) {
	if r != nil {
		if len(keys) > 0 {
			return nil, Errorf(CodeInvalid, "a request lists buckets or names a range, not both")
		}
		return s.ExpandRange(*r)
	}
	if err := ValidateHoldBuckets(keys); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if s.buckets.get(k) == nil {
			return nil, Errorf(CodeInvalid, "resource %s has no bucket %s", quote(s.id), quote(k))
		}
	}
	return append([]string(nil), keys...), nil
}

// soldOut is Errorf(CodeSoldOut, "bucket %q has %d available, %d requested", ...) without
// fmt's boxing of every argument: the refusal of a sold-out resource is a hot path too.
func soldOut(key string, available, requested int64) *Error {
	var arr [128]byte // on the stack; a longer message grows on the heap
	buf := arr[:0]
	buf = append(buf, "bucket "...)
	buf = appendQuoted(buf, key)
	buf = append(buf, " has "...)
	buf = strconv.AppendInt(buf, available, 10)
	buf = append(buf, " available, "...)
	buf = strconv.AppendInt(buf, requested, 10)
	buf = append(buf, " requested"...)
	return &Error{Code: CodeSoldOut, Message: string(buf)}
}

// appendQuoted appends strconv.Quote(s): directly when s is printable ASCII without '"' or a
// backslash (every valid bucket key), which Quote leaves as it is between quotes, and through
// strconv otherwise. Quoting byte by byte was a third of a sold-out refusal's time.
func appendQuoted(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return strconv.AppendQuote(buf, s)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// keysOf returns a new list of keys, each the state's own string of its bucket (see intern);
// every key must name a bucket.
func (s *State) keysOf(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.buckets.get(k).Key
	}
	return out
}

func (s *State) liveHold(id string) (*hold, error) {
	if !s.exists {
		return nil, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	h := s.holds.get(id)
	ok := h != nil
	if !ok {
		return nil, Errorf(CodeNotFound, "hold %q not found", id)
	}
	return h, nil
}
