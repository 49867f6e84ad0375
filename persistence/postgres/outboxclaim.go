package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// The relay's claim on PostgreSQL and CockroachDB is a short SERIALIZABLE transaction of its
// own, so relays of several nodes never wait for each other nor publish the same rows at once:
//
//  1. the candidates: the first limit unpublished rows no lease holds, in log order, locked
//     FOR UPDATE SKIP LOCKED (sqlClaimOutbox);
//  2. each candidate resource's unpublished rows from its floor (outboxFloors) up to its last
//     candidate, in version order, at most limit of them, leased or not (sqlUnpublishedUpTo);
//  3. the claim, per resource a prefix of its unpublished events in version order
//     (persistence.PrefixClaim, as on the one-node stores): a candidate brings its resource's
//     earlier rows with it, and a resource whose earlier row a lease holds gives nothing more;
//  4. the claimed rows that were not candidates (a resource's earlier events later in the log:
//     its clock stepped back) read and locked FOR UPDATE SKIP LOCKED (sqlLockRows); a row that
//     does not come back (another relay's claim holds it) cuts its resource's part there;
//  5. the claim lease on the claimed rows (sqlClaimRows).
//
// Step 4 runs only when the claim holds a row that was not a candidate; in the common case
// (each resource's candidates are its first unpublished rows) the claim is the candidates
// and its statements are the ones it always was. A relay that skipped a row another relay
// holds must not publish the resource's later events before that one, or the stream would
// carry them out of version order (seen with three nodes' relays on one outbox). And a claim
// whose candidates are all of one resource's later events (its clock set back by more than a
// claim's worth of them) takes the resource's earlier events instead of dropping the later
// ones: a rule that only dropped them returned no row, claim after claim, and the relay
// stalled (docs/PERFORMANCE.md, round 16).

const (
	sqlClaimOutbox = `SELECT ` + outboxColumns + ` FROM outbox
WHERE published_at_ms = 0 AND claimed_until_ms <= $1` + outboxOrder + `
LIMIT $2 FOR UPDATE SKIP LOCKED`
	// The unpublished rows of each candidate resource from its floor up to its last
	// candidate, in version order, at most $6 per resource ($1..$5: resource ids, each one's
	// floor (version, index) and its last candidate (version, index)). LATERAL and the row
	// comparisons make each resource's part one range of outbox_unpublished_by_resource in
	// every plan, the generic plan of the prepared statement too (a join of the unnest with
	// the bound as a filter read the whole index: docs/PERFORMANCE.md, round 12). No claim
	// takes more than $6 rows, so no more of one resource are needed.
	sqlUnpublishedUpTo = `SELECT k.r, o.version, o.idx, o.occurred_at_ms, o.claimed_until_ms
FROM unnest($1::TEXT[], $2::INT8[], $3::INT8[], $4::INT8[], $5::INT8[]) AS k (r, fv, fi, v, i)
CROSS JOIN LATERAL (SELECT version, idx, occurred_at_ms, claimed_until_ms FROM outbox
    WHERE resource_id = k.r AND published_at_ms = 0 AND (version, idx) >= (k.fv, k.fi) AND (version, idx) <= (k.v, k.i)
    ORDER BY version, idx LIMIT $6) AS o
ORDER BY k.r, o.version, o.idx`
	// The rows by key ($2..$5) still unpublished and free at $1, locked; a row another
	// transaction holds is skipped, not waited for.
	sqlLockRows = `SELECT ` + outboxColumns + ` FROM outbox WHERE published_at_ms = 0 AND claimed_until_ms <= $1
AND (occurred_at_ms, resource_id, version, idx) IN (SELECT o, r, v, i FROM unnest($2::INT8[], $3::TEXT[], $4::INT8[], $5::INT8[]) AS k (o, r, v, i))
FOR UPDATE SKIP LOCKED`
)

// ClaimEvents claims up to limit unpublished events in log order (see persistence.Outbox),
// per resource a prefix of its unpublished events in version order.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]events.Record, error) {
	if err := s.usable(ctx, "claim events"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var (
		out  []events.Record
		seen map[string]outboxKey
	)
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		seen = nil // a retried transaction's reads replace the last attempt's
		out = nil
		rows, err := tx.Query(ctx, sqlClaimOutbox, now.UnixMilli(), limit)
		if err != nil {
			return err
		}
		cands, err := collectRecords(rows)
		if err != nil || len(cands) == 0 {
			return err
		}
		recs, sn, err := claimPrefix(ctx, tx, &s.floors, cands, now.UnixMilli(), limit)
		if err != nil || len(recs) == 0 {
			return err
		}
		keys := make([]persistence.EventKey, len(recs))
		for i := range recs {
			keys[i] = persistence.KeyOf(&recs[i])
		}
		if _, err := tx.Exec(ctx, sqlClaimRows, append([]any{now.Add(lease).UnixMilli()}, keyArrays(keys)...)...); err != nil {
			return err
		}
		out, seen = recs, sn
		return nil
	})
	if err != nil {
		return nil, wrap("claim events", err)
	}
	s.floors.raise(seen)
	return out, nil
}

