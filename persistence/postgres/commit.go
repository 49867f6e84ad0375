package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// The statements of one Commit. They go to the server as one pgx.Batch (one round trip)
// inside a SERIALIZABLE transaction: BEGIN, the batch, COMMIT or ROLLBACK. Multi-row writes
// are INSERT ... SELECT FROM unnest(arrays), so the SQL text, and hence the prepared
// statement, is the same whatever the batch size.
const (
	// The fence: the batch applies only if its epoch is still the resource's epoch. A NULL
	// $10 (the batch's LeaseUntil is zero) leaves the stored lease as it is.
	sqlUpdateResource = `UPDATE resources
SET name = $3, price_amount = $4, price_currency = $5, hold_ttl_ms = $6, version = $7,
    created_at_ms = $8, updated_at_ms = $9, lease_until_ms = COALESCE($10::INT8, lease_until_ms)
WHERE id = $1 AND epoch = $2`

	// The creation fence: the batch applies only if the resource did not exist.
	sqlInsertResource = `INSERT INTO resources
    (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms,
     lease_until_ms)
VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9)
ON CONFLICT (id) DO NOTHING`

	sqlUpsertBuckets = `INSERT INTO buckets (resource_id, bucket_key, capacity, held, confirmed)
SELECT $1::TEXT, u.k, u.c, u.h, u.f
FROM unnest($2::TEXT[], $3::INT8[], $4::INT8[], $5::INT8[]) AS u (k, c, h, f)
ON CONFLICT (resource_id, bucket_key) DO UPDATE
SET capacity = excluded.capacity, held = excluded.held, confirmed = excluded.confirmed`

	// A hold id owned by another resource is left alone (the WHERE); the caller sees fewer
	// rows than it sent and rolls back.
	sqlUpsertHolds = `INSERT INTO holds (` + holdColumns + `)
SELECT u.id, $1::TEXT, u.usr, u.st, u.q, u.b, u.ik, u.c, u.e, u.up
FROM unnest($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::INT8[], $6::TEXT[], $7::TEXT[],
            $8::INT8[], $9::INT8[], $10::INT8[]) AS u (id, usr, st, q, b, ik, c, e, up)
ON CONFLICT (id) DO UPDATE
SET user_id = excluded.user_id, status = excluded.status, quantity = excluded.quantity,
    buckets = excluded.buckets, idempotency_key = excluded.idempotency_key,
    created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms,
    updated_at_ms = excluded.updated_at_ms
WHERE holds.resource_id = excluded.resource_id`

	// A key is kept for booking.IdempotencyRetention (24 h): a batch carrying it again leaves
	// the stored entry, unless the new entry is that much younger (the actor forgot the old
	// key and a client reused it); then it replaces it, or a restart would lose the new one.
	sqlInsertIdempotency = `INSERT INTO idempotency_keys (resource_id, idem_key, fingerprint, hold_id, created_at_ms)
SELECT $1::TEXT, u.k, u.f, u.h, u.c
FROM unnest($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::INT8[]) AS u (k, f, h, c)
ON CONFLICT (resource_id, idem_key) DO UPDATE
SET fingerprint = excluded.fingerprint, hold_id = excluded.hold_id, created_at_ms = excluded.created_at_ms
WHERE idempotency_keys.created_at_ms <= excluded.created_at_ms - 86400000`
)

