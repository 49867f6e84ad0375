package resource

import (
	"reflect"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
)

// identifyAs returns an init that hands an activation its cluster identity as the placement
// actor does (cluster/placement.go, identified: the actor is a cluster.IdentifiedActor).
func identifyAs(id string, contexts chan<- actor.Context) func(actor.Context) {
	return func(ctx actor.Context) {
		ctx.Actor().(interface {
			ClusterIdentified(*cluster.ClusterIdentity)
		}).ClusterIdentified(cluster.NewClusterIdentity(id, KindName))
		if contexts != nil {
			contexts <- ctx
		}
	}
}

// TestClusterActivationHasNoContextExtras: an activation of the resource kind, spawned as the
// placement actor spawns it, gets no actor context "extras" from protoactor (children, watchers,
// stash, timers, an extensions slice: about 180 bytes per active resource), which any receiver
// middleware or context extension would make (Kind, props.go). It still serves commands.
func TestClusterActivationHasNoContextExtras(t *testing.T) {
	h := newHarness(t, MustSQLite(t))
	const id = "r-1"
	contexts := make(chan actor.Context, 1)
	pid := h.sys.Root.Spawn(Kind(h.cfg).Props.Clone(actor.WithOnInit(identifyAs(id, contexts))))
	t.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	h.create(pid, id, map[string]int64{"all": 10})
	mustOK(t, h.ask(pid, holdCmd(id, "k-1", "u", 1, "all")))
	ctx := <-contexts
	// protoactor's actorContext.extras: read by reflection (unexported), after the reply.
	extras := reflect.ValueOf(ctx).Elem().FieldByName("extras")
	if !extras.IsValid() {
		t.Fatal("protoactor's actor context has no field extras any more: adapt this test")
	}
	if !extras.IsNil() {
		t.Fatal("the activation's actor context made its extras")
	}
}

// TestRestartedClusterActivationKeepsItsIdentity: the identity the placement actor handed to
// an activation is the actor's, not its context's; after a panic, the fresh instance finds it
// where its predecessor left it (bequeath) and serves the same resource, as a virtual actor.
func TestRestartedClusterActivationKeepsItsIdentity(t *testing.T) {
	h := newHarness(t, MustSQLite(t))
	const id = "r-1"
	instances := make(chan *resourceActor, 2)
	p := props(h.cfg, "", func(cfg *Config, id string, q *mailboxCounter) actor.Actor {
		a := newActor(cfg, id, q)
		instances <- a
		return crashOnce{a}
	}).Clone(actor.WithOnInit(identifyAs(id, nil)))
	pid := h.sys.Root.Spawn(p)
	t.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	h.create(pid, id, map[string]int64{"all": 10})
	first := <-instances
	h.sys.Root.Send(pid, &crash{})
	mustOK(t, h.ask(pid, holdCmd(id, "k-1", "u", 1, "all")))
	second := <-instances
	if !first.virtual || !second.virtual || first.id != id || second.id != id {
		t.Fatalf("identities: first %q (virtual %v), after the restart %q (virtual %v); want %q, virtual", first.id, first.virtual, second.id, second.virtual, id)
	}
	if second.queue == nil || second.queue != first.queue {
		t.Fatalf("mailbox counters: first %p, after the restart %p; want the same", first.queue, second.queue)
	}
}
