package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// onCommand admits a command and decides it, then starts a group commit unless more commands
// wait: those are decided first, so that a burst already queued goes to the store as one
// commit. The wait is bounded: after MaxBatch commands handled with work pending, the commit
// starts anyway, so that a stream of reads cannot hold writes back.
func (c *Core) onCommand(now time.Time, r *Command) {
	c.admit(now, r)
	if !c.loaded() || len(c.pending) == 0 || !c.canSeal() || c.load != nil {
		c.heldBack = 0
		c.renewAhead(now)
		return
	}
	c.heldBack++
	if r.Queued == 0 || c.heldBack >= c.cfg.MaxBatch {
		c.heldBack = 0
		c.flush(now)
	}
}

func (c *Core) admit(now time.Time, r *Command) {
	t := ms(now)
	c.lastActive = c.at(now)
	switch {
	case expired(r, t):
		c.fail(r, errDeadline)
		return
	case c.phase == Dead || c.phase == Stopping || c.phase == Stopped:
		c.fail(r, errMoved)
		return
	}
	if waiting := int(c.parked) + r.Queued; waiting >= c.cfg.MaxPending {
		c.fail(r, booking.Errorf(booking.CodeBusy, "resource %q has %d commands waiting; retry later", c.id, waiting))
		return
	}
	if r.Err != nil {
		c.fail(r, r.Err)
		return
	}
	if !c.loaded() {
		c.park(r)
		if c.deferred == nil {
			c.deferred = new([]*Command)
		}
		*c.deferred = append(*c.deferred, r)
		return
	}
	c.maintain(t)
	c.dispatch(r, t)
	c.armExpiry()
}

// maintain runs what time makes due before a decision: expiries (pending decisions without a
// reply) and, now and then, forgetting old idempotency keys. t is in whole milliseconds (ms).
func (c *Core) maintain(t time.Time) {
	if !c.pruned || t.UnixMilli()-c.lastPrune >= PruneEvery.Milliseconds() {
		cutoff := t.Add(-booking.IdempotencyRetention)
		c.committed.PruneIdempotency(cutoff)
		if c.spec != c.committed {
			c.spec.PruneIdempotency(cutoff)
		}
		c.pruned, c.lastPrune = true, t.UnixMilli()
	}
	c.expire(t)
}

// PruneEvery is how often idempotency keys older than booking.IdempotencyRetention are dropped
// from memory.
const PruneEvery = 10 * time.Minute

// dispatch decides r. Reads are answered from committed; writes are decided against spec.
// It is also how pending commands are decided again after spec was rebuilt.
func (c *Core) dispatch(r *Command, t time.Time) {
	if r.done {
		return
	}
	if expired(r, t) {
		c.fail(r, errDeadline)
		return
	}
	if c.phase == Dead {
		c.fail(r, errMoved)
		return
	}
	switch op := r.Op.(type) {
	case GetResource:
		res, ok := c.committed.Resource()
		if !ok {
			c.fail(r, booking.Errorf(booking.CodeNotFound, "resource %q not found", c.id))
			return
		}
		c.fromMemory(r, Answer{Resource: &ResourceView{Resource: res, Buckets: c.committed.Buckets(), Version: c.version}})
	case GetHold:
		c.dispatchGetHold(r, op.HoldID, t)
	case booking.ConfirmHold:
		c.dispatchHoldWrite(r, op.HoldID, t)
	case booking.CancelHold:
		c.dispatchHoldWrite(r, op.HoldID, t)
	case booking.ExtendHold:
		c.dispatchHoldWrite(r, op.HoldID, t)
	case paymentOp: // payment.go
		c.dispatchHoldWrite(r, op.paymentHold(), t)
	default:
		c.decideWrite(r, t)
	}
}

