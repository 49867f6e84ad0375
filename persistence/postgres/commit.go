package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// The statements of one Commit. They go to the server as one pipeline, one round trip:
// BEGIN, the writes, COMMIT, then one Sync (commitpipe.go). The server stops at the first error and skips the
// rest of the batch, COMMIT included (the caller then rolls back), so every check that refuses
// a batch must fail in the database, inside the batch, rather than in the client after a
// statement returned: the fence and the row-count checks below end in a division by zero
// (SQLSTATE 22012, which no write here raises otherwise) when they refuse, and readResults maps the
// error back by the statement's place. Multi-row writes are INSERT ... SELECT unnest($n), one
// array per column, so the SQL text, and hence the prepared statement, is the same whatever the
// batch size. Data-modifying CTEs with RETURNING and division by zero behave alike on
// PostgreSQL and CockroachDB.
//
// The unnests are in the select list, not in FROM: several set-returning functions there run
// in lockstep (PostgreSQL 10+ and CockroachDB alike: the i-th row has every array's i-th
// element), one element at a time (ProjectSet). In FROM, `unnest(a, b, ...)` is one function
// scan per array, each materialized into a tuplestore whose first allocation is 16 KB: a
// commit of new holds unnests 25 arrays (buckets 5, holds 15, events 5), 400 KB allocated and
// freed per commit whatever its size, which the backend paid for in brk and page faults
// (docs/PERFORMANCE.md, round 14).
// TestCommitStatementsUnnestInSelectList keeps them there.
const (
	sqlBegin  = `BEGIN ISOLATION LEVEL SERIALIZABLE`
	sqlCommit = `COMMIT`

	// The fence: the batch applies only if its epoch is still the resource's epoch and its
	// version follows the stored one (a batch out of order, repeated or behind one that failed
	// is refused: no row updated, division by zero). A NULL $10 (the batch's LeaseUntil is
	// zero) leaves the stored lease as it is.
	sqlUpdateResource = `WITH fence AS (UPDATE resources
SET name = $3, price_amount = $4, price_currency = $5, hold_ttl_ms = $6, version = $7,
    created_at_ms = $8, updated_at_ms = $9, lease_until_ms = COALESCE($10::INT8, lease_until_ms),
    max_extensions = $11, allowance_units = $12, allowance_percent = $13, max_per_user = $14,
    timezone = $15, slot_every_ms = $16, waitlist_offer_ttl_ms = $17,
    tags = $18, location = $19, archived_at_ms = $20, refund_policy = $21
WHERE id = $1 AND epoch = $2 AND version = $7::INT8 - 1
RETURNING 1)
SELECT 1 / (SELECT count(*) FROM fence)`

	// The creation fence: the batch applies only if the resource did not exist (else no row
	// inserted, division by zero).
	sqlInsertResource = `WITH fence AS (INSERT INTO resources
    (id, name, price_amount, price_currency, hold_ttl_ms, epoch, version, created_at_ms, updated_at_ms,
     lease_until_ms, ` + ruleColumns + `)
VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
ON CONFLICT (id) DO NOTHING
RETURNING 1)
SELECT 1 / (SELECT count(*) FROM fence)`

	// capacity is stored as what may be sold, the physical capacity plus the allowance (see
	// migrations/0003_rules.sql), so that step 1's CHECK guards the allowance too.
	sqlUpsertBuckets = `INSERT INTO buckets (resource_id, bucket_key, capacity, allowance, held, confirmed)
SELECT $1::TEXT, unnest($2::TEXT[]), unnest($3::INT8[]), unnest($4::INT8[]), unnest($5::INT8[]), unnest($6::INT8[])
ON CONFLICT (resource_id, bucket_key) DO UPDATE
SET capacity = excluded.capacity, allowance = excluded.allowance, held = excluded.held, confirmed = excluded.confirmed`

	// A hold id owned by another resource is left alone (the WHERE): fewer rows than $16, the
	// holds sent, and the division by zero refuses the batch.
	// contact is written by the insert only (persistence/contacts.go: `allot rekey` may have
	// re-sealed it since the actor loaded the hold).
	// idem_entry, once set, stays (holdkeys.go): a later after-image of the hold (a status
	// change) carries no entry, and must not take away the one the hold was placed with.
	sqlUpsertHolds = `WITH up AS (INSERT INTO holds (` + holdColumnsAll + `, idem_entry)
SELECT ` + holdUnnest + `
ON CONFLICT (id) DO UPDATE
SET user_id = excluded.user_id, status = excluded.status, quantity = excluded.quantity,
    buckets = excluded.buckets, idempotency_key = excluded.idempotency_key,
    created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms,
    updated_at_ms = excluded.updated_at_ms, extensions = excluded.extensions,
    waitlist_entry_id = excluded.waitlist_entry_id, payment = excluded.payment,
    payment_open = excluded.payment_open, idem_entry = holds.idem_entry OR excluded.idem_entry
WHERE holds.resource_id = excluded.resource_id
RETURNING 1)
SELECT 1 / CASE WHEN (SELECT count(*) FROM up) = $17::INT8 THEN 1 ELSE 0 END`

	// Like holds, an entry id owned by another resource is left alone: fewer rows than $9,
	// division by zero.
	sqlUpsertWaitlist = `WITH up AS (INSERT INTO waitlist (id, resource_id, user_id, offer_hold_id, buckets, quantity, seq, created_at_ms)
SELECT unnest($2::TEXT[]), $1::TEXT, unnest($3::TEXT[]), unnest($4::TEXT[]), unnest($5::TEXT[]), unnest($6::INT8[]),
    unnest($7::INT8[]), unnest($8::INT8[])
ON CONFLICT (id) DO UPDATE
SET user_id = excluded.user_id, offer_hold_id = excluded.offer_hold_id, buckets = excluded.buckets,
    quantity = excluded.quantity, seq = excluded.seq, created_at_ms = excluded.created_at_ms
WHERE waitlist.resource_id = excluded.resource_id
RETURNING 1)
SELECT 1 / CASE WHEN (SELECT count(*) FROM up) = $9::INT8 THEN 1 ELSE 0 END`

	// The holds a batch creates (persistence.Batch.NewHolds): a plain insert. A speculative
	// one (ON CONFLICT) probes the primary key before inserting and logs one more WAL record
	// per row to confirm it, a third of a new hold's blocks touched and a fifth of its WAL
	// records (docs/PERFORMANCE.md, round 10). An id already stored, by another resource's hold
	// or (never seen) this one's, raises a unique violation instead: the batch is sent again
	// with sqlUpsertHolds for every hold (exact), which refuses it or applies it as before.
	sqlInsertHolds = `INSERT INTO holds (` + holdColumnsAll + `, idem_entry)
SELECT ` + holdUnnest

	// holdUnnest is the holds' columns from their arrays, in holdColumnsAll order and then
	// idem_entry ($1 the resource id, $2..$16 the arrays, in holdArrays' order).
	holdUnnest = `unnest($2::TEXT[]), $1::TEXT, unnest($3::TEXT[]), unnest($4::TEXT[]), unnest($5::INT8[]),
    unnest($6::TEXT[]), unnest($7::TEXT[]), unnest($8::INT8[]), unnest($9::INT8[]), unnest($10::INT8[]),
    unnest($11::INT8[]), unnest($12::TEXT[]), unnest($13::TEXT[]), unnest($14::BOOL[]), unnest($15::BYTEA[]),
    unnest($16::BOOL[])`

	sqlDeleteWaitlist = `DELETE FROM waitlist WHERE resource_id = $1 AND id = ANY($2::TEXT[])`

	// A key is kept for booking.IdempotencyRetention (24 h): a batch carrying it again leaves
	// the stored entry, unless the new entry is that much younger (the actor forgot the old
	// key and a client reused it); then it replaces it, or a restart would lose the new one.
	sqlInsertIdempotency = `INSERT INTO idempotency_keys (resource_id, idem_key, fingerprint, hold_id, created_at_ms)
SELECT $1::TEXT, unnest($2::TEXT[]), unnest($3::TEXT[]), unnest($4::TEXT[]), unnest($5::INT8[])
ON CONFLICT (resource_id, idem_key) DO UPDATE
SET fingerprint = excluded.fingerprint, hold_id = excluded.hold_id, created_at_ms = excluded.created_at_ms
WHERE idempotency_keys.created_at_ms <= excluded.created_at_ms - 86400000`

	// The keys as a plain insert, for the same reason as sqlInsertHolds: a batch's keys are
	// new to the actor, and a key the store still has (the actor forgot it after 24 h, or
	// did not load it, and a client reused it) is rare. It raises a unique violation, and the
	// batch is sent again with sqlInsertIdempotency (exact), which applies the rule above.
	sqlInsertIdempotencyNew = `INSERT INTO idempotency_keys (resource_id, idem_key, fingerprint, hold_id, created_at_ms)
SELECT $1::TEXT, unnest($2::TEXT[]), unnest($3::TEXT[]), unnest($4::TEXT[]), unnest($5::INT8[])`
)

