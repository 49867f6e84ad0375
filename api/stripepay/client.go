package stripepay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v85"

	"github.com/allot/allot/actors/payment"
)

// Client is payment.Provider on Stripe's API through stripe-go: PaymentIntents with manual
// capture, metadata hold_id, resource_id and attempt, every write with the saga's idempotency
// key. Safe for concurrent use (stripe.Client is). It sends nothing about the customer: the
// card is entered in Stripe's own SDK on the device, with the intent's client secret.
type Client struct {
	sc *stripe.Client
}

var _ payment.Provider = (*Client)(nil)

// New builds a client from a validated configuration.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	bc := &stripe.BackendConfig{
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(cfg.MaxNetworkRetries),
		// stripe-go logs errors with request details; Allot logs what it needs itself.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIURL != "" {
		bc.URL = stripe.String(strings.TrimSuffix(cfg.APIURL, "/"))
	}
	backends := &stripe.Backends{
		API:         stripe.GetBackendWithConfig(stripe.APIBackend, bc),
		Connect:     stripe.GetBackendWithConfig(stripe.ConnectBackend, bc),
		Uploads:     stripe.GetBackendWithConfig(stripe.UploadsBackend, bc),
		MeterEvents: stripe.GetBackendWithConfig(stripe.MeterEventsBackend, bc),
	}
	return &Client{sc: stripe.NewClient(cfg.SecretKey, stripe.WithBackends(backends))}, nil
}

// expand asks for the latest charge with the intent: its Radar outcome and refunds.
var expand = []*string{stripe.String("latest_charge")}

// CreateIntent creates a PaymentIntent with capture_method=manual.
func (c *Client) CreateIntent(ctx context.Context, in payment.CreateIntent) (payment.Intent, error) {
	p := &stripe.PaymentIntentCreateParams{
		Amount:                  stripe.Int64(in.Amount.Amount),
		Currency:                stripe.String(strings.ToLower(in.Amount.Currency)),
		CaptureMethod:           stripe.String(string(stripe.PaymentIntentCaptureMethodManual)),
		AutomaticPaymentMethods: &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)},
		Metadata: map[string]string{
			"hold_id": in.HoldID, "resource_id": in.ResourceID, "attempt": strconv.Itoa(in.Attempt),
		},
		Expand: expand,
	}
	p.SetIdempotencyKey(in.IdempotencyKey)
	pi, err := c.sc.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return payment.Intent{}, wrap("create intent", err)
	}
	out := intentOf(pi)
	if out.HoldID == "" {
		// Stripe echoes the metadata; a stand-in that does not (stripe-mock answers
		// fixtures) still gets the intent adopted by the saga's attempt.
		out.HoldID, out.ResourceID, out.Attempt = in.HoldID, in.ResourceID, in.Attempt
	}
	return out, nil
}

// GetIntent reads an intent with its latest charge.
func (c *Client) GetIntent(ctx context.Context, id string) (payment.Intent, error) {
	pi, err := c.sc.V1PaymentIntents.Retrieve(ctx, id, &stripe.PaymentIntentRetrieveParams{Expand: expand})
	if err != nil {
		return payment.Intent{}, wrap("get intent", err)
	}
	return intentOf(pi), nil
}

// Capture captures in.Amount of an authorized intent.
func (c *Client) Capture(ctx context.Context, in payment.CaptureIntent) (payment.Intent, error) {
	p := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(in.Amount), Expand: expand}
	p.SetIdempotencyKey(in.IdempotencyKey)
	pi, err := c.sc.V1PaymentIntents.Capture(ctx, in.IntentID, p)
	if err != nil {
		return payment.Intent{}, wrap("capture", err)
	}
	return intentOf(pi), nil
}

// Cancel cancels an intent that is not captured, releasing the authorization.
func (c *Client) Cancel(ctx context.Context, in payment.CancelIntent) (payment.Intent, error) {
	p := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(cancellationReason(in.Reason)), Expand: expand}
	p.SetIdempotencyKey(in.IdempotencyKey)
	pi, err := c.sc.V1PaymentIntents.Cancel(ctx, in.IntentID, p)
	if err != nil {
		return payment.Intent{}, wrap("cancel intent", err)
	}
	return intentOf(pi), nil
}

// Refund refunds in.Amount of a captured intent, then reads the intent back.
func (c *Client) Refund(ctx context.Context, in payment.RefundIntent) (payment.Intent, error) {
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(in.IntentID), Amount: stripe.Int64(in.Amount)}
	if r := refundReason(in.Reason); r != "" {
		p.Reason = stripe.String(r)
	}
	p.Metadata = map[string]string{"allot_key": in.IdempotencyKey}
	p.SetIdempotencyKey(in.IdempotencyKey)
	if _, err := c.sc.V1Refunds.Create(ctx, p); err != nil {
		return payment.Intent{}, wrap("refund", err)
	}
	return c.GetIntent(ctx, in.IntentID)
}

// cancellationReason maps the saga's reasons onto the four Stripe accepts.
func cancellationReason(r string) string {
	switch r {
	case "fraudulent", "requested_by_customer", "duplicate":
		return r
	}
	return "abandoned"
}

func refundReason(r string) string {
	switch r {
	case "fraudulent", "requested_by_customer", "duplicate":
		return r
	}
	return ""
}

// wrap classifies a stripe-go error by payment.Provider's contract: payment.ErrTemporary for
// what a retry with the same key may fix (no answer, 429, 5xx, a concurrent request with the
// same key), payment.ErrNotFound for a missing intent, and the error itself otherwise.
func wrap(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripepay: %s: %w: %w", op, payment.ErrTemporary, err)
	}
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 ||
		(se.Type == stripe.ErrorTypeIdempotency && se.HTTPStatusCode == http.StatusConflict):
		return fmt.Errorf("stripepay: %s: %w: %w", op, payment.ErrTemporary, err)
	case se.HTTPStatusCode == http.StatusNotFound || se.Code == stripe.ErrorCodeResourceMissing:
		return fmt.Errorf("stripepay: %s: %w: %w", op, payment.ErrNotFound, err)
	}
	return fmt.Errorf("stripepay: %s: %w", op, err)
}

// intentOf converts Stripe's PaymentIntent (with its latest charge expanded, or not).
func intentOf(pi *stripe.PaymentIntent) payment.Intent {
	attempt, _ := strconv.Atoi(pi.Metadata["attempt"])
	in := payment.Intent{
		ID:               pi.ID,
		HoldID:           pi.Metadata["hold_id"],
		ResourceID:       pi.Metadata["resource_id"],
		Attempt:          attempt,
		Amount:           pi.Amount,
		Currency:         strings.ToUpper(string(pi.Currency)),
		Status:           payment.IntentStatus(pi.Status),
		AmountCapturable: pi.AmountCapturable,
		AmountReceived:   pi.AmountReceived,
		Failed:           pi.Status == stripe.PaymentIntentStatusRequiresPaymentMethod && pi.LastPaymentError != nil,
		ClientSecret:     pi.ClientSecret,
	}
	if ch := pi.LatestCharge; ch != nil {
		in.AmountRefunded = ch.AmountRefunded
		if ch.Outcome != nil {
			in.Risk = payment.RiskLevel(ch.Outcome.RiskLevel)
		}
		in.ReviewOpen = ch.Review != nil && ch.Review.Open
	}
	return in
}
