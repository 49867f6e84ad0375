package cluster

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/persistence/memstore"
)

// TestResourceKindIsCountedOutWhenItStops: the resource kind is made without protoactor's
// cluster middleware (resource.Kind: its actors keep their identity, handed over by the
// placement actor, and announce their own stop). A stopped activation must still be counted
// out by the placement actor, leave the PID cache, become unreachable, and its identity must
// get a fresh activation when asked again.
func TestResourceKindIsCountedOutWhenItStops(t *testing.T) {
	rcfg := resource.DefaultConfig()
	rcfg.Store = memstore.New()
	cfg := testNodeConfig(t)
	cfg.Kinds = append(cfg.Kinds, resource.Kind(rcfg))
	n := MustNode(t, cfg)
	ctx := t.Context()
	self := n.system.Address()
	const count = 16
	gone := make([]weak.Pointer[actor.PID], 0, count)
	first := map[string]string{}
	for i := range count {
		ci := cluster.NewClusterIdentity(fmt.Sprintf("room-%02d", i), resource.KindName)
		pid, err := activate(ctx, n.system, self, ci, 5*time.Second, memberWatch{})
		if err != nil {
			t.Fatalf("activate %s: %v", ci.Identity, err)
		}
		n.pids.set(ci.Identity, ci.Kind, pid)
		first[ci.Identity] = pid.Id
		if err := n.system.Root.PoisonFuture(pid).Wait(); err != nil {
			t.Fatalf("stop %s: %v", ci.Identity, err)
		}
		gone = append(gone, weak.Make(pid))
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.localActivations() == 0, fmt.Sprintf("%d activations", n.localActivations())
	})
	for id := range first {
		if pid, ok := n.pids.get(id, resource.KindName); ok {
			t.Fatalf("the PID cache still has %s's stopped activation %s", id, pid.Id)
		}
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		runtime.GC()
		alive := 0
		for _, w := range gone {
			if w.Value() != nil {
				alive++
			}
		}
		return alive == 0, fmt.Sprintf("%d of %d stopped activations' PIDs still reachable", alive, count)
	})
	ci := cluster.NewClusterIdentity("room-00", resource.KindName)
	pid, err := activate(ctx, n.system, self, ci, 5*time.Second, memberWatch{})
	if err != nil {
		t.Fatalf("activate again: %v", err)
	}
	if pid.Id == first[ci.Identity] {
		t.Fatalf("re-activation reuses the stopped activation's id %s", pid.Id)
	}
	if got := n.localActivations(); got != 1 {
		t.Fatalf("activations after re-activating one: %d, want 1", got)
	}
}
