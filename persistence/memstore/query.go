package memstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// Activate increments the resource's epoch and returns copies of its state: buckets by key,
// held and confirmed holds by CreatedAt then ID, idempotency keys created at or after
// idemSince (ms precision) by CreatedAt then key, and the stored lease end, left as it is; it
// deletes up to persistence.IdempotencyPruneLimit keys created before idemSince. An
// absent resource gives Exists false and changes nothing. The activate hook runs first; its
// error is returned as is.
func (s *Store) Activate(ctx context.Context, resourceID string, idemSince time.Time) (*persistence.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	s.mu.Lock()
	hook := s.activateHook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, resourceID); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("activate: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("activate"); err != nil {
		return nil, err
	}
	r, ok := s.resources[resourceID]
	if !ok {
		return &persistence.Snapshot{}, nil
	}
	r.epoch++
	snap := &persistence.Snapshot{
		Exists:     true,
		Epoch:      r.epoch,
		Version:    r.version,
		Resource:   copyResource(r.res),
		Buckets:    make([]booking.Bucket, 0, len(r.buckets)),
		LeaseUntil: r.lease,
	}
	for _, b := range r.buckets {
		snap.Buckets = append(snap.Buckets, b)
	}
	sort.Slice(snap.Buckets, func(i, j int) bool { return snap.Buckets[i].Key < snap.Buckets[j].Key })
	for _, h := range r.holds {
		if h.Status.Active() {
			snap.Holds = append(snap.Holds, *copyHold(h))
		}
	}
	sortHolds(snap.Holds)
	since, prune := idemSince.UnixMilli(), persistence.IdempotencyPruneLimit
	for k, e := range r.idem {
		switch {
		case e.CreatedAt.UnixMilli() >= since:
			snap.Idempotency = append(snap.Idempotency, e)
		case prune > 0: // expired: forgotten, at most IdempotencyPruneLimit at a time
			delete(r.idem, k)
			prune--
		}
	}
	for _, e := range r.waiting {
		snap.Waitlist = append(snap.Waitlist, *copyEntry(e))
	}
	sort.Slice(snap.Waitlist, func(i, j int) bool { return snap.Waitlist[i].Seq < snap.Waitlist[j].Seq })
	sort.Slice(snap.Idempotency, func(i, j int) bool {
		a, b := snap.Idempotency[i], snap.Idempotency[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Key < b.Key
	})
	return snap, nil
}

// GetHold returns a copy of one hold of resourceID, whatever its status, or
// persistence.ErrNotFound.
func (s *Store) GetHold(ctx context.Context, resourceID, holdID string) (booking.Hold, error) {
	if err := ctx.Err(); err != nil {
		return booking.Hold{}, fmt.Errorf("get hold: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("get hold"); err != nil {
		return booking.Hold{}, err
	}
	if r, ok := s.resources[resourceID]; ok {
		if h, ok := r.holds[holdID]; ok {
			return *copyHold(h), nil
		}
	}
	return booking.Hold{}, fmt.Errorf("get hold %s/%s: %w", resourceID, holdID, persistence.ErrNotFound)
}

// ListHolds returns copies of the holds matching f, by CreatedAt then ID, at most f.Limit
// (after Normalize). A filter that Normalize refuses gives its *booking.Error.
func (s *Store) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("list holds"); err != nil {
		return nil, err
	}
	var out []booking.Hold
	scan := func(r *resource) {
		for _, h := range r.holds {
			if (f.UserID == "" || h.UserID == f.UserID) && (f.Status == "" || h.Status == f.Status) {
				out = append(out, *copyHold(h))
			}
		}
	}
	if f.ResourceID != "" {
		if r, ok := s.resources[f.ResourceID]; ok {
			scan(r)
		}
	} else {
		for _, r := range s.resources {
			scan(r)
		}
	}
	sortHolds(out)
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// sortHolds orders holds by CreatedAt then ID.
func sortHolds(hs []booking.Hold) {
	sort.Slice(hs, func(i, j int) bool {
		if !hs[i].CreatedAt.Equal(hs[j].CreatedAt) {
			return hs[i].CreatedAt.Before(hs[j].CreatedAt)
		}
		return hs[i].ID < hs[j].ID
	})
}
