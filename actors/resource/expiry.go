package resource

import "time"

// armExpiry keeps one timer armed for spec's next hold deadline (protocol step 9). The timer
// only wakes the actor; what is due is decided by the injected clock, so a test moves the
// clock and sends an expiryTick instead of waiting.
func (a *resourceActor) armExpiry() {
	if a.dead || a.stopping || !a.loaded {
		return
	}
	at, ok := a.spec.NextExpiry()
	if a.expiryTimer != nil {
		if ok && at.Equal(a.expiryAt) {
			return
		}
		a.expiryTimer.Stop()
		a.expiryTimer, a.expiryAt = nil, time.Time{}
	}
	if !ok {
		return
	}
	a.expiryGen++
	gen := a.expiryGen
	d := max(at.Sub(a.now()), time.Millisecond)
	a.expiryAt = at
	a.expiryTimer = time.AfterFunc(d, func() { a.tell(&expiryTick{gen: gen}) })
}

func (a *resourceActor) onExpiryTick(m *expiryTick) {
	if m.gen != 0 && m.gen == a.expiryGen {
		a.expiryTimer, a.expiryAt = nil, time.Time{}
	}
	if !a.loaded || a.dead || a.stopping {
		return
	}
	a.maintain(a.now())
	a.flush()
	a.armExpiry()
}
