package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/allot/allot/actors/booking"
)

// Idempotency entries carried by holds (schema step 18, the PostgreSQL store's since round 13:
// persistence/postgres/holdkeys.go). The entry a placed hold makes is all its hold's: the key,
// the hold id, the creation time and the fingerprint of the hold's buckets, quantity and user,
// none of which changes once the hold is placed (actors/booking/idempotency.go). Commit writes
// such an entry as the hold row's idem_entry flag instead of an idempotency_keys row: that row
// and its key index entry, at a random place of the index since keys are the clients', were
// 11.6 of the 39.4 WAL pages a 32-hold commit wrote (docs/PERFORMANCE.md, round 20). Activate
// reads them back from the holds.
//
// Invariant: idem_entry is set only on a hold whose stored key, id, creation time, buckets,
// quantity and user give exactly the entry the batch carried (persistence.CarriesEntry, against the
// batch's last image of the hold, the one stored), and it is never cleared (the upsert ORs
// it), so the entry read back is the one written. Entries that are not a hold's (a renewal's,
// a waitlist join's, a batch whose entry and hold disagree), every entry written with
// Config.IdempotencyRows, and every entry written before this release stay in
// idempotency_keys; Activate reads both and merges them (persistence.MergeIdempotency).

// selectHoldIdem reads the entries the resource's holds carry, created at or after the
// resource's idem_floor_ms, which Activate's epoch bump has just raised to its idemSince (the
// second argument is that floor, returned by the bump): the prune of a hold's entry is the
// floor passing it (a hold is never deleted), so an entry once pruned is not read again by a
// later activation with an earlier idemSince, as a pruned idempotency_keys row is not. The
// status list makes it one range of holds_by_resource (resource_id, status, created_at_ms) per
// status, not a walk of the resource's whole history: it names every status there is
// (booking.Status.Valid; encode refuses a hold with another).
const selectHoldIdem = `SELECT idempotency_key, id, created_at_ms, user_id, quantity, buckets FROM holds
WHERE resource_id = ? AND status IN ('held', 'confirmed', 'cancelled', 'expired') AND created_at_ms >= ? AND idem_entry`

// readHoldIdem reads selectHoldIdem's rows as entries, appended to out, and closes rows.
func readHoldIdem(rows *sql.Rows, err error, out []booking.IdempotencyEntry) ([]booking.IdempotencyEntry, error) {
	if err != nil {
		return nil, err
	}
	var buckets []string
	for rows.Next() {
		var e booking.IdempotencyEntry
		var user, keys string
		var quantity, at int64
		if err := rows.Scan(&e.Key, &e.HoldID, &at, &user, &quantity, &keys); err != nil {
			rows.Close()
			return nil, err
		}
		buckets = buckets[:0]
		if err := json.Unmarshal([]byte(keys), &buckets); err != nil {
			rows.Close()
			return nil, fmt.Errorf("hold %s: bucket list %q: %w", e.HoldID, keys, err)
		}
		e.Fingerprint, e.CreatedAt = booking.Fingerprint(buckets, quantity, user), fromMS(at)
		out = append(out, e)
	}
	return out, closeRows(rows)
}
