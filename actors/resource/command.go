package resource

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// onCommand admits a command and decides it (protocol steps 2-4; see doc.go), then flushes
// unless more commands wait in the mailbox: those are decided first, so that a burst already
// queued goes to the store as one batch. The wait is bounded: after MaxBatch commands handled
// with work pending, it flushes anyway, so a stream of reads cannot hold writes back.
func (a *resourceActor) onCommand(cmd *protos.Command, sender *actor.PID) {
	a.decideCommand(cmd, sender)
	if !a.loaded || len(a.pending) == 0 || a.inflight != nil || a.load != nil {
		a.heldBack = 0
		a.renewAhead()
		return
	}
	a.heldBack++
	if a.queue.n.Load() <= 1 || a.heldBack >= a.cfg.MaxBatch {
		a.heldBack = 0
		a.flush()
	}
}

func (a *resourceActor) decideCommand(cmd *protos.Command, sender *actor.PID) {
	now := a.now()
	a.lastActive = time.Now()
	r := &request{sender: sender}
	if ms := cmd.GetDeadlineUnixMs(); ms != 0 {
		r.deadline = time.UnixMilli(ms)
	}
	switch {
	case r.expired(now):
		a.fail(r, errDeadline)
		return
	case a.dead || a.stopping:
		a.fail(r, errMoved)
		return
	}
	// The command being handled is still counted by the mailbox counter.
	if queued := int(a.queue.n.Load()) - 1; a.parked+queued >= a.cfg.MaxPending {
		a.fail(r, booking.Errorf(booking.CodeBusy, "resource %q has %d commands waiting; retry later", a.id, a.parked+queued))
		return
	}
	holdID := ""
	if cmd.GetPlaceHold() != nil {
		holdID = a.cfg.NewHoldID()
	}
	op, err := decodeCommand(cmd, a.id, holdID)
	if err != nil {
		a.fail(r, err)
		return
	}
	r.op = op
	if !a.loaded {
		a.park(r)
		a.deferred = append(a.deferred, r)
		return
	}
	a.maintain(now)
	a.dispatch(r, now)
	a.armExpiry()
}

// maintain runs what time makes due before a decision: expiries (into the pending batch,
// with no reply) and, now and then, forgetting old idempotency keys.
func (a *resourceActor) maintain(now time.Time) {
	if now.Sub(a.lastPrune) >= pruneEvery {
		cutoff := now.Add(-booking.IdempotencyRetention)
		a.committed.PruneIdempotency(cutoff)
		a.spec.PruneIdempotency(cutoff)
		a.lastPrune = now
	}
	a.expire(now)
}

// pruneEvery is how often idempotency keys older than booking.IdempotencyRetention are dropped
// from memory.
const pruneEvery = 10 * time.Minute

// dispatch decides r. Reads are answered from committed; writes are decided against spec.
// It is also how pending commands are decided again after spec was rebuilt.
func (a *resourceActor) dispatch(r *request, now time.Time) {
	if r.done {
		return
	}
	if r.expired(now) {
		a.fail(r, errDeadline)
		return
	}
	if a.dead {
		a.fail(r, errMoved)
		return
	}
	switch op := r.op.(type) {
	case getResource:
		res, ok := a.committed.Resource()
		if !ok {
			a.fail(r, booking.Errorf(booking.CodeNotFound, "resource %q not found", a.id))
			return
		}
		a.fromMemory(r, &protos.Reply{Resource: resourceProto(res, a.committed.Buckets(), a.version)})
	case getHold:
		a.dispatchGetHold(r, op.HoldID)
	case booking.ConfirmHold:
		a.dispatchHoldWrite(r, op.HoldID, now)
	case booking.CancelHold:
		a.dispatchHoldWrite(r, op.HoldID, now)
	default:
		a.decideWrite(r, now)
	}
}

func (a *resourceActor) dispatchGetHold(r *request, holdID string) {
	if !a.committed.Exists() {
		a.fail(r, booking.Errorf(booking.CodeNotFound, "resource %q not found", a.id))
		return
	}
	if h, ok := a.committed.Hold(holdID); ok {
		a.fromMemory(r, &protos.Reply{Hold: holdProto(h)})
		return
	}
	if h, ok := a.spec.Hold(holdID); ok {
		// Placed but not durable yet: answer once the batch that places it commits.
		a.attach(r, &protos.Reply{Hold: holdProto(h)})
		return
	}
	if !booking.ValidID(holdID) {
		a.fail(r, booking.Errorf(booking.CodeNotFound, "hold %q not found", holdID))
		return
	}
	a.startLookup(r, holdID)
}

