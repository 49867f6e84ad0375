package resource

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/persistence"
)

// storeCall is one commit, renewal or load the core asked for (the core has up to
// MaxInFlight commits, or one renewal, at the store, and a load may start while commits it
// gave up on are still there). Its goroutine sets result, err
// and latency before it ends; the actor reads them when the callDone message arrives, or, when
// stopping, after waiting for the goroutine.
type storeCall struct {
	kind    callKind
	size    int // decisions in a commit
	result  activation.Input
	err     error
	latency time.Duration
}

type callKind uint8

const (
	commitCall callKind = iota
	renewalCall
	loadCall
	leaseCheckCall
)

// leaseHandover is a store with the lease hand-over (persistence.LeaseHandover, which has the
// contract; every store of the project has it): with it, a fenced activation hands its lease
// over to its successor, and a successor reads the stored lease while it waits for it, so a
// change of hands from a live activation does not wait a whole lease. Without it (a wrapper
// that hides it), the core never reads the lease (Config.HandoverPoll 0) and releases only.
type leaseHandover interface {
	HandOver(ctx context.Context, resourceID string, epoch uint64, until time.Time) error
	LeaseOf(ctx context.Context, resourceID string) (epoch uint64, until time.Time, err error)
}

// pipeliner is a store that takes the next commit of a resource before the previous one
// returned (persistence/sqlite: its single writer takes them in order; persistence/postgres:
// one connection per resource sends the next transaction while the previous one commits).
// Enqueue places b in the store's order of writes and returns: the store applies the batches
// of one resource in the order Enqueue was called for them, and refuses one behind a batch
// that was not applied (its version). wait, called once, returns what Commit would (a store
// may fail rather than retry a batch with batches behind it: the actor reloads); ctx bounds
// both, and must not end before wait returned. Safe for concurrent use.
type pipeliner interface {
	Enqueue(ctx context.Context, b *persistence.Batch) (wait func() error)
}

// pipelineShaper is a pipeliner that says how an actor uses its pipeline best (measured per
// store): at most depth commits of a resource at the store at once, and a commit sealed
// behind others only with at least minBatch commands (see Config.MinBatchBehind). A zero is
// no preference. Safe for concurrent use.
type pipelineShaper interface {
	PipelineShape() (depth, minBatch int)
}

