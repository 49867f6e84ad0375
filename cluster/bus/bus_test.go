package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
)

// clock is the relay's injected clock; poll fires the poll timer.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	poll chan time.Time
}

func newClock() *clock {
	return &clock{now: time.UnixMilli(1_900_000_000_000).UTC(), poll: make(chan time.Time)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) After(time.Duration) <-chan time.Time { return c.poll }

func openBus(t *testing.T) *Bus {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// commitHolds creates resource rid and commits n holds, one per batch, each with its
// hold.placed event; it returns the events' ids in order.
func commitHolds(t *testing.T, s persistence.Store, rid string, n int) []string {
	t.Helper()
	at := time.UnixMilli(1_900_000_000_000).UTC()
	res := booking.Resource{ID: rid, Name: rid, HoldTTL: time.Hour, CreatedAt: at, UpdatedAt: at}
	buckets := []booking.Bucket{{Key: "a", Capacity: int64(n)}}
	ctx := context.Background()
	if err := s.Commit(ctx, &persistence.Batch{ResourceID: rid, Version: 1, Create: true, Resource: res, Buckets: buckets,
		Events: []events.Event{{Type: events.ResourceCreated, ResourceID: rid, Version: 1, OccurredAt: at, Resource: &res, Buckets: buckets}}}); err != nil {
		t.Fatal(err)
	}
	ids := []string{events.ID(rid, 1, 0)}
	for i := range n {
		h := booking.Hold{ID: fmt.Sprintf("%s-h%d", rid, i), ResourceID: rid, UserID: "u", Buckets: []string{"a"}, Quantity: 1,
			Status: booking.StatusHeld, CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
		v := uint64(i + 2)
		if err := s.Commit(ctx, &persistence.Batch{ResourceID: rid, Epoch: 1, Version: v, Resource: res, Holds: []booking.Hold{h},
			Events: []events.Event{{Type: events.HoldPlaced, ResourceID: rid, Version: v, OccurredAt: at, Subject: "u", Hold: &h}}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, events.ID(rid, v, 0))
	}
	return ids
}

// collect subscribes an ephemeral consumer from the start of the stream and returns a
// function that waits for n events (or fails the test after a generous timeout).
func collect(t *testing.T, b *Bus, cfg ConsumerConfig) func(n int) []events.Record {
	t.Helper()
	ch := make(chan events.Record, 1000)
	if cfg.DeliverFrom.IsZero() {
		cfg.DeliverFrom = time.Unix(1, 0)
	}
	sub, err := b.Subscribe(context.Background(), cfg, func(_ context.Context, r events.Record) error {
		ch <- r
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(sub.Stop)
	return func(n int) []events.Record {
		t.Helper()
		var out []events.Record
		timeout := time.After(30 * time.Second)
		for len(out) < n {
			select {
			case r := <-ch:
				out = append(out, r)
			case <-timeout:
				t.Fatalf("received %d events, want %d", len(out), n)
			}
		}
		return out
	}
}

func streamMsgs(t *testing.T, b *Bus) uint64 {
	t.Helper()
	st, err := b.JetStream().Stream(context.Background(), EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// crashyStore fails MarkPublished while crash is set: a relay that published and died before
// marking. Each failed call is sent on failed (buffered) when it is not nil.
type crashyStore struct {
	*memstore.Store
	mu     sync.Mutex
	crash  bool
	failed chan struct{}
}

func (c *crashyStore) MarkPublished(ctx context.Context, ids []persistence.EventKey, at time.Time) error {
	c.mu.Lock()
	crash := c.crash
	c.mu.Unlock()
	if crash {
		if c.failed != nil {
			select {
			case c.failed <- struct{}{}:
			default:
			}
		}
		return errors.New("crashed before marking")
	}
	return c.Store.MarkPublished(ctx, ids, at)
}

func (c *crashyStore) setCrash(v bool) {
	c.mu.Lock()
	c.crash = v
	c.mu.Unlock()
}

func TestRelayPublishesAndMarksAgainAfterAFailedMark(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	store := &crashyStore{Store: ms, crash: true, failed: make(chan struct{}, 1)}
	want := commitHolds(t, ms, "hotel.1", 5) // a '.' in the id: escaped in the subject
	clk := newClock()
	cfg := DefaultRelayConfig()
	cfg.Store, cfg.Publisher, cfg.Now, cfg.After, cfg.Batch = store, b, clk.Now, clk.After, 4
	cfg.Metrics, cfg.BacklogEvery = NewRelayMetrics(prometheus.NewRegistry()), time.Second
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	next := collect(t, b, ConsumerConfig{ResourceID: "hotel.1"})

	// The relay publishes its first claim (its first pass runs at start) but "crashes"
	// before marking it: the pass stops there.
	got := next(cfg.Batch)
	// The consumer may see the claim before the relay tries to mark it: the crash ends only
	// once the mark failed.
	select {
	case <-store.failed:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not try to mark its first claim")
	}
	// The first pass counts the backlog after it failed: every event still unpublished. Wait
	// for it before the clock moves: the pass reads the clock to decide whether to count, so
	// an advance before that read would make it the second pass's time too, and the second
	// pass would not count again; and read it before the next wake-up, whose pass sets it to 0.
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(cfg.Metrics.backlog) != float64(len(want)); {
		if time.Now().After(deadline) {
			t.Fatalf("backlog after the failed pass: %v, want %d", testutil.ToFloat64(cfg.Metrics.backlog), len(want))
		}
		time.Sleep(time.Millisecond)
	}
	// The relay holds what it could not mark and marks it first at its next wake-up, without
	// publishing it again (the stream acknowledged it); the rest follows in the same pass.
	store.setCrash(false)
	clk.advance(cfg.ClaimLease + time.Second)
	clk.poll <- clk.Now()
	got = append(got, next(len(want)-cfg.Batch)...)
	for i, rec := range got {
		if rec.ID != want[i] {
			t.Fatalf("event %d is %s, want %s (in version order)", i, rec.ID, want[i])
		}
	}
	if got[1].Subject != "u" || got[1].Type != events.HoldPlaced || len(got[1].Data) == 0 {
		t.Fatalf("event %+v", got[1])
	}
	clk.poll <- clk.Now() // the second wake-up starts after the first pass ended
	if pub, dups, _ := r.Stats(); dups != 0 || pub != int64(len(want)) {
		t.Fatalf("published %d, duplicates %d; want %d, 0 (the claim marked again, not republished)", pub, dups, len(want))
	}
	m := cfg.Metrics
	if p, d, h := testutil.ToFloat64(m.published), testutil.ToFloat64(m.republished), testutil.ToFloat64(m.held); p != float64(len(want)) || d != 0 || h != 0 {
		t.Fatalf("metrics: published %v, republished %v, held %v; want %d, 0, 0", p, d, h, len(want))
	}
	if n := testutil.ToFloat64(m.backlog); n != 0 {
		t.Fatalf("backlog after the second pass: %v, want 0", n)
	}
	if n := testutil.CollectAndCount(m.lag); n != 1 {
		t.Fatalf("lag histogram: %d series", n)
	}
	if n := streamMsgs(t, b); n != uint64(len(want)) {
		t.Fatalf("stream holds %d messages, want %d", n, len(want))
	}
	recs, _ := ms.ClaimEvents(context.Background(), clk.Now().Add(time.Hour), time.Minute, 100)
	if len(recs) != 0 {
		t.Fatalf("events left unpublished: %d", len(recs))
	}

	// A nudge publishes a new commit without waiting for the poll.
	more := commitHoldsFrom(t, ms, "hotel.1", 7)
	r.Nudge()
	if got := next(1); got[0].ID != more {
		t.Fatalf("after the nudge: %s, want %s", got[0].ID, more)
	}

	// Published events are pruned after the retention.
	clk.advance(cfg.Retention + cfg.PruneEvery + time.Hour)
	clk.poll <- clk.Now()
	clk.poll <- clk.Now()
	if _, _, pruned := r.Stats(); pruned != int64(len(want)+1) {
		t.Fatalf("pruned %d, want %d", pruned, len(want)+1)
	}
	r.Close(context.Background())
	r.Close(context.Background()) // safe twice
}

// commitHoldsFrom commits one more hold of rid as version v and returns its event id.
func commitHoldsFrom(t *testing.T, s *memstore.Store, rid string, v uint64) string {
	t.Helper()
	at := time.UnixMilli(1_900_000_000_000).UTC()
	res := booking.Resource{ID: rid, Name: rid, HoldTTL: time.Hour, CreatedAt: at, UpdatedAt: at}
	h := booking.Hold{ID: fmt.Sprintf("%s-v%d", rid, v), ResourceID: rid, UserID: "u", Buckets: []string{"a"}, Quantity: 1,
		Status: booking.StatusHeld, CreatedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
	if err := s.Commit(context.Background(), &persistence.Batch{ResourceID: rid, Epoch: 1, Version: v, Resource: res, Holds: []booking.Hold{h},
		Events: []events.Event{{Type: events.HoldPlaced, ResourceID: rid, Version: v, OccurredAt: at, Subject: "u", Hold: &h}}}); err != nil {
		t.Fatal(err)
	}
	return events.ID(rid, v, 0)
}

func TestDurableConsumerRetriesDeadLettersAndDeduplicates(t *testing.T) {
	b := openBus(t)
	inbox := memstore.New()
	ms := memstore.New()
	ids := commitHolds(t, ms, "r1", 3) // r1/1/0 created, r1/2/0 .. r1/4/0 placed
	recs, _ := ms.ListEvents(context.Background(), persistence.EventFilter{})
	for i := range recs {
		if _, err := b.Publish(context.Background(), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// r1/2/0 was handled before (a crash between its effect and its ack).
	if err := inbox.MarkProcessed(context.Background(), "audit", ids[1], time.Now()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	dead := collectDeadLetters(t, b, "audit")
	sub, err := b.Subscribe(context.Background(), ConsumerConfig{
		Name: "audit", Inbox: inbox, MaxDeliver: 3, Backoff: []time.Duration{10 * time.Millisecond},
	}, func(_ context.Context, r events.Record) error {
		mu.Lock()
		defer mu.Unlock()
		calls[r.ID]++
		switch r.ID {
		case ids[2]: // fails once, then succeeds
			if calls[r.ID] == 1 {
				return errors.New("receiver down")
			}
		case ids[3]: // never succeeds
			return fmt.Errorf("bad payload: %w", ErrPermanent)
		case ids[0]:
		default:
			t.Errorf("handler called for %s, which the inbox holds", r.ID)
		}
		if calls[ids[0]] == 1 && calls[ids[2]] == 2 {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("handler calls %v", calls)
	}
	msg := dead()
	if msg.Headers().Get(HeaderConsumer) != "audit" || msg.Headers().Get(HeaderDeliveries) != "1" {
		t.Fatalf("dead letter headers %v", msg.Headers())
	}
	sub.Stop()
	sub.Stop()
	mu.Lock()
	defer mu.Unlock()
	if calls[ids[3]] != 1 {
		t.Fatalf("a permanent failure was delivered %d times", calls[ids[3]])
	}
	for _, id := range []string{ids[0], ids[2]} {
		if ok, _ := inbox.Processed(context.Background(), "audit", id); !ok {
			t.Fatalf("%s not in the inbox", id)
		}
	}
}

// collectDeadLetters returns a function waiting for the next dead letter of consumer.
func collectDeadLetters(t *testing.T, b *Bus, consumer string) func() jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	cons, err := b.JetStream().CreateConsumer(ctx, DeadLetterStream, jetstream.ConsumerConfig{
		FilterSubject: DeadLetterSubject(consumer), AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		t.Fatal(err)
	}
	return func() jetstream.Msg {
		t.Helper()
		msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("no dead letter: %v", err)
		}
		return msg
	}
}

func TestSubscribeFiltersAndValidates(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	commitHolds(t, ms, "a", 2)
	commitHolds(t, ms, "b", 1)
	recs, _ := ms.ListEvents(context.Background(), persistence.EventFilter{})
	next := collect(t, b, ConsumerConfig{Types: []events.Type{events.HoldPlaced}, ResourceID: "a"})
	for i := range recs {
		if _, err := b.Publish(context.Background(), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Published again: the stream deduplicates by id.
	if dup, err := b.Publish(context.Background(), &recs[0]); err != nil || !dup {
		t.Fatalf("republish: duplicate %v, %v", dup, err)
	}
	got := next(2)
	if got[0].ID != "a/2/0" || got[1].ID != "a/3/0" {
		t.Fatalf("filtered events %s %s", got[0].ID, got[1].ID)
	}
	for _, bad := range []ConsumerConfig{{Name: "has space"}, {Types: []events.Type{"nope"}}, {Inbox: ms}} {
		if _, err := b.Subscribe(context.Background(), bad, func(context.Context, events.Record) error { return nil }); err == nil {
			t.Errorf("Subscribe(%+v) accepted", bad)
		}
	}
	b.Close()
	b.Close()
	if _, err := b.Subscribe(context.Background(), ConsumerConfig{}, func(context.Context, events.Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

// TestEphemeralConsumerNotListeningDropsUnread: while Listening reports false, an ephemeral
// consumer's messages are dropped before the handler (and before decoding); once it reports
// true the handler gets the events that arrive from then on.
func TestEphemeralConsumerNotListeningDropsUnread(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	commitHolds(t, ms, "a", 2)
	commitHolds(t, ms, "b", 1)
	recs, _ := ms.ListEvents(context.Background(), persistence.EventFilter{})
	var listening atomic.Bool
	asked := make(chan struct{}, 100)
	next := collect(t, b, ConsumerConfig{Listening: func() bool {
		asked <- struct{}{}
		return listening.Load()
	}})
	publish := func(rid string) (n int) {
		for i := range recs {
			if recs[i].ResourceID == rid {
				if _, err := b.Publish(context.Background(), &recs[i]); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
		return n
	}
	for range publish("a") { // each message asked about, and dropped
		select {
		case <-asked:
		case <-time.After(30 * time.Second):
			t.Fatal("Listening was not asked for every message")
		}
	}
	listening.Store(true)
	got := next(publish("b"))
	if got[0].ID != "b/1/0" || got[1].ID != "b/2/0" {
		t.Fatalf("after listening: %s %s, want b's events only", got[0].ID, got[1].ID)
	}
	if _, err := b.Subscribe(context.Background(), ConsumerConfig{Name: "durable", Listening: listening.Load},
		func(context.Context, events.Record) error { return nil }); err == nil {
		t.Fatal("a durable consumer with Listening was accepted")
	}
}
