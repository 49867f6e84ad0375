package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// ListResources returns copies of the resources matching f, by ID, at most f.Limit (after
// Normalize, whose *booking.Error it returns).
func (s *Store) ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("list resources"); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(s.resources))
	for id, r := range s.resources {
		if id > f.After && r.res.ArchivedAt.IsZero() && persistence.NameMatches(r.res.Name, f.Query) &&
			(f.Tag == "" || slices.Contains(r.res.Tags, f.Tag)) && availableFor(r, f) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > f.Limit {
		ids = ids[:f.Limit]
	}
	out := make([]booking.Resource, len(ids))
	for i, id := range ids {
		out[i] = copyResource(s.resources[id].res)
	}
	return out, nil
}

// availableFor applies the filter's stay: no stay, or its nights (Keys) or its slots (Span).
func availableFor(r *resource, f persistence.ResourceFilter) bool {
	if len(f.Keys) == 0 && f.Span == nil {
		return true
	}
	if len(f.Keys) > 0 && available(r, f.Keys, f.Quantity) {
		return true
	}
	if f.Span == nil {
		return false
	}
	keys := make([]string, 0, len(r.buckets))
	for k := range r.buckets {
		keys = append(keys, k)
	}
	return f.Span.Covers(r.res.SlotEvery, keys, func(k string) bool {
		b := r.buckets[k]
		return b.Capacity+b.Allowance-b.Held-b.Confirmed >= f.Quantity
	})
}

// available reports whether every one of keys is a bucket of r with q units to sell.
func available(r *resource, keys []string, q int64) bool {
	for _, k := range keys {
		b, ok := r.buckets[k]
		if !ok || b.Capacity+b.Allowance-b.Held-b.Confirmed < q {
			return false
		}
	}
	return true
}
