package resource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Leases make answers from memory linearizable while two activations of one resource exist
// (protoactor's disthash gives no exclusivity; see doc.go, Leases).
//
// Invariant: an activation answers from memory (a read, a refusal, a repeated transition)
// only while leased(), that is before leaseEnd, which is MaxClockOffset earlier than the
// lease end it stored with its last successful write, measured from the moment that write
// was sent. A successful write proves the activation's epoch was current when it applied,
// so no other activation had taken over; and a successor, which fences it first, waits
// until the stored end has passed by its own clock before it answers anything. So while an
// activation is leased nobody else has written, and its memory is what the store holds.

// leased reports whether the activation may answer from memory now.
func (a *resourceActor) leased() bool {
	return !a.leaseEnd.IsZero() && a.cfg.LeaseClock.Now().Before(a.leaseEnd)
}

// answersFromMemory reports whether an answer computed from committed may go out now: under
// the lease, or for a resource that does not exist, which has no row to lease (its not-found
// answers are as of the last load).
func (a *resourceActor) answersFromMemory() bool {
	return a.leased() || !a.committed.Exists()
}

// leaseUntil is the lease end stored with a write sent at sent.
func (a *resourceActor) leaseUntil(sent time.Time) time.Time {
	return sent.Add(a.cfg.Lease).Round(0) // wall clock only: it is compared with stored ends
}

// granted extends the lease after a write sent at sent (a reading with a monotonic clock)
// succeeded, and remembers its stored end as the activation's own (see waitForLease). Only a
// write known to have applied counts: the end of a fenced or uncertain write may never have
// been stored, and a successor's lease may end before it.
func (a *resourceActor) granted(sent time.Time) {
	if end := sent.Add(a.cfg.Lease - a.cfg.MaxClockOffset); end.After(a.leaseEnd) {
		a.leaseEnd = end
	}
	if until := a.leaseUntil(sent); until.After(a.ownUntil) {
		a.ownUntil = until
	}
}

// fromMemory answers r with rep, which was computed from committed (a read, or an event-less
// decision that committed agrees with). Leased, it goes out at once: the microsecond path.
// Otherwise it waits for the next store write, which renews the lease, or, while the store is
// failing, is answered as degradation allows (answerUnconfirmed).
func (a *resourceActor) fromMemory(r *request, rep *protos.Reply) {
	switch {
	case a.answersFromMemory():
		a.send(r, rep)
	case a.backingOff:
		a.answerUnconfirmed(r, rep)
	default:
		a.park(r)
		a.pending = append(a.pending, &entry{req: r, reply: rep, asOf: true})
	}
}

// answerUnconfirmed answers a request whose answer from memory could not be confirmed by a
// renewal because the store failed. Reads and sold-out refusals are served, marked stale
// (the node keeps answering them while the database is down); everything a client would act
// on as an acknowledgement (a replayed hold, a repeated confirm or cancel) is unavailable.
func (a *resourceActor) answerUnconfirmed(r *request, rep *protos.Reply) {
	_, read := r.op.(getResource)
	_, hold := r.op.(getHold)
	if read || hold || rep.GetError().GetCode() == booking.CodeSoldOut {
		rep.Stale = true
		a.metrics.staleAnswer()
		a.send(r, rep)
		return
	}
	a.fail(r, errStoreDown)
}

// startRenew renews the lease with store.Renew; es are event-less entries that wait for it
// (none for a renewal ahead of time). The result comes back as a commitDone like a commit's.
func (a *resourceActor) startRenew(es []*entry) {
	b := &batch{entries: es, done: make(chan commitResult, 1), sent: a.cfg.LeaseClock.Now()}
	a.inflight = b
	store, id, epoch, until, timeout := a.cfg.Store, a.id, a.epoch, a.leaseUntil(b.sent), a.opTimeout()
	a.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		err := store.Renew(ctx, id, epoch, until)
		cancel()
		b.done <- commitResult{err: err, latency: time.Since(start)}
		a.tell(&commitDone{b: b})
	})
}

