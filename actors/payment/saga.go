package payment

import (
	"strconv"
	"time"

	"github.com/allot/allot/actors/booking"
)

// Status is the payment's status as the hold records it.
type Status string

const (
	StatusNone              Status = "none"
	StatusPending           Status = "pending"    // an intent exists (or is being created), not authorized
	StatusFailed            Status = "failed"     // the last attempt was declined; the hold lives on
	StatusAuthorized        Status = "authorized" // money reserved on the card, not taken
	StatusReview            Status = "review"     // authorized, held for a fraud review
	StatusCaptured          Status = "captured"   // money taken
	StatusCancelled         Status = "cancelled"  // the intent is cancelled: authorization released, nothing taken
	StatusRefunded          Status = "refunded"   // everything taken was given back
	StatusPartiallyRefunded Status = "partially_refunded"
)

// Review is where a fraud review stands.
type Review string

const (
	ReviewNone     Review = ""
	ReviewOpen     Review = "open"
	ReviewApproved Review = "approved"
	ReviewRejected Review = "rejected"
)

// maxSeen bounds the remembered provider event ids. Forgetting an old id is harmless: the
// merge is monotonic, so a replay of an old event changes nothing.
const maxSeen = 64

// Saga is one hold's payment: what the saga knows, all of it stored with the hold. Step moves
// it; nothing else does. Its zero value (with HoldID and ResourceID) is a hold without payment.
//
// Invariants (checked by CheckInvariant against the provider's and the booking's truth):
// money is never kept for a hold that is not confirmed, beyond a cancellation fee its policy
// grants (Retained), unless a refund of it is under way; a hold is never marked paid
// (captured) without captured money.
type Saga struct {
	HoldID       string
	ResourceID   string
	Amount       booking.Money
	Policy       Policy
	ServiceStart time.Time
	Attempt      int // intents created so far; the current one is Attempt

	Intent Intent         // the provider's view, merged monotonically; Intent.ID "" until known
	Hold   booking.Status // the hold's status, as last told
	Status Status         // as last marked

	Extended  bool // the grace extension was used
	Confirmed bool // the saga confirmed or retook the hold for this payment
	SoldOut   bool // a retake was refused
	Released  bool // the saga released the hold (its payment fell through)
	// BookingCancelled: the confirmed hold was cancelled (by its owner or an operator);
	// the units are gone for good, so nothing is retaken and the refund follows the policy.
	BookingCancelled bool
	Review           Review //
	// HoldEndedAt is when the hold was seen expired or cancelled while unpaid (late window).
	HoldEndedAt time.Time
	// AuthorizedAt is when the authorization was first seen (authorization lifetime).
	AuthorizedAt time.Time
	// RefundTarget is the total that must end up refunded, once captured; it only grows.
	// Retained is the cancellation fee the policy lets the merchant keep.
	RefundTarget int64
	RefundReason string
	Retained     int64

	Seen []string // recent provider event ids, oldest first
}

// Clone returns a deep copy (for a shell that rolls back an uncommitted step).
func (s *Saga) Clone() *Saga {
	c := *s
	c.Seen = append([]string(nil), s.Seen...)
	c.Policy.Tiers = append([]Tier(nil), s.Policy.Tiers...)
	return &c
}

func (s *Saga) key(what string) string {
	return "allot:" + s.HoldID + ":" + strconv.Itoa(s.Attempt) + ":" + what
}