func (c *Core) dispatchGetHold(r *Command, holdID string, t time.Time) {
	if !c.committed.Exists() {
		c.fail(r, booking.Errorf(booking.CodeNotFound, "resource %q not found", c.id))
		return
	}
	if h, ok := c.committed.Hold(holdID); ok {
		c.fromMemory(r, Answer{Hold: h})
		return
	}
	if h, ok := c.spec.Hold(holdID); ok {
		// Placed but not durable yet: answer once the commit that places it succeeds.
		c.attach(r, Answer{Hold: h})
		return
	}
	if !booking.ValidID(holdID) {
		c.fail(r, booking.Errorf(booking.CodeNotFound, "hold %q not found", holdID))
		return
	}
	c.startLookup(r, holdID)
}

// dispatchHoldWrite sends a confirmation, cancellation or renewal of a hold that memory does not know
// (a terminal hold from before this activation) to the store.
func (c *Core) dispatchHoldWrite(r *Command, holdID string, t time.Time) {
	if c.spec.Exists() && booking.ValidID(holdID) {
		if _, ok := c.spec.Hold(holdID); !ok {
			c.startLookup(r, holdID)
			return
		}
	}
	c.decideWrite(r, t)
}

// decideWrite decides a write against spec. With events, they are applied to spec and the
// command waits in pending for its commit. Without (a rejection, a replay, a repeated
// transition), committed is asked too: the same answer there goes out at once, under the
// lease (the sold-out fast path); otherwise the answer waits for what it depends on.
func (c *Core) decideWrite(r *Command, t time.Time) {
	o := decide(c.spec, r.Op, t)
	if o.lookup != "" {
		c.lookupForJoin(r, o.lookup, t)
		return
	}
	if o.err == nil && o.replayed && o.entry == nil && o.holdID != "" {
		if _, ok := c.spec.Hold(o.holdID); !ok {
			// A key whose hold ended before this activation loaded (memory keeps the
			// keys, not terminal holds): the store has the hold to answer with.
			c.startLookup(r, o.holdID)
			return
		}
	}
	if len(o.events) > 0 {
		if c.backingOff() {
			c.fail(r, errStoreDown)
			return
		}
		c.ownSpec()
		for _, ev := range o.events {
			c.spec.Apply(ev)
		}
		x := &roomyDecision{decision: decision{cmd: r, events: o.events}}
		d := &x.decision
		c.capture(d, &x.room)
		d.answer = answerCaptured(o, d, c.spec)
		c.park(r)
		c.pending = append(c.pending, d)
		return
	}
	if co := decide(c.committed, r.Op, t); sameAnswer(o, co) {
		c.fromMemory(r, answerFor(co, c.committed, c.version))
		return
	}
	if c.backingOff() {
		c.fail(r, errStoreDown)
		return
	}
	c.attach(r, answerFor(o, c.spec, 0))
}

// attach queues an answer whose truth depends on effects not yet durable: it is sent when the
// commit it lands in succeeds (or when it is sealed, if everything before it is committed).
func (c *Core) attach(r *Command, a Answer) {
	c.park(r)
	c.pending = append(c.pending, &decision{cmd: r, answer: a})
}

// outcome is a decision of one write against one state.
type outcome struct {
	events   []booking.Event
	err      error
	holdID   string // the hold to answer with
	replayed bool
	resource bool // answer with the resource
	// entry, for a waitlist join or leave, is the entry to answer with; left marks a leave
	// (the entry is answered as it was, without a position).
	entry *booking.WaitlistEntry
	left  bool
	// lookup, for a join's replay, is the hold to read from the store before it can be
	// answered (booking.JoinDecision.LookupHold); nothing else is set then.
	lookup string
}

