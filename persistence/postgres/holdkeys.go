package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
)

// Idempotency entries carried by holds (migration 0018). The entry a placed hold makes is all
// its hold's: the key, the hold id, the creation time and the fingerprint of the hold's
// buckets, quantity and user, none of which changes once the hold is placed
// (actors/booking/idempotency.go). Commit writes such an entry as the hold's idem_entry flag
// instead of an idempotency_keys row: that row and its primary key entry, at a random place
// of the index since keys are the clients', were a quarter of PostgreSQL's executor time per
// durable hold (docs/PERFORMANCE.md, round 13). Activate reads them back from the holds.
//
// Invariant: idem_entry is set only on a hold whose stored key, id, creation time, buckets,
// quantity and user give exactly the entry the batch carried (persistence.CarriesEntry), and it is never
// cleared, so the entry read back is the one written. Entries that are not a hold's (a
// renewal's, a waitlist join's, a batch whose entry and hold disagree) and every entry
// written before migration 0018 stay in idempotency_keys; Activate reads both.

// sqlLoadHoldIdempotency reads the entries the resource's holds carry, created at or after the
// resource's idem_floor_ms, which Activate's epoch bump has just raised to its idemSince: the
// prune of a hold's entry is the floor passing it (a hold is never deleted), so an entry once
// pruned is not read again by a later activation with an earlier idemSince, as a pruned
// idempotency_keys row is not. The status list makes it a range of holds_by_resource
// (resource_id, status, created_at_ms) per status, not a walk of the resource's whole
// history: it names every status there is (booking.Status.Valid; checkBatch refuses a hold
// with another).
const sqlLoadHoldIdempotency = `SELECT idempotency_key, id, created_at_ms, user_id, quantity, buckets FROM holds
WHERE resource_id = $1 AND status IN ('held', 'confirmed', 'cancelled', 'expired')
    AND created_at_ms >= (SELECT idem_floor_ms FROM resources WHERE id = $1) AND idem_entry`

// readHoldIdempotency reads sqlLoadHoldIdempotency's rows as entries, appended to out.
func readHoldIdempotency(rows pgx.Rows, out []booking.IdempotencyEntry) ([]booking.IdempotencyEntry, error) {
	defer rows.Close()
	for rows.Next() {
		var e booking.IdempotencyEntry
		var user, keys string
		var quantity, at int64
		if err := rows.Scan(&e.Key, &e.HoldID, &at, &user, &quantity, &keys); err != nil {
			return nil, err
		}
		var buckets []string
		if err := json.Unmarshal([]byte(keys), &buckets); err != nil {
			return nil, fmt.Errorf("hold %s: bucket list %q: %w", e.HoldID, keys, err)
		}
		e.Fingerprint, e.CreatedAt = booking.Fingerprint(buckets, quantity, user), fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
