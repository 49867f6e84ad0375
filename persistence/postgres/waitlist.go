package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/allot/allot/persistence"
)

// ListWaitlist returns the waiting entries matching f with their positions, by CreatedAt then
// ID, at most f.Limit (after Normalize, whose *booking.Error it returns). The index
// (user_id, created_at_ms) serves a user's listing, (resource_id, seq) the positions.
func (s *Store) ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error) {
	if s.closed.Load() {
		return nil, errClosed("list waitlist")
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("list waitlist", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	add := func(col string, v any) {
		args = append(args, v)
		where = append(where, col+" = $"+strconv.Itoa(len(args)))
	}
	if f.UserID != "" {
		add("w.user_id", f.UserID)
	}
	if f.ResourceID != "" {
		add("w.resource_id", f.ResourceID)
	}
	args = append(args, f.Limit)
	sql := `SELECT ` + persistence.WaitlistColumns + `, ` + persistence.WaitlistPositionColumn + ` FROM waitlist w WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY w.created_at_ms, w.id LIMIT $` + strconv.Itoa(len(args))
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var out []persistence.WaitlistPosition
	err := s.retry(ctx, func(ctx context.Context) error {
		out = nil
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p persistence.WaitlistPosition
			var keys string
			var seq, at, pos int64
			e := &p.Entry
			if err := rows.Scan(&e.ID, &e.ResourceID, &e.UserID, &e.OfferHoldID, &keys, &e.Quantity, &seq, &at, &pos); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(keys), &e.Buckets); err != nil {
				return fmt.Errorf("entry %s: bucket list %q: %w", e.ID, keys, err)
			}
			e.Seq, e.CreatedAt, p.Position = uint64(seq), fromMS(at), int(pos)
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap("list waitlist", err)
	}
	return out, nil
}
