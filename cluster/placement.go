package cluster

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
)

// placementActorName is the name of the actor that activates this member's identities:
// disthash's, so that members speak the same ActivationRequest protocol to the same PID.
const placementActorName = disthash.PartitionActivatorActorName

// placementActor activates the identities this member owns: disthash's placement actor
// ("partition-activator") with the same protocol and ownership rule, rewritten so that a
// passivated activation leaves nothing behind.
//
// disthash's actor spawns every activation as its own child. protoactor-go keeps a parent's
// children in a PIDSet whose Remove does not clear the vacated slot of its slice, and neither
// the set's map nor disthash's map of activations ever shrinks, so after a peak of N
// activations all N PIDs (with their ids) and both maps' tables stay in memory for the
// process's life (about 360 bytes per activation of the peak, measured with 100,000). It
// also finds a terminated activation by scanning every activation, quadratic in a
// passivation wave. This actor instead spawns activations from the root context (no parent
// set), finds a stopped one by its identity, and rebuilds its map when it has emptied to a
// quarter of its peak. It learns of a termination from the ActivationTerminating that
// protoactor's cluster middleware publishes on the event stream when an activation stops
// (forwarded by identityLookup): watching each activation instead would give every one a
// watcher set, a Go map of its own (about 400 bytes per active resource). So a kind must be made with
// cluster.NewKind, which adds that middleware (protoactor's PID cache relies on it too), or
// its actors must be IdentifiedActors that announce their stop themselves; an activation of a
// kind with neither would never be counted out.
//
// An activation request for an identity already active here is answered with its PID;
// otherwise the kind's props, with the cluster identity (set by an init of props shared by the
// kind's activations, identified), are spawned under
// "partition-activator/<identity>$<n>" (a fresh id per activation, as disthash names them),
// counted in the kind (ActivatedKind.Inc/Dec: the member's activation count). A topology
// poisons the activations whose owner (rendezvous over the members hosting their kind) is
// no longer this member; stopping poisons all and waits for them.
//
// Ownership after a partition (docs/PERFORMANCE.md, round 18). A member that sees itself in a
// minority of the members it knows (Provider.inMajority false: cut off from its peers, which
// move its resources among themselves) activates nothing new: it could not keep a lease
// without fencing the majority's owner, which would fence it back, each waiting out the
// other's lease, for as long as the views differ. Its activations that are still current keep
// serving until the majority's owner fences them. When it sees a majority again (the
// partition healed) it holds activation requests for the handover before answering them: the
// members that own its resources meanwhile learn within a few gossip intervals that it is
// back and stop theirs gracefully (ending their leases), so ownership moves back once and
// without a lease wait. Safety never depends on this (epochs and leases fence every write and
// every answer from memory); it saves availability.
//
// Foreign activations (round 19). A member asked to activate an identity that it does not own
// in its own view (the asking member's view is stale: after a heal, the interim owner is
// asked by a member that has not yet learnt the returning owner is back) still activates it
// and answers (the asker's request is served), but poisons it foreignLife later if it is still
// not its own then: otherwise it would hold its lease, unasked (every request now goes to the
// owner) and never stopped (no topology change comes), and the owner's activation would wait
// that lease out (a whole lease, traced in round 19's settle runs). Stopped gracefully, it ends
// its lease, or hands it over to the owner's activation if that one fenced it already.
type placementActor struct {
	c      *cluster.Cluster
	active kindMaps // a map per kind, keyed by identity (kindmap.go)
	logger *slog.Logger
	// inMajority reports whether this member sees at least half of the members it knows
	// alive (Provider.inMajority); nil: always.
	inMajority func() bool
	handover   time.Duration
	// minority: this member saw itself in a minority at the last topology or activation
	// request, and refuses new activations. held are the activation requests waiting for
	// the handover after it left the minority; resume (a timer this actor owns) ends it.
	minority bool
	held     []heldActivation
	resume   *time.Timer
	// props holds, per kind, the kind's props with an init that gives the activation the
	// identity in spawning: one Props for all of a kind's activations. cluster.WithClusterIdentity
	// clones the props per activation instead, and an actor context keeps its props for
	// life (a Props and its middleware chains, about 300 bytes per active resource).
	// spawning is set only while this actor spawns an activation: protoactor runs a props'
	// inits within the spawn, on the spawning goroutine (DefaultSpawner, which every kind's
	// spawner ends in), and never again (a restart does not run them).
	props    map[string]*actor.Props
	spawning *cluster.ClusterIdentity
	// owners is the rendezvous of the last topology (nil before the first); sweep, a timer
	// this actor owns, poisons the foreign activations foreignLife after the first of them.
	owners *cluster.Rendezvous
	sweep  *time.Timer
}

// foreignLife is how long a foreign activation lives before it is poisoned (if it is still
// foreign): long enough to serve the stale asker's burst, short against a lease (4 s).
const foreignLife = 250 * time.Millisecond

// sweepForeign tells the placement actor to poison its foreign activations.
type sweepForeign struct{}

