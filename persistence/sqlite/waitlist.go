package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/allot/allot/persistence"
)

// ListWaitlist reads the waiting entries matching f with their positions from the read pool,
// by CreatedAt then ID, at most f.Limit (after Normalize, whose *booking.Error it returns).
func (s *Store) ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error) {
	if err := s.readable(ctx, "list waitlist"); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if f.UserID != "" {
		where, args = append(where, "w.user_id = ?"), append(args, f.UserID)
	}
	if f.ResourceID != "" {
		where, args = append(where, "w.resource_id = ?"), append(args, f.ResourceID)
	}
	q := `SELECT ` + persistence.WaitlistColumns + `, ` + persistence.WaitlistPositionColumn + ` FROM waitlist w WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY w.created_at_ms, w.id LIMIT ?`
	rows, err := s.rdb.QueryContext(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, s.readErr("list waitlist", err)
	}
	var out []persistence.WaitlistPosition
	for rows.Next() {
		var p persistence.WaitlistPosition
		var keys string
		var seq, at int64
		e := &p.Entry
		if err := rows.Scan(&e.ID, &e.ResourceID, &e.UserID, &e.OfferHoldID, &keys, &e.Quantity, &seq, &at, &p.Position); err != nil {
			rows.Close()
			return nil, s.readErr("list waitlist", err)
		}
		if err := json.Unmarshal([]byte(keys), &e.Buckets); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list waitlist: entry %q: bucket list: %w", e.ID, err)
		}
		e.Seq, e.CreatedAt = uint64(seq), fromMS(at)
		out = append(out, p)
	}
	if err := closeRows(rows); err != nil {
		return nil, s.readErr("list waitlist", err)
	}
	return out, nil
}
