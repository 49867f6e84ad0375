package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence/memstore"
)

// failingAfter publishes through p until n events went, then fails every publish.
type failingAfter struct {
	p Publisher
	n int
}

func (f *failingAfter) Publish(ctx context.Context, rec *events.Record) (bool, error) {
	if f.n == 0 {
		return false, errors.New("publish failed")
	}
	f.n--
	return f.p.Publish(ctx, rec)
}

// TestRelayLetsGoOfAPublishedClaim: a claim published and marked whole leaves nothing held
// (r.held nil, not an empty slice of the claim, which would keep the claim's records alive
// while the node is quiet), and a claim cut short by a failed publish keeps exactly its
// unpublished rest, in order, which the next pass publishes before claiming anew.
func TestRelayLetsGoOfAPublishedClaim(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	var want []string
	for i := range 3 {
		want = append(want, commitHolds(t, ms, fmt.Sprintf("rh%d", i), 2)...) // 3 events each
	}
	cfg := DefaultRelayConfig()
	fail := &failingAfter{p: b, n: 4}
	cfg.Store, cfg.Publisher, cfg.Batch = ms, fail, 6
	r := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler)} // not started: the test is its run goroutine
	ctx := context.Background()

	if _, err := r.publishBatch(ctx); err == nil {
		t.Fatal("the fifth publish failed, publishBatch did not say so")
	}
	if len(r.held) != 2 || r.held[0].ID != want[4] || r.held[1].ID != want[5] {
		t.Fatalf("held after a failed publish: %d events, want the claim's last 2 (%v)", len(r.held), want[4:6])
	}
	fail.n = len(want)
	if n, err := r.publishBatch(ctx); err != nil || n != cfg.Batch {
		t.Fatalf("the held events' pass: %d, %v", n, err)
	}
	if r.held != nil {
		t.Fatalf("held after its events were published: %d events, cap %d: want nil", len(r.held), cap(r.held))
	}
	if n, err := r.publishBatch(ctx); err != nil || n != 3 {
		t.Fatalf("the next claim: %d events, %v; want the last 3", n, err)
	}
	if r.held != nil {
		t.Fatalf("held after a claim was published whole: %d events, cap %d: want nil", len(r.held), cap(r.held))
	}
	if got := streamMsgs(t, b); got != uint64(len(want)) {
		t.Fatalf("stream holds %d events, want %d", got, len(want))
	}
}
