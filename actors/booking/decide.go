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
	if !ValidID(cmd.ID) {
		return nil, Errorf(CodeInvalid, "id must be 1-%d printable ASCII characters without / ? # %%", MaxIDLength)
	}
	if !validName(cmd.Name) {
		return nil, Errorf(CodeInvalid, "name must be 1-%d bytes of UTF-8", MaxNameLength)
	}
	if len(cmd.Buckets) == 0 {
		return nil, Errorf(CodeInvalid, "a resource needs at least one bucket")
	}
	if len(cmd.Buckets) > MaxBuckets {
		return nil, Errorf(CodeInvalid, "a resource has at most %d buckets", MaxBuckets)
	}
	ttl := cmd.HoldTTL
	if ttl == 0 {
		ttl = DefaultHoldTTL
	}
	if err := validTTL(ttl); err != nil {
		return nil, err
	}
	var price *Money
	if cmd.Price != nil {
		if cmd.Price.Amount < 0 {
			return nil, Errorf(CodeInvalid, "price amount must not be negative")
		}
		if !validCurrency(cmd.Price.Currency) {
			return nil, Errorf(CodeInvalid, "price currency must be an ISO 4217 code such as EUR")
		}
		p := *cmd.Price
		price = &p
	}
	buckets := make([]Bucket, 0, len(cmd.Buckets))
	for k, c := range cmd.Buckets {
		if err := validCapacity(k, c); err != nil {
			return nil, err
		}
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
		if !validName(*cmd.Name) {
			return nil, Errorf(CodeInvalid, "name must be 1-%d bytes of UTF-8", MaxNameLength)
		}
		ev.Name = *cmd.Name
	}
	if cmd.HoldTTL != nil {
		if err := validTTL(*cmd.HoldTTL); err != nil {
			return nil, err
		}
		ev.HoldTTL = *cmd.HoldTTL
	}
	// Keys in sorted order, and every validity check before any conflict check, so that the
	// refusal (code and message) does not depend on map iteration order.
	keys := make([]string, 0, len(cmd.Buckets))
	for k := range cmd.Buckets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	added := 0
	for _, k := range keys {
		if err := validCapacity(k, cmd.Buckets[k]); err != nil {
			return nil, err
		}
		if _, ok := s.buckets[k]; !ok {
			added++
		}
	}
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
		if len(cmd.IdempotencyKey) > MaxIdempotencyLen {
			return Decision{}, Errorf(CodeInvalid, "Idempotency-Key is at most %d bytes", MaxIdempotencyLen)
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
	if !ValidID(cmd.UserID) || len(cmd.UserID) > MaxUserIDLength {
		return Decision{}, Errorf(CodeInvalid, "user_id must be 1-%d printable ASCII characters", MaxUserIDLength)
	}
	if cmd.Quantity <= 0 || cmd.Quantity > MaxQuantity {
		return Decision{}, Errorf(CodeInvalid, "quantity must be between 1 and %d", MaxQuantity)
	}
	if len(cmd.Buckets) == 0 {
		return Decision{}, Errorf(CodeInvalid, "a hold needs at least one bucket")
	}
	if len(cmd.Buckets) > MaxHoldBuckets {
		return Decision{}, Errorf(CodeInvalid, "a hold claims at most %d buckets", MaxHoldBuckets)
	}
	seen := make(map[string]struct{}, len(cmd.Buckets))
	for _, k := range cmd.Buckets {
		if _, dup := seen[k]; dup {
			return Decision{}, Errorf(CodeInvalid, "bucket %q appears twice", k)
		}
		seen[k] = struct{}{}
		if _, ok := s.buckets[k]; !ok {
			return Decision{}, Errorf(CodeInvalid, "resource %q has no bucket %q", s.id, k)
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

func validTTL(ttl time.Duration) error {
	if ttl < MinHoldTTL || ttl > MaxHoldTTL {
		return Errorf(CodeInvalid, "hold_ttl must be between %s and %s", MinHoldTTL, MaxHoldTTL)
	}
	return nil
}

func validCapacity(key string, c int64) error {
	if !ValidBucketKey(key) {
		return Errorf(CodeInvalid, "bucket key %q must be 1-%d printable ASCII characters", key, MaxBucketKeyLen)
	}
	if c < 0 || c > MaxCapacity {
		return Errorf(CodeInvalid, "capacity of bucket %q must be between 0 and %d", key, int64(MaxCapacity))
	}
	return nil
}
