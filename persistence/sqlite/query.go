package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

const holdCols = `id, resource_id, user_id, status, quantity, buckets, idempotency_key, created_at_ms, expires_at_ms, updated_at_ms,
extensions, waitlist_entry_id, payment, payment_open, contact`

// ruleRow is the ruleCols of a resource row, as scanned.
type ruleRow struct {
	maxExt, units, percent, perUser, slotMS, offerMS, archivedMS int64
	tz, tags, location, refunds                                  string
}

// dest returns the scan destinations, in ruleCols order.
func (x *ruleRow) dest() []any {
	return []any{&x.maxExt, &x.units, &x.percent, &x.perUser, &x.tz, &x.slotMS, &x.offerMS, &x.tags, &x.location, &x.archivedMS, &x.refunds}
}

// apply sets r's rule and browsing fields from the row.
func (x *ruleRow) apply(r *booking.Resource) error {
	r.MaxExtensions, r.Allowance, r.MaxPerUser, r.Timezone = int(x.maxExt), booking.Allowance{Units: x.units, Percent: x.percent}, x.perUser, x.tz
	r.SlotEvery, r.WaitlistOfferTTL = time.Duration(x.slotMS)*time.Millisecond, time.Duration(x.offerMS)*time.Millisecond
	r.Location, r.ArchivedAt = x.location, persistence.FromTimeMS(x.archivedMS)
	var err error
	if r.Tags, err = persistence.ParseTags(x.tags); err != nil {
		return err
	}
	r.Refunds, err = persistence.ParseRefunds(x.refunds)
	return err
}

// collectHolds decodes every row of a query selecting holdCols, and closes rows.
func collectHolds(rows *sql.Rows, err error) ([]booking.Hold, error) {
	if err != nil {
		return nil, err
	}
	var out []booking.Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, h)
	}
	return out, closeRows(rows)
}

func scanHold(rows *sql.Rows) (booking.Hold, error) {
	var (
		h                                     booking.Hold
		status, keys                          string
		created, expires, updated, extensions int64
		contact                               []byte
	)
	if err := rows.Scan(&h.ID, &h.ResourceID, &h.UserID, &status, &h.Quantity, &keys, &h.IdempotencyKey, &created, &expires, &updated,
		&extensions, &h.WaitlistEntryID, &h.Payment, &h.PaymentOpen, &contact); err != nil {
		return h, err
	}
	h.Contact = contact
	h.Extensions = int(extensions)
	if err := json.Unmarshal([]byte(keys), &h.Buckets); err != nil {
		return h, fmt.Errorf("hold %q: bucket list: %w", h.ID, err)
	}
	h.Status = booking.Status(status)
	h.CreatedAt, h.ExpiresAt, h.UpdatedAt = fromMS(created), fromMS(expires), fromMS(updated)
	return h, nil
}

// GetHold reads one hold of resourceID from the read pool, whatever its status, or returns
// persistence.ErrNotFound. It sees every commit acknowledged before it was called.
func (s *Store) GetHold(ctx context.Context, resourceID, holdID string) (booking.Hold, error) {
	if err := s.readable(ctx, "get hold"); err != nil {
		return booking.Hold{}, err
	}
	hs, err := collectHolds(s.rdb.QueryContext(ctx, `SELECT `+holdCols+` FROM holds WHERE id = ? AND resource_id = ?`, holdID, resourceID))
	if err != nil {
		return booking.Hold{}, s.readErr("get hold", err)
	}
	if len(hs) == 0 {
		return booking.Hold{}, fmt.Errorf("get hold %s/%s: %w", resourceID, holdID, persistence.ErrNotFound)
	}
	return hs[0], nil
}

// ListHolds reads the holds matching f from the read pool, by CreatedAt then ID, at most
// f.Limit (after Normalize, whose *booking.Error it returns for a bad filter).
func (s *Store) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	if err := s.readable(ctx, "list holds"); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if f.ResourceID != "" {
		where, args = append(where, "resource_id = ?"), append(args, f.ResourceID)
	}
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	q := `SELECT ` + holdCols + ` FROM holds WHERE ` + strings.Join(where, " AND ") + ` ORDER BY created_at_ms, id LIMIT ?`
	hs, err := collectHolds(s.rdb.QueryContext(ctx, q, append(args, f.Limit)...))
	if err != nil {
		return nil, s.readErr("list holds", err)
	}
	return hs, nil
}

// readable fails when ctx is done or the store is closed.
func (s *Store) readable(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("%s: %w", op, errClosed)
	}
	return nil
}

// readErr maps a read error; a read racing Close reports the store closed.
func (s *Store) readErr(op string, err error) error {
	if s.closed.Load() && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, errClosed)
	}
	return mapErr(op, err)
}
