package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// ListResources reads the resources matching f from the read pool, by ID, at most f.Limit
// (after Normalize, whose *booking.Error it returns for a bad filter).
func (s *Store) ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error) {
	if err := s.readable(ctx, "list resources"); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	where := []string{persistence.ResourceListed, "r.id > ?"}
	args := []any{f.After}
	if f.Tag != "" {
		where, args = append(where, persistence.ResourceTagged("?")), append(args, persistence.TagPattern(f.Tag))
	}
	if f.Query != "" {
		where, args = append(where, `LOWER(r.name) LIKE ? ESCAPE '\'`), append(args, persistence.LikePattern(f.Query))
	}
	var avail []string // a stay by nights or by slots: either matches
	if len(f.Keys) > 0 {
		avail = append(avail, persistence.ResourceAvailable(strings.TrimSuffix(strings.Repeat("?, ", len(f.Keys)), ", "), "?", "?"))
		for _, k := range f.Keys {
			args = append(args, k)
		}
		args = append(args, f.Quantity, len(f.Keys))
	}
	if sp := f.Span; sp != nil {
		avail = append(avail, persistence.ResourceSlotsAvailable("?", "?", "?", "?"))
		// In the condition's order: from, to and q of the first subquery, from and to of the
		// count, the span, and from of the first slot.
		args = append(args, sp.From, sp.To, f.Quantity, sp.From, sp.To, sp.Millis(), sp.From)
	}
	if len(avail) > 0 {
		where = append(where, "("+strings.Join(avail, " OR ")+")")
	}
	q := `SELECT ` + persistence.ResourceColumns + ` FROM resources r WHERE ` + strings.Join(where, " AND ") + ` ORDER BY r.id LIMIT ?`
	rows, err := s.rdb.QueryContext(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, s.readErr("list resources", err)
	}
	var out []booking.Resource
	for rows.Next() {
		var (
			r                     booking.Resource
			amount                sql.NullInt64
			currency              sql.NullString
			ttl, created, updated int64
			rules                 ruleRow
		)
		if err := rows.Scan(append([]any{&r.ID, &r.Name, &amount, &currency, &ttl, &created, &updated}, rules.dest()...)...); err != nil {
			rows.Close()
			return nil, s.readErr("list resources", err)
		}
		if amount.Valid {
			r.Price = &booking.Money{Amount: amount.Int64, Currency: currency.String}
		}
		r.HoldTTL = time.Duration(ttl) * time.Millisecond
		r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
		if err := rules.apply(&r); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list resources: resource %s: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, s.readErr("list resources", err)
	}
	return out, nil
}
