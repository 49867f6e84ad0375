package payment

import (
	"context"
	"errors"
)

// Provider is the payment service behind the saga's provider commands (Stripe in production,
// package api/stripepay; a model of Stripe in tests). The shell that performs commands holds
// one; the saga itself never calls it.
//
// Every method returns the intent as it stands after the call (refunds included in
// AmountRefunded), which the shell feeds back to the saga as an Observed input. Each request
// carries an idempotency key, so a call repeated after a timeout or a crash has the effect of
// one call.
//
// Errors: ErrTemporary in the chain (network, 5xx, 429, a concurrent request with the same key)
// means "retry later with the same command"; any other error means the provider refused the
// request for good (an invalid state, such as capturing a canceled intent), and the shell
// re-reads the intent with GetIntent and feeds that in instead: the provider's state is the
// truth the saga moves on. ErrNotFound: no such intent.
//
// Implementations are safe for concurrent use.
type Provider interface {
	CreateIntent(ctx context.Context, c CreateIntent) (Intent, error)
	GetIntent(ctx context.Context, id string) (Intent, error)
	Capture(ctx context.Context, c CaptureIntent) (Intent, error)
	Cancel(ctx context.Context, c CancelIntent) (Intent, error)
	Refund(ctx context.Context, c RefundIntent) (Intent, error)
}

var (
	// ErrTemporary marks a provider error worth retrying with the same idempotency key.
	ErrTemporary = errors.New("payment provider temporarily unavailable")
	// ErrNotFound: the provider knows no such intent.
	ErrNotFound = errors.New("payment intent not found")
)
