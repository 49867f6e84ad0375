package resource

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/protos"
)

// resourceActor is the shell of one activation of one resource: it feeds the protocol core
// (package activation) what happens (commands, results of store calls, timer ticks, the
// lifecycle) and does what the core asks (replies, store calls, one timer, stopping). All
// fields are owned by the actor's goroutine (its mailbox); the goroutines it starts for store
// calls share nothing with it but their call, and report back by message.
type resourceActor struct {
	cfg   *Config // shared by every activation of the props (read only): its Logger and Metrics too
	id    string
	queue *mailboxCounter

	system *actor.ActorSystem
	self   *actor.PID
	core   *activation.Core
	// io is the actor's work at the store (its calls, their goroutines, the lookups' context):
	// nil until the first call, and dropped once the activation is quiet (noteQuiet), so a quiet
	// actor is 104 bytes (the 112-byte class) where the three fields inline made it 144.
	io *storeIO
	// timerAt is the wake-up armed in cfg.wakes in Unix nanoseconds (0: none): only compared
	// with the next one and waited for by a stop, which the wall clock serves (see arm); 16
	// bytes less than a time.Time, which moved the actor from the 160 to the 144-byte class.
	timerAt int64
	wakeIdx int // this actor's entry in cfg.wakes (owned by it, under its lock)

	entry   activeEntry // this activation's entry in Config.active (activecap.go), if counted
	waiting int32       // the core's Waiting as last added to the waitlist gauge (next to the bools: one word)
	counted bool        // in Config.active (admit): entry is the set's
	quiet   bool        // the core's state is packed, as last added to the quiet gauge
	refused bool        // over Config.MaxActive: no core, every command answered unavailable
	asked   bool        // a command has arrived (an activation is spawned for a command on its way)
	// handling: Receive is handling a command, which the mailbox counter still counts.
	handling bool
	// virtual: a cluster activation of KindName, identity id (the placement actor hands it
	// over, ClusterIdentified, so the actor context keeps no extensions, see Kind); the
	// cluster activates it again when asked after a stop. The ClusterIdentity itself is not
	// kept (80 bytes): the stop's announcement makes one.
	virtual bool
}

func newActor(cfg *Config, resourceID string, q *mailboxCounter) *resourceActor {
	return &resourceActor{cfg: cfg, id: resourceID, queue: q}
}