// Step takes one input at now and returns the commands to perform. It mutates s (the shell
// keeps a Clone to roll back if storing s fails) and never does I/O. An error (a coded
// *booking.Error) refuses a Requested and leaves s unchanged; other inputs never fail.
//
// Commands are level-triggered: after every input that changed something, and on every Tick,
// the saga emits all that its state still needs (see needs), so a crash between any two steps
// loses nothing that the next Tick does not re-issue, and the idempotency keys make repeats
// harmless.
func (s *Saga) Step(cfg Config, now time.Time, in Input) ([]Command, error) {
	cfg = cfg.WithDefaults()
	before := *s
	var out []Command
	switch in := in.(type) {
	case Requested:
		cmds, err := s.request(cfg, in)
		if err != nil {
			return nil, err
		}
		out = cmds
	case Observed:
		if in.EventID != "" {
			if s.seen(in.EventID) {
				return nil, nil
			}
			s.Seen = append(s.Seen, in.EventID)
			if len(s.Seen) > maxSeen {
				s.Seen = s.Seen[len(s.Seen)-maxSeen:]
			}
		}
		s.observe(now, in)
	case HoldChanged:
		s.holdChanged(now, in)
	case RetakeRefused:
		s.SoldOut = true
	case Decided:
		if s.Review == ReviewOpen {
			s.Review = ReviewRejected
			if in.Approve {
				s.Review = ReviewApproved
			}
		}
	case Tick:
	}
	s.settle(now)
	_, tick := in.(Tick)
	if !tick && s.same(&before) {
		return out, nil
	}
	if st := s.status(); st != s.Status {
		s.Status = st
		out = append(out, MarkPayment{HoldID: s.HoldID, Status: st})
	}
	return append(out, s.needs(cfg, now)...), nil
}

func (s *Saga) seen(id string) bool {
	for _, x := range s.Seen {
		if x == id {
			return true
		}
	}
	return false
}

// same reports whether nothing the saga decides on changed since before.
func (s *Saga) same(before *Saga) bool {
	return s.Intent == before.Intent && s.Hold == before.Hold && s.Attempt == before.Attempt &&
		s.Confirmed == before.Confirmed && s.SoldOut == before.SoldOut && s.Released == before.Released &&
		s.Review == before.Review && s.RefundTarget == before.RefundTarget && s.Status == before.Status &&
		s.BookingCancelled == before.BookingCancelled
}

func (s *Saga) request(cfg Config, in Requested) ([]Command, error) {
	if in.Hold != booking.StatusHeld {
		return nil, booking.Errorf(booking.CodeConflict, "hold %q is %s; only a held hold can be paid", s.HoldID, in.Hold)
	}
	if err := in.Policy.Validate(); err != nil {
		return nil, err
	}
	switch s.Intent.Status.stage() {
	case 0:
		if s.Attempt > 0 {
			if s.Amount != in.Amount {
				return nil, booking.Errorf(booking.CodeConflict, "hold %q has a payment of another amount under way", s.HoldID)
			}
			// The intent under way is the customer's to confirm again (after a decline,
			// too): Stripe recommends one PaymentIntent per order. The shell answers it
			// with GetIntent; if its create never came back, the create is repeated
			// (same key, same intent) to learn it.
			s.Hold = in.Hold
			if s.Intent.ID == "" {
				return s.needs(cfg, time.Time{}), nil
			}
			return nil, nil
		}
	case 1:
		return nil, booking.Errorf(booking.CodeConflict, "hold %q is already paid for", s.HoldID)
	case 2:
		if s.Intent.Status == IntentSucceeded {
			return nil, booking.Errorf(booking.CodeConflict, "hold %q is already paid for", s.HoldID)
		}
	}
	if s.Attempt >= cfg.MaxAttempts {
		return nil, booking.Errorf(booking.CodeLimitExceeded, "hold %q has had %d payment attempts", s.HoldID, s.Attempt)
	}
	// A new attempt: none yet, or the last intent was cancelled (Radar, a lapsed
	// authorization) while the hold lives on. Only one intent is ever live per hold.
	s.Attempt++
	s.Amount, s.Policy, s.ServiceStart, s.Hold = in.Amount, in.Policy, in.ServiceStart, in.Hold
	s.Intent = Intent{}
	s.Review, s.AuthorizedAt, s.HoldEndedAt = ReviewNone, time.Time{}, time.Time{}
	var out []Command
	if !s.Extended && cfg.Grace > 0 {
		s.Extended = true
		out = append(out, ExtendHold{HoldID: s.HoldID, By: cfg.Grace})
	}
	return out, nil
}

