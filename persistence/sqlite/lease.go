package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/allot/allot/persistence"
)

// renewal is a Renew handed to the writer.
type renewal struct {
	resourceID string
	epoch      int64
	until      int64 // lease_until_ms
}

// renewLease is Commit's fence without the after-image.
const renewLease = `UPDATE resources SET lease_until_ms = ? WHERE id = ? AND epoch = ?`

// Renew stores until as the end of the lease of the activation at epoch, in a transaction on
// the writer connection shared with concurrent calls (see writer.go), if epoch is still the
// resource's epoch; otherwise, or for an absent resource, the UPDATE matches nothing and
// Renew returns persistence.ErrFenced. A zero until stores 0: no lease.
func (s *Store) Renew(ctx context.Context, resourceID string, epoch uint64, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	// An epoch above MaxInt64 wraps to a negative one, which no row has: fenced, as it should.
	r := s.submit(&op{ctx: ctx, renew: &renewal{resourceID: resourceID, epoch: int64(epoch), until: persistence.LeaseMS(until)}})
	if r.err != nil {
		return fmt.Errorf("renew %s: %w", resourceID, r.err)
	}
	return nil
}

// applyRenew runs one renewal inside the writer's current savepoint.
func (s *Store) applyRenew(ctx context.Context, r *renewal) error {
	res, err := s.exec(ctx, renewLease, r.until, r.resourceID, r.epoch)
	if err != nil {
		return mapErr("lease", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr("lease", err)
	}
	if n == 0 {
		return fmt.Errorf("epoch %d: %w", r.epoch, persistence.ErrFenced)
	}
	return nil
}