// identityKey is a cluster identity as a map key: the identity's own strings, so that an
// activation costs no key string of its own (ClusterIdentity.AsKey concatenates).
type identityKey struct{ kind, identity string }

func keyOf(ci *cluster.ClusterIdentity) identityKey {
	return identityKey{kind: ci.Kind, identity: ci.Identity}
}

// shrinkMin is the peak below which the map is not rebuilt: its table is small.
const shrinkMin = 1024

// heldActivation is an activation request held for the handover, and who asked.
type heldActivation struct {
	sender *actor.PID
	req    *cluster.ActivationRequest
}

// resumeActivations ends the handover: the held activation requests are answered.
type resumeActivations struct{}

func newPlacementActor(c *cluster.Cluster, inMajority func() bool, handover time.Duration) *placementActor {
	return &placementActor{c: c, logger: c.Logger(), inMajority: inMajority, handover: handover}
}

// Receive implements actor.Actor.
func (p *placementActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ActivationRequest:
		p.request(ctx, m)
	case resumeActivations:
		p.resumeHeld(ctx)
	case sweepForeign:
		p.sweep = nil
		p.poisonForeign(ctx)
	case *cluster.ActivationTerminating:
		if m.ClusterIdentity != nil && m.Pid != nil {
			p.terminated(keyOf(m.ClusterIdentity), m.Pid.Id)
		}
	case *cluster.ClusterTopology:
		p.topology(ctx, m)
	case *actor.Stopping:
		if p.resume != nil {
			p.resume.Stop()
		}
		if p.sweep != nil {
			p.sweep.Stop()
			p.sweep = nil
		}
		p.answerHeld(ctx, &cluster.ActivationResponse{Failed: true})
		p.stopAll(ctx)
	}
}

// request answers an activation request: with the identity's activation if it is active here;
// otherwise refused in a minority, held during a handover, activated then.
func (p *placementActor) request(ctx actor.Context, m *cluster.ActivationRequest) {
	if ci := m.ClusterIdentity; ci != nil {
		if pid, ok := p.active.get(ci.Kind, ci.Identity); ok {
			ctx.Respond(&cluster.ActivationResponse{Pid: pid})
			return
		}
	}
	p.checkMajority(ctx)
	switch {
	case p.minority:
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
	case p.resume != nil:
		p.held = append(p.held, heldActivation{sender: ctx.Sender(), req: m})
	default:
		ctx.Respond(p.activate(ctx, m))
	}
}

// checkMajority follows this member's standing: leaving a minority starts the handover. It
// runs at every topology and at every activation request (a peer's suspicion, which counts
// against a majority, changes no topology).
func (p *placementActor) checkMajority(ctx actor.Context) {
	if p.inMajority == nil {
		return
	}
	switch majority := p.inMajority(); {
	case !majority && !p.minority:
		p.minority = true
		p.logger.Warn("this member sees a minority of the members it knows: it activates nothing until it sees a majority",
			slog.Int("active", p.active.len()))
	case majority && p.minority:
		p.minority = false
		p.logger.Warn("this member sees a majority again: activations resume after the handover", slog.Duration("handover", p.handover))
		if p.handover > 0 && p.resume == nil {
			self, sys := ctx.Self(), ctx.ActorSystem()
			p.resume = time.AfterFunc(p.handover, func() { sys.Root.Send(self, resumeActivations{}) })
		}
	}
}

// resumeHeld ends the handover and answers the held requests (or refuses them, should this
// member be in a minority again).
func (p *placementActor) resumeHeld(ctx actor.Context) {
	p.resume = nil
	if p.minority {
		p.answerHeld(ctx, &cluster.ActivationResponse{Failed: true})
		return
	}
	held := p.held
	p.held = nil
	for _, h := range held {
		if h.sender != nil {
			ctx.Send(h.sender, p.activate(ctx, h.req))
		}
	}
}

func (p *placementActor) answerHeld(ctx actor.Context, res *cluster.ActivationResponse) {
	for _, h := range p.held {
		if h.sender != nil {
			ctx.Send(h.sender, res)
		}
	}
	p.held = nil
}