// errInsertConflict is a plain insert's unique violation (sqlInsertHolds,
// sqlInsertIdempotencyNew): the batch wrote nothing and is sent again exact.
var errInsertConflict = errors.New("a new hold or idempotency key is already stored")

// Commit writes b atomically if b.Epoch is the resource's epoch (for a creation: if the
// resource does not exist), and returns an error wrapping persistence.ErrFenced, having
// written nothing, if not. A non-zero b.LeaseUntil is stored by the fence statement itself.
// A batch that breaks the schema (an oversold bucket) or names another resource's hold fails
// with a plain error and writes nothing. Failures to reach the database wrap
// persistence.ErrUnavailable; whether such a batch was applied is unknown. A batch whose
// plain inserts meet a stored row (errInsertConflict) is sent a second time, exact.
func (s *Store) Commit(ctx context.Context, b *persistence.Batch) error {
	if s.closed.Load() {
		return errClosed("commit")
	}
	if err := ctx.Err(); err != nil {
		return wrap("commit", err)
	}
	arena := new(commitArena)
	if s.cfg.Tracer == nil { // a tracer sees the arguments, and may keep them (commitarena.go)
		arena = s.bufs.arena()
		defer s.bufs.putArena(arena)
	}
	q, err := newCommitBatch(b, arena, false, !s.cfg.IdempotencyRows)
	if err != nil {
		return fmt.Errorf("commit %s: %w", batchID(b), err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	// A serialization failure (40001), on any statement or on the COMMIT, re-runs the whole
	// batch in a fresh transaction, as inTx does.
	err = s.retry(ctx, func(ctx context.Context) error { return s.commitOnce(ctx, q) })
	if errors.Is(err, errInsertConflict) {
		// Nothing was written (the transaction aborted): the same batch again, with an
		// upsert for every hold and key. A tracer may keep the first attempt's arguments.
		if s.cfg.Tracer != nil {
			arena = new(commitArena)
		}
		if q, err = newCommitBatch(b, arena, true, !s.cfg.IdempotencyRows); err != nil {
			return fmt.Errorf("commit %s: %w", batchID(b), err)
		}
		err = s.retry(ctx, func(ctx context.Context) error { return s.commitOnce(ctx, q) })
	}
	if errors.Is(err, persistence.ErrFenced) {
		return fmt.Errorf("commit %s epoch %d: %w", b.ResourceID, b.Epoch, err)
	}
	return wrap("commit "+b.ResourceID, err)
}

// commitOnce sends q's transaction, BEGIN to COMMIT, in one round trip on one connection
// (sendCommit). On an error the server has skipped the rest (COMMIT included) and the
// transaction is aborted; it is rolled back here so that the connection goes back to the pool
// clean (if that fails too, the pool drops the connection: Release destroys one not idle).
func (s *Store) commitOnce(ctx context.Context, q *commitBatch) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = sendCommit(ctx, conn.Conn(), q, &s.bufs)
	if err != nil && !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(ctx, "ROLLBACK") // on a done ctx pgx closes the connection instead
	}
	return err
}

