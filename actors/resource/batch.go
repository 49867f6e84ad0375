package resource

import (
	"context"
	"errors"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// entry is one decided command (or one expiry) waiting for a commit.
//
// The after-images are taken from spec right after the entry's events were applied. Invariant
// (see doc.go): when the batch holding an entry is sealed, every entry decided before it is
// committed, so spec at that moment was exactly committed-before-the-batch plus the batch's
// entries up to this one; the last image of a key within a batch is therefore its committed
// value after the batch, and reply is the committed answer at the entry's place in the order.
type entry struct {
	req     *request // nil for an expiry
	events  []booking.Event
	holds   []booking.Hold
	buckets []booking.Bucket
	res     *booking.Resource // set by a creation or an update
	idem    *booking.IdempotencyEntry
	create  bool
	reply   *protos.Reply // sent on commit; a Resource's version is set then, unless asOf
	// asOf marks a reply computed from committed that waits only for the lease (fromMemory):
	// it is complete, version included.
	asOf bool
}

// batch is a sealed run of entries at (or on its way to) the store.
type batch struct {
	entries []*entry
	store   *persistence.Batch // nil for a lease renewal (startRenew)
	sent    time.Time          // when the store call started: the lease runs from here
	done    chan commitResult  // buffered; written once by the committing goroutine
}

type commitResult struct {
	err     error
	latency time.Duration
}

// capture records e's after-images from spec.
func (a *resourceActor) capture(e *entry) {
	var keys []string
	hold := func(id string) {
		h, ok := a.spec.Hold(id)
		if !ok {
			panic("resource: event about unknown hold " + id)
		}
		e.holds = append(e.holds, h)
		keys = append(keys, h.Buckets...)
	}
	for _, ev := range e.events {
		switch ev := ev.(type) {
		case booking.ResourceCreated:
			e.create = true
			for _, b := range ev.Buckets {
				keys = append(keys, b.Key)
			}
		case booking.ResourceUpdated:
			for k := range ev.Capacities {
				keys = append(keys, k)
			}
		case booking.HoldPlaced:
			hold(ev.Hold.ID)
			if k := ev.Hold.IdempotencyKey; k != "" {
				if ie, ok := a.spec.Idempotency(k); ok {
					e.idem = &ie
				}
			}
		case booking.HoldConfirmed:
			hold(ev.HoldID)
		case booking.HoldCancelled:
			hold(ev.HoldID)
		case booking.HoldExpired:
			hold(ev.HoldID)
		}
		switch ev.(type) {
		case booking.ResourceCreated, booking.ResourceUpdated:
			r, _ := a.spec.Resource()
			e.res = &r
		}
	}
	for _, k := range keys {
		if b, ok := a.spec.Bucket(k); ok {
			e.buckets = append(e.buckets, b)
		}
	}
}

// expire moves spec's due holds to expired, each as a pending entry without a reply.
func (a *resourceActor) expire(now time.Time) {
	for _, ev := range a.spec.ExpireDue(now) {
		a.spec.Apply(ev)
		e := &entry{events: []booking.Event{ev}}
		a.capture(e)
		a.pending = append(a.pending, e)
	}
}

// flush is protocol step 5: with nothing at the store, seal up to MaxBatch pending entries and
// commit them in a goroutine. Runs of entries without events are answered at once, since all
// they depend on is committed.
func (a *resourceActor) flush() {
	for a.inflight == nil && a.load == nil && len(a.pending) > 0 && !a.dead {
		if a.stopping && time.Now().After(a.stopBy) {
			a.failEntries(a.pending, errStopped)
			a.pending = nil
			return
		}
		if a.uncertain {
			if !a.backingOff {
				a.startLoad()
			}
			return
		}
		n := min(len(a.pending), a.cfg.MaxBatch)
		sealed := a.pending[:n:n]
		a.pending = a.pending[n:]
		if len(a.pending) == 0 {
			a.pending = nil
		}
		if !hasEvents(sealed) {
			// Answers that only waited for earlier batches; from memory, so under the lease.
			if a.answersFromMemory() {
				a.replyEntries(sealed, a.version)
				continue
			}
			a.startRenew(sealed)
			return
		}
		a.startCommit(sealed)
	}
}

func hasEvents(es []*entry) bool {
	for _, e := range es {
		if len(e.events) > 0 {
			return true
		}
	}
	return false
}

// buildBatch merges the entries' after-images: the last image of each key wins.
func (a *resourceActor) buildBatch(es []*entry) *persistence.Batch {
	b := &persistence.Batch{ResourceID: a.id, Epoch: a.epoch, Version: a.version + 1}
	holdAt := make(map[string]int, len(es))
	bucketAt := make(map[string]int)
	var res *booking.Resource
	for _, e := range es {
		b.Create = b.Create || e.create
		if e.res != nil {
			res = e.res
		}
		for _, h := range e.holds {
			if i, ok := holdAt[h.ID]; ok {
				b.Holds[i] = h
			} else {
				holdAt[h.ID] = len(b.Holds)
				b.Holds = append(b.Holds, h)
			}
		}
		for _, bk := range e.buckets {
			if i, ok := bucketAt[bk.Key]; ok {
				b.Buckets[i] = bk
			} else {
				bucketAt[bk.Key] = len(b.Buckets)
				b.Buckets = append(b.Buckets, bk)
			}
		}
		if e.idem != nil {
			b.Idempotency = append(b.Idempotency, *e.idem)
		}
	}
	if res == nil {
		r, _ := a.committed.Resource()
		res = &r
	}
	b.Resource = *res
	return b
}

func (a *resourceActor) startCommit(es []*entry) {
	b := &batch{entries: es, store: a.buildBatch(es), done: make(chan commitResult, 1), sent: a.cfg.LeaseClock.Now()}
	b.store.LeaseUntil = a.leaseUntil(b.sent)
	a.inflight = b
	store, timeout := a.cfg.Store, a.opTimeout()
	a.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		err := store.Commit(ctx, b.store)
		cancel()
		b.done <- commitResult{err: err, latency: time.Since(start)}
		a.tell(&commitDone{b: b})
	})
}

