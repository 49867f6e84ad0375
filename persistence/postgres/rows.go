package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
)

// Times are stored as Unix milliseconds (BIGINT) and durations as milliseconds.

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// holdColumns is the column list every hold query selects, in scanHold's order.
const holdColumns = `id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms, expires_at_ms, updated_at_ms`

// scanHold reads one row of holdColumns.
func scanHold(row pgx.Row) (booking.Hold, error) {
	var (
		h                           booking.Hold
		status, buckets             string
		created, expires, updatedAt int64
	)
	if err := row.Scan(&h.ID, &h.ResourceID, &h.UserID, &status, &h.Quantity, &buckets,
		&h.IdempotencyKey, &created, &expires, &updatedAt); err != nil {
		return booking.Hold{}, err
	}
	h.Status = booking.Status(status)
	if err := json.Unmarshal([]byte(buckets), &h.Buckets); err != nil {
		return booking.Hold{}, fmt.Errorf("hold %s: bucket list %q: %w", h.ID, buckets, err)
	}
	h.CreatedAt, h.ExpiresAt, h.UpdatedAt = fromMS(created), fromMS(expires), fromMS(updatedAt)
	return h, nil
}

// collectHolds reads all rows of holdColumns.
func collectHolds(rows pgx.Rows) ([]booking.Hold, error) {
	defer rows.Close()
	var out []booking.Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// holdArrays is a batch of holds as one array per column, for INSERT ... SELECT FROM unnest.
type holdArrays struct {
	id, user, status, buckets, idem []string
	quantity, created, expires, upd []int64
}

func newHoldArrays(hs []booking.Hold) (holdArrays, error) {
	n := len(hs)
	a := holdArrays{
		id: make([]string, n), user: make([]string, n), status: make([]string, n),
		buckets: make([]string, n), idem: make([]string, n), quantity: make([]int64, n),
		created: make([]int64, n), expires: make([]int64, n), upd: make([]int64, n),
	}
	for i, h := range hs {
		keys := h.Buckets
		if keys == nil {
			keys = []string{}
		}
		b, err := json.Marshal(keys)
		if err != nil {
			return holdArrays{}, err
		}
		a.id[i], a.user[i], a.status[i], a.buckets[i], a.idem[i] = h.ID, h.UserID, string(h.Status), string(b), h.IdempotencyKey
		a.quantity[i], a.created[i], a.expires[i], a.upd[i] = h.Quantity, ms(h.CreatedAt), ms(h.ExpiresAt), ms(h.UpdatedAt)
	}
	return a, nil
}
