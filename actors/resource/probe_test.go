package resource

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/actors/booking"
)

// The reads' operations, as decodeCommand returns them.
type (
	getResource = activation.GetResource
	getHold     = activation.GetHold
)

// pruneEvery is how often an activation forgets old idempotency keys.
const pruneEvery = activation.PruneEvery

// expiryTick wakes an actor as its timer does: it expires what is due by the clock.
type expiryTick = wake

// probe asks an actor for a view of its core, through probedActor. With idle set, the answer
// waits until nothing is loading, in flight or pending: an event a test can wait for instead
// of polling.
type probe struct {
	idle  bool
	reply chan probeResult // buffered by the sender
}

type probeResult struct {
	loaded, dead, uncertain, backingOff bool
	leased                              bool
	parked, pending, inflight           int
	epoch, version                      uint64
	expiryAt                            time.Time      // the hold deadline the actor wakes up for
	committed, spec                     *booking.State // clones; nil before loading
}

func (*probe) NotInfluenceReceiveTimeout() {}

// probedActor is the resource actor with probes answered; tests spawn it (harness.spawn).
type probedActor struct {
	*resourceActor
	waiting []*probe
}

func produceProbed(cfg *Config, id string, q *mailboxCounter) actor.Actor {
	return &probedActor{resourceActor: newActor(cfg, id, q)}
}

func (p *probedActor) Receive(ctx actor.Context) {
	if pr, ok := ctx.Message().(*probe); ok {
		p.waiting = append(p.waiting, pr)
	} else {
		p.resourceActor.Receive(ctx)
	}
	keep := p.waiting[:0]
	for _, pr := range p.waiting {
		if !p.answer(pr) {
			keep = append(keep, pr)
		}
	}
	p.waiting = keep
}

// answer answers pr unless it waits for the actor to be idle and it is not.
func (p *probedActor) answer(pr *probe) bool {
	c := p.core
	if c == nil {
		pr.reply <- probeResult{dead: true}
		return true
	}
	phase := c.Phase()
	if pr.idle && c.Busy() && phase != activation.Dead && phase != activation.Stopping {
		return false
	}
	s := c.Status(p.cfg.Now())
	pr.reply <- probeResult{
		loaded: s.Committed != nil, dead: phase == activation.Dead, uncertain: s.Memory == activation.Uncertain,
		backingOff: s.BackingOff, leased: s.Leased, parked: s.Parked, pending: s.Pending, inflight: s.InFlight,
		epoch: s.Epoch, version: s.Version, expiryAt: s.ExpiryAt, committed: s.Committed, spec: s.Spec,
	}
	return true
}
