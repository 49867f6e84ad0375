package payment

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// The saga's rules, in two halves: settle draws conclusions from the facts (what must be
// refunded, which booking must go), needs lists the commands those facts still call for.
// Both look only at the state and now; needs changes nothing, so calling it again (a Tick)
// re-issues exactly what is still outstanding.

// holdEnded: the hold no longer claims units (expired or cancelled).
func (s *Saga) holdEnded() bool {
	return s.Hold == booking.StatusExpired || s.Hold == booking.StatusCancelled
}

// mustNotCapture is why an authorized intent must be cancelled rather than captured, or "".
func (s *Saga) mustNotCapture() string {
	in := s.Intent
	switch {
	case in.Amount != s.Amount.Amount || !sameCurrency(in.Currency, s.Amount.Currency):
		return "amount_mismatch"
	case in.Risk == RiskHighest || s.Review == ReviewRejected:
		return "fraudulent"
	case s.Released || s.BookingCancelled:
		return "requested_by_customer"
	case s.holdEnded() && s.SoldOut:
		return "sold_out"
	}
	return ""
}

func (s *Saga) settle(now time.Time) {
	in := s.Intent
	switch in.Status {
	case IntentRequiresCapture:
		// A booking the saga made is undone when its payment turns out bad: the booking
		// goes first, the intent is cancelled with it.
		if s.mustNotCapture() != "" && s.Hold == booking.StatusConfirmed && s.Confirmed {
			s.Released = true
		}
	case IntentSucceeded:
		switch {
		case in.Risk == RiskHighest || s.Review == ReviewRejected:
			s.setRefund(in.AmountReceived, "fraudulent")
			if s.Hold == booking.StatusConfirmed {
				s.Released = true
			}
		case s.Released, s.SoldOut && s.holdEnded():
			s.setRefund(in.AmountReceived, "requested_by_customer")
		}
	case IntentCanceled:
		// No money will come: a booking the saga confirmed for it does not stand.
		if s.Hold == booking.StatusConfirmed && s.Confirmed {
			s.Released = true
		}
	}
}

// needs lists what the state still calls for. Order matters only for reading; the shell may
// perform the commands in any order, each on its own, because each is safe whatever the
// others did.
func (s *Saga) needs(cfg Config, now time.Time) []Command {
	if s.Attempt == 0 {
		return nil
	}
	in := s.Intent
	var out []Command
	cancel := func(reason string) {
		out = append(out, CancelIntent{IntentID: in.ID, Reason: reason, IdempotencyKey: s.key("cancel")})
	}
	if s.Released && s.Hold == booking.StatusConfirmed {
		out = append(out, ReleaseHold{HoldID: s.HoldID, Reason: s.releaseReason()})
		// The money waits until the booking is gone: a booking is never paid without money,
		// and money is refunded only for a booking that is no more.
		if in.Status == IntentSucceeded {
			return out
		}
	}
	switch in.Status.stage() {
	case 0:
		if in.ID == "" {
			// Also after the hold ended: the create may have reached the provider before a
			// crash, and only its (idempotent) repetition names the intent to cancel.
			return append(out, CreateIntent{HoldID: s.HoldID, ResourceID: s.ResourceID, Attempt: s.Attempt, Amount: s.Amount, IdempotencyKey: s.key("create")})
		}
		if s.Released || s.BookingCancelled || (s.holdEnded() && !now.Before(s.HoldEndedAt.Add(cfg.LateWindow))) {
			cancel("abandoned")
		}
	case 1:
		if reason := s.mustNotCapture(); reason != "" {
			cancel(reason)
			return out
		}
		if s.Review == ReviewOpen {
			if !now.Before(s.AuthorizedAt.Add(cfg.AuthorizationLifetime)) {
				cancel("abandoned")
			}
			return out
		}
		switch {
		case s.Hold == booking.StatusHeld:
			out = append(out, ConfirmHold{HoldID: s.HoldID})
		case s.Hold == booking.StatusConfirmed:
			out = append(out, CaptureIntent{IntentID: in.ID, Amount: s.Amount.Amount, IdempotencyKey: s.key("capture")})
		case s.holdEnded():
			out = append(out, RetakeHold{HoldID: s.HoldID})
		}
	default:
		if in.Status == IntentCanceled {
			return out
		}
		// Captured. Money taken outside the saga's order (a capture from the dashboard)
		// still becomes a booking if it can, else it goes back.
		if s.RefundTarget == 0 && !s.Released && !s.BookingCancelled {
			switch {
			case s.Hold == booking.StatusHeld:
				out = append(out, ConfirmHold{HoldID: s.HoldID})
			case s.holdEnded() && !s.SoldOut:
				out = append(out, RetakeHold{HoldID: s.HoldID})
			}
		}
		target := min(s.RefundTarget, in.AmountReceived)
		if amount := target - in.AmountRefunded; amount > 0 {
			// The key names the target and the amount: a repeat of this refund is deduplicated,
			// and a refund computed from a stale view is a different request, which Stripe
			// refuses rather than refunding twice (never more than the charge).
			out = append(out, RefundIntent{IntentID: in.ID, Amount: amount, Reason: s.RefundReason,
				IdempotencyKey: s.key("refund:" + itoa(target) + ":" + itoa(amount))})
		}
	}
	return out
}

// releaseReason says why a booking the saga made is released.
func (s *Saga) releaseReason() string {
	switch {
	case s.Intent.Risk == RiskHighest || s.Review == ReviewRejected:
		return "fraudulent"
	case s.Intent.Status == IntentCanceled:
		return "payment_cancelled"
	case s.mustNotCapture() != "":
		return s.mustNotCapture()
	}
	return "payment_failed"
}

// status is the payment's status as the hold shows it.
func (s *Saga) status() Status {
	in := s.Intent
	switch {
	case s.Attempt == 0:
		return StatusNone
	case in.Status.stage() == 0:
		if in.Failed {
			return StatusFailed
		}
		return StatusPending
	case in.Status == IntentRequiresCapture:
		// A rejected payment stays "review" until its cancellation is confirmed: it never
		// shows as authorized.
		if s.Review == ReviewOpen || s.Review == ReviewRejected {
			return StatusReview
		}
		return StatusAuthorized
	case in.Status == IntentCanceled:
		return StatusCancelled
	case in.AmountRefunded > 0 && in.AmountRefunded >= in.AmountReceived:
		return StatusRefunded
	case in.AmountRefunded > 0:
		return StatusPartiallyRefunded
	}
	return StatusCaptured
}
