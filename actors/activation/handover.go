package activation

import "time"

// The hand-over: a change of hands from a live activation without a whole lease wait
// (persistence.LeaseHandover has the store's side and the proof; docs/ARCHITECTURE.md,
// Leases).
//
// A new activation's load fences the old one, which may still answer from memory until the
// lease end it stored; the new one waits for that end (load.go). The old activation learns it
// was fenced at its next write (a commit or a renewal refused), or its graceful stop's release
// does; it then stops answering from memory for good (die: Dead; finishStop: Stopped) and asks
// the shell, in the same Ready, to hand its lease over (Release.HandOver): a store write that
// ends the stored lease only while its one successor (its epoch + 1) is current and the stored
// end is still the one it wrote last. Meanwhile the waiting activation reads the stored lease
// (LeaseCheck) every HandoverPoll, then twice as long each time up to 8×HandoverPoll, and
// installs its state as soon as, at its own epoch, the lease is ended (or over): it answers
// nothing from memory before its own first write anyway, so what it must know is only that
// nobody else does any more. A crashed old owner never hands over: the successor waits for
// the stored end, as before (at most a lease), having read the row a few times.

// LeaseCheck, when ID is not 0, reads the stored lease (store.LeaseOf) for a load that waits
// for the previous activation's lease; its result comes back as a LeaseCheckResult.
type LeaseCheck struct {
	ID      uint64
	Timeout time.Duration
}

// LeaseCheckResult is the end of a LeaseCheck: the resource's current epoch and stored lease
// end (zero: none). On failure only ID and Failed are set.
type LeaseCheckResult struct {
	ID     uint64
	Failed bool
	Epoch  uint64
	Until  time.Time
}

func (LeaseCheckResult) input() {}

// maxHandoverPolls bounds the poll interval: HandoverPoll doubles up to this many times it.
const maxHandoverPolls = 8

// pollLease schedules the first read of the stored lease for a load that waits for it.
func (c *Core) pollLease(now time.Time) {
	if p := c.cfg.HandoverPoll; p > 0 {
		c.load.checkEvery = p
		c.load.checkAt = now.Add(p)
	}
}

// checkLeaseIfDue asks for a read of the stored lease when one is due (a Tick).
func (c *Core) checkLeaseIfDue(now time.Time) {
	l := c.load
	if l == nil || l.result == nil || l.checkID != 0 || l.checkAt.IsZero() || now.Before(l.checkAt) {
		return
	}
	c.nextID++
	l.checkID, l.checkAt = c.nextID, time.Time{}
	c.rd.LeaseCheck = LeaseCheck{ID: l.checkID, Timeout: c.opTimeout(now)}
}

// onLeaseChecked takes a read of the stored lease: at the loaded epoch with the lease ended
// (or over), the previous activation stopped answering from memory (it handed its lease over,
// or it lapsed), and the state is installed at once; otherwise the next read is scheduled,
// unless it would come after the lease end anyway.
func (c *Core) onLeaseChecked(now time.Time, in LeaseCheckResult) {
	l := c.load
	if l == nil || l.result == nil || in.ID != l.checkID {
		return
	}
	l.checkID = 0
	if !in.Failed && in.Epoch == l.result.Epoch && (in.Until.IsZero() || !now.Round(0).Before(in.Until)) {
		c.rd.Notes.HandedOver = in.Until.IsZero()
		c.install(now, l.result, now.Sub(l.since))
		return
	}
	l.checkEvery = min(2*l.checkEvery, maxHandoverPolls*c.cfg.HandoverPoll)
	if at := now.Add(l.checkEvery); at.Round(0).Before(l.waitUntil) {
		l.checkAt = at
	}
}

// handOver asks the shell to hand the lease over to the successor that fenced this
// activation, which has just stopped answering from memory (die, on a refused write). Only
// an activation that stored a lease with a write known to have applied has one to hand over,
// and not while a load of its own is under way (its own new epoch would be the successor).
func (c *Core) handOver() {
	if c.ownUntil == 0 || c.load != nil || c.epoch == 0 {
		return
	}
	c.rd.Release = Release{Requested: true, Fenced: true, Epoch: c.epoch, HandOver: wallTime(c.ownUntil), Timeout: time.Second}
}
