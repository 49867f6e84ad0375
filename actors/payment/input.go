package payment

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// Input is what the saga is told: a request, what the provider reports, what happened to the
// hold, an operator's decision, or that time passed.
type Input interface{ input() }

// Requested: the hold's owner asks to pay (POST .../holds/{hid}/payment). Amount is what
// Amount computed; Policy and ServiceStart (the start of the hold's first bucket, zero if
// unknown) are the resource's, kept for a later refund. Hold is the hold's status now.
type Requested struct {
	Amount       booking.Money
	Policy       Policy
	ServiceStart time.Time
	Hold         booking.Status
}

// Observed: the provider's view of the intent, from a verified webhook (EventID, Kind and
// ReviewReason set, Intent re-read or as the event carried it) or from a command's result or a
// reconciliation read (EventID empty). Reports may be stale, duplicated or out of order.
type Observed struct {
	EventID      string
	Kind         EventKind
	ReviewReason string
	Intent       Intent
}

// HoldChanged: the hold is now Status, as the booking rules decided (a confirm or retake the
// saga asked for, an expiry, a cancellation). ByOperator marks a cancellation by an operator,
// which refunds in full whatever the policy.
type HoldChanged struct {
	Status     booking.Status
	ByOperator bool
}

// RetakeRefused: the hold's units were taken meanwhile (sold out); a late payment cannot
// become a booking.
type RetakeRefused struct{}

// Decided: an operator approved or rejected a payment under review.
type Decided struct{ Approve bool }

// Tick: time passed; the saga re-issues what is still needed (resumption after a crash, a
// retry after a temporary provider error) and acts on its deadlines.
type Tick struct{}

func (Requested) input()     {}
func (Observed) input()      {}
func (HoldChanged) input()   {}
func (RetakeRefused) input() {}
func (Decided) input()       {}
func (Tick) input()          {}