// onRenewed handles the result of startRenew.
func (a *resourceActor) onRenewed(b *batch, res commitResult) {
	a.inflight = nil
	switch {
	case res.err == nil:
		a.metrics.renewal("ok")
		a.granted(b.sent)
		a.backoff = a.cfg.MinReloadBackoff
		a.replyEntries(b.entries, a.version)
	case errors.Is(res.err, persistence.ErrFenced):
		a.metrics.renewal("fenced")
		a.log.Warn("fenced on lease renewal: another activation owns the resource", "resource", a.id, "epoch", a.epoch)
		a.metrics.fence()
		a.failEntries(b.entries, errMoved)
		a.die()
		return
	default:
		// A renewal changes no state, so its unknown outcome leaves nothing uncertain: had it
		// applied, a successor waits longer than it needs to; this activation assumes no lease.
		a.metrics.renewal("failed")
		a.log.Warn("lease renewal failed", "resource", a.id, "latency", res.latency, "err", res.err)
		for _, e := range b.entries {
			if e.req != nil {
				a.answerUnconfirmed(e.req, e.reply)
			}
		}
		if !a.stopping && !a.backingOff {
			a.startBackoff()
		}
	}
	a.flush()
	a.armExpiry()
}

// renewAhead renews a lease that is about to lapse while commands keep coming, so that a
// stream of reads or sold-out refusals never waits for the store. Writes renew it anyway.
func (a *resourceActor) renewAhead() {
	if !a.loaded || a.dead || a.stopping || a.backingOff || a.inflight != nil || a.load != nil ||
		len(a.pending) > 0 || !a.committed.Exists() || !a.leased() ||
		a.leaseEnd.Sub(a.cfg.LeaseClock.Now()) > a.cfg.Lease/2 {
		return
	}
	a.startRenew(nil)
}

// releaseLease ends the lease of a stopping activation, so that its successor (the next owner
// after a rebalance or a graceful leave) need not wait for it. It runs on the actor's
// goroutine, bounded by the stop deadline; a failure only makes the successor wait.
func (a *resourceActor) releaseLease() {
	if !a.leased() || a.dead || !a.committed.Exists() {
		return
	}
	a.leaseEnd = time.Time{} // no answer from memory after this point
	ctx, cancel := context.WithTimeout(context.Background(), min(time.Second, max(time.Until(a.stopBy), time.Millisecond)))
	defer cancel()
	if err := a.cfg.Store.Renew(ctx, a.id, a.epoch, time.Time{}); err != nil && !errors.Is(err, persistence.ErrFenced) {
		a.log.Warn("lease release failed", "resource", a.id, "err", err)
	}
}

// waitForLease blocks an activation until the lease the snapshot reports has ended by this
// node's clock. own is the latest lease end this activation stored with a write known to
// have applied (zero for a first activation): on a reload a stored end no later than it is
// this activation's own lease, since a successor's lease ends later (it waited for this one
// before its first write). It returns how long it waited, or an error if ctx ended first.
func waitForLease(ctx context.Context, clock LeaseClock, snap *persistence.Snapshot, own time.Time) (time.Duration, error) {
	if snap == nil || snap.LeaseUntil.IsZero() || (!own.IsZero() && !snap.LeaseUntil.After(ceilMS(own))) {
		return 0, nil
	}
	start := clock.Now()
	d := snap.LeaseUntil.Sub(start.Round(0)) // stored ends are wall clock
	if d <= 0 {
		return 0, nil
	}
	select {
	case <-clock.After(d):
		return clock.Now().Sub(start), nil
	case <-ctx.Done():
		return clock.Now().Sub(start), fmt.Errorf("wait for the previous activation's lease: %w", ctx.Err())
	}
}

// ceilMS rounds t up to the millisecond, as stores keep lease ends.
func ceilMS(t time.Time) time.Time { return persistence.LeaseFromMS(persistence.LeaseMS(t)) }
