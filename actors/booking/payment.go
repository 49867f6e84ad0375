package booking

import "time"

// Payment facts the booking model keeps for package payment (actors/payment), which owns their
// meaning: the model stores a hold's payment opaquely (Hold.Payment) and knows only the two
// transitions a payment adds to a hold's life: its record changes (PaymentRecorded), and an
// ended hold whose late payment arrived takes its units again (HoldRetaken).

// PaymentRecorded replaces the payment record stored with a hold (the saga's storage shape,
// encoded by package payment). Open says whether the payment still needs work (a reconciler
// lists open payments); Status is the payment's status after it, Prev before.
type PaymentRecorded struct {
	HoldID  string
	Payment string
	Open    bool
	Status  string
	Prev    string
	// Refunded is the amount refunded so far (minor units) and RefundedBefore what it was:
	// a growth is a refund (the event hold.refunded).
	Refunded, RefundedBefore int64
	Currency                 string // of the amounts, ISO 4217
	At                       time.Time
}

// HoldRetaken confirms an expired or cancelled hold again because its payment arrived late
// and its units are still free: it claims its units as confirmed.
type HoldRetaken struct {
	HoldID string
	At     time.Time
}

func (PaymentRecorded) isEvent() {}
func (HoldRetaken) isEvent()     {}

// DecideRetake validates taking an ended hold's units again, confirmed at once: the hold must
// be expired or cancelled and every one of its buckets must have Quantity available. A
// confirmed hold is a no-op; a held hold is confirmed by DecideConfirm instead (CodeConflict).
// CodeSoldOut when the units were taken meanwhile.
func (s *State) DecideRetake(holdID string, now time.Time) ([]Event, error) {
	h := s.holds.get(holdID)
	ok := h != nil
	if !ok {
		return nil, Errorf(CodeNotFound, "hold %q not found", holdID)
	}
	switch h.Status() {
	case StatusConfirmed:
		return nil, nil
	case StatusHeld:
		return nil, Errorf(CodeConflict, "hold %q is held; confirm it instead", holdID)
	}
	if s.resource.Archived() {
		return nil, Errorf(CodeSoldOut, "resource %q is archived", s.resource.id(s.id, s.exists))
	}
	for _, k := range s.bucketsOf(h) {
		b := s.buckets.get(k)
		ok := b != nil
		if !ok || b.Available() < h.Quantity {
			return nil, Errorf(CodeSoldOut, "bucket %q has no %d units left for hold %q", k, h.Quantity, holdID)
		}
	}
	return []Event{HoldRetaken{HoldID: holdID, At: now}}, nil
}

// PaymentExtension extends a held hold by d once for its payment (the payment grace): unlike
// DecideExtend it does not count against the resource's MaxExtensions. Nil when the hold is
// not held or d is not positive.
func (s *State) PaymentExtension(holdID string, d time.Duration, now time.Time) []Event {
	h := s.holds.get(holdID)
	ok := h != nil
	if !ok || h.Status() != StatusHeld || d <= 0 || !now.Before(h.ExpiresAt()) {
		return nil
	}
	return []Event{HoldExtended{HoldID: holdID, ExpiresAt: h.ExpiresAt().Add(d), Extensions: h.Extensions(), At: now}}
}

// AdoptTerminal makes a terminal hold loaded from the store known to the state (a late payment
// for a hold that ended before this activation). It claims nothing; an active or already
// known hold is left alone and false returned.
func (s *State) AdoptTerminal(h Hold) bool {
	if h.Status.Active() || h.ResourceID != s.resource.id(s.id, s.exists) && s.resource.id(s.id, s.exists) != "" {
		return false
	}
	if s.holds.get(h.ID) != nil {
		return false
	}
	c := s.holds.newHold()
	c.setHold(&h, s.id)
	s.setBuckets(c, h.Buckets)
	s.putHold(c)
	return true
}

func (s *State) applyPayment(e Event) bool {
	switch e := e.(type) {
	case PaymentRecorded:
		h := s.holds.get(e.HoldID)
		ok := h != nil
		if !ok {
			panic("booking: payment of unknown hold " + e.HoldID)
		}
		h.setPayment(e.Payment, e.Open)
	case HoldRetaken:
		h := s.holds.get(e.HoldID)
		ok := h != nil
		if !ok || h.Status().Active() {
			panic("booking: retake of a hold that is not ended: " + e.HoldID)
		}
		h.setStatus(StatusConfirmed)
		h.setTime(updatedAt, e.At)
		s.claim(h, StatusConfirmed, +1)
	default:
		return false
	}
	return true
}
