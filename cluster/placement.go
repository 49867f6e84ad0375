package cluster

import (
	"log/slog"

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
// set), indexes them by PID id, and rebuilds its maps when they have emptied to a quarter of
// their peak. It learns of a termination from the ActivationTerminating that protoactor's
// cluster middleware publishes on the event stream when an activation stops (forwarded by
// identityLookup): watching each activation instead would give every one a watcher set, a Go
// map of its own (about 400 bytes per active resource). So a kind must be made with
// cluster.NewKind, which adds that middleware (protoactor's PID cache relies on it too); an
// activation of a kind without it would never be counted out.
//
// An activation request for an identity already active here is answered with its PID;
// otherwise the kind's props, with the cluster identity, are spawned under
// "partition-activator/<identity>$<n>" (a fresh id per activation, as disthash names them),
// counted in the kind (ActivatedKind.Inc/Dec: the member's activation count). A topology
// poisons the activations whose owner (rendezvous over the members hosting their kind) is
// no longer this member; stopping poisons all and waits for them.
type placementActor struct {
	c      *cluster.Cluster
	byKey  map[string]grain  // ClusterIdentity.AsKey() -> activation
	byPID  map[string]string // PID id -> ClusterIdentity.AsKey()
	peak   int               // most activations since the maps were last rebuilt
	logger *slog.Logger
}

// grain is one activation.
type grain struct {
	ci  *cluster.ClusterIdentity
	pid *actor.PID
}

// shrinkMin is the peak below which the maps are not rebuilt: their tables are small.
const shrinkMin = 1024

func newPlacementActor(c *cluster.Cluster) *placementActor {
	return &placementActor{c: c, byKey: map[string]grain{}, byPID: map[string]string{}, logger: c.Logger()}
}

// Receive implements actor.Actor.
func (p *placementActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ActivationRequest:
		p.activate(ctx, m)
	case *cluster.ActivationTerminating:
		p.terminated(m.Pid)
	case *cluster.ClusterTopology:
		p.topology(ctx, m)
	case *actor.Stopping:
		p.stopAll(ctx)
	}
}

func (p *placementActor) activate(ctx actor.Context, m *cluster.ActivationRequest) {
	ci := m.ClusterIdentity
	if ci == nil {
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
		return
	}
	key := ci.AsKey()
	if g, ok := p.byKey[key]; ok {
		ctx.Respond(&cluster.ActivationResponse{Pid: g.pid})
		return
	}
	kind, ok := p.c.TryGetClusterKind(ci.Kind)
	if !ok {
		p.logger.Error("activation of an unknown kind", slog.String("kind", ci.Kind))
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
		return
	}
	sys := ctx.ActorSystem()
	name := placementActorName + "/" + ci.Identity + sys.ProcessRegistry.NextId()
	pid, err := sys.Root.SpawnNamed(cluster.WithClusterIdentity(kind.Props, ci), name)
	if err != nil {
		p.logger.Error("activation failed", slog.String("kind", ci.Kind), slog.Any("error", err))
		ctx.Respond(&cluster.ActivationResponse{Failed: true})
		return
	}
	kind.Inc()
	p.byKey[key] = grain{ci: ci, pid: pid}
	p.byPID[pid.Id] = key
	p.peak = max(p.peak, len(p.byKey))
	ctx.Respond(&cluster.ActivationResponse{Pid: pid})
}

func (p *placementActor) terminated(who *actor.PID) {
	key, ok := p.byPID[who.Id]
	if !ok {
		return
	}
	g := p.byKey[key]
	delete(p.byPID, who.Id)
	delete(p.byKey, key)
	if kind, ok := p.c.TryGetClusterKind(g.ci.Kind); ok {
		kind.Dec()
	}
	// Go maps keep their tables when entries are deleted: rebuild them once they hold a
	// quarter of their peak, so that a passivation wave returns their memory (amortized O(1)
	// per termination).
	if p.peak >= shrinkMin && 4*len(p.byKey) < p.peak {
		p.byKey, p.byPID = cloneMap(p.byKey), cloneMap(p.byPID)
		p.peak = len(p.byKey)
	}
}

// topology poisons the activations this member no longer owns under the new topology; the
// next request re-activates them on their owner.
func (p *placementActor) topology(ctx actor.Context, t *cluster.ClusterTopology) {
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(t.Members)
	self := ctx.ActorSystem().Address()
	for _, g := range p.byKey {
		if rdv.GetByClusterIdentity(g.ci) != self {
			ctx.Poison(g.pid)
		}
	}
}

// stopAll poisons every activation and waits for each (protoactor bounds a wait at 10 s).
// Their Terminated would arrive after this actor stopped, so the ones that stopped are
// counted out here: the member's activation count reads zero once a graceful stop is done.
func (p *placementActor) stopAll(ctx actor.Context) {
	futures := make(map[string]*actor.Future, len(p.byKey))
	for key, g := range p.byKey {
		futures[key] = ctx.PoisonFuture(g.pid)
	}
	for key, f := range futures {
		if err := f.Wait(); err != nil {
			p.logger.Error("stopping an activation", slog.String("identity", key), slog.Any("error", err))
			continue
		}
		p.terminated(p.byKey[key].pid)
	}
}

func cloneMap[V any](m map[string]V) map[string]V {
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
