package resource

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// resourceActor is one activation of one resource. All fields are owned by the actor's
// goroutine (its mailbox); goroutines it starts for store calls share nothing with it and
// report back by message (and, for a stopping actor, by channel).
type resourceActor struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	id      string
	queue   *mailboxCounter

	system *actor.ActorSystem
	self   *actor.PID
	life   context.Context // cancelled at Stopped: ends store lookups
	cancel context.CancelFunc
	wg     sync.WaitGroup // every store call the actor started

	// committed is what the store has, as far as this activation knows; spec is committed
	// plus the effects of the in-flight batch plus those of pending.
	committed *booking.State
	spec      *booking.State
	epoch     uint64
	version   uint64 // of committed

	inflight *batch   // at most one batch at the store
	pending  []*entry // decided after inflight was sealed, in decision order
	deferred []*request
	lookups  map[*request]struct{}
	load     *loadOp
	parked   int // requests waiting in deferred, pending, inflight or lookups
	heldBack int // commands handled since pending could have been flushed (see onCommand)

	loaded     bool // committed is valid (the first Activate succeeded)
	dead       bool // fenced, or could not activate: answer unavailable until the poison pill
	stopping   bool
	poisoned   bool
	uncertain  bool // a commit failed with an unknown outcome: reload before the next one
	backingOff bool // a reload failed: writes are refused until backoffDone
	backoff    time.Duration
	backoffGen uint64
	stopBy     time.Time // real time by which a stopping actor gives up flushing

	// leaseEnd is when this activation's lease ends by its monotonic clock (zero: none);
	// ownUntil is the latest lease end it stored with a write known to have applied. See
	// lease.go.
	leaseEnd time.Time
	ownUntil time.Time

	idleProbes []*probe

	idleTimer  *time.Timer
	lastActive time.Time // real time of the last command

	expiryTimer *time.Timer
	expiryAt    time.Time
	expiryGen   uint64
	lastPrune   time.Time
}

// request is one command being answered.
type request struct {
	op       any // see decodeCommand
	sender   *actor.PID
	deadline time.Time // zero: none
	parked   bool
	done     bool
}

func (r *request) expired(now time.Time) bool {
	return !r.deadline.IsZero() && now.After(r.deadline)
}

// Replies for the retryable failures. Messages are for humans; codes are the contract.
var (
	errNotCommitted = booking.Errorf(booking.CodeUnavailable, "the store did not confirm the change; retry")
	errStoreDown    = booking.Errorf(booking.CodeUnavailable, "the store is unavailable; retry later")
	errMoved        = booking.Errorf(booking.CodeUnavailable, "the resource moved to another activation; retry")
	errStopped      = booking.Errorf(booking.CodeUnavailable, "the resource actor stopped; retry")
	errDeadline     = booking.Errorf(booking.CodeUnavailable, "the deadline passed before the command was decided")
	errStoreAhead   = booking.Errorf(booking.CodeUnavailable, "the hold is being reloaded; retry")
)

func newActor(cfg Config, resourceID string, q *mailboxCounter) *resourceActor {
	return &resourceActor{
		cfg:     cfg,
		log:     cfg.logger(),
		metrics: cfg.Metrics,
		id:      resourceID,
		queue:   q,
		lookups: make(map[*request]struct{}),
		backoff: cfg.MinReloadBackoff,
	}
}

// Receive is the actor's shell: commands, results of its own store calls, timers, lifecycle.
func (a *resourceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *protos.Command:
		a.onCommand(m, ctx.Sender())
	case *commitDone:
		if m.b == a.inflight {
			a.onCommitted(m.b, <-m.b.done)
		}
	case *loadDone:
		if m.op == a.load {
			a.onLoaded(<-m.op.done)
		}
	case *lookupDone:
		a.onLookup(m)
	case *expiryTick:
		a.onExpiryTick(m)
	case *backoffDone:
		a.onBackoffDone(m)
	case *actor.Started:
		a.onStarted(ctx)
	case *idleCheck:
		a.onIdleCheck()
	case *actor.ReceiveTimeout:
		a.onIdle()
	case *actor.Stopping:
		a.onStopping()
	case *actor.Stopped:
		a.onStopped()
	case *probe:
		a.onProbe(m)
	case *actor.Restarting:
		// A panic (a bug) is restarting the actor: its memory is suspect, so nothing more is
		// committed from it; the fresh instance re-activates from the store.
		a.log.Error("resource actor restarting", "resource", a.id)
		a.failAll(errStopped)
		a.release()
	}
	if len(a.idleProbes) > 0 {
		a.answerIdleProbes()
	}
}

