package payment

import (
	"fmt"

	"github.com/allot/allot/actors/booking"
)

// CheckInvariant checks the promise of payments against the truth: provider is the intent as
// the provider has it (zero if none), hold the hold's status as the booking rules have it, s the
// saga as stored. It holds after every step, whatever was lost in a crash:
//
//  1. Never money kept without a booking: if the provider keeps money for a hold that is not
//     confirmed, it is at most the cancellation fee the policy grants (s.Retained), or the
//     saga is refunding the rest (s.RefundTarget covers it).
//  2. Never a booking marked paid without money: a confirmed hold whose payment is marked
//     captured (or partially refunded) has money kept at the provider.
func CheckInvariant(s *Saga, provider Intent, hold booking.Status) error {
	kept := provider.Kept()
	if kept > 0 && hold != booking.StatusConfirmed && kept > s.Retained &&
		s.RefundTarget+s.Retained < provider.AmountReceived {
		return fmt.Errorf("payment: hold %s is %s but %d is kept (retained %d, refunding to %d)", s.HoldID, hold, kept, s.Retained, s.RefundTarget)
	}
	if hold == booking.StatusConfirmed && (s.Status == StatusCaptured || s.Status == StatusPartiallyRefunded) && kept <= 0 {
		return fmt.Errorf("payment: hold %s is confirmed and marked %s but nothing is kept (intent %s)", s.HoldID, s.Status, provider.Status)
	}
	return nil
}

// Reconcile lists where the saga, the booking and the provider disagree once everything has
// settled (GET /v1/payments/reconciliation): an operator looks at each. Empty when all agree.
// provider is the intent the provider has for s (zero if none); hold the hold's status.
func Reconcile(s *Saga, provider Intent, hold booking.Status) []string {
	var out []string
	add := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: ", s.HoldID)+fmt.Sprintf(format, args...))
	}
	if err := CheckInvariant(s, provider, hold); err != nil {
		add("%v", err)
	}
	v := s.Intent
	if provider.ID != v.ID || provider.Status != v.Status || provider.AmountReceived != v.AmountReceived || provider.AmountRefunded != v.AmountRefunded {
		add("the saga sees intent %q %s (received %d, refunded %d), the provider %q %s (received %d, refunded %d)",
			v.ID, v.Status, v.AmountReceived, v.AmountRefunded, provider.ID, provider.Status, provider.AmountReceived, provider.AmountRefunded)
	}
	if s.Status != s.status() {
		add("marked %s but the payment is %s", s.Status, s.status())
	}
	if s.Hold != hold {
		add("the saga sees the hold %s, the booking rules %s", s.Hold, hold)
	}
	kept := provider.Kept()
	switch {
	case hold != booking.StatusConfirmed && kept > s.Retained:
		add("%d kept for a hold that is %s (retained %d)", kept, hold, s.Retained)
	case hold == booking.StatusConfirmed && s.Confirmed && kept == 0:
		add("confirmed for this payment, but the provider keeps nothing (intent %s)", provider.Status)
	case provider.Status == IntentRequiresCapture && provider.Risk != RiskElevated && s.Review != ReviewOpen:
		add("authorized and neither captured nor released")
	case provider.Status == IntentSucceeded && provider.AmountRefunded < min(s.RefundTarget, provider.AmountReceived):
		add("refund of %d outstanding", min(s.RefundTarget, provider.AmountReceived)-provider.AmountRefunded)
	case provider.Status.stage() == 0 && provider.ID != "" && hold != booking.StatusHeld:
		add("an open intent for a hold that is %s", hold)
	}
	return out
}
