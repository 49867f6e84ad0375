package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// ListResources returns the resources matching f, by ID, at most f.Limit (after Normalize,
// whose *booking.Error it returns). The primary key serves the order and the cursor; the
// availability condition reads each candidate's buckets by (resource_id, bucket_key).
func (s *Store) ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error) {
	if s.closed.Load() {
		return nil, errClosed("list resources")
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("list resources", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{persistence.ResourceListed, "r.id > " + arg(f.After)}
	if f.Tag != "" {
		where = append(where, persistence.ResourceTagged(arg(persistence.TagPattern(f.Tag))))
	}
	if f.Query != "" {
		where = append(where, `LOWER(r.name) LIKE `+arg(persistence.LikePattern(f.Query))+` ESCAPE '\'`)
	}
	var avail []string // a stay by nights or by slots: either matches
	if len(f.Keys) > 0 {
		in := make([]string, len(f.Keys))
		for i, k := range f.Keys {
			in[i] = arg(k)
		}
		avail = append(avail, persistence.ResourceAvailable(strings.Join(in, ", "), arg(f.Quantity), arg(int64(len(f.Keys)))))
	}
	if sp := f.Span; sp != nil {
		avail = append(avail, persistence.ResourceSlotsAvailable(arg(sp.From), arg(sp.To), arg(f.Quantity), arg(sp.Millis())))
	}
	if len(avail) > 0 {
		where = append(where, "("+strings.Join(avail, " OR ")+")")
	}
	sql := `SELECT ` + persistence.ResourceColumns + ` FROM resources r WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY r.id LIMIT ` + arg(f.Limit)
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var out []booking.Resource
	err := s.retry(ctx, func(ctx context.Context) error {
		out = nil
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r                     booking.Resource
				amount                *int64
				currency              *string
				ttl, created, updated int64
				rules                 ruleRow
			)
			if err := rows.Scan(append([]any{&r.ID, &r.Name, &amount, &currency, &ttl, &created, &updated}, rules.dest()...)...); err != nil {
				return err
			}
			if (amount == nil) != (currency == nil) {
				return fmt.Errorf("resource %s: price amount and currency must both be set or both be null", r.ID)
			}
			if amount != nil {
				r.Price = &booking.Money{Amount: *amount, Currency: *currency}
			}
			r.HoldTTL = time.Duration(ttl) * time.Millisecond
			r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
			if err := rules.apply(&r); err != nil {
				return fmt.Errorf("resource %s: %w", r.ID, err)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap("list resources", err)
	}
	return out, nil
}
