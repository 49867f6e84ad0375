package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/actors/booking"
)

// ClassicHold is not part of the production store (persistence/postgres): it is the
// competitor the actor design is measured against, and lives with the other baselines so that
// the allot binary does not link it.

// The classic hold, statement by statement.
const (
	sqlClassicIdem = `SELECT fingerprint, hold_id FROM idempotency_keys WHERE resource_id = $1 AND idem_key = $2`
	sqlClassicLock = `SELECT capacity, held, confirmed FROM buckets
WHERE resource_id = $1 AND bucket_key = $2 FOR UPDATE`
	sqlClassicInsertHold = `INSERT INTO holds (id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms, expires_at_ms, updated_at_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	sqlClassicClaim = `UPDATE buckets SET held = held + $3 WHERE resource_id = $1 AND bucket_key = $2`
	sqlClassicKey   = `INSERT INTO idempotency_keys (resource_id, idem_key, fingerprint, hold_id, created_at_ms)
VALUES ($1, $2, $3, $4, $5)`
)

// ClassicHold places hold h the way a service without actors would: one transaction per hold,
// at isolation iso, retried as a whole by cockroach-go on SQLSTATE 40001 (at most 50 times).
// In it: look up h.IdempotencyKey (a replay answers with the original hold id), then for
// each of h.Buckets in key order SELECT ... FOR UPDATE the bucket row and check it has
// h.Quantity available, INSERT the hold, UPDATE each counter, INSERT the key, COMMIT.
//
// It is the baseline that the actor-per-resource design is measured against (the benchmarks
// of this package and of actors/resource, and the classic HTTP baseline). It reads and writes
// the tables of persistence/postgres (run postgres.Migrate first) but ignores epochs: use it only on resources that no actor owns. It expires nothing.
//
// It returns the id of the hold that answers the request (h.ID, or the original hold's on a
// replay) or a *booking.Error: sold_out, invalid (unknown bucket, bad quantity),
// idempotency_mismatch. Driver errors are returned wrapped, as they are.
func ClassicHold(ctx context.Context, pool *pgxpool.Pool, iso pgx.TxIsoLevel, h booking.Hold) (string, error) {
	if h.Quantity <= 0 || h.Quantity > booking.MaxQuantity {
		return "", booking.Errorf(booking.CodeInvalid, "quantity must be between 1 and %d", booking.MaxQuantity)
	}
	if len(h.Buckets) == 0 {
		return "", booking.Errorf(booking.CodeInvalid, "a hold needs at least one bucket")
	}
	keys := append([]string(nil), h.Buckets...)
	sort.Strings(keys) // one lock order for everyone: no deadlocks
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			return "", booking.Errorf(booking.CodeInvalid, "bucket %q appears twice", keys[i])
		}
	}
	if h.Status == "" {
		h.Status = booking.StatusHeld
	}
	bucketsJSON, err := json.Marshal(h.Buckets)
	if err != nil {
		return "", err
	}
	fp := booking.Fingerprint(h.Buckets, h.Quantity, h.UserID)
	var answer string
	err = crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...interface{}) error {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
		if err != nil {
			return err
		}
		answer, err = classicHoldTx(ctx, tx, h, keys, string(bucketsJSON), fp)
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		var be *booking.Error
		if errors.As(err, &be) {
			return "", err
		}
		return "", fmt.Errorf("classic hold %s: %w", h.ID, err)
	}
	return answer, nil
}

func classicHoldTx(ctx context.Context, tx pgx.Tx, h booking.Hold, keys []string, bucketsJSON, fp string) (string, error) {
	if h.IdempotencyKey != "" {
		var storedFP, holdID string
		err := tx.QueryRow(ctx, sqlClassicIdem, h.ResourceID, h.IdempotencyKey).Scan(&storedFP, &holdID)
		switch {
		case err == nil && storedFP == fp:
			return holdID, nil
		case err == nil:
			return "", booking.Errorf(booking.CodeIdempotencyMismatch, "Idempotency-Key %q was used with a different request", h.IdempotencyKey)
		case !errors.Is(err, pgx.ErrNoRows):
			return "", err
		}
	}
	for _, k := range keys {
		var capacity, held, confirmed int64
		err := tx.QueryRow(ctx, sqlClassicLock, h.ResourceID, k).Scan(&capacity, &held, &confirmed)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", booking.Errorf(booking.CodeInvalid, "resource %q has no bucket %q", h.ResourceID, k)
		}
		if err != nil {
			return "", err
		}
		if avail := capacity - held - confirmed; avail < h.Quantity {
			return "", booking.Errorf(booking.CodeSoldOut, "bucket %q has %d available, %d requested", k, max(avail, 0), h.Quantity)
		}
	}
	if _, err := tx.Exec(ctx, sqlClassicInsertHold, h.ID, h.ResourceID, h.UserID, string(h.Status), h.Quantity,
		bucketsJSON, h.IdempotencyKey, h.CreatedAt.UnixMilli(), h.ExpiresAt.UnixMilli(), h.UpdatedAt.UnixMilli()); err != nil {
		return "", err
	}
	for _, k := range keys {
		if _, err := tx.Exec(ctx, sqlClassicClaim, h.ResourceID, k, h.Quantity); err != nil {
			return "", err
		}
	}
	if h.IdempotencyKey != "" {
		if _, err := tx.Exec(ctx, sqlClassicKey, h.ResourceID, h.IdempotencyKey, fp, h.ID, h.CreatedAt.UnixMilli()); err != nil {
			return "", err
		}
	}
	return h.ID, nil
}
