package resource

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// The cap on active resource actors (Config.MaxActive, --max-active-resources): a client
// naming ever new resource ids must not be able to make a node hold an actor per id. Every
// activation counts itself in Config.active from Started to Stopped; one that finds the count
// over the cap is refused: it makes no core and no store call, answers every command it gets
// unavailable (503 with Retry-After, so clients retry after other actors passivated) and
// stops itself at once.

// errOverCap is the answer of a refused activation.
var errOverCap = booking.Errorf(booking.CodeUnavailable, "this node has too many active resources; retry later")

// admit counts the activation in and reports whether it is within the cap. It also makes
// the actor counted, so that onStopped counts it out (refused or not).
func (a *resourceActor) admit() bool {
	if a.cfg.active == nil {
		return true
	}
	a.counted = true
	n := a.cfg.active.Add(1)
	a.metrics.activeDelta(1)
	if a.cfg.MaxActive > 0 && n > int64(a.cfg.MaxActive) {
		a.metrics.refusedActivation()
		return false
	}
	return true
}

// countOut undoes admit, once.
func (a *resourceActor) countOut() {
	if a.counted {
		a.counted = false
		a.cfg.active.Add(-1)
		a.metrics.activeDelta(-1)
	}
}

// refuse answers a command of a refused activation (one that reached it before the stop;
// later ones are answered by the mailbox, see onStopped).
func (a *resourceActor) refuse(to *actor.PID) {
	a.metrics.rejected(booking.CodeUnavailable)
	if to != nil {
		a.system.Root.Send(to, a.overCapReply())
	}
}

func (a *resourceActor) overCapReply() *protos.Reply {
	return &protos.Reply{Error: errorProto(errOverCap, a.cfg.RetryAfter), Owner: a.cfg.Owner}
}

func (m *Metrics) activeDelta(d float64) {
	if m != nil {
		m.active.Add(d)
	}
}

func (m *Metrics) refusedActivation() {
	if m != nil {
		m.refusedCap.Inc()
	}
}
