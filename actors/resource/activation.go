package resource

import (
	"context"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// loadOp is one store.Activate in flight: the first activation, or a reload after a commit
// with an unknown outcome.
type loadOp struct {
	done chan loadResult // buffered; written once
}

type loadResult struct {
	snap   *persistence.Snapshot
	waited time.Duration // for the previous activation's lease
	err    error
}

func (a *resourceActor) startLoad() {
	op := &loadOp{done: make(chan loadResult, 1)}
	a.load = op
	store, id, timeout, life, own, clock := a.cfg.Store, a.id, a.opTimeout(), a.life, a.ownUntil, a.cfg.LeaseClock
	since := a.now().Add(-booking.IdempotencyRetention)
	a.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		snap, err := store.Activate(ctx, id, since)
		cancel()
		if err == nil && snap == nil {
			err = persistence.ErrUnavailable // a broken store; treat it as a failed load
		}
		// The epoch is taken: the previous activation can no longer write, but it may still
		// answer from memory until its lease ends. Nothing is answered from this snapshot
		// before that.
		var waited time.Duration
		if err == nil {
			waited, err = waitForLease(life, clock, snap, own)
		}
		op.done <- loadResult{snap: snap, waited: waited, err: err}
		a.tell(&loadDone{op: op})
	})
}

// onLoaded installs a snapshot (protocol steps 1 and 8) or handles the failure to load one.
func (a *resourceActor) onLoaded(res loadResult) {
	a.load = nil
	if res.err != nil {
		if !a.loaded {
			// Nothing to serve from: answer everything unavailable and stop; the next request
			// activates afresh.
			a.log.Warn("activate failed", "resource", a.id, "err", res.err)
			a.die()
			return
		}
		a.log.Warn("reload failed", "resource", a.id, "backoff", a.backoff, "err", res.err)
		for _, e := range a.pending {
			switch {
			case e.req == nil:
			case e.asOf: // a read or refusal from committed that waited for the lease
				a.answerUnconfirmed(e.req, e.reply)
			default:
				a.fail(e.req, errStoreDown)
			}
		}
		a.pending = nil
		if !a.stopping {
			a.startBackoff()
		}
		return
	}
	snap := res.snap
	if snap.Exists {
		a.committed = booking.Restore(snap.Resource, snap.Buckets, snap.Holds, snap.Idempotency)
	} else {
		a.committed = booking.NewState(a.id)
	}
	a.spec = a.committed.Clone()
	a.epoch, a.version = snap.Epoch, snap.Version
	a.uncertain = false
	a.backoff = a.cfg.MinReloadBackoff
	a.leaseEnd = time.Time{} // an activation holds no lease until its first write
	if res.waited > 0 {
		a.metrics.leaseWait(res.waited)
	}
	a.metrics.activated()
	if !a.loaded {
		a.loaded = true
		now := a.now()
		a.maintain(now)
		deferred := a.deferred
		a.deferred = nil
		for _, r := range deferred {
			a.dispatch(r, now)
		}
	} else {
		a.redecide()
	}
	a.flush()
	a.armExpiry()
}

// startBackoff refuses writes for a while before the next reload attempt, doubling the pause
// up to MaxReloadBackoff, so that a dead database is not hammered.
func (a *resourceActor) startBackoff() {
	a.backingOff = true
	a.backoffGen++
	gen, d := a.backoffGen, a.backoff
	a.backoff = min(2*a.backoff, a.cfg.MaxReloadBackoff)
	time.AfterFunc(d, func() { a.tell(&backoffDone{gen: gen}) })
}

func (a *resourceActor) onBackoffDone(m *backoffDone) {
	if m.gen != a.backoffGen || !a.backingOff {
		return
	}
	a.backingOff = false
	a.flush() // pending expiries, if any, try the store again
}
