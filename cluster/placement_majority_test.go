package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
)

// A member in a minority refuses new activations but keeps answering for the ones it has; once
// it sees a majority again it holds activation requests for the handover, then activates
// (round 18: ownership settles after a partition heals).
func TestPlacementInMinorityAndHandover(t *testing.T) {
	cfg := testNodeConfig(t)
	cfg.HandoverGrace = 300 * time.Millisecond
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var majority atomic.Bool
	majority.Store(true)
	n.lookup.inMajority = majority.Load // before Start: the placement actor takes it at Setup
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	self := n.system.Address()
	act := func(id string) (time.Duration, error) {
		start := time.Now()
		_, err := activate(ctx, n.system, self, cluster.NewClusterIdentity(id, echoKindName), 5*time.Second, memberWatch{})
		return time.Since(start), err
	}
	if _, err := act("kept"); err != nil {
		t.Fatalf("activate in a majority: %v", err)
	}

	majority.Store(false)
	if _, err := act("new"); !errors.Is(err, errActivation) {
		t.Fatalf("new activation in a minority: %v, want refused", err)
	}
	if _, err := act("kept"); err != nil {
		t.Fatalf("an activation it has, in a minority: %v", err)
	}

	majority.Store(true)
	took, err := act("new")
	if err != nil {
		t.Fatalf("activation after the minority: %v", err)
	}
	if took < 250*time.Millisecond {
		t.Fatalf("activation after the minority answered in %v, want held for the %v handover", took, cfg.HandoverGrace)
	}
	if took, err := act("other"); err != nil || took > 200*time.Millisecond {
		t.Fatalf("activation after the handover: %v in %v, want at once", err, took)
	}
}

// A member asked to activate an identity it does not own in its own view (the asker's view is
// stale) activates it and answers, then poisons it foreignLife later, so that it does not keep
// its lease unasked (round 19: the race after a heal).
func TestPlacementPoisonsForeignActivations(t *testing.T) {
	n, err := NewNode(testNodeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	self := n.system.Address()
	// A topology with one more member, which owns some identities in this member's view.
	other := &cluster.Member{Id: "other", Host: "192.0.2.1", Port: 1, Kinds: []string{echoKindName}}
	var members []*cluster.Member
	for _, m := range n.c.MemberList.Members().Members() {
		members = append(members, m)
	}
	members = append(members, other)
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(members)
	var own, foreign string
	for i := 0; own == "" || foreign == ""; i++ {
		id := fmt.Sprintf("id%d", i)
		if rdv.GetByClusterIdentity(cluster.NewClusterIdentity(id, echoKindName)) == self {
			own = id
		} else {
			foreign = id
		}
	}
	n.system.Root.Send(n.lookup.placement, &cluster.ClusterTopology{Members: members})
	kind, _ := n.c.TryGetClusterKind(echoKindName)
	pids := map[string]string{}
	for _, id := range []string{own, foreign} {
		pid, err := activate(ctx, n.system, self, cluster.NewClusterIdentity(id, echoKindName), 5*time.Second, memberWatch{})
		if err != nil {
			t.Fatalf("activate %s: %v", id, err)
		}
		pids[id] = pid.Id
	}
	deadline := time.Now().Add(10 * time.Second)
	for kind.Count() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := kind.Count(); c != 1 {
		t.Fatalf("%d activations after the sweep, want 1 (the foreign one poisoned, the own one kept)", c)
	}
	for id, kept := range map[string]bool{own: true, foreign: false} {
		pid, err := activate(ctx, n.system, self, cluster.NewClusterIdentity(id, echoKindName), 5*time.Second, memberWatch{})
		if err != nil {
			t.Fatalf("activate %s again: %v", id, err)
		}
		if (pid.Id == pids[id]) != kept {
			t.Errorf("%s (kept %v): activation %s before the sweep, %s after", id, kept, pids[id], pid.Id)
		}
	}
}
