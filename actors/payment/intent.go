package payment

import "strings"

// IntentStatus is a Stripe PaymentIntent's status. With capture_method=manual its life is
// requires_payment_method -> (requires_confirmation | requires_action | processing) ->
// requires_capture -> succeeded | canceled; a declined card sends it back to
// requires_payment_method with a last payment error, and canceled is reachable from every
// status before succeeded.
type IntentStatus string

const (
	IntentRequiresPaymentMethod IntentStatus = "requires_payment_method"
	IntentRequiresConfirmation  IntentStatus = "requires_confirmation"
	IntentRequiresAction        IntentStatus = "requires_action"
	IntentProcessing            IntentStatus = "processing"
	IntentRequiresCapture       IntentStatus = "requires_capture"
	IntentSucceeded             IntentStatus = "succeeded"
	IntentCanceled              IntentStatus = "canceled"
)

// stage orders statuses by what can follow what: every status before authorization is stage 0
// (they may alternate, a decline returns to requires_payment_method), requires_capture is 1,
// and the two ends are 2. An intent never goes back a stage; a report that would is stale.
func (s IntentStatus) stage() int {
	switch s {
	case IntentRequiresCapture:
		return 1
	case IntentSucceeded, IntentCanceled:
		return 2
	}
	return 0
}

// RiskLevel is Radar's risk_level of the intent's charge.
type RiskLevel string

const (
	RiskUnknown  RiskLevel = ""
	RiskNormal   RiskLevel = "normal"
	RiskElevated RiskLevel = "elevated"
	RiskHighest  RiskLevel = "highest"
)

// Intent is the provider's view of one payment, as much of it as the saga decides on. It holds
// no card data: Allot never sees any (the card is tokenized by Stripe's client SDK).
type Intent struct {
	ID         string
	HoldID     string // metadata hold_id
	ResourceID string // metadata resource_id
	Attempt    int    // metadata attempt
	Amount     int64
	Currency   string // ISO 4217, compared without case (Stripe answers in lower case)
	Status     IntentStatus
	// AmountCapturable is what may still be captured (requires_capture); AmountReceived what
	// was captured; AmountRefunded what went back, of AmountReceived.
	AmountCapturable int64
	AmountReceived   int64
	AmountRefunded   int64
	// Failed: the last confirmation was declined (last_payment_error); the customer may retry.
	Failed bool
	Risk   RiskLevel
	// ReviewOpen: Radar opened a review on the charge that is not closed yet.
	ReviewOpen bool
	// ClientSecret lets the customer's device confirm the intent. The saga never keeps it.
	ClientSecret string
}

// Kept is the money the provider holds for the merchant: captured minus refunded.
func (in Intent) Kept() int64 { return in.AmountReceived - in.AmountRefunded }

func sameCurrency(a, b string) bool { return strings.EqualFold(a, b) }

// EventKind is what a provider event reports, as the webhook decoder types it.
type EventKind string

const (
	EventAuthorized   EventKind = "authorized"    // payment_intent.amount_capturable_updated
	EventSucceeded    EventKind = "succeeded"     // payment_intent.succeeded
	EventFailed       EventKind = "failed"        // payment_intent.payment_failed
	EventCanceled     EventKind = "canceled"      // payment_intent.canceled
	EventRefunded     EventKind = "refunded"      // charge.refunded
	EventReviewOpened EventKind = "review_opened" // review.opened
	EventReviewClosed EventKind = "review_closed" // review.closed
	EventOther        EventKind = "other"         // anything else: acknowledged, ignored
)

// Event is one provider event (a verified webhook), typed. The saga takes it with a fresh read
// of the intent (Observed); Intent here is the object as the event carried it, possibly stale.
type Event struct {
	ID       string
	Kind     EventKind
	IntentID string
	// ReviewReason is review.closed's reason: approved, refunded, refunded_as_fraud,
	// disputed, redacted.
	ReviewReason string
	Intent       *Intent
}