// Commit writes b atomically if b.Epoch is the resource's epoch (for a creation: if the
// resource does not exist), and returns an error wrapping persistence.ErrFenced, having
// written nothing, if not. A non-zero b.LeaseUntil is stored by the fence statement itself.
// A batch that breaks the schema (an oversold bucket) or names another resource's hold fails
// with a plain error and writes nothing. Failures to reach the database wrap
// persistence.ErrUnavailable; whether such a batch was applied is unknown.
func (s *Store) Commit(ctx context.Context, b *persistence.Batch) error {
	if s.closed.Load() {
		return errClosed("commit")
	}
	if err := ctx.Err(); err != nil {
		return wrap("commit", err)
	}
	q, err := newCommitBatch(b)
	if err != nil {
		return fmt.Errorf("commit %s: %w", batchID(b), err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err = s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		br := tx.SendBatch(ctx, q.newBatch())
		err := q.read(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if errors.Is(err, persistence.ErrFenced) {
		return fmt.Errorf("commit %s epoch %d: %w", b.ResourceID, b.Epoch, err)
	}
	return wrap("commit "+b.ResourceID, err)
}

func batchID(b *persistence.Batch) string {
	if b == nil {
		return "<nil>"
	}
	return b.ResourceID
}

// commitBatch is one Commit's statements and arguments, encoded once. Each attempt sends a
// new pgx.Batch: pgx keeps the prepared statement it used in the queued query, and after a
// failed attempt that statement may have been deallocated.
type commitBatch struct {
	queries []query
	holds   int64 // rows the hold upsert must touch
}

type query struct {
	sql  string
	args []any
}

func (q *commitBatch) newBatch() *pgx.Batch {
	b := &pgx.Batch{}
	for _, x := range q.queries {
		b.Queue(x.sql, x.args...)
	}
	return b
}

func newCommitBatch(b *persistence.Batch) (*commitBatch, error) {
	if err := checkBatch(b); err != nil {
		return nil, err
	}
	r := b.Resource
	var amount *int64
	var currency *string
	if r.Price != nil {
		p := *r.Price
		amount, currency = &p.Amount, &p.Currency
	}
	pb := &commitBatch{}
	queue := func(sql string, args ...any) { pb.queries = append(pb.queries, query{sql, args}) }
	if b.Create {
		queue(sqlInsertResource, b.ResourceID, r.Name, amount, currency, r.HoldTTL.Milliseconds(),
			int64(b.Version), ms(r.CreatedAt), ms(r.UpdatedAt), persistence.LeaseMS(b.LeaseUntil))
	} else {
		var lease *int64 // NULL: unchanged
		if !b.LeaseUntil.IsZero() {
			v := persistence.LeaseMS(b.LeaseUntil)
			lease = &v
		}
		queue(sqlUpdateResource, b.ResourceID, int64(b.Epoch), r.Name, amount, currency,
			r.HoldTTL.Milliseconds(), int64(b.Version), ms(r.CreatedAt), ms(r.UpdatedAt), lease)
	}
	if buckets := lastByKey(b.Buckets, func(x booking.Bucket) string { return x.Key }); len(buckets) > 0 {
		n := len(buckets)
		keys, capacity, held, confirmed := make([]string, n), make([]int64, n), make([]int64, n), make([]int64, n)
		for i, x := range buckets {
			keys[i], capacity[i], held[i], confirmed[i] = x.Key, x.Capacity, x.Held, x.Confirmed
		}
		queue(sqlUpsertBuckets, b.ResourceID, keys, capacity, held, confirmed)
	}
	holds := lastByKey(b.Holds, func(h booking.Hold) string { return h.ID })
	if len(holds) > 0 {
		a, err := newHoldArrays(holds)
		if err != nil {
			return nil, err
		}
		queue(sqlUpsertHolds, b.ResourceID, a.id, a.user, a.status, a.quantity, a.buckets, a.idem,
			a.created, a.expires, a.upd)
	}
	if len(b.Idempotency) > 0 {
		seen := make(map[string]bool, len(b.Idempotency))
		var keys, fps, holdIDs []string
		var created []int64
		for _, e := range b.Idempotency {
			if seen[e.Key] {
				continue
			}
			seen[e.Key] = true
			keys, fps, holdIDs, created = append(keys, e.Key), append(fps, e.Fingerprint), append(holdIDs, e.HoldID), append(created, ms(e.CreatedAt))
		}
		queue(sqlInsertIdempotency, b.ResourceID, keys, fps, holdIDs, created)
	}
	if err := queueOutbox(queue, b); err != nil {
		return nil, err
	}
	pb.holds = int64(len(holds))
	return pb, nil
}

// read checks the fence (the first statement) and the hold upsert.
func (q *commitBatch) read(br pgx.BatchResults) error {
	tag, err := br.Exec()
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return persistence.ErrFenced
	}
	for _, x := range q.queries[1:] {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if x.sql == sqlUpsertHolds && tag.RowsAffected() != q.holds {
			return errHoldOfOtherResource
		}
	}
	return nil
}

// checkBatch refuses batches the actor could not have built.
func checkBatch(b *persistence.Batch) error {
	switch {
	case b == nil:
		return errors.New("nil batch")
	case !booking.ValidID(b.ResourceID):
		return fmt.Errorf("resource id %q is not valid", b.ResourceID)
	case b.Resource.ID != b.ResourceID:
		return fmt.Errorf("batch of resource %q carries resource %q", b.ResourceID, b.Resource.ID)
	}
	for _, h := range b.Holds {
		if h.ResourceID != b.ResourceID {
			return fmt.Errorf("batch of resource %q carries hold %q of resource %q", b.ResourceID, h.ID, h.ResourceID)
		}
		if !h.Status.Valid() {
			return fmt.Errorf("hold %q has unknown status %q", h.ID, h.Status)
		}
	}
	return nil
}

// lastByKey drops all but the last of items sharing a key (after-images: the last wins; a
// multi-row upsert may not touch one row twice), keeping first-seen order.
func lastByKey[T any](items []T, key func(T) string) []T {
	if len(items) < 2 {
		return items
	}
	at := make(map[string]int, len(items))
	out := make([]T, 0, len(items))
	for _, it := range items {
		k := key(it)
		if i, ok := at[k]; ok {
			out[i] = it
			continue
		}
		at[k] = len(out)
		out = append(out, it)
	}
	return out
}