func batchID(b *persistence.Batch) string {
	if b == nil {
		return "<nil>"
	}
	return b.ResourceID
}

// commitBatch is one Commit's statements and arguments, built once, without the BEGIN and
// COMMIT that sendCommit puts around them; each attempt encodes and sends them again.
type commitBatch struct {
	queries []query
}

type query struct {
	sql  string
	args []any
}

// newCommitBatch builds b's statements in a (commitarena.go). Unless exact, the holds b
// creates and its idempotency keys are plain inserts (sqlInsertHolds, sqlInsertIdempotencyNew),
// which refuse the batch with errInsertConflict when a row is already stored; exact batches
// upsert every hold and key. With carry, an entry that is all its hold's is the hold's
// idem_entry flag instead of a row (holdkeys.go).
func newCommitBatch(b *persistence.Batch, a *commitArena, exact, carry bool) (*commitBatch, error) {
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
	pb := &a.batch
	pb.queries = pb.queries[:0]
	queue := func(sql string, args ...any) { pb.queries = append(pb.queries, query{sql, args}) }
	if b.Create {
		queue(sqlInsertResource, append([]any{b.ResourceID, r.Name, amount, currency, r.HoldTTL.Milliseconds(),
			int64(b.Version), ms(r.CreatedAt), ms(r.UpdatedAt), persistence.LeaseMS(b.LeaseUntil)}, ruleArgs(r)...)...)
	} else {
		var lease *int64 // NULL: unchanged
		if !b.LeaseUntil.IsZero() {
			v := persistence.LeaseMS(b.LeaseUntil)
			lease = &v
		}
		queue(sqlUpdateResource, append([]any{b.ResourceID, int64(b.Epoch), r.Name, amount, currency,
			r.HoldTTL.Milliseconds(), int64(b.Version), ms(r.CreatedAt), ms(r.UpdatedAt), lease}, ruleArgs(r)...)...)
	}
	if buckets := lastByKey(a, b.Buckets, func(x booking.Bucket) string { return x.Key }); len(buckets) > 0 {
		n := len(buckets)
		keys, capacity, allowance, held, confirmed := make(textArray, n), make(int8Array, n), make(int8Array, n), make(int8Array, n), make(int8Array, n)
		for i, x := range buckets {
			keys[i], capacity[i], allowance[i], held[i], confirmed[i] = x.Key, x.Capacity+x.Allowance, x.Allowance, x.Held, x.Confirmed
		}
		queue(sqlUpsertBuckets, b.ResourceID, keys, capacity, allowance, held, confirmed)
	}
	holds := lastByKey(a, b.Holds, func(h booking.Hold) string { return h.ID })
	var h holdArrays // h.idemEntry is set below, with the keys: the queued arrays share it
	if len(holds) > 0 {
		var err error
		if h, err = a.holdArrays(holds); err != nil {
			return nil, err
		}
		created := 0                              // holds[:created] are new: inserted
		if !exact && len(holds) == len(b.Holds) { // a merge (lastByKey) reorders: all upserted
			created = b.NewHolds
		}
		if created > 0 {
			n := h.slice(0, created)
			queue(sqlInsertHolds, b.ResourceID, n.id, n.user, n.status, n.quantity, n.buckets, n.idem,
				n.created, n.expires, n.upd, n.extensions, n.entry, n.payment, n.paymentOpen, n.contact, n.idemEntry)
		}
		if created < len(holds) {
			c := h.slice(created, len(holds))
			queue(sqlUpsertHolds, b.ResourceID, c.id, c.user, c.status, c.quantity, c.buckets, c.idem,
				c.created, c.expires, c.upd, c.extensions, c.entry, c.payment, c.paymentOpen, c.contact, c.idemEntry, int64(len(holds)-created))
		}
	}
	waiting := lastByKey(a, b.Waitlist, func(e booking.WaitlistEntry) string { return e.ID })
	if len(waiting) > 0 {
		w, err := newWaitlistArrays(waiting)
		if err != nil {
			return nil, err
		}
		queue(sqlUpsertWaitlist, b.ResourceID, w.id, w.user, w.offer, w.buckets, w.quantity, w.seq, w.created, int64(len(waiting)))
	}
	if len(b.WaitlistRemoved) > 0 {
		queue(sqlDeleteWaitlist, b.ResourceID, append([]string(nil), b.WaitlistRemoved...))
	}
	if len(b.Idempotency) > 0 {
		seen := a.seenMap()
		var holdAt map[string]int // nil: no entry carried
		if carry {
			holdAt = a.holdIndex(holds)
		}
		keys, fps, holdIDs, created := a.idemKeys[:0], a.idemFingerprints[:0], a.idemHolds[:0], a.idemCreated[:0]
		for i := range b.Idempotency {
			e := &b.Idempotency[i]
			if _, ok := seen[e.Key]; ok {
				continue
			}
			seen[e.Key] = 0
			if j, ok := holdAt[e.HoldID]; ok && persistence.CarriesEntry(&holds[j], e) {
				h.idemEntry[j] = true // the hold's row is the entry (holdkeys.go)
				continue
			}
			keys, fps, holdIDs, created = append(keys, e.Key), append(fps, e.Fingerprint), append(holdIDs, e.HoldID), append(created, ms(e.CreatedAt))
		}
		a.idemKeys, a.idemFingerprints, a.idemHolds, a.idemCreated = keys, fps, holdIDs, created
		insert := sqlInsertIdempotencyNew
		if exact {
			insert = sqlInsertIdempotency
		}
		if len(keys) > 0 {
			queue(insert, b.ResourceID, keys, fps, holdIDs, created)
		}
	}
	if err := queueOutbox(queue, b, a); err != nil {
		return nil, err
	}
	return pb, nil
}

