package payment

import (
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
)

// Command is something the saga asks its shell to do. Provider commands go to a Provider;
// hold commands to the resource actor's booking rules; MarkPayment to the store (with the
// hold). Every command is idempotent: the saga re-issues what is still needed after a crash
// or on a tick, and doing it twice is the same as once.
type Command interface {
	fmt.Stringer
	command()
}

// CreateIntent asks the provider for a PaymentIntent with manual capture.
type CreateIntent struct {
	HoldID, ResourceID string
	Attempt            int
	Amount             booking.Money
	IdempotencyKey     string
}

// CaptureIntent captures the whole authorized amount.
type CaptureIntent struct {
	IntentID       string
	Amount         int64
	IdempotencyKey string
}

// CancelIntent cancels an intent that is not captured: the card authorization is released.
type CancelIntent struct {
	IntentID       string
	Reason         string // why, for the log and Stripe's cancellation_reason mapping
	IdempotencyKey string
}

// RefundIntent refunds Amount of a captured intent.
type RefundIntent struct {
	IntentID       string
	Amount         int64
	Reason         string // requested_by_customer, fraudulent, duplicate (Stripe's reasons)
	IdempotencyKey string
}

// ConfirmHold confirms the held hold: the booking is made, the capture follows.
type ConfirmHold struct{ HoldID string }

// RetakeHold takes a hold's units again after it expired or was cancelled, confirmed at once,
// if they are still free (a late payment); the actor answers HoldChanged confirmed or
// RetakeRefused.
type RetakeHold struct{ HoldID string }

// ReleaseHold cancels a confirmed hold whose payment fell through (Radar, an authorization
// that lapsed): a booking is never kept without money.
type ReleaseHold struct {
	HoldID string
	Reason string
}

// ExtendHold extends a held hold by the payment grace, once per hold, so that the customer can
// finish paying; not counted against the resource's MaxExtensions.
type ExtendHold struct {
	HoldID string
	By     time.Duration
}

// MarkPayment records the payment's status with the hold (what the API shows as the hold's
// payment); emitted when the status changes.
type MarkPayment struct {
	HoldID string
	Status Status
}

func (CreateIntent) command()  {}
func (CaptureIntent) command() {}
func (CancelIntent) command()  {}
func (RefundIntent) command()  {}
func (ConfirmHold) command()   {}
func (RetakeHold) command()    {}
func (ReleaseHold) command()   {}
func (ExtendHold) command()    {}
func (MarkPayment) command()   {}

func (c CreateIntent) String() string {
	return fmt.Sprintf("create-intent hold=%s attempt=%d amount=%d %s key=%s", c.HoldID, c.Attempt, c.Amount.Amount, c.Amount.Currency, c.IdempotencyKey)
}
func (c CaptureIntent) String() string {
	return fmt.Sprintf("capture %s amount=%d key=%s", c.IntentID, c.Amount, c.IdempotencyKey)
}
func (c CancelIntent) String() string {
	return fmt.Sprintf("cancel-intent %s reason=%s key=%s", c.IntentID, c.Reason, c.IdempotencyKey)
}
func (c RefundIntent) String() string {
	return fmt.Sprintf("refund %s amount=%d reason=%s key=%s", c.IntentID, c.Amount, c.Reason, c.IdempotencyKey)
}
func (c ConfirmHold) String() string { return "confirm-hold " + c.HoldID }
func (c RetakeHold) String() string  { return "retake-hold " + c.HoldID }
func (c ReleaseHold) String() string {
	return fmt.Sprintf("release-hold %s reason=%s", c.HoldID, c.Reason)
}
func (c ExtendHold) String() string  { return fmt.Sprintf("extend-hold %s by=%s", c.HoldID, c.By) }
func (c MarkPayment) String() string { return fmt.Sprintf("mark %s %s", c.HoldID, c.Status) }
