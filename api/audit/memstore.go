package audit

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemStore is a Store in memory, for tests and for a node that keeps its audit log nowhere
// durable (it says so at start-up). Safe for concurrent use.
type MemStore struct {
	mu      sync.Mutex
	entries []Entry
	ids     map[string]bool
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{ids: map[string]bool{}} }

// Append stores e once.
func (s *MemStore) Append(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids[e.ID] {
		return nil
	}
	s.ids[e.ID] = true
	e.At = e.At.Truncate(0).UTC()
	s.entries = append(s.entries, e)
	return nil
}

// List returns a page of the entries matching f, newest first.
func (s *MemStore) List(ctx context.Context, f Filter) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	s.mu.Lock()
	var match []Entry
	for _, e := range s.entries {
		if f.matches(e) && f.After.before(e) {
			match = append(match, e)
		}
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool {
		a, b := match[i].At.UnixMilli(), match[j].At.UnixMilli()
		return a > b || (a == b && match[i].ID > match[j].ID)
	})
	return pageOf(match, f.Limit), nil
}

// Prune deletes the entries older than before.
func (s *MemStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.entries[:0]
	for _, e := range s.entries {
		if e.At.Before(before) {
			delete(s.ids, e.ID)
		} else {
			kept = append(kept, e)
		}
	}
	n := int64(len(s.entries) - len(kept))
	clear(s.entries[len(kept):]) // let the pruned entries' strings go
	s.entries = kept
	return n, nil
}

// pageOf cuts newest-first matches (at most limit+1 of them need be given) to a page.
func pageOf(match []Entry, limit int) Page {
	if len(match) <= limit {
		return Page{Entries: match}
	}
	last := match[limit-1]
	return Page{Entries: match[:limit], Next: Cursor{At: last.At, ID: last.ID}}
}
