package postgres

import (
	"context"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// ListPayments returns the holds with a payment (only the open ones with f.Open), by
// UpdatedAt then ID, at most f.Limit. The open ones use the partial index of migration 0009.
func (s *Store) ListPayments(ctx context.Context, f persistence.PaymentFilter) ([]booking.Hold, error) {
	if s.closed.Load() {
		return nil, errClosed("list payments")
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("list payments", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	sql := paymentsQuery(f.Open)
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var out []booking.Hold
	err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, sql, f.Limit)
		if err != nil {
			return err
		}
		out, err = collectHolds(rows)
		return err
	})
	if err != nil {
		return nil, wrap("list payments", err)
	}
	return out, nil
}

// paymentsQuery is ListPayments' statement ($1 the limit); the open payments' one is a walk of
// holds_payment_open (TestHotPathIndexesHaveReaders).
func paymentsQuery(open bool) string {
	where := `payment <> ''`
	if open {
		where = `payment_open`
	}
	return `SELECT ` + holdColumnsAll + ` FROM holds WHERE ` + where + ` ORDER BY updated_at_ms, id LIMIT $1`
}
