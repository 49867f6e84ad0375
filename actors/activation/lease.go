package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// Leases make answers from memory linearizable while two activations of one resource exist
// (the runtime gives no exclusivity; see the package doc, Leases).
//
// Invariant: an activation answers from memory (a read, a refusal, a repeated transition)
// only while leased, that is before leaseEnd, which is MaxClockOffset earlier than the lease
// end it stored with its last successful write, measured from the moment that write was
// started. A successful write proves the activation's epoch was current when it applied, so
// no other activation had taken over; and a successor, which fences it first, waits until the
// stored end has passed by its own clock before it answers anything. So while an activation
// is leased nobody else has written, and its memory is what the store holds.

func (c *Core) leased() bool { return c.leasedAt(c.rd.now) }

func (c *Core) leasedAt(now time.Time) bool {
	return c.leaseEnd != 0 && now.Before(c.time(c.leaseEnd))
}

// answersFromMemory reports whether an answer computed from committed may go out now: under
// the lease, or for a resource that does not exist, which has no row to lease (its not-found
// answers are as of the last load).
func (c *Core) answersFromMemory() bool {
	return c.leased() || !c.committed.Exists()
}

// leaseUntil is the lease end stored with a write started at now.
func (c *Core) leaseUntil(now time.Time) time.Time {
	return now.Add(c.cfg.Lease).Round(0) // wall clock only: it is compared with stored ends
}

// granted extends the lease after a write started at sent succeeded, and remembers its stored
// end as the activation's own (see leaseToWaitFor). Only a write known to have applied
// counts: the end of a fenced or uncertain write may never have been stored, and a
// successor's lease may end before it.
func (c *Core) granted(sent time.Time) {
	if end := c.at(sent.Add(c.cfg.Lease - c.cfg.MaxClockOffset)); c.leaseEnd == 0 || end > c.leaseEnd {
		c.leaseEnd = end
	}
	if until := c.leaseUntil(sent); until.After(wallTime(c.ownUntil)) {
		c.ownUntil = wallNanos(until)
	}
}

// fromMemory answers r with a, which was computed from committed (a read, or an event-less
// decision that committed agrees with). Leased, it goes out at once: the microsecond path.
// Otherwise it waits for the next store write, which renews the lease, or, while the store is
// failing, is answered as degradation allows (answerUnconfirmed).
func (c *Core) fromMemory(r *Command, a Answer) {
	switch {
	case c.answersFromMemory():
		c.send(r, a)
	case c.backingOff():
		c.answerUnconfirmed(r, a)
	default:
		c.park(r)
		c.pending = append(c.pending, &decision{cmd: r, answer: a, asOf: true})
	}
}

// answerUnconfirmed answers a command whose answer from memory could not be confirmed by a
// renewal because the store failed. Reads and sold-out refusals are served, marked stale (the
// node keeps answering them while the database is down); everything a client would act on as
// an acknowledgement (a replayed hold, a repeated confirm or cancel) is unavailable.
func (c *Core) answerUnconfirmed(r *Command, a Answer) {
	_, read := r.Op.(GetResource)
	_, hold := r.Op.(GetHold)
	if read || hold || booking.ErrorCode(a.Err) == booking.CodeSoldOut {
		a.Stale = true
		c.rd.Notes.Stale++
		c.send(r, a)
		return
	}
	c.fail(r, errStoreDown)
}

// startRenewal renews the lease; ds are event-less decisions that wait for it (none for a
// renewal ahead of time).
func (c *Core) startRenewal(now time.Time, ds []*decision) {
	c.nextID++
	c.flights = append(c.flights, &flight{id: c.nextID, decisions: ds, renewal: true, sent: now})
	c.rd.Renewal = Renewal{ID: c.nextID, Epoch: c.epoch, Until: c.leaseUntil(now), Timeout: c.opTimeout(now)}
}

// onRenewed learns how the renewal in flight ended.
func (c *Core) onRenewed(now time.Time, o Outcome) {
	f := c.flights[0]
	c.flights = nil
	c.rd.Notes.RenewalEnded, c.rd.Notes.Renewed = true, o
	switch o {
	case Committed:
		c.granted(f.sent)
		c.resetBackoff()
		c.answerDecisions(f.decisions, c.version)
	case Fenced:
		c.rd.Notes.Fenced = true
		c.failDecisions(f.decisions, errMoved)
		c.die()
		return
	default:
		// A renewal changes no state, so its unknown outcome leaves nothing uncertain: had it
		// applied, a successor waits longer than it needs to; this activation assumes no lease.
		for _, d := range f.decisions {
			if d.cmd != nil {
				c.answerUnconfirmed(d.cmd, d.answer)
			}
		}
		if c.phase != Stopping && !c.backingOff() {
			c.startBackoff(now)
		}
	}
	c.flush(now)
	c.armExpiry()
}

// renewAhead renews a lease that is about to lapse while commands keep coming, so that a
// stream of reads or sold-out refusals never waits for the store. Writes renew it anyway.
func (c *Core) renewAhead(now time.Time) {
	if !c.loaded() || c.phase == Dead || c.phase == Stopping || c.phase == Stopped || c.backingOff() ||
		len(c.flights) > 0 || c.load != nil || len(c.pending) > 0 || !c.committed.Exists() || !c.leased() ||
		c.time(c.leaseEnd).Sub(now) > c.cfg.Lease/2 {
		return
	}
	c.startRenewal(now, nil)
}

// leaseToWaitFor returns the stored lease end a new load must wait for before anything is
// answered from it (zero: none). own is the latest lease end this activation stored with a
// write known to have applied (zero for a first activation): on a reload a stored end no later
// than it is this activation's own lease, since a successor's lease ends later (it waited for
// this one before its first write).
func leaseToWaitFor(stored, own, now time.Time) time.Time {
	if stored.IsZero() || (!own.IsZero() && !stored.After(ceilMS(own))) {
		return time.Time{}
	}
	if stored.Sub(now.Round(0)) <= 0 { // stored ends are wall clock
		return time.Time{}
	}
	return stored
}

// ceilMS rounds t up to the millisecond, as stores keep lease ends.
func ceilMS(t time.Time) time.Time {
	v := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return time.UnixMilli(v).UTC()
}
