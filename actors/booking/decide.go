package booking

import (
	"sort"
	"time"
)

// Decision is the outcome of DecidePlaceHold: the events to apply (none for a replay) and the
// id of the hold the caller should answer with.
type Decision struct {
	Events   []Event
	HoldID   string
	Replayed bool
}

// DecideCreate validates a creation. The resource must not exist yet.
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
	if len(cmd.Buckets) == 0 {
		return nil, Errorf(CodeInvalid, "a resource needs at least one bucket")
	}
	if err := ValidateCapacities(cmd.Buckets); err != nil {
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
	buckets := make([]Bucket, 0, len(cmd.Buckets))
	for k, c := range cmd.Buckets {
		buckets = append(buckets, Bucket{Key: k, Capacity: c})
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].Key < buckets[j].Key })
	res := Resource{ID: cmd.ID, Name: cmd.Name, Price: price, HoldTTL: ttl, CreatedAt: now, UpdatedAt: now}
	return []Event{ResourceCreated{Resource: res, Buckets: buckets}}, nil
}

// DecideUpdate validates a capacity or metadata change. Lowering a capacity below what is
// held plus confirmed is refused, and then nothing changes.
func (s *State) DecideUpdate(cmd UpdateResource, now time.Time) ([]Event, error) {
	if !s.exists {
		return nil, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	if len(cmd.Buckets) == 0 && cmd.Name == nil && cmd.HoldTTL == nil {
		return nil, Errorf(CodeInvalid, "nothing to update")
	}
	ev := ResourceUpdated{Name: s.resource.Name, HoldTTL: s.resource.HoldTTL, At: now, Capacities: map[string]int64{}}
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
	// Every validity check (in sorted key order) before any conflict check, so that the
	// refusal (code and message) does not depend on map iteration order.
	if err := ValidateCapacities(cmd.Buckets); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(cmd.Buckets))
	added := 0
	for k := range cmd.Buckets {
		keys = append(keys, k)
		if _, ok := s.buckets[k]; !ok {
			added++
		}
	}
	sort.Strings(keys)
	if len(s.buckets)+added > MaxBuckets {
		return nil, Errorf(CodeInvalid, "a resource has at most %d buckets", MaxBuckets)
	}
	for _, k := range keys {
		c := cmd.Buckets[k]
		b, ok := s.buckets[k]
		if ok && c < b.Held+b.Confirmed {
			return nil, Errorf(CodeConflict, "bucket %q has %d booked; capacity cannot go below that", k, b.Held+b.Confirmed)
		}
		if !ok || b.Capacity != c {
			ev.Capacities[k] = c
		}
	}
	return []Event{ev}, nil
}

// DecidePlaceHold validates a hold. A known idempotency key with the same request answers
// with the original hold and no events; with a different request it is refused.
func (s *State) DecidePlaceHold(cmd PlaceHold, now time.Time) (Decision, error) {
	if !s.exists {
		return Decision{}, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	if cmd.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(cmd.IdempotencyKey); err != nil {
			return Decision{}, err
		}
		if e, ok := s.idem[cmd.IdempotencyKey]; ok {
			if e.Fingerprint != Fingerprint(cmd.Buckets, cmd.Quantity, cmd.UserID) {
				return Decision{}, Errorf(CodeIdempotencyMismatch, "Idempotency-Key %q was used with a different request", cmd.IdempotencyKey)
			}
			return Decision{HoldID: e.HoldID, Replayed: true}, nil
		}
	}
	if !ValidID(cmd.HoldID) {
		return Decision{}, Errorf(CodeInternal, "hold id %q is not valid", cmd.HoldID)
	}
	if _, dup := s.holds[cmd.HoldID]; dup {
		return Decision{}, Errorf(CodeInternal, "hold id %q already used", cmd.HoldID)
	}
	if err := ValidateUserID("user_id", cmd.UserID); err != nil {
		return Decision{}, err
	}
	if err := ValidateQuantity(cmd.Quantity); err != nil {
		return Decision{}, err
	}
	if err := ValidateHoldBuckets(cmd.Buckets); err != nil {
		return Decision{}, err
	}
	for _, k := range cmd.Buckets {
		if _, ok := s.buckets[k]; !ok {
			return Decision{}, Errorf(CodeInvalid, "resource %s has no bucket %s", quote(s.id), quote(k))
		}
	}
	// All or nothing: check every bucket before claiming any.
	for _, k := range cmd.Buckets {
		if b := s.buckets[k]; b.Available() < cmd.Quantity {
			return Decision{}, Errorf(CodeSoldOut, "bucket %q has %d available, %d requested", k, max(b.Available(), 0), cmd.Quantity)
		}
	}
	h := Hold{
		ID:             cmd.HoldID,
		ResourceID:     s.id,
		UserID:         cmd.UserID,
		IdempotencyKey: cmd.IdempotencyKey,
		Buckets:        append([]string(nil), cmd.Buckets...),
		Quantity:       cmd.Quantity,
		Status:         StatusHeld,
		CreatedAt:      now,
		ExpiresAt:      now.Add(s.resource.HoldTTL),
		UpdatedAt:      now,
	}
	return Decision{Events: []Event{HoldPlaced{Hold: h}}, HoldID: h.ID}, nil
}

// DecideConfirm validates a confirmation. Confirming a confirmed hold succeeds with no events,
// so that a client retry is harmless.
func (s *State) DecideConfirm(cmd ConfirmHold, now time.Time) ([]Event, error) {
	h, err := s.liveHold(cmd.HoldID)
	if err != nil {
		return nil, err
	}
	switch {
	case h.Status == StatusConfirmed:
		return nil, nil
	case h.Status == StatusHeld && now.Before(h.ExpiresAt):
		return []Event{HoldConfirmed{HoldID: h.ID, At: now}}, nil
	case h.Status == StatusHeld:
		return nil, Errorf(CodeConflict, "hold %q expired at %s", h.ID, h.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		return nil, Errorf(CodeConflict, "hold %q is %s and cannot be confirmed", h.ID, h.Status)
	}
}

// DecideCancel validates a cancellation of a held or confirmed hold. Cancelling a cancelled
// hold succeeds with no events; an expired hold cannot be cancelled.
func (s *State) DecideCancel(cmd CancelHold, now time.Time) ([]Event, error) {
	h, err := s.liveHold(cmd.HoldID)
	if err != nil {
		return nil, err
	}
	switch {
	case h.Status == StatusCancelled:
		return nil, nil
	case h.Status == StatusConfirmed || (h.Status == StatusHeld && now.Before(h.ExpiresAt)):
		return []Event{HoldCancelled{HoldID: h.ID, At: now}}, nil
	default:
		return nil, Errorf(CodeConflict, "hold %q is expired and cannot be cancelled", h.ID)
	}
}

func (s *State) liveHold(id string) (*Hold, error) {
	if !s.exists {
		return nil, Errorf(CodeNotFound, "resource %q not found", s.id)
	}
	h, ok := s.holds[id]
	if !ok {
		return nil, Errorf(CodeNotFound, "hold %q not found", id)
	}
	return h, nil
}
