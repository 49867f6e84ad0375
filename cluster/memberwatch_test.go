package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
)

// TestWaitOnAMemberEndsWhenItLeaves: a request or an activation waiting for a member's
// answer ends as soon as a topology without that member arrives (a member that stopped or
// died answers nothing, and its messages are neither delivered nor dead-lettered), not at
// the request's deadline; a topology change that keeps the member does not end it.
func TestWaitOnAMemberEndsWhenItLeaves(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	silent, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "silent") // never answers
	if err != nil {
		t.Fatal(err)
	}
	member := func(id string, port int) *cluster.Member {
		return &cluster.Member{Id: id, Host: "10.0.0.1", Port: int32(port), Kinds: []string{"resource"}}
	}
	a, b := member("a", 1), member("b", 2)

	for _, wait := range []struct {
		name string
		run  func(context.Context, memberWatch) error
	}{
		{"reply", func(ctx context.Context, w memberWatch) error {
			_, err := requestReply(ctx, sys, silent, &cluster.ActivationRequest{}, nil, w)
			return err
		}},
		{"activation", func(ctx context.Context, w memberWatch) error {
			_, err := await(ctx, sys.Root.RequestFuture(silent, &cluster.ActivationRequest{}, time.Minute), w)
			return err
		}},
	} {
		t.Run(wait.name, func(t *testing.T) {
			l := newIdentityLookup(time.Second, nil)
			l.swapView(newTopologyView([]*cluster.Member{a, b}))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- wait.run(ctx, memberWatch{l: l, addr: b.Address()}) }()

			l.swapView(newTopologyView([]*cluster.Member{a, b, member("c", 3)})) // b stays
			select {
			case err := <-done:
				t.Fatalf("a change that kept the member ended the wait: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			l.swapView(newTopologyView([]*cluster.Member{a})) // b left
			select {
			case err := <-done:
				if !errors.Is(err, errMemberLeft) {
					t.Fatalf("wait ended with %v, want errMemberLeft", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the wait went on after the member left")
			}
			// A member already gone is not waited on at all.
			if err := wait.run(ctx, memberWatch{l: l, addr: b.Address()}); !errors.Is(err, errMemberLeft) {
				t.Fatalf("wait on a member gone already: %v", err)
			}
		})
	}
}