// logger is the configuration's logger (props sets one); a Config that did not come through
// props and has none discards.
func (a *resourceActor) logger() *slog.Logger {
	if a.cfg.Logger != nil {
		return a.cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Receive is the whole shell: every message becomes an input of the core.
func (a *resourceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *protos.Command:
		a.handling = true
		a.onCommand(m, ctx.Sender())
		a.passivateIfMissing(a.queued())
	case *callDone:
		if a.done(m.call) {
			a.finished(m.call)
			a.passivateIfMissing(int(a.queue.n.Load()))
		}
	case *lookupDone:
		a.step(m.result)
	case *wake:
		a.disarm()
		a.step(activation.Tick{Queued: int(a.queue.n.Load())})
	case *evict:
		a.onEvict()
	case *actor.Started:
		a.onStarted(ctx)
	case *actor.ReceiveTimeout:
		if a.core != nil {
			a.step(activation.Passivate{Queued: int(a.queue.n.Load())})
		}
	case *actor.Stopping:
		a.onStopping()
	case *actor.Stopped:
		a.terminating()
		a.onStopped()
	case *actor.Restarting:
		// A panic (a bug) is restarting the actor: its memory is suspect, so nothing more is
		// committed from it; the fresh instance re-activates from the store.
		a.logger().Error("resource actor restarting", "resource", a.id)
		if a.core != nil {
			a.step(activation.Abort{})
		}
		a.countOut() // the fresh instance counts itself in again
		a.noteQuiet(false)
		a.release()
		a.bequeath(ctx)
	}
	a.noteBusy(a.queued(), false)
	a.handling = false
}

// ClusterIdentified gives a cluster activation its identity: the placement actor calls it
// within the spawn, before Started (cluster/placement.go), so that the identity is kept here
// and not in the actor context's extensions.
func (a *resourceActor) ClusterIdentified(ci *cluster.ClusterIdentity) {
	if ci.Kind != KindName {
		a.logger().Error("resource actor spawned as kind "+ci.Kind+": its stop is announced for kind "+KindName, "resource", ci.Identity)
	}
	a.id, a.virtual = ci.Identity, true
}

// identity is the cluster identity of a cluster activation.
func (a *resourceActor) identity() *cluster.ClusterIdentity {
	return &cluster.ClusterIdentity{Kind: KindName, Identity: a.id}
}

// adopt gives the actor its mailbox counter (props' init, within the spawn, before Started).
func (a *resourceActor) adopt(q *mailboxCounter) { a.queue = q }

// bequeath leaves the mailbox counter and the cluster identity in the actor context for the
// fresh instance protoactor makes after a panic: a restart keeps the context, runs the
// producer again and runs no init. Only a restarted actor's context gets extensions.
func (a *resourceActor) bequeath(ctx actor.Context) {
	if a.queue != nil {
		ctx.Set(a.queue)
	}
	if a.virtual {
		cluster.SetClusterIdentity(ctx, a.identity())
	}
}

// terminating does for a stopping cluster activation what protoactor's cluster middleware
// does, which the kind does without (see Kind): it tells the placement actor (the
// ActivationTerminating it waits for; the node's lookup also drops the activation from the
// request path's PID cache on it, cluster/pidcache.go). protoactor's own PID cache is not
// used: nothing fills it.
func (a *resourceActor) terminating() {
	if !a.virtual || a.system == nil {
		return
	}
	// Not cluster.GetCluster, which panics on a system without a cluster (tests give plain
	// actors an identity with cluster.WithClusterIdentity).
	if _, ok := a.system.Extensions.Get((*cluster.Cluster)(nil).ExtensionID()).(*cluster.Cluster); ok {
		a.system.EventStream.Publish(&cluster.ActivationTerminating{Pid: a.self, ClusterIdentity: a.identity()})
	}
}

func (a *resourceActor) onStarted(ctx actor.Context) {
	a.system, a.self = ctx.ActorSystem(), ctx.Self()
	if a.queue == nil { // a fresh instance after a restart: its predecessor left the counter (bequeath)
		a.queue = queueOf(ctx)
	}
	if a.id == "" { // after a restart (bequeath), or an identity set with cluster.WithClusterIdentity
		if ci := clusterIdentity(ctx); ci != nil {
			a.ClusterIdentified(ci)
		}
	}
	if a.id == "" {
		a.logger().Error("resource actor has no resource id: spawn it with PropsFor or as cluster kind " + KindName)
	}
	if !a.admit() {
		a.refused = true
		a.system.Root.Poison(a.self)
		return
	}
	core, err := activation.NewFor(a.cfg.coreConfig(), a.id)
	if err != nil {
		panic(err) // props() validated the configuration
	}
	a.core = core
	a.step(activation.Start{})
}

// passivateIfMissing stops a cluster activation whose resource does not exist as soon as
// nothing is queued, instead of after IdleTimeout: each id that does not exist would otherwise
// keep an actor for minutes (and count against Config.MaxActive). The edge's unknown-resource
// cache (api/unknownresources.go) keeps repeated requests for such ids from activating
// again. A plain actor (PropsFor) is not re-activated by anyone, so it stays; nor does an
// activation stop before the command it was spawned for arrived.
func (a *resourceActor) passivateIfMissing(queued int) {
	if queued == 0 && a.virtual && a.asked && a.core != nil && a.core.Phase() == activation.Serving && a.core.Missing() {
		a.step(activation.Passivate{})
	}
}

// queued is the number of commands in the mailbox besides the one being handled (the mailbox
// counter still counts that one while the actor handles it).
func (a *resourceActor) queued() int {
	n := int(a.queue.n.Load())
	if a.handling {
		n--
	}
	return max(n, 0)
}

func (a *resourceActor) onCommand(m *protos.Command, sender *actor.PID) {
	if a.refused {
		a.refuse(sender)
		return
	}
	a.asked = true
	cmd := &activation.Command{Queued: a.queued()}
	if sender != nil {
		cmd.To = sender
	}
	if ms := m.GetDeadlineUnixMs(); ms != 0 {
		cmd.Deadline = time.UnixMilli(ms)
	}
	// The actor chooses ids, as it keeps the model free of randomness: a placed hold's, and a
	// waitlist entry's and the hold it becomes when units are offered to it.
	// One clock read for the ids and the step (two before: a read costs about 0.1 µs here, and
	// this goroutine is the resource's one; issue 17, round 13).
	now := a.cfg.Now()
	var ids newIDs
	switch {
	case m.GetPlaceHold() != nil:
		ids.hold = a.cfg.NewHoldID(now)
	case m.GetJoinWaitlist() != nil:
		ids.entry, ids.hold = a.cfg.NewHoldID(now), a.cfg.NewHoldID(now)
	}
	cmd.Op, cmd.Err = decodeCommand(m, a.id, ids)
	a.stepAt(now, cmd)
}

// step feeds the core one input, at the time of the one clock, and does what it asks.
func (a *resourceActor) step(in activation.Input) { a.stepAt(a.cfg.Now(), in) }

// stepAt is step at now, a time just read from the one clock.
func (a *resourceActor) stepAt(now time.Time, in activation.Input) {
	parked := a.core.Parked()
	if _, ok := in.(*activation.Command); ok {
		a.touched(now)
	}
	rd := a.core.Step(now, in)
	if d := a.core.Parked() - parked; d != 0 {
		a.cfg.Metrics.depth(float64(d))
	}
	if w := int32(a.core.Waiting()); w != a.waiting {
		a.cfg.Metrics.waitlistLength(float64(w - a.waiting))
		a.waiting = w
	}
	a.noteQuiet(a.core.Quiet())
	if len(rd.Replies) > 0 {
		// An answer can make its client ask at once for another resource, whose admission
		// under the cap may need this activation idle: publish whether it is before the
		// answers leave, not after them (the end of Receive publishes it again, with the
		// calls this step starts by then).
		a.noteBusy(a.queued(), rd.Renewal.ID != 0 || rd.Load.ID != 0)
	}
	for i := range rd.Replies {
		a.reply(&rd.Replies[i])
	}
	a.cfg.Metrics.noted(rd.Notes)
	if n := rd.Notes; n.Loaded && n.LeaseWait > 0 {
		a.logger().Info("activated after waiting for the previous lease", "resource", a.id, "waited", n.LeaseWait, "handed_over", n.HandedOver)
	}
	for _, c := range rd.Commits {
		a.startCommit(c)
	}
	if rd.Renewal.ID != 0 {
		a.startRenewal(rd.Renewal)
	}
	if rd.Load.ID != 0 {
		a.startLoad(rd.Load)
	}
	for _, l := range rd.Lookups {
		a.startLookup(l)
	}
	if rd.LeaseCheck.ID != 0 {
		a.startLeaseCheck(rd.LeaseCheck)
	}
	if rd.Release.Requested {
		a.releaseLease(rd.Release)
	}
	a.arm(rd.WakeAt)
	if rd.StopSelf {
		a.system.Root.Poison(a.self)
	}
	a.core.Done(a.queue.n.Load() == 0) // rd is not used from here on: it may be lent to another activation
}

// noteQuiet keeps the quiet-resources gauge at whether the core's state is packed.
func (a *resourceActor) noteQuiet(q bool) {
	if q == a.quiet {
		return
	}
	a.quiet = q
	if q {
		a.dropIO()
		a.cfg.Metrics.quieted(1)
	} else {
		a.cfg.Metrics.quieted(-1)
	}
}

func (a *resourceActor) reply(r *activation.Reply) {
	rep := replyProto(&r.Answer, a.cfg.RetryAfter)
	rep.Owner = a.cfg.Owner
	if rep.Error != nil {
		a.cfg.Metrics.rejected(rep.Error.Code)
	}
	if pid, _ := r.To.(*actor.PID); pid != nil {
		a.system.Root.Send(pid, rep)
	}
}

// arm keeps the actor's wake-up (the kind's one timer, wakeups.go) at the core's next one.
//
// The wake-up already armed is recognized by its wall clock reading alone: the core's
// wake-ups are its Origin plus an offset or model times (activation/instant.go), so two with
// one wall reading are one instant, but for a model time and a clock reading that happen to
// share it, where keeping the armed one costs a Tick at that instant (a Tick does what is
// due, and the core asks for its next wake-up again).
func (a *resourceActor) arm(at time.Time) {
	if at.IsZero() {
		a.disarm()
		return
	}
	n := at.UnixNano()
	if n == 0 {
		n = 1 // 0 is none
	}
	if n == a.timerAt {
		return
	}
	a.timerAt = n
	a.cfg.wakes.arm(a, at)
}

func (a *resourceActor) disarm() {
	if a.timerAt != 0 {
		a.cfg.wakes.disarm(a)
		a.timerAt = 0
	}
}

// onStopping lets the core flush what is pending, waiting for the store (bounded by
// CommitTimeout), so that a graceful stop loses no acknowledged change and leaves no command
// unanswered. No message arrives any more, so the shell waits for its store calls itself.
func (a *resourceActor) onStopping() {
	if a.core == nil {
		return
	}
	a.lifeContext()
	a.io.life.cancel() // lookups: what waits for them is answered when the stop ends
	a.step(activation.Stop{})
	for !a.core.Stopped() {
		switch {
		case a.io != nil && len(a.io.calls) > 0:
			// Every call ends within its timeout; their results go in in the order the calls
			// started (the core applies commit results in order anyway).
			calls := a.io.calls
			a.io.calls = nil
			a.io.wg.Wait()
			for _, call := range calls {
				a.finished(call)
			}
		case a.timerAt != 0: // a load waiting for the previous activation's lease (a wall clock time)
			at := time.Unix(0, a.timerAt)
			a.disarm()
			done := make(chan struct{})
			a.cfg.AfterFunc(max(at.Sub(a.cfg.Now()), time.Millisecond), func() { close(done) })
			<-done
			a.step(activation.Tick{})
		default:
			a.step(activation.Abort{}) // nothing left to wait for: cannot happen
		}
	}
}

// onStopped makes the mailbox answer the commands that protoactor would drop from now on.
func (a *resourceActor) onStopped() {
	if a.system != nil {
		reply := &protos.Reply{Error: errorProto(activation.ErrStopped, a.cfg.RetryAfter), Owner: a.cfg.Owner}
		if a.refused {
			reply = a.overCapReply()
		}
		a.queue.stopped.Store(&stoppedReply{system: a.system, reply: reply})
	}
	a.countOut()
	a.release()
	a.cfg.Metrics.waitlistLength(float64(-a.waiting)) // its entries wait in the store, for the next activation
	a.waiting = 0
	a.noteQuiet(false)
	// Drop the resource's state: a stopped actor can stay reachable. protoactor's PIDSet of a
	// parent's children (disthash's placement actor is the parent of every activation) does
	// not clear the slot of a removed child, and a PID caches its process, so up to the peak
	// number of activations stay pinned, and a passivated resource must not pin its holds.
	a.core, a.io = nil, nil
	a.uncache()
}

// uncache makes the actor's own PID forget its process, so that the PID left in the parent's
// PIDSet slot (see onStopped) pins a PID and no more: not the context, mailbox, dispatcher
// and actor behind it. protoactor has already removed the stopped actor from the process
// registry (and marked its process dead) when Stopped arrives, and a send through a PID whose
// cached process is dead clears the cache before it looks the registry up; the message then
// goes to dead letters, unlogged (IgnoreDeadLetterLogging). The PID in the parent's set is
// ctx.Self(): protoactor's spawner adds the very pointer it gives the actor. This is the way
// around protoactor-go's PIDSet.Remove not clearing the vacated slot (docs/ARCHITECTURE.md,
// "Memory per resource"); the unit test TestStoppedActorReleasesItsProcess checks it.
func (a *resourceActor) uncache() {
	if a.system != nil && a.self != nil {
		a.system.Root.Send(a.self, &wake{})
	}
}

// storeIO is what an actor keeps while it works with the store: most active resources are
// quiet most of the time, with nothing at the store, and these fields inline were 48 of the
// actor's 144 bytes (round 16, docs/PERFORMANCE.md).
type storeIO struct {
	calls []*storeCall // the commits, renewal and load at the store, in the order started
	// wg counts the goroutines of the calls and lookups started through this storeIO: each
	// captures the storeIO it was counted in, so a storeIO dropped and made again (dropIO)
	// is never waited for by one that did not count the goroutine.
	wg   sync.WaitGroup
	life *lifetime // cancelled when the actor stops: ends store lookups; nil until the first (lifeContext)
}

// lifetime is the context of an actor's store lookups and its cancel. It sits behind a
// pointer: most activations never look a hold up, and a cancellable context is a hundred
// bytes.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// storeIO returns the actor's storeIO, made on first use.
func (a *resourceActor) storeIO() *storeIO {
	if a.io == nil {
		a.io = new(storeIO)
	}
	return a.io
}

// calls are the store calls under way (none without a storeIO).
func (a *resourceActor) calls() []*storeCall {
	if a.io == nil {
		return nil
	}
	return a.io.calls
}

// dropIO forgets the storeIO of an actor whose core has just gone quiet, if nothing of it is
// under way: quiet means nothing at the store (activation/quiet.go), so every call's goroutine
// has told the actor its result (its callDone removed it from calls) and does nothing more but
// count itself done in the storeIO it captured. An actor that ever looked a hold up keeps its
// storeIO: a lookup the core stopped waiting for (its command's deadline) may still be at the
// store, and release must cancel and wait for it. Lookups are rare (a hold memory does not
// know), so quiet activations drop theirs.
func (a *resourceActor) dropIO() {
	if a.io != nil && len(a.io.calls) == 0 && a.io.life == nil {
		a.io = nil
	}
}

// lifeContext returns the context of the store lookups, made on first use.
func (a *resourceActor) lifeContext() context.Context {
	io := a.storeIO()
	if io.life == nil {
		ctx, cancel := context.WithCancel(context.Background())
		io.life = &lifetime{ctx: ctx, cancel: cancel}
	}
	return io.life.ctx
}

// release stops the actor's timer and goroutines.
func (a *resourceActor) release() {
	a.disarm()
	if a.io == nil {
		return
	}
	if a.io.life != nil {
		a.io.life.cancel()
	}
	a.io.wg.Wait()
}

// Messages the actor sends itself. They neither reset the idle timer nor get logged as dead
// letters when they arrive after the actor stopped.
type (
	callDone   struct{ call *storeCall }
	lookupDone struct{ result activation.LookupResult }
	wake       struct{}
	evict      struct{} // passivate under pressure, if idle (activecap.go)
)

func (*callDone) NotInfluenceReceiveTimeout()   {}
func (*lookupDone) NotInfluenceReceiveTimeout() {}
func (*wake) NotInfluenceReceiveTimeout()       {}
func (*callDone) IgnoreDeadLetterLogging()      {}
func (*lookupDone) IgnoreDeadLetterLogging()    {}
func (*wake) IgnoreDeadLetterLogging()          {}
func (*evict) NotInfluenceReceiveTimeout()      {}
func (*evict) IgnoreDeadLetterLogging()         {}

// tell delivers m to the actor from any goroutine.
func (a *resourceActor) tell(m any) { a.system.Root.Send(a.self, m) }
