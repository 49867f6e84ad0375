package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// startLookup asks the store for a hold that memory does not know: a terminal hold from before
// this activation (or a join replay's offer hold, see lookupForJoin). This is the rare path;
// the activation keeps serving meanwhile.
func (c *Core) startLookup(r *Command, holdID string) {
	c.park(r)
	rare := c.times()
	if rare.lookups == nil { // made on first use: most activations never look a hold up
		rare.lookups = make(map[*Command]struct{})
	}
	rare.lookups[r] = struct{}{}
	c.rd.Lookups = append(c.rd.Lookups, Lookup{For: r, HoldID: holdID, Timeout: c.cfg.CommitTimeout})
}

func (c *Core) onLookup(now time.Time, m LookupResult) {
	r := m.For
	if c.rare == nil {
		return
	}
	if _, ok := c.rare.lookups[r]; !ok {
		return // answered already (the activation died or is stopping)
	}
	delete(c.rare.lookups, r)
	t := ms(now)
	if _, ok := c.spec.Hold(m.HoldID); ok {
		// Memory caught up meanwhile (a reload): take the normal path.
		c.maintain(t)
		c.dispatch(r, t)
		c.flush(now)
		c.armExpiry()
		return
	}
	_, join := r.Op.(booking.JoinWaitlist)
	switch {
	case expired(r, t):
		c.fail(r, errDeadline)
	case join:
		c.joinLookedUp(r, m, now)
	case m.Status == LookupNotFound || (m.Status == LookupFound && m.Hold.ResourceID != c.id):
		c.fail(r, booking.Errorf(booking.CodeNotFound, "hold %q not found", m.HoldID))
	case m.Status == LookupFailed:
		c.fail(r, errStoreDown)
	case m.Hold.Status.Active():
		c.storeAhead(r, now)
	case c.adoptForPayment(r, m.Hold, now): // payment.go: a late payment
	default:
		c.answerTerminal(r, m.Hold, t)
	}
}

// storeAhead fails r because the store has an active hold memory lacks: a commit whose
// outcome this activation does not know, or another activation wrote after this one loaded
// (then this one is stale). Either way it reloads now, even with nothing to commit: otherwise
// a stale activation that only serves confirms and cancels would answer "retry" forever. A
// reload with a commit in flight waits for it (flush reloads when uncertain).
func (c *Core) storeAhead(r *Command, now time.Time) {
	c.fail(r, errStoreAhead)
	c.memory = Uncertain
	if len(c.flights) == 0 && c.load == nil && !c.backingOff() && c.phase != Dead {
		c.startLoad(now)
	}
}

// lookupForJoin answers a join's replay whose entry spec neither has waiting nor offered a
// hold it knows (booking.JoinDecision.LookupHold is holdID, the entry's offer hold): the
// entry left, or its offer is a terminal hold from before this activation.
//
// When committed still knows the entry or its offer (or not yet the key), the entry left in a
// decision that is not committed yet: spec's answer, that it left, waits for that commit like
// any answer that depends on one (and is decided again if the commit fails). Otherwise the
// store is asked for the hold, and the join decided again with what it has (joinLookedUp).
func (c *Core) lookupForJoin(r *Command, holdID string, t time.Time) {
	if co := decide(c.committed, r.Op, t); co.lookup == "" {
		if c.backingOff() {
			c.fail(r, errStoreDown)
			return
		}
		c.attach(r, answerFor(decide(c.spec, lookedUp(r.Op, nil), t), c.spec, 0))
		return
	}
	c.startLookup(r, holdID)
}

// joinLookedUp decides a join's replay again with the hold its lookup found (or not).
func (c *Core) joinLookedUp(r *Command, m LookupResult, now time.Time) {
	var h *booking.Hold
	switch {
	case m.Status == LookupFailed:
		c.fail(r, errStoreDown)
		return
	case m.Status == LookupFound && m.Hold.ResourceID == c.id && m.Hold.Status.Active():
		c.storeAhead(r, now)
		return
	case m.Status == LookupFound:
		h = &m.Hold
	}
	r.Op = lookedUp(r.Op, h)
	t := ms(now)
	c.maintain(t)
	c.dispatch(r, t)
	c.flush(now)
	c.armExpiry()
}

// lookedUp is the join op with the answer to its lookup: h, nil when the store has no such hold.
func lookedUp(op any, h *booking.Hold) any {
	j := op.(booking.JoinWaitlist)
	j.OfferLookedUp, j.Offer = true, h
	return j
}

// answerTerminal gives the model's answer for a terminal hold loaded from the store.
func (c *Core) answerTerminal(r *Command, h booking.Hold, t time.Time) {
	switch r.Op.(type) {
	case GetHold:
		c.send(r, Answer{Hold: h})
		return
	case booking.PlaceHold: // a replay of the key h was placed with (decideWrite)
		c.send(r, Answer{Hold: h, Replayed: true})
		return
	}
	res, _ := c.committed.Resource()
	res.ID = c.id
	// A renewal's key is kept with the keys, not with the hold: a retry of a renewal of a hold
	// that has ended since is decided with it, and replays (see booking's extend_replay.go).
	var idem []booking.IdempotencyEntry
	if op, ok := r.Op.(booking.ExtendHold); ok && op.IdempotencyKey != "" {
		if ie, ok := c.committed.Idempotency(op.IdempotencyKey); ok {
			idem = append(idem, ie)
		}
	}
	s := booking.Restore(res, nil, []booking.Hold{h}, idem) // terminal: claims nothing
	o := decide(s, r.Op, t)
	if len(o.events) > 0 {
		c.fail(r, booking.Errorf(booking.CodeInternal, "hold %q is %s yet the model would change it", h.ID, h.Status))
		return
	}
	c.send(r, answerFor(o, s, 0))
}
