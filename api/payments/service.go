package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/api/ratelimit"
	"github.com/allot/allot/protos"
)

// errOff answers every payment route of a node without a Stripe key.
var errOff = booking.Errorf(booking.CodeConflict,
	"payments are off on this node: no Stripe secret key is configured (--stripe-secret-key-file or ALLOT_STRIPE_SECRET_KEY)")

// maxRounds bounds the provider round trips of one drive; the reconciler picks up the rest.
const maxRounds = 8

// Service is the payment layer: the routes' logic, the saga driver and the reconciler. Safe
// for concurrent use; Start starts the reconciler, Close stops it (safe twice).
type Service struct {
	cfg      Config
	sagaJS   []byte // the saga's configuration and the policy, as the actor takes them
	polJS    []byte
	attempts *ratelimit.Limiter // payment requests per user

	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	started bool
	closed  bool
}

// New checks cfg and returns a service; payments are off when cfg.Provider is nil.
func New(cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sagaJS, err := json.Marshal(cfg.Saga)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	polJS, err := json.Marshal(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	attempts, err := ratelimit.NewLimiter(ratelimit.Limit{Count: cfg.AttemptsPerHour, Period: time.Hour, Burst: cfg.AttemptsPerHour}, 100_000, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	return &Service{cfg: cfg, sagaJS: sagaJS, polJS: polJS, attempts: attempts, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Enabled reports whether payments are on (a provider is configured).
func (s *Service) Enabled() bool { return s.cfg.Provider != nil }

// PayAnswer is what the owner learns when asking to pay: enough for Stripe's client SDK
// (PaymentSheet, Stripe.js) to collect and confirm the payment on the device.
type PayAnswer struct {
	HoldID       string     `json:"hold_id"`
	ResourceID   string     `json:"resource_id"`
	IntentID     string     `json:"intent_id,omitempty"`
	ClientSecret string     `json:"client_secret,omitempty"`
	Amount       int64      `json:"amount"`
	Currency     string     `json:"currency"`
	Status       string     `json:"status"`
	HoldStatus   string     `json:"hold_status"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
}

// Pay asks the hold's actor to start (or resume) the payment of hold hid for user, creates
// the intent and answers its client secret.
func (s *Service) Pay(ctx context.Context, rid, hid, user string) (PayAnswer, error) {
	if !s.Enabled() {
		return PayAnswer{}, errOff
	}
	if d := s.attempts.Allow(user); !d.Allowed {
		return PayAnswer{}, booking.Errorf(booking.CodeBusy, "more than %d payment requests in an hour; retry in %s",
			s.cfg.AttemptsPerHour, d.RetryAfter.Round(time.Second))
	}
	h, saga, err := s.send(ctx, rid, &protos.PaymentOp{HoldId: hid, UserId: user, Kind: "pay", Policy: s.polJS})
	if err != nil {
		return PayAnswer{}, err
	}
	secret, h2, saga2, err := s.drive(ctx, rid, hid, saga)
	if err != nil {
		return PayAnswer{}, err
	}
	if h2 != nil {
		h, saga = h2, saga2
	}
	if secret == "" && saga.Intent.ID != "" {
		// A repeated request: the intent under way is the customer's to confirm again.
		in, err := s.callProvider(ctx, func(ctx context.Context) (payment.Intent, error) {
			return s.cfg.Provider.GetIntent(ctx, saga.Intent.ID)
		})
		if err != nil {
			return PayAnswer{}, unavailable("read the payment intent", err)
		}
		secret = in.ClientSecret
	}
	if saga.Intent.ID == "" {
		return PayAnswer{}, booking.Errorf(booking.CodeUnavailable, "the payment provider did not answer; retry")
	}
	a := PayAnswer{HoldID: hid, ResourceID: rid, IntentID: saga.Intent.ID, ClientSecret: secret,
		Amount: saga.Amount.Amount, Currency: saga.Amount.Currency, Status: string(saga.Status), HoldStatus: h.GetStatus()}
	if h.GetStatus() == string(booking.StatusHeld) {
		t := time.UnixMilli(h.GetExpiresAtMs()).UTC()
		a.ExpiresAt = &t
	}
	return a, nil
}

// Review records an operator's decision on a payment under review (Radar's elevated risk):
// approved, the hold is confirmed and captured; rejected, the intent is cancelled. It answers
// the hold's payment as it then stands.
func (s *Service) Review(ctx context.Context, rid, hid string, approve bool) (PayAnswer, error) {
	if !s.Enabled() {
		return PayAnswer{}, errOff
	}
	h, saga, err := s.send(ctx, rid, &protos.PaymentOp{HoldId: hid, Kind: "review", Approve: approve})
	if err != nil {
		return PayAnswer{}, err
	}
	if _, h2, saga2, err := s.drive(ctx, rid, hid, saga); err != nil {
		return PayAnswer{}, err
	} else if h2 != nil {
		h, saga = h2, saga2
	}
	return PayAnswer{HoldID: hid, ResourceID: rid, IntentID: saga.Intent.ID, Amount: saga.Amount.Amount,
		Currency: saga.Amount.Currency, Status: string(saga.Status), HoldStatus: h.GetStatus()}, nil
}

// send delivers one payment command and returns the hold and its saga as committed.
func (s *Service) send(ctx context.Context, rid string, op *protos.PaymentOp) (*protos.Hold, *payment.Saga, error) {
	op.Config = s.sagaJS
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	cmd := &protos.Command{ResourceId: rid, DeadlineUnixMs: s.cfg.Now().Add(s.cfg.RequestTimeout).UnixMilli(),
		Op: &protos.Command_Payment{Payment: op}}
	reply, err := s.cfg.Dispatcher.Dispatch(ctx, cmd)
	switch {
	case err != nil:
		return nil, nil, unavailable("the resource's owner could not be reached", err)
	case reply.GetError() != nil:
		return nil, nil, booking.Errorf(reply.GetError().GetCode(), "%s", reply.GetError().GetMessage())
	case reply.GetHold() == nil:
		return nil, nil, booking.Errorf(booking.CodeInternal, "the resource's owner answered a payment without the hold")
	}
	h := reply.GetHold()
	saga, err := payment.Decode(h.GetPayment(), h.GetId(), h.GetResourceId())
	if err != nil {
		return nil, nil, booking.Errorf(booking.CodeInternal, "%v", err)
	}
	return h, saga, nil
}

func (s *Service) observe(ctx context.Context, rid, hid string, o payment.Observed) (*protos.Hold, *payment.Saga, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, nil, fmt.Errorf("payments: %w", err)
	}
	return s.send(ctx, rid, &protos.PaymentOp{HoldId: hid, Kind: "observed", Observed: b})
}

// drive performs the provider commands saga still needs and steps their results back into
// the hold's actor, until the saga needs nothing more from the provider, a round changes
// nothing (a provider that does not move: the reconciler retries later), or a provider error
// is temporary. It returns a client secret if a create answered one, and the last hold and
// saga (nil when no command was performed).
func (s *Service) drive(ctx context.Context, rid, hid string, saga *payment.Saga) (string, *protos.Hold, *payment.Saga, error) {
	var secret string
	var last *protos.Hold
	for round := 0; round < maxRounds; round++ {
		cmds := saga.Provider(s.cfg.Saga, s.cfg.Now())
		if len(cmds) == 0 {
			break
		}
		before := payment.Encode(saga)
		for _, c := range cmds {
			in, err := s.perform(ctx, c)
			if errors.Is(err, payment.ErrTemporary) || ctx.Err() != nil {
				s.cfg.Logger.Warn("payment provider: temporary failure, retrying later", "hold_id", hid, "command", kind(c), "err", err)
				return secret, last, saga, nil
			}
			if err != nil {
				// Refused for good: the provider's state is the truth the saga moves on.
				id := intentID(c)
				s.cfg.Logger.Warn("payment provider refused a command", "hold_id", hid, "command", kind(c), "err", err)
				if id == "" {
					return secret, last, saga, nil
				}
				if in, err = s.callProvider(ctx, func(ctx context.Context) (payment.Intent, error) {
					return s.cfg.Provider.GetIntent(ctx, id)
				}); err != nil {
					return secret, last, saga, nil
				}
			}
			if in.ClientSecret != "" {
				secret = in.ClientSecret
			}
			h, sg, err := s.observe(ctx, rid, hid, payment.Observed{Intent: in})
			if err != nil {
				return secret, last, saga, err
			}
			last, saga = h, sg
		}
		if payment.Encode(saga) == before {
			break
		}
	}
	return secret, last, saga, nil
}

// perform runs one provider command with the request timeout.
func (s *Service) perform(ctx context.Context, c payment.Command) (payment.Intent, error) {
	p := s.cfg.Provider
	return s.callProvider(ctx, func(ctx context.Context) (payment.Intent, error) {
		switch c := c.(type) {
		case payment.CreateIntent:
			return p.CreateIntent(ctx, c)
		case payment.CaptureIntent:
			return p.Capture(ctx, c)
		case payment.CancelIntent:
			return p.Cancel(ctx, c)
		case payment.RefundIntent:
			return p.Refund(ctx, c)
		}
		return payment.Intent{}, fmt.Errorf("payments: %s is not a provider command", c)
	})
}

func (s *Service) callProvider(ctx context.Context, f func(context.Context) (payment.Intent, error)) (payment.Intent, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	return f(ctx)
}

func intentID(c payment.Command) string {
	switch c := c.(type) {
	case payment.CaptureIntent:
		return c.IntentID
	case payment.CancelIntent:
		return c.IntentID
	case payment.RefundIntent:
		return c.IntentID
	}
	return ""
}

// kind names a command for the log without its amounts or keys.
func kind(c payment.Command) string {
	switch c.(type) {
	case payment.CreateIntent:
		return "create"
	case payment.CaptureIntent:
		return "capture"
	case payment.CancelIntent:
		return "cancel"
	case payment.RefundIntent:
		return "refund"
	}
	return "other"
}

// unavailable is the retryable answer for a failed round trip; the cause stays out of the
// answer (it may name internal addresses) and goes to the log of the caller.
func unavailable(what string, _ error) error {
	return booking.Errorf(booking.CodeUnavailable, "%s; retry later", what)
}
