package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// activation is an Activate handed to the writer.
type activation struct {
	resourceID string
	idemSince  int64 // Unix ms
}

const (
	// idem_floor_ms: the prune of the entries holds carry (holdkeys.go), returned last.
	bumpEpoch = `UPDATE resources SET epoch = epoch + 1, idem_floor_ms = max(idem_floor_ms, ?) WHERE id = ?
RETURNING epoch, version, name, price_amount, price_currency, hold_ttl_ms, created_at_ms, updated_at_ms, lease_until_ms, ` + ruleCols + `,
idem_floor_ms`
	selectBuckets = `SELECT bucket_key, capacity, allowance, held, confirmed FROM buckets WHERE resource_id = ? ORDER BY bucket_key`
	selectWaiting = `SELECT id, user_id, offer_hold_id, buckets, quantity, seq, created_at_ms FROM waitlist WHERE resource_id = ?
ORDER BY seq`
	selectActive = `SELECT ` + holdCols + ` FROM holds WHERE resource_id = ? AND status IN ('held', 'confirmed')
ORDER BY created_at_ms, id`
	selectIdem = `SELECT idem_key, fingerprint, hold_id, created_at_ms FROM idempotency_keys
WHERE resource_id = ? AND created_at_ms >= ? ORDER BY created_at_ms, idem_key`
	// At most ? expired keys, through the primary key the load above walks too (see
	// persistence.IdempotencyPruneLimit; the same statement as the PostgreSQL store's).
	pruneIdem = `DELETE FROM idempotency_keys WHERE resource_id = ? AND idem_key IN (
SELECT idem_key FROM idempotency_keys WHERE resource_id = ? AND created_at_ms < ? LIMIT ?)`
)

// Activate increments the resource's epoch and loads it, in one transaction on the writer
// connection (shared with concurrent calls, see writer.go), so that the snapshot is exactly
// the state the new epoch starts from: buckets by key, held and confirmed holds by CreatedAt
// then ID, idempotency keys created at or after idemSince (ms) by CreatedAt then key — the
// idempotency_keys rows and the entries holds carry (holdkeys.go), merged — and the stored
// lease end, which the bump leaves as it is; then it deletes up to
// persistence.IdempotencyPruneLimit rows created before idemSince (the bump raised the floor
// below which no hold's entry is read again). For an absent resource the UPDATE matches
// nothing: Exists is false and nothing is written.
func (s *Store) Activate(ctx context.Context, resourceID string, idemSince time.Time) (*persistence.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	r := s.submit(&op{ctx: ctx, activate: &activation{resourceID: resourceID, idemSince: idemSince.UnixMilli()}})
	if r.err != nil {
		return nil, fmt.Errorf("activate %s: %w", resourceID, r.err)
	}
	return r.snap, nil
}

// applyActivate runs one activation inside the writer's current savepoint.
func (s *Store) applyActivate(ctx context.Context, a *activation) (*persistence.Snapshot, error) {
	snap := &persistence.Snapshot{}
	var (
		epoch, version, ttl, created, updated, lease int64
		floor                                        int64 // idem_floor_ms, raised to a.idemSince
		amount                                       sql.NullInt64
		currency                                     sql.NullString
		res                                          = &snap.Resource
		rules                                        ruleRow
	)
	rows, err := s.query(ctx, bumpEpoch, a.idemSince, a.resourceID)
	if err != nil {
		return nil, mapErr("bump epoch", err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(append(append([]any{&epoch, &version, &res.Name, &amount, &currency, &ttl, &created, &updated, &lease}, rules.dest()...), &floor)...)
	}
	if cerr := closeRows(rows); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, mapErr("bump epoch", err)
	}
	if !found {
		return &persistence.Snapshot{}, nil
	}
	snap.Exists, snap.Epoch, snap.Version, snap.LeaseUntil = true, uint64(epoch), uint64(version), persistence.LeaseFromMS(lease)
	res.ID = a.resourceID
	if amount.Valid {
		res.Price = &booking.Money{Amount: amount.Int64, Currency: currency.String}
	}
	res.HoldTTL = time.Duration(ttl) * time.Millisecond
	res.CreatedAt, res.UpdatedAt = fromMS(created), fromMS(updated)
	if err := rules.apply(res); err != nil {
		return nil, fmt.Errorf("resource %s: %w", a.resourceID, err)
	}

	rows, err = s.query(ctx, selectBuckets, a.resourceID)
	if err != nil {
		return nil, mapErr("load buckets", err)
	}
	for rows.Next() {
		var b booking.Bucket
		if err := rows.Scan(&b.Key, &b.Capacity, &b.Allowance, &b.Held, &b.Confirmed); err != nil {
			rows.Close()
			return nil, mapErr("load buckets", err)
		}
		b.Capacity -= b.Allowance // stored: what may be sold (see batch.go)
		snap.Buckets = append(snap.Buckets, b)
	}
	if err := closeRows(rows); err != nil {
		return nil, mapErr("load buckets", err)
	}

	if snap.Holds, err = collectHolds(s.query(ctx, selectActive, a.resourceID)); err != nil {
		return nil, mapErr("load holds", err)
	}

	rows, err = s.query(ctx, selectIdem, a.resourceID, a.idemSince)
	if err != nil {
		return nil, mapErr("load idempotency keys", err)
	}
	for rows.Next() {
		var e booking.IdempotencyEntry
		var at int64
		if err := rows.Scan(&e.Key, &e.Fingerprint, &e.HoldID, &at); err != nil {
			rows.Close()
			return nil, mapErr("load idempotency keys", err)
		}
		e.CreatedAt = fromMS(at)
		snap.Idempotency = append(snap.Idempotency, e)
	}
	if err := closeRows(rows); err != nil {
		return nil, mapErr("load idempotency keys", err)
	}
	n := len(snap.Idempotency)
	rows, err = s.query(ctx, selectHoldIdem, a.resourceID, floor)
	if snap.Idempotency, err = readHoldIdem(rows, err, snap.Idempotency); err != nil {
		return nil, mapErr("load idempotency keys of holds", err)
	}
	if len(snap.Idempotency) > n {
		snap.Idempotency = persistence.MergeIdempotency(snap.Idempotency)
	}

	rows, err = s.query(ctx, selectWaiting, a.resourceID)
	if err != nil {
		return nil, mapErr("load waitlist", err)
	}
	for rows.Next() {
		e := booking.WaitlistEntry{ResourceID: a.resourceID}
		var keys string
		var seq, at int64
		if err := rows.Scan(&e.ID, &e.UserID, &e.OfferHoldID, &keys, &e.Quantity, &seq, &at); err != nil {
			rows.Close()
			return nil, mapErr("load waitlist", err)
		}
		if err := json.Unmarshal([]byte(keys), &e.Buckets); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load waitlist: entry %q: bucket list: %w", e.ID, err)
		}
		e.Seq, e.CreatedAt = uint64(seq), fromMS(at)
		snap.Waitlist = append(snap.Waitlist, e)
	}
	if err := closeRows(rows); err != nil {
		return nil, mapErr("load waitlist", err)
	}
	if _, err := s.exec(ctx, pruneIdem, a.resourceID, a.resourceID, a.idemSince, persistence.IdempotencyPruneLimit); err != nil {
		return nil, mapErr("prune idempotency keys", err)
	}
	return snap, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// fromMS turns a Unix-ms column back into a time, in UTC.
func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