// readResults reads the results of the transaction's statements in order, exec returning
// the next one's. A division by zero is the refusal of the statement that raised it: the
// fence (the first write) or a row-count check.
func (q *commitBatch) readResults(exec func() (pgconn.CommandTag, error)) error {
	if _, err := exec(); err != nil { // BEGIN
		return err
	}
	for i, x := range q.queries {
		_, err := exec()
		if err == nil {
			continue
		}
		if sqlState(err) == codeUniqueViolation && (x.sql == sqlInsertHolds || x.sql == sqlInsertIdempotencyNew) {
			return fmt.Errorf("%w: %w", errInsertConflict, err)
		}
		if sqlState(err) == codeDivisionByZero {
			switch {
			case i == 0:
				return persistence.ErrFenced
			case x.sql == sqlUpsertHolds:
				return errHoldOfOtherResource
			case x.sql == sqlUpsertWaitlist:
				return errEntryOfOtherResource
			}
		}
		return err
	}
	tag, err := exec()
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		// The server rolled back instead of committing (the transaction had failed without
		// an error reaching us). Its cause is unknown.
		return fmt.Errorf("commit turned into %q", tag.String())
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
	case b.NewHolds < 0 || b.NewHolds > len(b.Holds):
		return fmt.Errorf("batch of resource %q: %d new holds of %d", b.ResourceID, b.NewHolds, len(b.Holds))
	}
	for _, h := range b.Holds {
		if h.ResourceID != b.ResourceID {
			return fmt.Errorf("batch of resource %q carries hold %q of resource %q", b.ResourceID, h.ID, h.ResourceID)
		}
		if !h.Status.Valid() {
			return fmt.Errorf("hold %q has unknown status %q", h.ID, h.Status)
		}
	}
	for _, e := range b.Waitlist {
		if e.ResourceID != b.ResourceID {
			return fmt.Errorf("batch of resource %q carries waitlist entry %q of resource %q", b.ResourceID, e.ID, e.ResourceID)
		}
		if e.Seq > math.MaxInt64 {
			return fmt.Errorf("waitlist entry %q: seq out of range", e.ID)
		}
	}
	return nil
}

// lastByKey drops all but the last of items sharing a key (after-images: the last wins; a
// multi-row upsert may not touch one row twice), keeping first-seen order. Without a repeated
// key (the actor's batches have none: activation.Core.write merges them) it returns items
// itself, not a copy: a Hold is a few hundred bytes, and the copy of a batch's holds was 2% of
// the bytes a durable hold allocated.
func lastByKey[T any](a *commitArena, items []T, key func(T) string) []T {
	if len(items) < 2 {
		return items
	}
	at := a.seenMap()
	for i, it := range items {
		k := key(it)
		if _, ok := at[k]; ok {
			return mergeByKey(items, key)
		}
		at[k] = i
	}
	return items
}

// mergeByKey is lastByKey for items with a repeated key.
func mergeByKey[T any](items []T, key func(T) string) []T {
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
