package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// loading is the load under way: the first one, or a reload after a commit with an unknown
// outcome. Once the store answered, result holds the state until the previous activation's
// lease has ended (waitUntil), measured from since.
//
// While it waits, the stored lease is read now and then (handover.go): checkAt is when next
// (zero: no more), checkEvery the interval after it, checkID the read under way (0: none).
type loading struct {
	id         uint64
	result     *LoadResult
	waitUntil  time.Time
	since      time.Time
	checkAt    time.Time
	checkEvery time.Duration
	checkID    uint64
}

func (c *Core) startLoad(now time.Time) {
	c.nextID++
	c.load = &loading{id: c.nextID}
	c.rd.Load = Load{ID: c.nextID, IdemSince: ms(now).Add(-booking.IdempotencyRetention), Timeout: c.opTimeout(now)}
}

// onLoaded takes the store's answer to a load. The epoch is taken: the previous activation can
// no longer write, but it may still answer from memory until its lease ends, so nothing is
// answered from this state before that.
func (c *Core) onLoaded(now time.Time, res *LoadResult) {
	if res.Failed {
		c.load = nil
		c.loadFailed(now)
		return
	}
	if until := leaseToWaitFor(res.LeaseUntil, wallTime(c.ownUntil), now); !until.IsZero() {
		c.load.result, c.load.waitUntil, c.load.since = res, until, now
		c.pollLease(now)
		return
	}
	c.install(now, res, 0)
}

// install makes a loaded state the activation's.
func (c *Core) install(now time.Time, res *LoadResult, waited time.Duration) {
	c.load = nil
	first := !c.loaded()
	if res.Exists {
		c.committed = booking.RestoreSaved(booking.Saved{Resource: res.Resource, Buckets: res.Buckets, Holds: res.Holds,
			Idempotency: res.Idempotency, Waitlist: res.Waitlist})
	} else {
		c.committed = booking.NewState(c.id)
	}
	c.spec = c.committed // shared until the next change (ownSpec)
	c.epoch, c.version = res.Epoch, res.Version
	c.memory = Current
	c.resetBackoff()
	c.leaseEnd = 0 // an activation holds no lease until its first write
	c.rd.Notes.Loaded, c.rd.Notes.LeaseWait = true, waited
	if first {
		if c.phase == Loading {
			c.phase = Serving
		}
		t := ms(now)
		c.maintain(t)
		for _, r := range c.takeDeferred() {
			c.dispatch(r, t)
		}
	} else {
		c.redecide(now)
	}
	c.flush(now)
	c.armExpiry()
}

// loadFailed handles a load that did not succeed.
func (c *Core) loadFailed(now time.Time) {
	c.rd.Notes.LoadFailed = true
	if !c.loaded() {
		// Nothing to serve from: answer everything unavailable and stop; the next request
		// activates afresh.
		c.die()
		return
	}
	c.rd.Notes.Backoff = c.Backoff()
	for _, d := range c.pending {
		switch {
		case d.cmd == nil:
		case d.asOf: // a read or refusal from committed that waited for the lease
			c.answerUnconfirmed(d.cmd, d.answer)
		default:
			c.fail(d.cmd, errStoreDown)
		}
	}
	c.pending = nil
	if c.phase != Stopping {
		c.startBackoff(now)
	}
}

// startBackoff refuses writes for a while before the next reload attempt, doubling the pause
// up to MaxReloadBackoff, so that a dead database is not hammered.
func (c *Core) startBackoff(now time.Time) {
	pause := c.Backoff()
	r := c.times()
	r.backoffUntil = now.Add(pause)
	r.backoff = min(2*pause, c.cfg.MaxReloadBackoff)
}

func (c *Core) backingOff() bool { return !c.backoffUntil().IsZero() }
