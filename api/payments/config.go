package payments

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Dispatcher delivers a command to the activation that owns its resource and returns the
// reply (api.Dispatcher's contract: safe for concurrent use, returns when ctx is done, a
// refusal is a Reply with Error set, an error is transport trouble with an unknown outcome).
type Dispatcher interface {
	Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error)
}

// Lister lists the holds with a payment (every persistence store has it). Safe for
// concurrent use; errors wrap persistence.ErrUnavailable when the store is down.
type Lister interface {
	ListPayments(ctx context.Context, f persistence.PaymentFilter) ([]booking.Hold, error)
}

// Verifier checks a webhook's Stripe-Signature and types its event (api/stripepay.Verifier).
// A refusal is a *booking.Error (CodeMalformed). Safe for concurrent use.
type Verifier interface {
	Verify(payload []byte, header string) (payment.Event, error)
}

// Config configures the payment layer. Zero durations take DefaultConfig's; Validate checks.
type Config struct {
	// Provider performs the saga's provider commands (api/stripepay.Client). nil: payments
	// are off, and the routes answer that they are (409 conflict, "payments are off").
	Provider payment.Provider
	// Verifier checks webhooks; nil refuses every webhook (no webhook secret configured).
	Verifier   Verifier
	Dispatcher Dispatcher // required
	Store      Lister     // required with a Provider: the reconciler's list
	// Saga is the saga's configuration (--payment-grace: Saga.Grace).
	Saga payment.Config
	// Policy is the node's default cancellation policy: it applies to the paid holds of a
	// resource that has no cancellation_policy of its own (payment.PolicyFor). The zero
	// Policy refunds in full whenever the owner cancels.
	Policy payment.Policy
	// AttemptsPerHour bounds the payment requests of one user per hour on this node (Radar's
	// card-testing advice; the saga also bounds intents per hold). Default 20.
	AttemptsPerHour int
	// ReconcileEvery is how often open payments are re-read and driven. Default 30s.
	ReconcileEvery time.Duration
	// RequestTimeout bounds one command to an actor and one provider call. Default 10s.
	RequestTimeout time.Duration
	// Fail answers a request with the problem an error maps to (api.Fail); Subject returns
	// the authenticated caller's subject ("" for none) (api.PrincipalOf). Required.
	Fail    func(c *gin.Context, err error)
	Subject func(c *gin.Context) string
	// Now is the component's clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultConfig holds the defaults of every zero field.
var DefaultConfig = Config{ReconcileEvery: 30 * time.Second, RequestTimeout: 10 * time.Second, AttemptsPerHour: 20}

func (c Config) withDefaults() Config {
	if c.ReconcileEvery == 0 {
		c.ReconcileEvery = DefaultConfig.ReconcileEvery
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultConfig.RequestTimeout
	}
	if c.AttemptsPerHour == 0 {
		c.AttemptsPerHour = DefaultConfig.AttemptsPerHour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Saga = c.Saga.WithDefaults()
	return c
}

func (c Config) validate() error {
	switch {
	case c.Dispatcher == nil || c.Fail == nil || c.Subject == nil:
		return errors.New("payments: Dispatcher, Fail and Subject are required")
	case c.Provider != nil && c.Store == nil:
		return errors.New("payments: a Provider needs a Store to reconcile")
	case c.ReconcileEvery < 0 || c.RequestTimeout <= 0 || c.AttemptsPerHour < 1:
		return errors.New("payments: ReconcileEvery must not be negative, RequestTimeout and AttemptsPerHour must be positive")
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	return c.Saga.Validate()
}
