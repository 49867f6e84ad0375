package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	return s.execFenced(ctx, r.epoch, renewLease, r.until, r.resourceID, r.epoch)
}

// execFenced runs one lease statement inside the writer's current savepoint; no row changed
// means the activation at epoch was fenced (persistence.ErrFenced).
func (s *Store) execFenced(ctx context.Context, epoch int64, stmt string, args ...any) error {
	res, err := s.exec(ctx, stmt, args...)
	if err != nil {
		return mapErr("lease", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr("lease", err)
	}
	if n == 0 {
		return fmt.Errorf("epoch %d: %w", epoch, persistence.ErrFenced)
	}
	return nil
}

var _ persistence.LeaseHandover = (*Store)(nil)

// handOverLease ends the lease a fenced activation stored, for its one successor only (see
// persistence.LeaseHandover).
const handOverLease = `UPDATE resources SET lease_until_ms = 0 WHERE id = ? AND epoch = ? AND lease_until_ms = ? AND lease_until_ms <> 0`

// HandOver ends the stored lease if the resource's epoch is epoch + 1 and its stored lease end
// is until, through the writer (in its own savepoint of a group transaction); otherwise, or
// for an absent resource, it returns persistence.ErrFenced. See persistence.LeaseHandover.
func (s *Store) HandOver(ctx context.Context, resourceID string, epoch uint64, until time.Time) error {
	next, lease := int64(epoch+1), persistence.LeaseMS(until)
	if epoch == 0 || next <= 0 { // no activation before the creator's (1); an epoch above MaxInt64
		return fmt.Errorf("hand over %s: epoch %d: %w", resourceID, epoch, persistence.ErrFenced)
	}
	return s.write(ctx, "hand over "+resourceID, func(ctx context.Context) error {
		return s.execFenced(ctx, int64(epoch), handOverLease, resourceID, next, lease)
	})
}

// LeaseOf reads the resource's epoch and stored lease end from the read pool (a WAL reader:
// as of its last commit, never older than a write the caller saw applied), or returns
// persistence.ErrNotFound.
func (s *Store) LeaseOf(ctx context.Context, resourceID string) (uint64, time.Time, error) {
	if err := s.readable(ctx, "lease of"); err != nil {
		return 0, time.Time{}, err
	}
	var epoch, lease int64
	err := s.rdb.QueryRowContext(ctx, `SELECT epoch, lease_until_ms FROM resources WHERE id = ?`, resourceID).Scan(&epoch, &lease)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("lease of %s: %w", resourceID, persistence.ErrNotFound)
	}
	if err != nil {
		return 0, time.Time{}, s.readErr("lease of", err)
	}
	return uint64(epoch), persistence.LeaseFromMS(lease), nil
}
