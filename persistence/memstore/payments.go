package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// ListPayments returns the holds with a payment (only the open ones with f.Open), by
// UpdatedAt then ID, at most f.Limit.
func (s *Store) ListPayments(ctx context.Context, f persistence.PaymentFilter) ([]booking.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("list payments"); err != nil {
		return nil, err
	}
	var out []booking.Hold
	for _, r := range s.resources {
		for _, h := range r.holds {
			if h.Payment != "" && (!f.Open || h.PaymentOpen) {
				out = append(out, *copyHold(h))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].UpdatedAt.Equal(out[j].UpdatedAt) {
			return out[i].UpdatedAt.Before(out[j].UpdatedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}
