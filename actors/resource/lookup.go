package resource

import (
	"context"
	"errors"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// startLookup asks the store for a hold that memory does not know: a terminal hold from before
// this activation (protocol step 3). This is the rare path; the actor keeps serving meanwhile.
func (a *resourceActor) startLookup(r *request, holdID string) {
	a.park(r)
	a.lookups[r] = struct{}{}
	store, id, life, timeout := a.cfg.Store, a.id, a.life, a.cfg.CommitTimeout
	a.spawn(func() {
		ctx, cancel := context.WithTimeout(life, timeout)
		h, err := store.GetHold(ctx, id, holdID)
		cancel()
		if life.Err() == nil {
			a.tell(&lookupDone{r: r, holdID: holdID, hold: h, err: err})
		}
	})
}

func (a *resourceActor) onLookup(m *lookupDone) {
	r := m.r
	if _, ok := a.lookups[r]; !ok {
		return // answered already (the actor died or is stopping)
	}
	delete(a.lookups, r)
	now := a.now()
	if _, ok := a.spec.Hold(m.holdID); ok {
		// Memory caught up meanwhile (a reload): take the normal path.
		a.maintain(now)
		a.dispatch(r, now)
		a.flush()
		a.armExpiry()
		return
	}
	switch {
	case r.expired(now):
		a.fail(r, errDeadline)
	case errors.Is(m.err, persistence.ErrNotFound) || (m.err == nil && m.hold.ResourceID != a.id):
		a.fail(r, booking.Errorf(booking.CodeNotFound, "hold %q not found", m.holdID))
	case m.err != nil:
		a.log.Warn("hold lookup failed", "resource", a.id, "hold", m.holdID, "err", m.err)
		a.fail(r, errStoreDown)
	case m.hold.Status.Active():
		// The store has an active hold memory lacks: a commit whose outcome this activation
		// does not know, or another activation wrote after this one loaded (then this one is
		// stale). Either way reload now, even with nothing to commit: otherwise a stale
		// activation that only serves confirms and cancels would answer "retry" forever.
		// A reload with a commit in flight waits for it (flush reloads when uncertain).
		a.fail(r, errStoreAhead)
		a.uncertain = true
		if a.inflight == nil && a.load == nil && !a.backingOff && !a.dead {
			a.startLoad()
		}
	default:
		a.answerTerminal(r, m.hold, now)
	}
}

// answerTerminal gives the model's answer for a terminal hold loaded from the store.
func (a *resourceActor) answerTerminal(r *request, h booking.Hold, now time.Time) {
	if _, ok := r.op.(getHold); ok {
		a.send(r, &protos.Reply{Hold: holdProto(h)})
		return
	}
	res, _ := a.committed.Resource()
	res.ID = a.id
	s := booking.Restore(res, nil, []booking.Hold{h}, nil) // terminal: claims nothing
	o := decide(s, r.op, now)
	if len(o.events) > 0 {
		a.fail(r, booking.Errorf(booking.CodeInternal, "hold %q is %s yet the model would change it", h.ID, h.Status))
		return
	}
	a.send(r, replyFor(o, s, 0))
}