// activate returns the answer to an activation request: the identity's activation here,
// spawned if needed.
func (p *placementActor) activate(ctx actor.Context, m *cluster.ActivationRequest) *cluster.ActivationResponse {
	ci := m.ClusterIdentity
	if ci == nil {
		return &cluster.ActivationResponse{Failed: true}
	}
	if pid, ok := p.active.get(ci.Kind, ci.Identity); ok {
		return &cluster.ActivationResponse{Pid: pid}
	}
	kind, ok := p.c.TryGetClusterKind(ci.Kind)
	if !ok {
		p.logger.Error("activation of an unknown kind", slog.String("kind", ci.Kind))
		return &cluster.ActivationResponse{Failed: true}
	}
	sys := ctx.ActorSystem()
	const prefix = placementActorName + "/"
	name := prefix + ci.Identity + sys.ProcessRegistry.NextId()
	// The activation's identity, and its key here, are the bytes of its name (its PID's Id,
	// kept as long as it is active) and the kind's registered name: an activation then keeps
	// no string of the request that activated it (whose identity may be a slice of a larger
	// buffer, and its kind one more allocation per activation).
	ci = cluster.NewClusterIdentity(name[len(prefix):len(prefix)+len(ci.Identity)], kind.Kind)
	p.spawning = ci
	pid, err := sys.Root.SpawnNamed(p.identified(ci.Kind, kind.Props), name)
	p.spawning = nil
	if err != nil {
		p.logger.Error("activation failed", slog.String("kind", ci.Kind), slog.Any("error", err))
		return &cluster.ActivationResponse{Failed: true}
	}
	kind.Inc()
	p.active.set(ci.Kind, ci.Identity, pid)
	if p.owners != nil && p.sweep == nil && p.owners.GetByClusterIdentity(ci) != sys.Address() {
		self := ctx.Self()
		p.sweep = time.AfterFunc(foreignLife, func() { sys.Root.Send(self, sweepForeign{}) })
	}
	return &cluster.ActivationResponse{Pid: pid}
}

// IdentifiedActor is an activation that keeps its cluster identity itself: the placement actor
// hands it the identity within the spawn (before Started, on the placement actor's goroutine)
// instead of setting it in the actor context's extensions, which protoactor makes on first use
// (about 180 bytes per activation). Such a kind is made without cluster.NewKind's middleware
// (which reads the identity from the extensions), so the actor must, when it stops (on
// actor.Stopped), publish cluster.ActivationTerminating{Pid: self, ClusterIdentity: ci} on the
// actor system's event stream, which is how the placement actor counts it out, and remove its entry
// from the cluster's PID cache (resource.Kind does both).
type IdentifiedActor interface {
	ClusterIdentified(ci *cluster.ClusterIdentity)
}

// identified returns the props of kind that set the cluster identity of the activation being
// spawned (p.spawning), made once per kind.
func (p *placementActor) identified(kind string, props *actor.Props) *actor.Props {
	if ip, ok := p.props[kind]; ok {
		return ip
	}
	ip := props.Clone(actor.WithOnInit(func(ctx actor.Context) {
		if p.spawning == nil {
			return
		}
		if a, ok := ctx.Actor().(IdentifiedActor); ok {
			a.ClusterIdentified(p.spawning)
			return
		}
		cluster.SetClusterIdentity(ctx, p.spawning)
	}))
	if p.props == nil {
		p.props = map[string]*actor.Props{}
	}
	p.props[kind] = ip
	return ip
}

// terminated counts out the activation of key whose PID id is pidID, if it is still the one
// this actor knows (a stop event of an older activation of the identity changes nothing).
func (p *placementActor) terminated(key identityKey, pidID string) {
	pid, ok := p.active.get(key.kind, key.identity)
	if !ok || pid.Id != pidID {
		return
	}
	// Go maps keep their tables when entries are deleted: the kind's map is rebuilt once it
	// holds a quarter of its peak, so that a passivation wave returns its memory (amortized
	// O(1) per termination).
	p.active.delete(key.kind, key.identity, shrinkMin)
	if kind, ok := p.c.TryGetClusterKind(key.kind); ok {
		kind.Dec()
	}
}

// topology poisons the activations this member no longer owns under the new topology; the
// next request re-activates them on their owner.
func (p *placementActor) topology(ctx actor.Context, t *cluster.ClusterTopology) {
	defer p.checkMajority(ctx)
	p.owners = cluster.NewRendezvous()
	p.owners.UpdateMembers(t.Members)
	p.poisonForeign(ctx)
}

// poisonForeign poisons the activations whose owner under the last topology is not this
// member.
func (p *placementActor) poisonForeign(ctx actor.Context) {
	if p.owners == nil {
		return
	}
	self := ctx.ActorSystem().Address()
	for key, pid := range p.active.all() {
		if p.owners.GetByClusterIdentity(&cluster.ClusterIdentity{Kind: key.kind, Identity: key.identity}) != self {
			ctx.Poison(pid)
		}
	}
}

// stopAll poisons every activation and waits for each (protoactor bounds a wait at 10 s).
// Their Terminated would arrive after this actor stopped, so the ones that stopped are
// counted out here: the member's activation count reads zero once a graceful stop is done.
func (p *placementActor) stopAll(ctx actor.Context) {
	futures := make(map[identityKey]*actor.Future, p.active.len())
	for key, pid := range p.active.all() {
		futures[key] = ctx.PoisonFuture(pid)
	}
	for key, f := range futures {
		if err := f.Wait(); err != nil {
			p.logger.Error("stopping an activation", slog.String("kind", key.kind), slog.String("identity", key.identity), slog.Any("error", err))
			continue
		}
		if pid, ok := p.active.get(key.kind, key.identity); ok {
			p.terminated(key, pid.Id)
		}
	}
}

// rebuilt returns a copy of m in a table sized for its entries (maps.Clone may keep the
// original's table size).
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
