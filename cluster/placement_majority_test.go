package cluster

import (
	"context"
	"errors"
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