// claimPrefix chooses the claim from the locked candidates cands (steps 2 to 4 above) and
// returns it in log order, with the floors it saw (the first unpublished row of each
// candidate resource), which hold once the claim commits.
func claimPrefix(ctx context.Context, tx pgx.Tx, floors *outboxFloors, cands []events.Record, nowMS int64, limit int) ([]events.Record, map[string]outboxKey, error) {
	last := map[string]outboxKey{}
	for _, r := range cands {
		k := outboxKey{r.Version, r.Index}
		if l, ok := last[r.ResourceID]; !ok || l.less(k) {
			last[r.ResourceID] = k
		}
	}
	n := len(last)
	rids, fvs, fis := make([]string, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	vs, is := make([]int64, 0, n), make([]int64, 0, n)
	for rid, k := range last {
		fv, fi := int64(-1), int64(-1) // no floor: from the resource's first row
		if f, ok := floors.get(rid); ok {
			fv, fi = int64(f.v), int64(f.i)
		}
		rids, fvs, fis = append(rids, rid), append(fvs, fv), append(fis, fi)
		vs, is = append(vs, int64(k.v)), append(is, int64(k.i))
	}
	rows, err := tx.Query(ctx, sqlUnpublishedUpTo, rids, fvs, fis, vs, is, int64(limit))
	if err != nil {
		return nil, nil, err
	}
	byResource := make(map[string][]persistence.Unpublished, n)
	seen := make(map[string]outboxKey, n) // each resource's first unpublished row
	for rows.Next() {
		var (
			rid              string
			v, i, at, leased int64
		)
		if err := rows.Scan(&rid, &v, &i, &at, &leased); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if _, ok := seen[rid]; !ok {
			seen[rid] = outboxKey{uint64(v), int(i)} // rows come in version order per resource
		}
		byResource[rid] = append(byResource[rid], persistence.Unpublished{
			Rec:  events.Record{ResourceID: rid, Version: uint64(v), Index: int(i), OccurredAt: fromMS(at)},
			Held: leased > nowMS,
		})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	chosen := persistence.PrefixClaim(cands, limit, byResource)
	full := make(map[persistence.EventKey]events.Record, len(cands))
	for _, r := range cands {
		full[persistence.KeyOf(&r)] = r
	}
	var extra []persistence.EventKey // chosen rows that were not candidates
	for i := range chosen {
		if k := persistence.KeyOf(&chosen[i]); !hasKey(full, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		rows, err := tx.Query(ctx, sqlLockRows, append([]any{nowMS}, keyArrays(extra)...)...)
		if err != nil {
			return nil, nil, err
		}
		locked, err := collectRecords(rows)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range locked {
			full[persistence.KeyOf(&r)] = r
		}
	}
	return cutAtMissing(chosen, full), seen, nil
}

func hasKey(m map[persistence.EventKey]events.Record, k persistence.EventKey) bool {
	_, ok := m[k]
	return ok
}

// cutAtMissing returns chosen (per resource a prefix in version order, in log order) with
// each resource's part cut at its first row full does not hold (one this claim could not
// lock), replaced by full's records: what remains is still a prefix per resource.
func cutAtMissing(chosen []events.Record, full map[persistence.EventKey]events.Record) []events.Record {
	cut := map[string]outboxKey{} // per resource, its first missing row
	for i := range chosen {
		r := &chosen[i]
		if hasKey(full, persistence.KeyOf(r)) {
			continue
		}
		k := outboxKey{r.Version, r.Index}
		if c, ok := cut[r.ResourceID]; !ok || k.less(c) {
			cut[r.ResourceID] = k
		}
	}
	out := chosen[:0]
	for i := range chosen {
		r := &chosen[i]
		if c, ok := cut[r.ResourceID]; ok && !(outboxKey{r.Version, r.Index}).less(c) {
			continue
		}
		out = append(out, full[persistence.KeyOf(r)])
	}
	return out
}
