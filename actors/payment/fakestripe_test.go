package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// fakeStripe models Stripe's PaymentIntent with capture_method=manual, as far as the saga can
// tell it apart: requires_payment_method -> requires_capture -> succeeded | canceled, a decline
// back to requires_payment_method with an error, refunds up to the captured amount, Radar's
// risk level and review on the charge, and idempotency keys that replay the saved response (a
// snapshot of that time, not the intent as it is now) and refuse a key reused with other
// parameters. Every change emits the event Stripe would send, carrying the object as it was.
//
// Faults: failNext makes the next calls fail with ErrTemporary, before the request is done
// (connection refused) or after (the response was lost), as lostAfter says.
type fakeStripe struct {
	mu      sync.Mutex
	intents map[string]*Intent
	order   []string // intent ids in creation order
	keys    map[string]keyed
	events  []Event
	nextEvt int

	failNext  int
	lostAfter bool
	// captureDown: every capture fails with ErrTemporary (an outage of the capture path).
	captureDown bool
}

type keyed struct {
	request string
	result  Intent
	err     error
}

var _ Provider = (*fakeStripe)(nil)

func newFakeStripe() *fakeStripe {
	return &fakeStripe{intents: map[string]*Intent{}, keys: map[string]keyed{}}
}

var errInvalidState = errors.New("payment_intent_unexpected_state")

// idempotent runs op under key: a repeat with the same request replays the saved result.
func (f *fakeStripe) idempotent(key, request string, op func() (Intent, error)) (Intent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 && !f.lostAfter {
		f.failNext--
		return Intent{}, fmt.Errorf("fake stripe: connection refused: %w", ErrTemporary)
	}
	if k, ok := f.keys[key]; ok {
		if k.request != request {
			return Intent{}, fmt.Errorf("fake stripe: idempotency key %s reused with other parameters", key)
		}
		return k.result, k.err
	}
	res, err := op()
	f.keys[key] = keyed{request: request, result: res, err: err}
	if f.failNext > 0 {
		f.failNext--
		return Intent{}, fmt.Errorf("fake stripe: response lost: %w", ErrTemporary)
	}
	return res, err
}

func (f *fakeStripe) emit(kind EventKind, in *Intent, reason string) {
	f.nextEvt++
	snap := *in
	snap.ClientSecret = ""
	f.events = append(f.events, Event{ID: fmt.Sprintf("evt_%d", f.nextEvt), Kind: kind, IntentID: in.ID, ReviewReason: reason, Intent: &snap})
}

// takeEvents hands out the events emitted since the last call (the webhook deliveries).
func (f *fakeStripe) takeEvents() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := f.events
	f.events = nil
	return ev
}

func (f *fakeStripe) CreateIntent(_ context.Context, c CreateIntent) (Intent, error) {
	return f.idempotent(c.IdempotencyKey, fmt.Sprint("create", c.HoldID, c.ResourceID, c.Attempt, c.Amount), func() (Intent, error) {
		id := fmt.Sprintf("pi_%d", len(f.order)+1)
		in := &Intent{ID: id, HoldID: c.HoldID, ResourceID: c.ResourceID, Attempt: c.Attempt, Amount: c.Amount.Amount,
			Currency: strings.ToLower(c.Amount.Currency), Status: IntentRequiresPaymentMethod, ClientSecret: id + "_secret"}
		f.intents[id] = in
		f.order = append(f.order, id)
		return *in, nil
	})
}

func (f *fakeStripe) GetIntent(_ context.Context, id string) (Intent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.intents[id]
	if !ok {
		return Intent{}, ErrNotFound
	}
	return *in, nil
}