// dispatchHoldWrite sends a confirmation or cancellation of a hold that memory does not know
// (a terminal hold from before this activation) to the store.
func (a *resourceActor) dispatchHoldWrite(r *request, holdID string, now time.Time) {
	if a.spec.Exists() && booking.ValidID(holdID) {
		if _, ok := a.spec.Hold(holdID); !ok {
			a.startLookup(r, holdID)
			return
		}
	}
	a.decideWrite(r, now)
}

// decideWrite is protocol step 4.
func (a *resourceActor) decideWrite(r *request, now time.Time) {
	o := decide(a.spec, r.op, now)
	if len(o.events) > 0 {
		if a.backingOff {
			a.fail(r, errStoreDown)
			return
		}
		for _, ev := range o.events {
			a.spec.Apply(ev)
		}
		e := &entry{req: r, events: o.events}
		a.capture(e)
		e.reply = replyFor(o, a.spec, 0)
		a.park(r)
		a.pending = append(a.pending, e)
		return
	}
	// A rejection or a success without events. If committed gives the same answer, the
	// answer does not depend on anything uncommitted: give it now, under the lease (the
	// sold-out fast path).
	if c := decide(a.committed, r.op, now); sameAnswer(o, c) {
		a.fromMemory(r, replyFor(c, a.committed, a.version))
		return
	}
	if a.backingOff {
		a.fail(r, errStoreDown)
		return
	}
	a.attach(r, replyFor(o, a.spec, 0))
}

// attach queues a reply whose truth depends on effects not yet durable: it is sent when the
// batch it lands in commits (or when it is sealed, if everything before it is committed).
func (a *resourceActor) attach(r *request, rep *protos.Reply) {
	a.park(r)
	a.pending = append(a.pending, &entry{req: r, reply: rep})
}

// outcome is a decision of one write against one state.
type outcome struct {
	events   []booking.Event
	err      error
	holdID   string // the hold to answer with
	replayed bool
	resource bool // answer with the resource
}

func decide(s *booking.State, op any, now time.Time) outcome {
	switch op := op.(type) {
	case booking.CreateResource:
		evs, err := s.DecideCreate(op, now)
		return outcome{events: evs, err: err, resource: true}
	case booking.UpdateResource:
		evs, err := s.DecideUpdate(op, now)
		return outcome{events: evs, err: err, resource: true}
	case booking.PlaceHold:
		d, err := s.DecidePlaceHold(op, now)
		return outcome{events: d.Events, err: err, holdID: d.HoldID, replayed: d.Replayed}
	case booking.ConfirmHold:
		evs, err := s.DecideConfirm(op, now)
		return outcome{events: evs, err: err, holdID: op.HoldID}
	case booking.CancelHold:
		evs, err := s.DecideCancel(op, now)
		return outcome{events: evs, err: err, holdID: op.HoldID}
	}
	return outcome{err: booking.Errorf(booking.CodeInternal, "unknown operation %T", op)}
}

// sameAnswer reports whether c, decided against committed, answers like spec's event-less
// outcome o: the same error code, or the same event-less success about the same hold.
func sameAnswer(o, c outcome) bool {
	switch {
	case len(c.events) > 0:
		return false
	case o.err != nil || c.err != nil:
		return o.err != nil && c.err != nil && booking.ErrorCode(o.err) == booking.ErrorCode(c.err)
	default:
		return o.holdID == c.holdID && o.replayed == c.replayed && o.resource == c.resource
	}
}

// replyFor renders an outcome from the state it was decided against (after its events).
func replyFor(o outcome, s *booking.State, version uint64) *protos.Reply {
	if o.err != nil {
		return &protos.Reply{Error: errorProto(o.err, 0)}
	}
	if o.resource {
		res, _ := s.Resource()
		return &protos.Reply{Resource: resourceProto(res, s.Buckets(), version)}
	}
	h, ok := s.Hold(o.holdID)
	if !ok {
		return &protos.Reply{Error: errorProto(booking.Errorf(booking.CodeInternal, "hold %q vanished", o.holdID), 0)}
	}
	return &protos.Reply{Hold: holdProto(h), Replayed: o.replayed}
}