func (a *resourceActor) onStarted(ctx actor.Context) {
	a.system, a.self = ctx.ActorSystem(), ctx.Self()
	a.life, a.cancel = context.WithCancel(context.Background())
	if a.id == "" {
		if ci := clusterIdentity(ctx); ci != nil {
			a.id = ci.Identity
		}
	}
	a.lastActive = time.Now()
	a.armIdle(a.cfg.IdleTimeout)
	if a.id == "" {
		a.log.Error("resource actor has no resource id: spawn it with PropsFor or as cluster kind " + KindName)
		a.die()
		return
	}
	a.startLoad()
}

// The idle timer passivates an actor that got no command for IdleTimeout. It is the actor's
// own timer rather than protoactor's SetReceiveTimeout, whose timer goroutine writes the
// context's timeout field while the mailbox goroutine reads it (a data race under -race).
func (a *resourceActor) armIdle(d time.Duration) {
	a.idleTimer = time.AfterFunc(d, func() { a.tell(&idleCheck{}) })
}

func (a *resourceActor) onIdleCheck() {
	if a.dead || a.stopping {
		return
	}
	if left := a.cfg.IdleTimeout - time.Since(a.lastActive); left > 0 {
		a.armIdle(left)
		return
	}
	if !a.onIdle() {
		a.armIdle(a.cfg.IdleTimeout)
	}
}

// onIdle passivates the actor unless it has work; it reports whether it did. A
// *actor.ReceiveTimeout (should someone set one) lands here too.
func (a *resourceActor) onIdle() bool {
	if a.busy() || a.parked > 0 || a.queue.n.Load() > 0 {
		return false
	}
	a.poison()
	return true
}

// onStopping flushes what is pending, waiting for the store (bounded by CommitTimeout), so
// that a graceful stop loses no acknowledged change and leaves no command unanswered.
func (a *resourceActor) onStopping() {
	a.stopping = true
	a.poisoned = true // no more poison pills: the actor is stopping
	a.stopBy = time.Now().Add(a.cfg.CommitTimeout)
	a.stopTimers()
	a.backingOff = false
	a.flush()
	for {
		if op := a.load; op != nil {
			a.onLoaded(<-op.done)
			continue
		}
		if b := a.inflight; b != nil {
			a.onCommitted(b, <-b.done)
			continue
		}
		break
	}
	a.releaseLease()
	a.failAll(errStopped)
}

// onStopped makes the mailbox answer the commands that protoactor would drop from now on.
func (a *resourceActor) onStopped() {
	if a.system != nil {
		a.queue.stopped.Store(&stoppedReply{system: a.system, reply: &protos.Reply{
			Error: errorProto(errStopped, a.cfg.RetryAfter), Owner: a.cfg.Owner,
		}})
	}
	a.release()
	// Drop the resource's state: a stopped actor can stay reachable. protoactor's PIDSet of a
	// parent's children (disthash's placement actor is the parent of every activation) does
	// not clear the slot of a removed child, and a PID caches its process, so up to the peak
	// number of activations stay pinned, and a passivated resource must not pin its holds.
	a.committed, a.spec = nil, nil
	a.inflight, a.pending, a.deferred, a.load = nil, nil, nil, nil
	clear(a.lookups)
}

