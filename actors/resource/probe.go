package resource

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// probe asks an actor for a view of its internals, for tests and debugging. With idle set, the
// answer waits until nothing is loading, in flight or pending: an event a test can wait for
// instead of polling.
type probe struct {
	idle  bool
	reply chan probeResult // buffered by the sender
}

type probeResult struct {
	loaded, dead, uncertain, backingOff bool
	leased                              bool
	parked, pending, inflight           int
	epoch, version                      uint64
	expiryAt                            time.Time      // deadline the expiry timer is armed for
	committed, spec                     *booking.State // clones; nil before loading
}

func (*probe) NotInfluenceReceiveTimeout() {}

func (a *resourceActor) busy() bool {
	return a.load != nil || a.inflight != nil || len(a.pending) > 0
}

func (a *resourceActor) onProbe(p *probe) {
	if p.idle && a.busy() && !a.dead {
		a.idleProbes = append(a.idleProbes, p)
		return
	}
	r := probeResult{
		loaded: a.loaded, dead: a.dead, uncertain: a.uncertain, backingOff: a.backingOff,
		parked: a.parked, pending: len(a.pending), epoch: a.epoch, version: a.version,
		expiryAt: a.expiryAt, leased: a.leased(),
	}
	if a.inflight != nil {
		r.inflight = len(a.inflight.entries)
	}
	if a.committed != nil {
		r.committed, r.spec = a.committed.Clone(), a.spec.Clone()
	}
	p.reply <- r
}

// answerIdleProbes runs after every message.
func (a *resourceActor) answerIdleProbes() {
	if a.busy() && !a.dead && !a.stopping {
		return
	}
	ps := a.idleProbes
	a.idleProbes = nil
	for _, p := range ps {
		p.idle = false
		a.onProbe(p)
	}
}