// observe merges a provider report. Reports for another intent than the current attempt's are
// ignored (the reconciliation lists such strays); a report that would move the intent back a
// stage is stale and only its monotonic parts (refunds, risk) are taken.
func (s *Saga) observe(now time.Time, in Observed) {
	got := in.Intent
	got.ClientSecret = ""
	if got.HoldID != "" && got.HoldID != s.HoldID {
		return
	}
	if s.Intent.ID == "" {
		// Adopt the current attempt's intent: from the create's result, or from a webhook
		// that overtook it (the metadata names hold and attempt).
		if s.Attempt == 0 || got.Attempt != s.Attempt || got.ID == "" {
			return
		}
		s.Intent = got
	} else if got.ID != s.Intent.ID {
		return
	}
	cur := &s.Intent
	if got.Status.stage() >= cur.Status.stage() {
		if !(got.Status.stage() == 2 && cur.Status.stage() == 2 && got.Status != cur.Status) {
			cur.Status, cur.Failed, cur.AmountCapturable = got.Status, got.Failed, got.AmountCapturable
			cur.Amount, cur.Currency = got.Amount, got.Currency
		}
	}
	cur.AmountReceived = max(cur.AmountReceived, got.AmountReceived)
	cur.AmountRefunded = max(cur.AmountRefunded, got.AmountRefunded)
	if riskRank(got.Risk) > riskRank(cur.Risk) {
		cur.Risk = got.Risk
	}
	switch {
	case in.Kind == EventReviewClosed && s.Review != ReviewRejected:
		s.Review = ReviewApproved
		if in.ReviewReason != "approved" {
			s.Review = ReviewRejected
		}
	case (in.Kind == EventReviewOpened || got.ReviewOpen || cur.Risk == RiskElevated) && s.Review == ReviewNone:
		s.Review = ReviewOpen
	}
	cur.ReviewOpen = s.Review == ReviewOpen
	if cur.Status.stage() >= 1 && s.AuthorizedAt.IsZero() {
		s.AuthorizedAt = now
	}
}

func riskRank(r RiskLevel) int {
	switch r {
	case RiskNormal:
		return 1
	case RiskElevated:
		return 2
	case RiskHighest:
		return 3
	}
	return 0
}

func (s *Saga) holdChanged(now time.Time, in HoldChanged) {
	prev := s.Hold
	s.Hold = in.Status
	switch in.Status {
	case booking.StatusConfirmed:
		if s.Attempt > 0 && s.Intent.Status != IntentCanceled {
			s.Confirmed = true
		}
	case booking.StatusExpired, booking.StatusCancelled:
		if s.HoldEndedAt.IsZero() {
			s.HoldEndedAt = now
		}
		if prev == booking.StatusConfirmed && in.Status == booking.StatusCancelled && !s.Released {
			// A confirmed booking cancelled: whatever was captured goes back by policy (in
			// full when an operator cancels). Money not captured yet is released by needs.
			s.Confirmed = false
			s.BookingCancelled = true
			paid := s.Amount.Amount
			refund := paid
			if !in.ByOperator {
				refund = s.Policy.Refund(paid, s.ServiceStart, now)
			}
			s.Retained = paid - refund
			s.setRefund(refund, "requested_by_customer")
		}
	}
}

// setRefund raises the refund target (a refund in full also waives any retained fee).
func (s *Saga) setRefund(target int64, reason string) {
	if target > s.RefundTarget {
		s.RefundTarget = target
		s.Retained = max(0, min(s.Retained, s.Amount.Amount-target))
		if s.RefundReason != "fraudulent" {
			s.RefundReason = reason
		}
	}
}
