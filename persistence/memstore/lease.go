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
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	s.mu.Lock()
	hook := s.renewHook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, resourceID, epoch, until); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("renew: %w", err)
		}
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
