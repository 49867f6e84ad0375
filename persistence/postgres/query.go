package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

const sqlGetHold = `SELECT ` + holdColumnsAll + ` FROM holds WHERE id = $1 AND resource_id = $2`

// GetHold returns one hold of the resource whatever its status, or an error wrapping
// persistence.ErrNotFound.
func (s *Store) GetHold(ctx context.Context, resourceID, holdID string) (booking.Hold, error) {
	if s.closed.Load() {
		return booking.Hold{}, errClosed("get hold")
	}
	if err := ctx.Err(); err != nil {
		return booking.Hold{}, wrap("get hold", err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var h booking.Hold
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		h, err = scanHold(s.pool.QueryRow(ctx, sqlGetHold, holdID, resourceID))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Hold{}, fmt.Errorf("get hold %s/%s: %w", resourceID, holdID, persistence.ErrNotFound)
	}
	if err != nil {
		return booking.Hold{}, wrap("get hold "+holdID, err)
	}
	return h, nil
}

// ListHolds returns the holds matching f ordered by CreatedAt then ID (IDs compare bytewise on
// CockroachDB, and on PostgreSQL when the database's collation is C; see docs/STORAGE.md).
func (s *Store) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	if s.closed.Load() {
		return nil, errClosed("list holds")
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("list holds", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	sql, args := listHoldsQuery(f)
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var out []booking.Hold
	err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = collectHolds(rows)
		return err
	})
	if err != nil {
		return nil, wrap("list holds", err)
	}
	return out, nil
}

// listHoldsQuery builds the query for a normalized filter. The text depends only on which
// fields are set, so there are few distinct prepared statements; both holds indexes
// (resource_id, status, created_at_ms) and (user_id, status, created_at_ms) serve it.
func listHoldsQuery(f persistence.HoldFilter) (string, []any) {
	var where []string
	var args []any
	add := func(col string, v any) {
		args = append(args, v)
		where = append(where, col+" = $"+strconv.Itoa(len(args)))
	}
	if f.ResourceID != "" {
		add("resource_id", f.ResourceID)
	}
	if f.UserID != "" {
		add("user_id", f.UserID)
	}
	if f.Status != "" {
		add("status", string(f.Status))
	}
	args = append(args, f.Limit)
	return `SELECT ` + holdColumnsAll + ` FROM holds WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at_ms, id LIMIT $` + strconv.Itoa(len(args)), args
}
