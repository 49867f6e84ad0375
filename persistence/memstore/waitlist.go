package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/allot/allot/persistence"
)

// ListWaitlist returns copies of the waiting entries matching f with their positions, by
// CreatedAt then ID, at most f.Limit (after Normalize, whose *booking.Error it returns).
func (s *Store) ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list waitlist: %w", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("list waitlist"); err != nil {
		return nil, err
	}
	var out []persistence.WaitlistPosition
	for id, r := range s.resources {
		if f.ResourceID != "" && id != f.ResourceID {
			continue
		}
		for _, e := range r.waiting {
			if f.UserID != "" && e.UserID != f.UserID {
				continue
			}
			pos := 0
			for _, x := range r.waiting {
				if x.Seq <= e.Seq {
					pos++
				}
			}
			out = append(out, persistence.WaitlistPosition{Entry: *copyEntry(e), Position: pos})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Entry, out[j].Entry
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}
