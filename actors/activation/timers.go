package activation

import "time"

// The core asks for one wake-up at a time (Ready.WakeAt): the earliest of the next hold
// deadline, the end of a backoff, the next idle check and the end of the previous
// activation's lease a load waits for. A Tick looks at the time and does what is due, so an
// early, late or repeated Tick is harmless.

// armExpiry keeps the wake-up for spec's next hold deadline.
func (c *Core) armExpiry() {
	if c.phase == Dead || c.phase == Stopping || c.phase == Stopped || !c.loaded() {
		return
	}
	at, _ := c.spec.NextExpiry()
	c.expiryAt = at
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
	}
	switch c.phase {
	case Dead, Stopping, Stopped:
		return w
	}
	earliest(c.expiryAt)
	earliest(c.backoffUntil())
	earliest(c.idleCheckAt)
	return w
}

func (c *Core) onTick(now time.Time, queued int) {
	if l := c.load; l != nil && l.result != nil && !now.Round(0).Before(l.waitUntil) {
		c.install(now, l.result, now.Sub(l.since))
	}
	switch c.phase {
	case Dead, Stopping, Stopped:
		return
	}
	if c.backingOff() && !now.Before(c.backoffUntil()) {
		c.rare.backoffUntil = time.Time{}
		c.flush(now) // pending expiries, if any, try the store again
	}
	t := ms(now)
	if !c.expiryAt.IsZero() && !t.Before(c.expiryAt) {
		c.expiryAt = time.Time{}
	}
	if c.loaded() {
		c.maintain(t)
		c.flush(now)
		c.armExpiry()
	}
	if !c.idleCheckAt.IsZero() && !now.Before(c.idleCheckAt) {
		c.idleCheck(now, queued)
	}
}

// idleCheck passivates an activation that got no command for IdleTimeout and has no work.
func (c *Core) idleCheck(now time.Time, queued int) {
	if left := c.cfg.IdleTimeout - now.Sub(c.lastActive); left > 0 {
		c.idleCheckAt = now.Add(left)
		return
	}
	if c.passivateIfIdle(queued) {
		c.idleCheckAt = time.Time{}
	} else {
		c.idleCheckAt = now.Add(c.cfg.IdleTimeout)
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
	c.rare.backoffUntil, c.expiryAt, c.idleCheckAt = time.Time{}, time.Time{}, time.Time{}
	c.flush(now)
}

// finishStop ends a graceful stop once nothing is at the store: the lease is released, so that
// the successor (the next owner after a rebalance or a graceful leave) need not wait for it,
// and whatever still waits is answered unavailable.
func (c *Core) finishStop(now time.Time) {
	if c.leased() && c.committed.Exists() {
		c.leaseEnd = time.Time{} // no answer from memory after this point
		c.rd.Release = Release{Requested: true, Epoch: c.epoch, Timeout: min(time.Second, max(c.stopBy().Sub(now), time.Millisecond))}
	}
	c.failAll(errStopped)
	c.phase = Stopped
}
