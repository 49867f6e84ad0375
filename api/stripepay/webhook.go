package stripepay

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
)

// MaxWebhookBody bounds a webhook body the route reads before verifying it; Stripe's events
// are a few kilobytes.
const MaxWebhookBody = 64 << 10

// Verifier checks Stripe-Signature headers and types the events. Safe for concurrent use
// (immutable).
type Verifier struct {
	secret    string
	tolerance time.Duration
}

// NewVerifier builds a verifier from a validated configuration with a WebhookSecret.
func NewVerifier(cfg Config) (*Verifier, error) {
	cfg = cfg.WithDefaults()
	if cfg.WebhookSecret == "" {
		return nil, errors.New("stripepay: no webhook secret")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{secret: cfg.WebhookSecret, tolerance: cfg.Tolerance}, nil
}

// Verify checks payload against the Stripe-Signature header (HMAC-SHA256 with the endpoint's
// secret, and a signed timestamp no older than the tolerance, which stripe-go reads from the
// wall clock) and returns the typed event. Every refusal is a *booking.Error with
// CodeMalformed (400, and nothing changes): Stripe retries, a forger learns nothing but
// "invalid signature" or "stale timestamp". The event's object is taken whatever its API
// version: only a few stable fields are read.
func (v *Verifier) Verify(payload []byte, header string) (payment.Event, error) {
	if len(payload) > MaxWebhookBody {
		return payment.Event{}, booking.Errorf(booking.CodeMalformed, "webhook body too large")
	}
	ev, err := webhook.ConstructEventWithOptions(payload, header, v.secret, webhook.ConstructEventOptions{
		Tolerance: v.tolerance, IgnoreAPIVersionMismatch: true,
	})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return payment.Event{}, booking.Errorf(booking.CodeMalformed, "webhook signature timestamp is stale")
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return payment.Event{}, booking.Errorf(booking.CodeMalformed, "invalid Stripe-Signature")
	case err != nil:
		return payment.Event{}, booking.Errorf(booking.CodeMalformed, "webhook body is not a Stripe event")
	}
	return typed(ev)
}

// typed maps the events the saga acts on; any other type is EventOther (acknowledged with a
// 2xx so that Stripe stops sending it, and ignored).
func typed(ev stripe.Event) (payment.Event, error) {
	out := payment.Event{ID: ev.ID, Kind: payment.EventOther}
	if ev.ID == "" || ev.Data == nil {
		return payment.Event{}, booking.Errorf(booking.CodeMalformed, "webhook event without id or data")
	}
	bad := func() (payment.Event, error) {
		return payment.Event{}, booking.Errorf(booking.CodeMalformed, "webhook event %s: object does not match type %s", ev.ID, ev.Type)
	}
	switch ev.Type {
	case stripe.EventTypePaymentIntentAmountCapturableUpdated, stripe.EventTypePaymentIntentSucceeded,
		stripe.EventTypePaymentIntentPaymentFailed, stripe.EventTypePaymentIntentCanceled:
		var pi stripe.PaymentIntent
		if json.Unmarshal(ev.Data.Raw, &pi) != nil || pi.ID == "" {
			return bad()
		}
		in := intentOf(&pi)
		out.IntentID, out.Intent = pi.ID, &in
		out.Kind = map[stripe.EventType]payment.EventKind{
			stripe.EventTypePaymentIntentAmountCapturableUpdated: payment.EventAuthorized,
			stripe.EventTypePaymentIntentSucceeded:               payment.EventSucceeded,
			stripe.EventTypePaymentIntentPaymentFailed:           payment.EventFailed,
			stripe.EventTypePaymentIntentCanceled:                payment.EventCanceled,
		}[ev.Type]
	case stripe.EventTypeChargeRefunded:
		var ch stripe.Charge
		if json.Unmarshal(ev.Data.Raw, &ch) != nil || ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" {
			return bad()
		}
		out.Kind, out.IntentID = payment.EventRefunded, ch.PaymentIntent.ID
	case stripe.EventTypeReviewOpened, stripe.EventTypeReviewClosed:
		var r stripe.Review
		if json.Unmarshal(ev.Data.Raw, &r) != nil || r.PaymentIntent == nil || r.PaymentIntent.ID == "" {
			return bad()
		}
		out.Kind, out.IntentID = payment.EventReviewOpened, r.PaymentIntent.ID
		if ev.Type == stripe.EventTypeReviewClosed {
			out.Kind, out.ReviewReason = payment.EventReviewClosed, string(r.ClosedReason)
			if out.ReviewReason == "" {
				out.ReviewReason = string(r.Reason)
			}
		}
	}
	return out, nil
}
