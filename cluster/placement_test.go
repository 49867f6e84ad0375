package cluster

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestPassivatedActivationIsUnreachable: once an activation stopped, nothing on its member
// keeps its PID (and so its id) reachable. disthash's placement actor spawned activations as
// its children, and protoactor's PIDSet of children keeps the vacated slot of a removed child:
// up to the peak number of activations stayed in memory after they passivated (found by the
// memory benchmark of `make bench`). It also checks that an identity activated again after
// passivating gets a fresh activation, and that the activation count returns to zero.
func TestPassivatedActivationIsUnreachable(t *testing.T) {
	n := MustNode(t, testNodeConfig(t))
	ctx := t.Context()
	self := n.system.Address()
	const count = 64
	gone := make([]weak.Pointer[actor.PID], 0, count)
	first := map[string]string{}
	for i := range count {
		ci := cluster.NewClusterIdentity(fmt.Sprintf("gone-%03d", i), echoKindName)
		pid, err := activate(ctx, n.system, self, ci, 5*time.Second, memberWatch{})
		if err != nil {
			t.Fatalf("activate %s: %v", ci.Identity, err)
		}
		first[ci.Identity] = pid.Id
		if _, err := n.system.Root.RequestFuture(pid, wrapperspb.String("stop"), 5*time.Second).Result(); err != nil {
			t.Fatalf("stop %s: %v", ci.Identity, err)
		}
		gone = append(gone, weak.Make(pid))
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return n.localActivations() == 0, fmt.Sprintf("%d activations", n.localActivations())
	})
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
	ci := cluster.NewClusterIdentity("gone-000", echoKindName)
	pid, err := activate(ctx, n.system, self, ci, 5*time.Second, memberWatch{})
	if err != nil {
		t.Fatalf("activate again: %v", err)
	}
	if pid.Id == first[ci.Identity] {
		t.Fatalf("re-activation reuses the passivated activation's id %s", pid.Id)
	}
	if got := n.localActivations(); got != 1 {
		t.Fatalf("activations after re-activating one: %d, want 1", got)
	}
}

// TestActivationsKnowTheirOwnIdentity: a kind's activations share one Props (the placement
// actor sets the identity of the one it spawns through a shared init, instead of a props clone
// per activation); each must still see its own cluster identity, whatever the order in which
// they were activated.
func TestActivationsKnowTheirOwnIdentity(t *testing.T) {
	n := MustNode(t, testNodeConfig(t))
	ctx := t.Context()
	self := n.system.Address()
	pids := map[string]*actor.PID{}
	for i := range 16 {
		ci := cluster.NewClusterIdentity(fmt.Sprintf("who-%02d", i), echoKindName)
		pid, err := activate(ctx, n.system, self, ci, 5*time.Second, memberWatch{})
		if err != nil {
			t.Fatalf("activate %s: %v", ci.Identity, err)
		}
		pids[ci.Identity] = pid
	}
	for id, pid := range pids {
		res, err := n.system.Root.RequestFuture(pid, wrapperspb.String("identity"), 5*time.Second).Result()
		if err != nil {
			t.Fatalf("ask %s: %v", id, err)
		}
		if got := res.(*wrapperspb.StringValue).GetValue(); got != id {
			t.Fatalf("activation of %s says it is %q", id, got)
		}
	}
}
