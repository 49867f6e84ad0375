package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

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

// countingPublisher counts the publishes that reach p.
type countingPublisher struct {
	p Publisher
	n int
}

func (c *countingPublisher) Publish(ctx context.Context, rec *events.Record) (bool, error) {
	c.n++
	return c.p.Publish(ctx, rec)
}

// TestRelayMarksAgainWithoutRepublishing: events the stream acknowledged whose mark failed
// are marked again by the next pass and never published again (Relay.stored), so the
// duplicate window is not what keeps them single however long the mark keeps failing; the
// unpublished rest of the claim is published after them. A successor relay (the first one
// died before marking) republishes them, and the stream keeps one copy of each.
func TestRelayMarksAgainWithoutRepublishing(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	store := &crashyStore{Store: ms, crash: true}
	var want []string
	for i := range 2 {
		want = append(want, commitHolds(t, ms, fmt.Sprintf("rm%d", i), 2)...) // 3 events each
	}
	clk := newClock()
	cfg := DefaultRelayConfig()
	fail := &failingAfter{p: b, n: 4}
	count := &countingPublisher{p: fail}
	cfg.Store, cfg.Publisher, cfg.Now, cfg.Batch = store, count, clk.Now, len(want)
	r := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler), start: clk.Now()} // not started
	ctx := context.Background()

	// Four published, the fifth fails, and the mark of the four fails too.
	if _, err := r.publishBatch(ctx); err == nil {
		t.Fatal("publish and mark failed, publishBatch did not say so")
	}
	if len(r.held) != len(want) || r.stored != 4 || count.n != 5 {
		t.Fatalf("after the failed pass: %d held, %d stored, %d publishes; want %d, 4, 5", len(r.held), r.stored, count.n, len(want))
	}
	// The mark fails again: still nothing published twice.
	fail.n = len(want)
	if _, err := r.publishBatch(ctx); err == nil {
		t.Fatal("the mark failed, publishBatch did not say so")
	}
	if r.stored != len(want) || count.n != 5+2 {
		t.Fatalf("after the second failed mark: %d stored, %d publishes; want %d, 7", r.stored, count.n, len(want))
	}
	store.setCrash(false)
	if n, err := r.publishBatch(ctx); err != nil || n != cfg.Batch {
		t.Fatalf("the held events' pass: %d, %v", n, err)
	}
	if count.n != 7 || r.held != nil || r.stored != 0 {
		t.Fatalf("after the mark: %d publishes, %d held, %d stored; want 7, 0, 0", count.n, len(r.held), r.stored)
	}
	if pub, dups, _ := r.Stats(); pub != int64(len(want)) || dups != 0 {
		t.Fatalf("stats: published %d, duplicates %d; want %d, 0", pub, dups, len(want))
	}
	if got := streamMsgs(t, b); got != uint64(len(want)) {
		t.Fatalf("stream holds %d events, want %d", got, len(want))
	}

	// A relay that dies before marking: its successor claims the events once the lease is
	// over and republishes them; the stream answers duplicates and keeps one copy.
	more := commitHolds(t, ms, "rm-next", 1) // 2 events
	store.setCrash(true)
	if _, err := r.publishBatch(ctx); err == nil {
		t.Fatal("the mark failed, publishBatch did not say so")
	}
	store.setCrash(false)
	clk.advance(cfg.ClaimLease + time.Second)
	next := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler), start: clk.Now()}
	if n, err := next.publishBatch(ctx); err != nil || n != len(more) {
		t.Fatalf("the successor's claim: %d, %v; want %d", n, err, len(more))
	}
	if _, dups, _ := next.Stats(); dups != int64(len(more)) {
		t.Fatalf("the successor's duplicates: %d, want %d", dups, len(more))
	}
	if got := streamMsgs(t, b); got != uint64(len(want)+len(more)) {
		t.Fatalf("stream holds %d events, want %d", got, len(want)+len(more))
	}
}
