package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// The statements of one Activate, sent as one pgx.Batch in a SERIALIZABLE transaction. The
// epoch bump comes first, so the reads that follow see the resource as of the moment this
// activation fenced all earlier ones.
const (
	// idem_floor_ms: the prune of the entries holds carry (holdkeys.go).
	sqlBumpEpoch = `UPDATE resources SET epoch = epoch + 1, idem_floor_ms = GREATEST(idem_floor_ms, $2::INT8) WHERE id = $1
RETURNING name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms,
    lease_until_ms, ` + ruleColumns
	sqlLoadBuckets = `SELECT bucket_key, capacity, allowance, held, confirmed FROM buckets
WHERE resource_id = $1`
	sqlLoadWaitlist = `SELECT id, user_id, offer_hold_id, buckets, quantity, seq, created_at_ms FROM waitlist
WHERE resource_id = $1 ORDER BY seq`
	sqlLoadHolds = `SELECT ` + holdColumnsAll + ` FROM holds
WHERE resource_id = $1 AND status IN ('held', 'confirmed') ORDER BY created_at_ms, id`
	sqlLoadIdempotency = `SELECT idem_key, fingerprint, hold_id, created_at_ms FROM idempotency_keys
WHERE resource_id = $1 AND created_at_ms >= $2 ORDER BY created_at_ms, idem_key`
	// At most $3 expired keys of the resource, through the primary key (resource_id,
	// idem_key) that the load above walks too: no index on the keys' age, which every hold
	// would pay for. PostgreSQL's DELETE has no LIMIT; the sub-select's does, on PostgreSQL,
	// CockroachDB and SQLite alike.
	sqlPruneIdempotency = `DELETE FROM idempotency_keys WHERE resource_id = $1 AND idem_key IN (
SELECT idem_key FROM idempotency_keys WHERE resource_id = $1 AND created_at_ms < $2 LIMIT $3)`
)

// Activate bumps the resource's epoch, fencing every earlier activation, and loads it, all in
// one transaction. The snapshot carries the stored lease end, which the bump leaves as it is.
// The same transaction prunes up to persistence.IdempotencyPruneLimit keys older than
// idemSince. For a resource that does not exist it returns Exists false and writes nothing.
func (s *Store) Activate(ctx context.Context, resourceID string, idemSince time.Time) (*persistence.Snapshot, error) {
	if s.closed.Load() {
		return nil, errClosed("activate")
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("activate", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var snap *persistence.Snapshot
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(sqlBumpEpoch, resourceID, ms(idemSince))
		b.Queue(sqlLoadBuckets, resourceID)
		b.Queue(sqlLoadHolds, resourceID)
		b.Queue(sqlLoadIdempotency, resourceID, ms(idemSince))
		b.Queue(sqlLoadHoldIdempotency, resourceID) // holdkeys.go
		b.Queue(sqlLoadWaitlist, resourceID)
		b.Queue(sqlPruneIdempotency, resourceID, ms(idemSince), int64(persistence.IdempotencyPruneLimit))
		br := tx.SendBatch(ctx, b)
		var err error
		snap, err = readSnapshot(br, resourceID)
		if err == nil && snap.Exists {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return nil, wrap("activate "+resourceID, err)
	}
	return snap, nil
}

func readSnapshot(br pgx.BatchResults, resourceID string) (*persistence.Snapshot, error) {
	snap := &persistence.Snapshot{}
	var (
		amount                *int64
		currency              *string
		ttl, created, updated int64
		epoch, version, lease int64
		rules                 ruleRow
	)
	r := &snap.Resource
	err := br.QueryRow().Scan(append([]any{&r.Name, &amount, &currency, &ttl, &epoch, &version, &created, &updated, &lease}, rules.dest()...)...)
	if err == pgx.ErrNoRows {
		return &persistence.Snapshot{}, nil
	}
	if err != nil {
		return nil, err
	}
	snap.Exists, snap.Epoch, snap.Version, snap.LeaseUntil = true, uint64(epoch), uint64(version), persistence.LeaseFromMS(lease)
	r.ID, r.HoldTTL, r.CreatedAt, r.UpdatedAt = resourceID, time.Duration(ttl)*time.Millisecond, fromMS(created), fromMS(updated)
	if err := rules.apply(r); err != nil {
		return nil, fmt.Errorf("resource %s: %w", resourceID, err)
	}
	if amount != nil || currency != nil {
		if amount == nil || currency == nil {
			return nil, fmt.Errorf("resource %s: price amount and currency must both be set or both be null", resourceID)
		}
		r.Price = &booking.Money{Amount: *amount, Currency: *currency}
	}

	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var bk booking.Bucket
		if err := rows.Scan(&bk.Key, &bk.Capacity, &bk.Allowance, &bk.Held, &bk.Confirmed); err != nil {
			rows.Close()
			return nil, err
		}
		bk.Capacity -= bk.Allowance // stored: what may be sold (see commit.go)
		snap.Buckets = append(snap.Buckets, bk)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Sorted here, bytewise like Go, whatever the database's collation.
	sort.Slice(snap.Buckets, func(i, j int) bool { return snap.Buckets[i].Key < snap.Buckets[j].Key })

	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	if snap.Holds, err = collectHolds(rows); err != nil {
		return nil, err
	}

	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e booking.IdempotencyEntry
		var at int64
		if err := rows.Scan(&e.Key, &e.Fingerprint, &e.HoldID, &at); err != nil {
			rows.Close()
			return nil, err
		}
		e.CreatedAt = fromMS(at)
		snap.Idempotency = append(snap.Idempotency, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	if snap.Idempotency, err = readHoldIdempotency(rows, snap.Idempotency); err != nil {
		return nil, err
	}
	snap.Idempotency = persistence.MergeIdempotency(snap.Idempotency)

	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		e := booking.WaitlistEntry{ResourceID: resourceID}
		var keys string
		var seq, at int64
		if err := rows.Scan(&e.ID, &e.UserID, &e.OfferHoldID, &keys, &e.Quantity, &seq, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(keys), &e.Buckets); err != nil {
			return nil, fmt.Errorf("waitlist entry %s: bucket list %q: %w", e.ID, keys, err)
		}
		e.Seq, e.CreatedAt = uint64(seq), fromMS(at)
		snap.Waitlist = append(snap.Waitlist, e)
	}
	return snap, rows.Err()
}