// opTimeout bounds one store call; a stopping actor also keeps within its stop deadline.
func (a *resourceActor) opTimeout() time.Duration {
	d := a.cfg.CommitTimeout
	if a.stopping {
		d = min(d, max(time.Until(a.stopBy), time.Millisecond))
	}
	return d
}

// onCommitted is protocol steps 6-8.
func (a *resourceActor) onCommitted(b *batch, res commitResult) {
	if b.store == nil {
		a.onRenewed(b, res)
		return
	}
	a.inflight = nil
	a.metrics.commit(len(b.entries), res.latency, res.err == nil)
	switch {
	case res.err == nil:
		for _, e := range b.entries {
			for _, ev := range e.events {
				a.committed.Apply(ev)
			}
			a.metrics.committed(e.events)
		}
		a.version = b.store.Version
		if b.store.Create {
			a.epoch = 1 // a creation inserts the resource at epoch 1
		}
		a.granted(b.sent)
		a.replyEntries(b.entries, a.version)
		a.log.Debug("commit", "resource", a.id, "batch", len(b.entries), "latency", res.latency, "version", a.version)
	case errors.Is(res.err, persistence.ErrFenced):
		a.log.Warn("fenced: another activation owns the resource", "resource", a.id, "epoch", a.epoch, "err", res.err)
		a.metrics.fence()
		a.failEntries(b.entries, errMoved)
		a.die()
		return
	default:
		// The outcome is unknown. The batch's writes learn it failed; its answers without
		// events of their own (which only waited for the writes before them) and the pending
		// commands are decided again from committed; the next commit waits for a reload.
		a.log.Warn("commit failed", "resource", a.id, "batch", len(b.entries), "latency", res.latency, "err", res.err)
		var again []*entry
		for _, e := range b.entries {
			switch {
			case len(e.events) > 0 && e.req != nil:
				a.fail(e.req, errNotCommitted)
			case len(e.events) == 0:
				again = append(again, e)
			}
		}
		a.pending = append(again, a.pending...)
		a.uncertain = true
		a.spec = a.committed.Clone()
		a.redecide()
		a.startLoad() // at once, pending or not: memory learns what the store has, ghosts are fenced
	}
	a.flush()
	a.armExpiry()
}

// replyEntries answers the entries' commands with the replies prepared at decision time.
func (a *resourceActor) replyEntries(es []*entry, version uint64) {
	for _, e := range es {
		if e.req == nil {
			continue
		}
		if e.reply.Resource != nil && !e.asOf {
			e.reply.Resource.Version = version
		}
		a.send(e.req, e.reply)
	}
}

// redecide decides every pending command again against spec, after spec was rebuilt from
// committed. Pending expiries are dropped and found again.
func (a *resourceActor) redecide() {
	old := a.pending
	a.pending = nil
	now := a.now()
	a.expire(now)
	for _, e := range old {
		if e.req != nil {
			a.dispatch(e.req, now)
		}
	}
}
