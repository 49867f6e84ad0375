package sqlite

import (
	"context"
	"sync"

	"github.com/allot/allot/persistence"
)

// op is one Activate, Commit or Renew handed to the writer goroutine. Exactly one of commit,
// activate and renew is set. The caller owns nothing of an op after enqueueing it except done.
type op struct {
	ctx      context.Context
	commit   *encodedBatch
	activate *activation
	renew    *renewal
	fn       func(ctx context.Context) error // outbox and inbox writes (outbox.go)
	// lossy: fn's write need not survive a power loss (the relay's claims, marks and prunes;
	// see syncForGroup). Only with fn set.
	lossy bool
	state opState // guarded by queue.mu
	done  chan result
}

type result struct {
	snap *persistence.Snapshot
	err  error
}

type opState int

const (
	opQueued    opState = iota
	opTaken             // the writer has it: the outcome is decided by the writer
	opAbandoned         // the caller gave up before the writer took it: never executed
)

// queue hands ops from callers to the single writer goroutine. A caller that gives up while
// its op is still queued can abandon it, and then knows for certain that it was not executed.
//
// Concurrency: enqueue, abandon and take are safe for concurrent use; take is called by the
// writer only.
type queue struct {
	mu      sync.Mutex
	ops     []*op
	closed  bool
	wake    chan struct{} // capacity 1: "the queue may be non-empty"
	onEnter func()        // test hook, called after each enqueue; set before the store is used
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

// enqueue adds o, or fails with errClosed once the queue is closed.
func (q *queue) enqueue(o *op) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errClosed
	}
	q.ops = append(q.ops, o)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	if q.onEnter != nil {
		q.onEnter()
	}
	return nil
}

// abandon withdraws a queued op. It reports false when the writer already took it.
func (q *queue) abandon(o *op) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if o.state != opQueued {
		return false
	}
	o.state = opAbandoned
	return true
}

// take removes and returns up to max ops that were not abandoned, in arrival order, marking
// them taken. It appends to buf[:0].
func (q *queue) take(max int, buf []*op) []*op {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := buf[:0]
	n := 0
	for n < len(q.ops) && len(out) < max {
		o := q.ops[n]
		q.ops[n] = nil
		n++
		if o.state == opQueued {
			o.state = opTaken
			out = append(out, o)
		}
	}
	q.ops = q.ops[n:]
	if len(q.ops) == 0 {
		q.ops = nil // let the backing array go
	}
	return out
}

// close refuses further ops. Ops already queued stay for the writer to fail or run.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
}