func decide(s *booking.State, op any, t time.Time) outcome {
	switch op := op.(type) {
	case booking.CreateResource:
		evs, err := s.DecideCreate(op, t)
		return outcome{events: evs, err: err, resource: true}
	case booking.UpdateResource:
		evs, err := s.DecideUpdate(op, t)
		return outcome{events: evs, err: err, resource: true}
	case booking.ArchiveResource:
		evs, err := s.DecideArchive(op, t)
		return outcome{events: evs, err: err, resource: true}
	case booking.PlaceHold:
		d, err := s.DecidePlaceHold(op, t)
		return outcome{events: d.Events, err: err, holdID: d.HoldID, replayed: d.Replayed}
	case booking.ConfirmHold:
		if err := paymentBlocksConfirm(s, op); err != nil { // payment.go
			return outcome{err: err, holdID: op.HoldID}
		}
		evs, err := s.DecideConfirm(op, t)
		return outcome{events: evs, err: err, holdID: op.HoldID}
	case booking.CancelHold:
		evs, err := s.DecideCancel(op, t)
		evs = paymentOnCancel(s, op.HoldID, evs, t) // payment.go
		return outcome{events: evs, err: err, holdID: op.HoldID}
	case booking.ExtendHold:
		d, err := s.DecideExtend(op, t)
		return outcome{events: d.Events, err: err, holdID: op.HoldID, replayed: d.Replayed}
	case booking.JoinWaitlist:
		d, err := s.DecideJoinWaitlist(op, t)
		o := outcome{events: d.Events, err: err, replayed: d.Replayed, lookup: d.LookupHold}
		if err == nil && d.LookupHold == "" {
			o.entry = &d.Entry
		}
		return o
	case booking.LeaveWaitlist:
		evs, err := s.DecideLeaveWaitlist(op, t)
		o := outcome{events: evs, err: err, left: true}
		if err == nil {
			if e, _, ok := s.WaitlistEntry(op.EntryID); ok {
				o.entry = &e
			}
		}
		return o
	}
	if o, ok := decidePayment(s, op, t); ok { // payment.go
		return o
	}
	return outcome{err: booking.Errorf(booking.CodeInternal, "unknown operation %T", op)}
}

// sameAnswer reports whether co, decided against committed, answers like spec's event-less
// outcome o: the same error code, or the same event-less success about the same hold.
func sameAnswer(o, co outcome) bool {
	switch {
	case len(co.events) > 0:
		return false
	case o.err != nil || co.err != nil:
		return o.err != nil && co.err != nil && booking.ErrorCode(o.err) == booking.ErrorCode(co.err)
	case o.lookup != "" || co.lookup != "":
		return o.lookup == co.lookup
	case o.entry != nil || co.entry != nil: // without events: a join's replay
		return o.entry != nil && co.entry != nil && o.replayed && co.replayed && o.entry.ID == co.entry.ID
	default:
		return o.holdID == co.holdID && o.replayed == co.replayed && o.resource == co.resource
	}
}

// answerFor renders an outcome from the state it was decided against (after its events).
// answerCaptured is answerFor(o, s, 0) for a decision d just captured from s: a hold answer
// is the hold's after-image d took (capture and answerFor read the same hold of the same
// state, with nothing applied between), so the hold is not copied out of s a second time (a
// bucket list per durable hold; issue 17, CPU per hold). The answer and d's write share the
// hold's bucket list; neither is written to once captured.
func answerCaptured(o outcome, d *decision, s *booking.State) Answer {
	if o.err == nil && !o.resource && o.entry == nil && o.holdID != "" {
		for i := len(d.holds) - 1; i >= 0; i-- {
			if d.holds[i].ID == o.holdID {
				return Answer{Hold: d.holds[i], Replayed: o.replayed}
			}
		}
	}
	return answerFor(o, s, 0)
}

func answerFor(o outcome, s *booking.State, version uint64) Answer {
	if o.err != nil {
		return Answer{Err: o.err}
	}
	if o.resource {
		res, _ := s.Resource()
		return Answer{Resource: &ResourceView{Resource: res, Buckets: s.Buckets(), Version: version}}
	}
	if o.entry != nil {
		v := &EntryView{Entry: *o.entry}
		if !o.left {
			if _, pos, ok := s.WaitlistEntry(o.entry.ID); ok {
				v.Position = pos
			}
		}
		return Answer{Entry: v, Replayed: o.replayed}
	}
	h, ok := s.Hold(o.holdID)
	if !ok {
		return Answer{Err: booking.Errorf(booking.CodeInternal, "hold %q vanished", o.holdID)}
	}
	return Answer{Hold: h, Replayed: o.replayed}
}
