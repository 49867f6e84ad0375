package memstore

import (
	"context"
	"fmt"

	"github.com/allot/allot/persistence"
)

// Enqueue is Commit in two halves, for an actor that pipelines its commits: it takes b's place
// in its resource's order and returns at once; wait runs Commit once every batch of the
// resource enqueued before b has ended, and returns its result. So batches of one resource
// enqueued in order apply in that order (one at a time: the commit hook sees them so), and one
// behind a batch that failed is refused by its version (persistence.ErrFenced). A ctx that ends
// while b waits for its turn writes nothing and returns the ctx error. wait is called once.
func (s *Store) Enqueue(ctx context.Context, b *persistence.Batch) (wait func() error) {
	id := ""
	if b != nil {
		id = b.ResourceID
	}
	return s.EnqueueFunc(ctx, id, func() error { return s.Commit(ctx, b) })
}

// EnqueueFunc is Enqueue with commit in place of Commit: a test's wrapper of the store that
// changes Commit (injecting failures) pipelines with it.
func (s *Store) EnqueueFunc(ctx context.Context, resourceID string, commit func() error) (wait func() error) {
	done := make(chan struct{})
	s.mu.Lock()
	prev := s.tails[resourceID]
	s.tails[resourceID] = done
	s.mu.Unlock()
	return func() error {
		defer func() {
			s.mu.Lock()
			if s.tails[resourceID] == done {
				delete(s.tails, resourceID)
			}
			s.mu.Unlock()
			close(done)
		}()
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				return fmt.Errorf("commit: %w", ctx.Err())
			}
		}
		return commit()
	}
}