// release stops the actor's timers and goroutines.
func (a *resourceActor) release() {
	a.stopTimers()
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

// die stops the activation for good: fenced, or no state to serve from. Everything waiting
// is answered unavailable (retryable: the next request re-activates), and the actor poisons
// itself so that the commands already in its mailbox are answered first.
func (a *resourceActor) die() {
	a.dead = true
	a.stopTimers()
	a.failAll(errMoved)
	a.poison()
}

func (a *resourceActor) poison() {
	if !a.poisoned {
		a.poisoned = true
		a.system.Root.Poison(a.self)
	}
}

func (a *resourceActor) stopTimers() {
	if a.expiryTimer != nil {
		a.expiryTimer.Stop()
		a.expiryTimer, a.expiryAt = nil, time.Time{}
	}
	a.backoffGen++ // a pending backoffDone is now stale
	if a.idleTimer != nil {
		a.idleTimer.Stop()
	}
}

// failAll answers every waiting request with err.
func (a *resourceActor) failAll(err error) {
	if b := a.inflight; b != nil {
		a.inflight = nil
		a.failEntries(b.entries, err)
	}
	a.failEntries(a.pending, err)
	a.pending = nil
	for _, r := range a.deferred {
		a.fail(r, err)
	}
	a.deferred = nil
	for r := range a.lookups {
		a.fail(r, err)
	}
	clear(a.lookups)
}

func (a *resourceActor) failEntries(es []*entry, err error) {
	for _, e := range es {
		if e.req != nil {
			a.fail(e.req, err)
		}
	}
}

// now is the injected clock at the stores' millisecond precision.
func (a *resourceActor) now() time.Time {
	return time.UnixMilli(a.cfg.Now().UnixMilli()).UTC()
}

// park counts r as waiting (admission and the mailbox-depth gauge).
func (a *resourceActor) park(r *request) {
	if !r.parked {
		r.parked = true
		a.parked++
		a.metrics.depth(1)
	}
}

// send answers r once; later answers are dropped.
func (a *resourceActor) send(r *request, rep *protos.Reply) {
	if r.done {
		return
	}
	r.done = true
	if r.parked {
		r.parked = false
		a.parked--
		a.metrics.depth(-1)
	}
	rep.Owner = a.cfg.Owner
	if rep.Error != nil {
		a.metrics.rejected(rep.Error.Code)
	}
	if r.sender != nil {
		a.system.Root.Send(r.sender, rep)
	}
}

func (a *resourceActor) fail(r *request, err error) {
	a.send(r, &protos.Reply{Error: errorProto(err, a.cfg.RetryAfter)})
}

// Messages the actor sends itself. They neither reset the idle timer nor get logged as dead
// letters when they arrive after the actor stopped.
type (
	commitDone  struct{ b *batch }
	loadDone    struct{ op *loadOp }
	expiryTick  struct{ gen uint64 } // gen 0: not from the armed timer, just "expire what is due"
	backoffDone struct{ gen uint64 }
	idleCheck   struct{}
	lookupDone  struct {
		r      *request
		holdID string
		hold   booking.Hold
		err    error
	}
)

func (*commitDone) NotInfluenceReceiveTimeout()  {}
func (*loadDone) NotInfluenceReceiveTimeout()    {}
func (*expiryTick) NotInfluenceReceiveTimeout()  {}
func (*backoffDone) NotInfluenceReceiveTimeout() {}
func (*lookupDone) NotInfluenceReceiveTimeout()  {}
func (*idleCheck) NotInfluenceReceiveTimeout()   {}
func (*idleCheck) IgnoreDeadLetterLogging()      {}
func (*commitDone) IgnoreDeadLetterLogging()     {}
func (*loadDone) IgnoreDeadLetterLogging()       {}
func (*expiryTick) IgnoreDeadLetterLogging()     {}
func (*backoffDone) IgnoreDeadLetterLogging()    {}
func (*lookupDone) IgnoreDeadLetterLogging()     {}

// spawn runs a store call on a goroutine of its own, counted in a.wg.
func (a *resourceActor) spawn(fn func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
}

// tell delivers m to the actor from any goroutine.
func (a *resourceActor) tell(m any) { a.system.Root.Send(a.self, m) }
