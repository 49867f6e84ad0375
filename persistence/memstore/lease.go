package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/allot/allot/persistence"
)

// Renew stores until, rounded up to the millisecond, as the end of the lease of the activation
// at epoch if epoch is the resource's current epoch; otherwise, or for an absent resource, it
// returns persistence.ErrFenced and changes nothing. A zero until ends the lease. See
// persistence.Store.
//
// Checks, in order: ctx, the renew hook (its error is returned as is), the store being open,
// fencing.
func (s *Store) Renew(ctx context.Context, resourceID string, epoch uint64, until time.Time) error {
	if err := s.leaseHook(ctx, "renew", resourceID, epoch, until); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("renew"); err != nil {
		return err
	}
	r, ok := s.resources[resourceID]
	if !ok || r.epoch != epoch {
		return fmt.Errorf("renew %s: epoch %d: %w", resourceID, epoch, persistence.ErrFenced)
	}
	r.lease = leaseMS(until)
	return nil
}

// leaseHook checks ctx, runs the renew hook (the lease's fault injection; its error is
// returned as is) outside the lock, and checks ctx again after it: the first steps of Renew
// and HandOver, named op in errors.
func (s *Store) leaseHook(ctx context.Context, op, resourceID string, epoch uint64, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.mu.Lock()
	hook := s.renewHook
	s.mu.Unlock()
	if hook == nil {
		return nil
	}
	if err := hook(ctx, resourceID, epoch, until); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

var _ persistence.LeaseHandover = (*Store)(nil)

// HandOver ends the stored lease if the resource's epoch is epoch + 1 and its stored lease end
// is until (rounded up to the millisecond); otherwise, or for an absent resource, it returns
// persistence.ErrFenced and changes nothing. See persistence.LeaseHandover. The renew hook
// runs first (it is the lease's fault injection), with until; its error is returned as is.
func (s *Store) HandOver(ctx context.Context, resourceID string, epoch uint64, until time.Time) error {
	if err := s.leaseHook(ctx, "hand over", resourceID, epoch, until); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("hand over"); err != nil {
		return err
	}
	r, ok := s.resources[resourceID]
	if !ok || until.IsZero() || epoch == 0 || r.epoch != epoch+1 || !r.lease.Equal(leaseMS(until)) {
		return fmt.Errorf("hand over %s: epoch %d: %w", resourceID, epoch, persistence.ErrFenced)
	}
	r.lease = time.Time{}
	return nil
}

// LeaseOf returns the resource's epoch and stored lease end, or persistence.ErrNotFound.
func (s *Store) LeaseOf(ctx context.Context, resourceID string) (uint64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, fmt.Errorf("lease of: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("lease of"); err != nil {
		return 0, time.Time{}, err
	}
	r, ok := s.resources[resourceID]
	if !ok {
		return 0, time.Time{}, fmt.Errorf("lease of %s: %w", resourceID, persistence.ErrNotFound)
	}
	return r.epoch, r.lease, nil
}
