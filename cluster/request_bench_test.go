package cluster

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// BenchmarkRequestLocal measures Node.Request to an activation this node owns, the hop every
// command of a one-node cluster takes, with a ctx that has a deadline as the edge's has.
func BenchmarkRequestLocal(b *testing.B) {
	n := MustNode(b, testNodeConfig(b))
	if got, err := ask(context.Background(), n, "a", "identity"); err != nil || got != "a" {
		b.Fatalf("identity: %q, %v", got, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := ask(ctx, n, "a", "x")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestWithinLocal is BenchmarkRequestLocal with the deadline passed as a timeout
// and a ctx without one, as the edge asks through cmd's dispatcher.
func BenchmarkRequestWithinLocal(b *testing.B) {
	n := MustNode(b, testNodeConfig(b))
	if got, err := ask(context.Background(), n, "a", "identity"); err != nil || got != "a" {
		b.Fatalf("identity: %q, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background()) // like an HTTP request's
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := n.RequestWithin(ctx, 5*time.Second, "a", echoKindName, wrapperspb.String("x")); err != nil {
			b.Fatal(err)
		}
	}
}
