package webhooks

import (
	"context"
	"errors"
	"time"
)

// Store errors. Implementations wrap them; callers test with errors.Is.
var (
	// ErrNotFound: no such endpoint or delivery.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrExists: an endpoint with that id exists already.
	ErrExists = errors.New("webhooks: already exists")
	// ErrStale: another attempt of the delivery was recorded since it was claimed (its claim
	// lease ran out and another node took it); this attempt is not recorded.
	ErrStale = errors.New("webhooks: delivery changed since it was claimed")
)

// Store keeps endpoints, deliveries and attempts. It is the seam between the dispatcher and
// the admin API on one side and SQLite, PostgreSQL/CockroachDB or memory on the other;
// every implementation passes the contract suite in storetest.
//
// All methods are safe for concurrent use, also from several nodes on one database. Times
// are kept to the millisecond. Errors other than the sentinels above mean the store could
// not be reached or failed; nothing is then known to have changed.
type Store interface {
	// CreateEndpoint stores a new endpoint; ErrExists if its id is taken.
	CreateEndpoint(ctx context.Context, e Endpoint) error
	// GetEndpoint returns an endpoint; ErrNotFound if there is none.
	GetEndpoint(ctx context.Context, id string) (Endpoint, error)
	// ListEndpoints returns every endpoint, by creation time then id.
	ListEndpoints(ctx context.Context) ([]Endpoint, error)
	// DeleteEndpoint removes an endpoint with its deliveries and their attempts; ErrNotFound
	// if there is none.
	DeleteEndpoint(ctx context.Context, id string) error
	// SetEndpointState records the endpoint's health; ErrNotFound if there is none.
	SetEndpointState(ctx context.Context, id string, st EndpointState, now time.Time) error

	// AddDeliveries stores deliveries, skipping any whose (EndpointID, EventID) is stored
	// already, and returns how many it added. Endpoints are not checked.
	AddDeliveries(ctx context.Context, ds []Delivery) (added int, err error)
	// GetDelivery returns a delivery of an endpoint; ErrNotFound if there is none.
	GetDelivery(ctx context.Context, endpointID, id string) (Delivery, error)
	// ListDeliveries returns an endpoint's deliveries, newest first, at most limit of them,
	// created strictly before the delivery id before when before is not empty (a cursor).
	ListDeliveries(ctx context.Context, endpointID string, limit int, before string) ([]Delivery, error)
	// ListAttempts returns a delivery's attempts in order.
	ListAttempts(ctx context.Context, deliveryID string) ([]Attempt, error)
	// ClaimDue returns up to limit pending deliveries due at now (the longest due chosen
	// first), in id order, of endpoints not in exclude, and moves each one's NextAttemptAt to
	// leaseUntil, so that no other claim returns it until then (unless its attempt is
	// recorded first).
	ClaimDue(ctx context.Context, now, leaseUntil time.Time, limit int, exclude []string) ([]Delivery, error)
	// RecordAttempt stores attempt a and applies its outcome to the delivery, in one
	// transaction, only if the delivery still has a.N-1 attempts; otherwise ErrStale.
	// ErrNotFound if the delivery is gone.
	RecordAttempt(ctx context.Context, a Attempt, o Outcome) error
	// AddEvents records one batch of events of a bus consumer in one transaction: each event
	// that consumer has not recorded before is marked in the consumer's inbox (at) and its
	// deliveries are stored (skipping any whose (EndpointID, EventID) is stored already); an
	// event recorded before adds nothing, so a redelivered batch does not bring back
	// deliveries for endpoints registered since. It returns the deliveries added, in the
	// order given. On error nothing changed.
	AddEvents(ctx context.Context, consumer string, at time.Time, evs []EventDeliveries) ([]Delivery, error)
	// RecordAttempts is RecordAttempt for many attempts in one transaction: errs[i] is the
	// result of rs[i] (nil, or wrapping ErrStale or ErrNotFound), applied in order. A non-nil
	// err means that none was recorded.
	RecordAttempts(ctx context.Context, rs []AttemptRecord) (errs []error, err error)
	// Reschedule makes a delivery pending and due at at (a retry by hand), whatever its
	// status; ErrNotFound if the endpoint has no such delivery.
	Reschedule(ctx context.Context, endpointID, id string, at time.Time) error
}

// EventDeliveries is one event's deliveries, for AddEvents (possibly none: the event is then
// only marked in the inbox).
type EventDeliveries struct {
	EventID    string
	Deliveries []Delivery
}

// AttemptRecord is one attempt and its outcome, for RecordAttempts.
type AttemptRecord struct {
	Attempt Attempt
	Outcome Outcome
}
