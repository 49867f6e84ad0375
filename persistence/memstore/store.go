// Package memstore is an in-memory persistence.Store for tests and for the in-process
// throughput ceiling.
//
// It keeps the contract of persistence.Store (see package storetest) as a database would:
// every Activate, Commit and Renew is atomic, the epoch fences stale activations, a batch that
// would break the schema CHECK on buckets is refused whole, and times are kept at millisecond
// precision in UTC (durations too; lease ends rounded up, as the SQL stores do), so that code
// tested against memstore sees what it would see from SQLite or PostgreSQL. Values are
// deep-copied in and out: a caller can neither alias nor change the store's state after a
// call returns.
//
// Concurrency: all methods are safe for concurrent use; one mutex serializes them, so a
// store's throughput is the ceiling of a single-writer database without I/O. Hooks run
// outside the mutex and before the operation, so a blocking hook delays only its caller.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// Store is the in-memory store. The zero value is not usable: call New.
type Store struct {
	mu           sync.Mutex
	closed       bool
	resources    map[string]*resource
	owners       map[string]string // hold id -> resource id; a hold belongs to one resource forever
	waitOwners   map[string]string // waitlist entry id -> resource id, likewise
	commitHook   func(ctx context.Context, b *persistence.Batch) error
	activateHook func(ctx context.Context, resourceID string) error
	renewHook    func(ctx context.Context, resourceID string, epoch uint64, until time.Time) error
	outbox       outbox
	tails        map[string]chan struct{} // per resource: closed when its last enqueued commit ended (pipeline.go)
}

// resource is one stored resource. Its values are owned by the store: everything that goes
// in or out is copied.
type resource struct {
	epoch   uint64
	version uint64
	lease   time.Time // the lease end, leaseMS-rounded; zero for none
	res     booking.Resource
	buckets map[string]booking.Bucket
	holds   map[string]*booking.Hold
	idem    map[string]booking.IdempotencyEntry
	waiting map[string]*booking.WaitlistEntry
}

var _ persistence.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{resources: make(map[string]*resource), owners: make(map[string]string), waitOwners: make(map[string]string),
		tails: make(map[string]chan struct{})}
}

// SetCommitHook installs h to run at the start of every Commit, before anything is checked or
// written; nil removes it. When h returns an error, Commit returns exactly that error and
// writes nothing. h may block to simulate latency and must return when ctx is done. It is
// called concurrently by concurrent Commits.
func (s *Store) SetCommitHook(h func(ctx context.Context, b *persistence.Batch) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitHook = h
}

// SetActivateHook is SetCommitHook for Activate: h runs first, and its error is returned
// as is, with the epoch left alone.
func (s *Store) SetActivateHook(h func(ctx context.Context, resourceID string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activateHook = h
}

// SetRenewHook is SetCommitHook for Renew: h runs first, and its error is returned as is,
// with the lease left alone.
func (s *Store) SetRenewHook(h func(ctx context.Context, resourceID string, epoch uint64, until time.Time) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renewHook = h
}

// Ping fails when ctx is done or the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkOpen("ping")
}

// Close marks the store closed: later calls fail with persistence.ErrUnavailable. The data is
// dropped. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.resources = nil
	s.owners = nil
	s.waitOwners = nil
	return nil
}

// checkOpen must be called with s.mu held.
func (s *Store) checkOpen(op string) error {
	if s.closed {
		return fmt.Errorf("%s: %w: memstore closed", op, persistence.ErrUnavailable)
	}
	return nil
}

// ms truncates t to the millisecond, in UTC: what a BIGINT Unix-ms column gives back.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// leaseMS is a lease end as a BIGINT store keeps it (persistence.LeaseMS): rounded up to the
// millisecond, in UTC; the zero time stays zero (no lease).
func leaseMS(t time.Time) time.Time { return persistence.LeaseFromMS(persistence.LeaseMS(t)) }

func copyResource(r booking.Resource) booking.Resource {
	if r.Price != nil {
		p := *r.Price
		r.Price = &p
	}
	r.HoldTTL = r.HoldTTL.Truncate(time.Millisecond)
	r.SlotEvery = r.SlotEvery.Truncate(time.Millisecond)
	r.WaitlistOfferTTL = r.WaitlistOfferTTL.Truncate(time.Millisecond)
	if len(r.Refunds) == 0 {
		r.Refunds = nil // stored as '' by the SQL stores: none
	} else {
		refunds := make([]booking.RefundTier, len(r.Refunds))
		for i, t := range r.Refunds {
			refunds[i] = booking.RefundTier{Before: t.Before.Truncate(time.Millisecond), Percent: t.Percent}
		}
		r.Refunds = refunds
	}
	r.CreatedAt, r.UpdatedAt = ms(r.CreatedAt), ms(r.UpdatedAt)
	if !r.ArchivedAt.IsZero() {
		r.ArchivedAt = ms(r.ArchivedAt)
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	} else {
		r.Tags = append([]string(nil), r.Tags...)
	}
	return r
}

func copyHold(h *booking.Hold) *booking.Hold {
	c := h.Clone()
	if c.Buckets == nil {
		c.Buckets = []string{}
	}
	c.Contact = copyContact(c.Contact)
	c.CreatedAt, c.ExpiresAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.ExpiresAt), ms(c.UpdatedAt)
	return c
}

func copyEntry(e *booking.WaitlistEntry) *booking.WaitlistEntry {
	c := *e
	c.Buckets = append([]string{}, e.Buckets...)
	c.CreatedAt = ms(c.CreatedAt)
	return &c
}

func copyIdem(e booking.IdempotencyEntry) booking.IdempotencyEntry {
	e.CreatedAt = ms(e.CreatedAt)
	return e
}
