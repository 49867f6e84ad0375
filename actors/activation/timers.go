package activation

import "time"

// The core asks for one wake-up at a time (Ready.WakeAt): the earliest of the next hold
// deadline, the end of a backoff, the next idle check and the end of the previous
// activation's lease a load waits for. A Tick looks at the time and does what is due, so an
// early, late or repeated Tick is harmless.

// armExpiry keeps the wake-up for spec's next hold deadline.
func (c *Core) armExpiry() {
	if c.phase == Dead || c.phase == Stopping || c.phase == Stopped || c.spec == nil {
		return // not loaded, or packed: a packed state keeps the deadline armed when it packed
	}
	at, ok := c.spec.NextExpiry()
	c.expiryAt = 0
	if ok {
		if c.expiryAt = at.UnixNano(); c.expiryAt == 0 {
			c.expiryAt = 1 // 0 is none: a deadline at the Unix epoch itself wakes 1 ns late
		}
	}
}

// expiryTime is expiryAt as a time (zero: none).
func (c *Core) expiryTime() time.Time {
	if c.expiryAt == 0 {
		return time.Time{}
	}
	return time.Unix(0, c.expiryAt).UTC()
}

func (c *Core) wakeAt() time.Time {
	var w time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	if c.load != nil && c.load.result != nil {
		earliest(c.load.waitUntil) // a stopping activation waits for it too
		earliest(c.load.checkAt)   // and reads the stored lease meanwhile (handover.go)
	}
	switch c.phase {
	case Dead, Stopping, Stopped:
		return w
	}
	earliest(c.expiryTime())
	earliest(c.backoffUntil())
	earliest(c.time(c.idleCheckAt))
	return w
}

func (c *Core) onTick(now time.Time, queued int) {
	if l := c.load; l != nil && l.result != nil && !now.Round(0).Before(l.waitUntil) {
		c.install(now, l.result, now.Sub(l.since))
	}
	c.checkLeaseIfDue(now)
	switch c.phase {
	case Dead, Stopping, Stopped:
		return
	}
	if c.backingOff() && !now.Before(c.backoffUntil()) {
		c.rare.backoffUntil = time.Time{}
		c.flush(now) // pending expiries, if any, try the store again
	}
	t := ms(now)
	if c.expiryAt != 0 && !t.Before(c.expiryTime()) {
		c.expiryAt = 0
	}
	if c.committed != nil { // loaded, and not packed: a packed state has nothing due (unpackFor)
		c.maintain(t)
		c.flush(now)
		c.armExpiry()
	}
	if c.idleCheckAt != 0 && !now.Before(c.time(c.idleCheckAt)) {
		c.idleCheck(now, queued)
	}
}

// idleCheck packs the state of an activation that got no command for QuietAfter and has no
// work (quiet.go), and passivates one that got none for IdleTimeout.
func (c *Core) idleCheck(now time.Time, queued int) {
	quiet := now.Sub(c.time(c.lastActive))
	if left := c.cfg.IdleTimeout - quiet; left > 0 {
		if q := c.cfg.QuietAfter; q > 0 && quiet >= q {
			c.pack(queued) // not when passivating: the stop would unpack it again
		}
		c.idleCheckAt = c.at(now.Add(c.nextIdleCheck(left, quiet)))
		return
	}
	if c.passivateIfIdle(queued) {
		c.idleCheckAt = 0
	} else {
		c.idleCheckAt = c.at(now.Add(c.nextIdleCheck(c.cfg.IdleTimeout, quiet)))
	}
}

// onStop begins a graceful stop: what is pending is committed, waiting for the store (bounded
// by CommitTimeout), so that a stop loses no acknowledged change and leaves no command
// unanswered. The timers stop; a load waiting for the previous lease goes on waiting.
func (c *Core) onStop(now time.Time) {
	switch c.phase {
	case Stopped:
		return
	case Dead:
		c.failAll(errStopped)
		c.phase = Stopped
		return
	}
	c.phase = Stopping
	c.times().stopBy = now.Add(c.cfg.CommitTimeout)
	c.rare.backoffUntil, c.expiryAt, c.idleCheckAt = time.Time{}, 0, 0
	c.flush(now)
}

// finishStop ends a graceful stop once nothing is at the store: the lease is released, so that
// the successor (the next owner after a rebalance or a graceful leave) need not wait for it,
// and whatever still waits is answered unavailable. A release refused because a successor
// fenced this activation meanwhile hands the lease over to it instead (HandOver: the end of
// the last write known to have applied; handover.go).
func (c *Core) finishStop(now time.Time) {
	if c.leased() && c.exists() {
		c.leaseEnd = 0 // no answer from memory after this point
		c.rd.Release = Release{Requested: true, Epoch: c.epoch, HandOver: wallTime(c.ownUntil),
			Timeout: min(time.Second, max(c.stopBy().Sub(now), time.Millisecond))}
	}
	c.failAll(errStopped)
	c.phase = Stopped
}
