package sqlite

import (
	"context"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// ListPayments reads the holds with a payment (only the open ones with f.Open) from the read
// pool, by UpdatedAt then ID, at most f.Limit. The open ones use the partial index of
// migration 0009.
func (s *Store) ListPayments(ctx context.Context, f persistence.PaymentFilter) ([]booking.Hold, error) {
	if err := s.readable(ctx, "list payments"); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	where := `payment <> ''`
	if f.Open {
		where = `payment_open`
	}
	hs, err := collectHolds(s.rdb.QueryContext(ctx, `SELECT `+holdCols+` FROM holds WHERE `+where+
		` ORDER BY updated_at_ms, id LIMIT ?`, f.Limit))
	if err != nil {
		return nil, s.readErr("list payments", err)
	}
	return hs, nil
}
