package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/allot/allot/persistence"
)

// sqlRenew moves the lease end of the activation at epoch $2, the fence of Commit without
// the after-image.
const sqlRenew = `UPDATE resources SET lease_until_ms = $3 WHERE id = $1 AND epoch = $2`

// Renew stores until as the end of the lease of the activation at epoch if epoch is still the
// resource's epoch, and returns an error wrapping persistence.ErrFenced, having written
// nothing, if not or if the resource does not exist. A zero until stores 0: no lease. It is
// one statement in an implicit SERIALIZABLE transaction (one round trip, where an explicit
// transaction takes three: renewals come every Lease/2 for every resource that only serves
// reads, and with every passivation), re-run by cockroach-go on 40001.
func (s *Store) Renew(ctx context.Context, resourceID string, epoch uint64, until time.Time) error {
	if s.closed.Load() {
		return errClosed("renew")
	}
	if err := ctx.Err(); err != nil {
		return wrap("renew", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	lease := persistence.LeaseMS(until)
	err := s.retry(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, sqlRenew, resourceID, int64(epoch), lease)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return persistence.ErrFenced
		}
		return nil
	})
	if errors.Is(err, persistence.ErrFenced) {
		return fmt.Errorf("renew %s epoch %d: %w", resourceID, epoch, err)
	}
	return wrap("renew "+resourceID, err)
}