// run starts call on a goroutine of its own, counted in the actor's storeIO; fn's ctx ends after timeout.
func (a *resourceActor) run(call *storeCall, timeout time.Duration, fn func(ctx context.Context) (activation.Input, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	a.runIn(ctx, cancel, call, func() (activation.Input, error) { return fn(ctx) })
}

// runIn starts call on a goroutine of its own, counted in the actor's storeIO, and cancels ctx after it.
func (a *resourceActor) runIn(ctx context.Context, cancel context.CancelFunc, call *storeCall, fn func() (activation.Input, error)) {
	io := a.storeIO()
	io.calls = append(io.calls, call)
	now := a.cfg.Now
	start := now()
	io.wg.Add(1)
	go func() {
		defer io.wg.Done()
		call.result, call.err = fn()
		cancel()
		call.latency = now().Sub(start)
		a.tell(&callDone{call: call})
	}()
}

// done removes call from the calls at the store and reports whether it was there. The slot it
// vacates is cleared (slices.Delete): an idle activation's array would otherwise keep its last
// call, result included, for as long as it stays active.
func (a *resourceActor) done(call *storeCall) bool {
	if a.io == nil {
		return false
	}
	if i := slices.Index(a.io.calls, call); i >= 0 {
		a.io.calls = slices.Delete(a.io.calls, i, i+1)
		return true
	}
	return false
}

// outcome classifies a store write's error for the core.
func outcome(err error) activation.Outcome {
	switch {
	case err == nil:
		return activation.Committed
	case errors.Is(err, persistence.ErrFenced):
		return activation.Fenced
	}
	return activation.Unknown
}

func (a *resourceActor) startCommit(c activation.Commit) {
	w := c.Write
	b := &persistence.Batch{
		ResourceID: a.id, Epoch: w.Epoch, Version: w.Version, Create: w.Create, Resource: w.Resource,
		Buckets: w.Buckets, Holds: w.Holds, NewHolds: w.NewHolds, Idempotency: w.Idempotency, LeaseUntil: w.LeaseUntil, Events: w.Events,
		Waitlist: w.Waitlist, WaitlistRemoved: w.WaitlistRemoved,
	}
	if a.cfg.DropEvents {
		b.Events = nil
	}
	// The closures capture the id, not c: a captured c (the whole Commit, its Write and
	// Resource by value) moved to the heap at every commit, ~440 bytes of garbage per durable
	// hold (issue 17, round 12: the fill's garbage is RSS at the GC's goal).
	store, nudge, id := a.cfg.Store, a.cfg.EventsCommitted, c.ID
	call := &storeCall{kind: commitCall, size: c.Size}
	result := func(err error) (activation.Input, error) {
		if err == nil && nudge != nil && len(b.Events) > 0 {
			nudge()
		}
		return activation.CommitResult{ID: id, Outcome: outcome(err)}, err
	}
	if p, ok := store.(pipeliner); ok {
		// Placed in the store's order here, on the actor's goroutine, in the order the core
		// asked for the commits: the next one may follow before this one is answered.
		ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
		wait := p.Enqueue(ctx, b)
		a.runIn(ctx, cancel, call, func() (activation.Input, error) { return result(wait()) })
		return
	}
	a.run(call, c.Timeout, func(ctx context.Context) (activation.Input, error) { return result(store.Commit(ctx, b)) })
}

func (a *resourceActor) startRenewal(r activation.Renewal) {
	store, id := a.cfg.Store, a.id
	a.run(&storeCall{kind: renewalCall}, r.Timeout, func(ctx context.Context) (activation.Input, error) {
		err := store.Renew(ctx, id, r.Epoch, r.Until)
		return activation.RenewalResult{ID: r.ID, Outcome: outcome(err)}, err
	})
}

func (a *resourceActor) startLoad(l activation.Load) {
	store, id := a.cfg.Store, a.id
	a.run(&storeCall{kind: loadCall}, l.Timeout, func(ctx context.Context) (activation.Input, error) {
		snap, err := store.Activate(ctx, id, l.IdemSince)
		if err == nil && snap == nil {
			err = persistence.ErrUnavailable // a broken store; treat it as a failed load
		}
		if err != nil {
			return activation.LoadResult{ID: l.ID, Failed: true}, err
		}
		return activation.LoadResult{
			ID: l.ID, Exists: snap.Exists, Epoch: snap.Epoch, Version: snap.Version, Resource: snap.Resource,
			Buckets: snap.Buckets, Holds: snap.Holds, Idempotency: snap.Idempotency, Waitlist: snap.Waitlist,
			LeaseUntil: snap.LeaseUntil,
		}, nil
	})
}

// startLeaseCheck reads the stored lease for a load that waits for the previous activation's
// (the core asks only when the store has the hand-over: Config.HandoverPoll).
func (a *resourceActor) startLeaseCheck(c activation.LeaseCheck) {
	store, id := a.cfg.Store.(leaseHandover), a.id
	a.run(&storeCall{kind: leaseCheckCall}, c.Timeout, func(ctx context.Context) (activation.Input, error) {
		if store == nil {
			return activation.LeaseCheckResult{ID: c.ID, Failed: true}, nil
		}
		epoch, until, err := store.LeaseOf(ctx, id)
		if err != nil {
			return activation.LeaseCheckResult{ID: c.ID, Failed: true}, err
		}
		return activation.LeaseCheckResult{ID: c.ID, Epoch: epoch, Until: until}, nil
	})
}

// finished logs and measures a store call that ended, and steps its result.
func (a *resourceActor) finished(call *storeCall) {
	switch call.kind {
	case commitCall:
		a.cfg.Metrics.commit(call.size, call.latency, call.err == nil)
		switch outcome(call.err) {
		case activation.Committed:
			a.logger().Debug("commit", "resource", a.id, "decisions", call.size, "latency", call.latency)
		case activation.Fenced:
			a.logger().Warn("fenced: another activation owns the resource", "resource", a.id, "err", call.err)
		default:
			a.logger().Warn("commit failed", "resource", a.id, "decisions", call.size, "latency", call.latency, "err", call.err)
		}
	case renewalCall:
		switch outcome(call.err) {
		case activation.Fenced:
			a.logger().Warn("fenced on lease renewal: another activation owns the resource", "resource", a.id)
		case activation.Unknown:
			a.logger().Warn("lease renewal failed", "resource", a.id, "latency", call.latency, "err", call.err)
		}
	case leaseCheckCall:
		if call.err != nil {
			a.logger().Debug("lease read failed", "resource", a.id, "err", call.err)
		}
	case loadCall:
		if call.err != nil {
			if a.core.Phase() == activation.Loading {
				a.logger().Warn("activate failed", "resource", a.id, "err", call.err)
			} else {
				a.logger().Warn("reload failed", "resource", a.id, "backoff", a.core.Backoff(), "err", call.err)
			}
		}
	}
	a.step(call.result)
}

// startLookup reads a hold memory does not know, off the actor's goroutine; the actor keeps
// serving meanwhile. It ends when the actor stops.
func (a *resourceActor) startLookup(l activation.Lookup) {
	store, id, life := a.cfg.Store, a.id, a.lifeContext()
	io := a.io // lifeContext made it
	io.wg.Add(1)
	go func() {
		defer io.wg.Done()
		ctx, cancel := context.WithTimeout(life, l.Timeout)
		h, err := store.GetHold(ctx, id, l.HoldID)
		cancel()
		res := activation.LookupResult{For: l.For, HoldID: l.HoldID, Status: activation.LookupFound, Hold: h}
		switch {
		case errors.Is(err, persistence.ErrNotFound):
			res.Status = activation.LookupNotFound
		case err != nil:
			res.Status = activation.LookupFailed
		}
		if life.Err() != nil {
			return // the actor stopped; it answered the command
		}
		if res.Status == activation.LookupFailed {
			a.logger().Warn("hold lookup failed", "resource", id, "hold", l.HoldID, "err", err)
		}
		a.tell(&lookupDone{result: res})
	}()
}

// releaseLease ends the lease of a stopping activation on the actor's goroutine, bounded by
// the stop deadline; a failure only makes the successor wait. An activation that was fenced
// (it knows, or the release is refused) hands the lease over to its successor instead, if it
// names a lease end (activation/handover.go; the store's condition makes it a no-op for any
// other successor or stored end).
func (a *resourceActor) releaseLease(r activation.Release) {
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	fenced := r.Fenced
	if !fenced {
		err := a.cfg.Store.Renew(ctx, a.id, r.Epoch, time.Time{})
		switch {
		case errors.Is(err, persistence.ErrFenced):
			fenced = true
		case err != nil:
			a.logger().Warn("lease release failed", "resource", a.id, "err", err)
		}
	}
	h, ok := a.cfg.Store.(leaseHandover)
	if !fenced || !ok || r.HandOver.IsZero() {
		return
	}
	switch err := h.HandOver(ctx, a.id, r.Epoch, r.HandOver); {
	case err == nil:
		a.logger().Info("lease handed over", "resource", a.id, "epoch", r.Epoch)
	case errors.Is(err, persistence.ErrFenced):
		a.logger().Info("lease not handed over: not the successor's to take", "resource", a.id, "epoch", r.Epoch)
	default:
		a.logger().Warn("lease hand-over failed", "resource", a.id, "epoch", r.Epoch, "err", err)
	}
}
