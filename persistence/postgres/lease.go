package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	err := s.execOneRow(ctx, sqlRenew, resourceID, int64(epoch), lease)
	if errors.Is(err, persistence.ErrFenced) {
		return fmt.Errorf("renew %s epoch %d: %w", resourceID, epoch, err)
	}
	return wrap("renew "+resourceID, err)
}

// execOneRow runs one lease statement (with the store's retries of serialization failures)
// that changes exactly one row when the caller's epoch holds; no row changed is
// persistence.ErrFenced.
func (s *Store) execOneRow(ctx context.Context, sql string, args ...any) error {
	return s.retry(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return persistence.ErrFenced
		}
		return nil
	})
}

var _ persistence.LeaseHandover = (*Store)(nil)

const (
	// sqlHandOver ends the lease a fenced activation stored, for its one successor only (see
	// persistence.LeaseHandover).
	sqlHandOver = `UPDATE resources SET lease_until_ms = 0 WHERE id = $1 AND epoch = $2 AND lease_until_ms = $3 AND lease_until_ms <> 0`
	sqlLeaseOf  = `SELECT epoch, lease_until_ms FROM resources WHERE id = $1`
)

// HandOver ends the stored lease if the resource's epoch is epoch + 1 and its stored lease end
// is until; otherwise, or for an absent resource, it returns an error wrapping
// persistence.ErrFenced, having written nothing. One statement, re-run by cockroach-go only on
// 40001 (not applied), so it applies at most once. See persistence.LeaseHandover.
func (s *Store) HandOver(ctx context.Context, resourceID string, epoch uint64, until time.Time) error {
	if s.closed.Load() {
		return errClosed("hand over")
	}
	if err := ctx.Err(); err != nil {
		return wrap("hand over", err)
	}
	if epoch == 0 || int64(epoch+1) <= 0 { // no activation before the creator's (1); an epoch above MaxInt64
		return fmt.Errorf("hand over %s epoch %d: %w", resourceID, epoch, persistence.ErrFenced)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	lease := persistence.LeaseMS(until)
	err := s.execOneRow(ctx, sqlHandOver, resourceID, int64(epoch+1), lease)
	if errors.Is(err, persistence.ErrFenced) {
		return fmt.Errorf("hand over %s epoch %d: %w", resourceID, epoch, err)
	}
	return wrap("hand over "+resourceID, err)
}

// LeaseOf reads the resource's epoch and stored lease end (one statement), or returns an error
// wrapping persistence.ErrNotFound.
func (s *Store) LeaseOf(ctx context.Context, resourceID string) (uint64, time.Time, error) {
	if s.closed.Load() {
		return 0, time.Time{}, errClosed("lease of")
	}
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, wrap("lease of", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var epoch, lease int64
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, sqlLeaseOf, resourceID).Scan(&epoch, &lease)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("lease of %s: %w", resourceID, persistence.ErrNotFound)
	}
	if err != nil {
		return 0, time.Time{}, wrap("lease of "+resourceID, err)
	}
	return uint64(epoch), persistence.LeaseFromMS(lease), nil
}