func (f *fakeStripe) Capture(_ context.Context, c CaptureIntent) (Intent, error) {
	f.mu.Lock()
	down := f.captureDown
	f.mu.Unlock()
	if down {
		return Intent{}, fmt.Errorf("fake stripe: 503: %w", ErrTemporary)
	}
	return f.idempotent(c.IdempotencyKey, fmt.Sprint("capture", c.IntentID, c.Amount), func() (Intent, error) {
		in, ok := f.intents[c.IntentID]
		switch {
		case !ok:
			return Intent{}, ErrNotFound
		case in.Status != IntentRequiresCapture || c.Amount > in.AmountCapturable:
			return Intent{}, fmt.Errorf("capture %s: %w", in.Status, errInvalidState)
		}
		in.Status, in.AmountReceived, in.AmountCapturable = IntentSucceeded, c.Amount, 0
		f.emit(EventSucceeded, in, "")
		return *in, nil
	})
}

func (f *fakeStripe) Cancel(_ context.Context, c CancelIntent) (Intent, error) {
	return f.idempotent(c.IdempotencyKey, fmt.Sprint("cancel", c.IntentID), func() (Intent, error) {
		in, ok := f.intents[c.IntentID]
		switch {
		case !ok:
			return Intent{}, ErrNotFound
		case in.Status == IntentSucceeded || in.Status == IntentCanceled:
			return Intent{}, fmt.Errorf("cancel %s: %w", in.Status, errInvalidState)
		}
		in.Status, in.AmountCapturable = IntentCanceled, 0
		f.emit(EventCanceled, in, "")
		return *in, nil
	})
}

func (f *fakeStripe) Refund(_ context.Context, c RefundIntent) (Intent, error) {
	return f.idempotent(c.IdempotencyKey, fmt.Sprint("refund", c.IntentID, c.Amount), func() (Intent, error) {
		in, ok := f.intents[c.IntentID]
		switch {
		case !ok:
			return Intent{}, ErrNotFound
		case in.Status != IntentSucceeded:
			return Intent{}, fmt.Errorf("refund %s: %w", in.Status, errInvalidState)
		case c.Amount <= 0 || c.Amount > in.AmountReceived-in.AmountRefunded:
			return Intent{}, fmt.Errorf("refund of %d exceeds the charge: %w", c.Amount, errInvalidState)
		}
		in.AmountRefunded += c.Amount
		f.emit(EventRefunded, in, "")
		return *in, nil
	})
}

// outcome is what the customer's card and Radar do when the customer confirms the intent.
type outcome int

const (
	payNormal outcome = iota
	payDeclined
	payElevated
	payHighest
)

// pay is the customer confirming the intent on their device with the client secret.
func (f *fakeStripe) pay(id string, o outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.intents[id]
	if !ok || in.Status != IntentRequiresPaymentMethod {
		return // Stripe refuses to confirm an intent in any other state
	}
	if o == payDeclined {
		in.Failed = true
		f.emit(EventFailed, in, "")
		return
	}
	in.Failed, in.Status, in.AmountCapturable = false, IntentRequiresCapture, in.Amount
	in.Risk = map[outcome]RiskLevel{payNormal: RiskNormal, payElevated: RiskElevated, payHighest: RiskHighest}[o]
	in.ReviewOpen = o == payElevated
	f.emit(EventAuthorized, in, "")
	if in.ReviewOpen {
		f.emit(EventReviewOpened, in, "")
	}
}

// closeReview is an operator closing Radar's review in the Stripe dashboard.
func (f *fakeStripe) closeReview(id, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.intents[id]
	if in == nil || !in.ReviewOpen {
		return
	}
	in.ReviewOpen = false
	f.emit(EventReviewClosed, in, reason)
}

// lapse is Stripe cancelling an authorization nobody captured in time (about 7 days).
func (f *fakeStripe) lapse(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.intents[id]; in != nil && in.Status == IntentRequiresCapture {
		in.Status, in.AmountCapturable = IntentCanceled, 0
		f.emit(EventCanceled, in, "")
	}
}

// ofHold lists the hold's intents, oldest first.
func (f *fakeStripe) ofHold(hold string) []Intent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Intent
	for _, id := range f.order {
		if in := f.intents[id]; in.HoldID == hold {
			out = append(out, *in)
		}
	}
	return out
}
