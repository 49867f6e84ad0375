package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// startLookup asks the store for a hold that memory does not know: a terminal hold from before
// this activation. This is the rare path; the activation keeps serving meanwhile.
func (c *Core) startLookup(r *Command, holdID string) {
	c.park(r)
	if c.lookups == nil { // made on first use: most activations never look a hold up
		c.lookups = make(map[*Command]struct{})
	}
	c.lookups[r] = struct{}{}
	c.rd.Lookups = append(c.rd.Lookups, Lookup{For: r, HoldID: holdID, Timeout: c.cfg.CommitTimeout})
}

func (c *Core) onLookup(now time.Time, m LookupResult) {
	r := m.For
	if _, ok := c.lookups[r]; !ok {
		return // answered already (the activation died or is stopping)
	}
	delete(c.lookups, r)
	t := ms(now)
	if _, ok := c.spec.Hold(m.HoldID); ok {
		// Memory caught up meanwhile (a reload): take the normal path.
		c.maintain(t)
		c.dispatch(r, t)
		c.flush(now)
		c.armExpiry()
		return
	}
	switch {
	case expired(r, t):
		c.fail(r, errDeadline)
	case m.Status == LookupNotFound || (m.Status == LookupFound && m.Hold.ResourceID != c.cfg.ResourceID):
		c.fail(r, booking.Errorf(booking.CodeNotFound, "hold %q not found", m.HoldID))
	case m.Status == LookupFailed:
		c.fail(r, errStoreDown)
	case m.Hold.Status.Active():
		// The store has an active hold memory lacks: a commit whose outcome this activation
		// does not know, or another activation wrote after this one loaded (then this one is
		// stale). Either way reload now, even with nothing to commit: otherwise a stale
		// activation that only serves confirms and cancels would answer "retry" forever. A
		// reload with a commit in flight waits for it (flush reloads when uncertain).
		c.fail(r, errStoreAhead)
		c.memory = Uncertain
		if len(c.flights) == 0 && c.load == nil && !c.backingOff() && c.phase != Dead {
			c.startLoad(now)
		}
	case c.adoptForPayment(r, m.Hold, now): // payment.go: a late payment
	default:
		c.answerTerminal(r, m.Hold, t)
	}
}

// answerTerminal gives the model's answer for a terminal hold loaded from the store.
func (c *Core) answerTerminal(r *Command, h booking.Hold, t time.Time) {
	if _, ok := r.Op.(GetHold); ok {
		c.send(r, Answer{Hold: h})
		return
	}
	res, _ := c.committed.Resource()
	res.ID = c.cfg.ResourceID
	s := booking.Restore(res, nil, []booking.Hold{h}, nil) // terminal: claims nothing
	o := decide(s, r.Op, t)
	if len(o.events) > 0 {
		c.fail(r, booking.Errorf(booking.CodeInternal, "hold %q is %s yet the model would change it", h.ID, h.Status))
		return
	}
	c.send(r, answerFor(o, s, 0))
}
