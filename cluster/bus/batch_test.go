package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
)

// publishHolds commits n holds of rid to a fresh memstore and publishes their events; it
// returns the events' ids in stream order.
func publishHolds(t *testing.T, b *Bus, rid string, n int) []string {
	t.Helper()
	ms := memstore.New()
	ids := commitHolds(t, ms, rid, n)
	recs, _ := ms.ListEvents(context.Background(), persistence.EventFilter{})
	for i := range recs {
		if _, err := b.Publish(context.Background(), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// batchRecorder is a BatchHandler's log: the batches it got, calls per id, and done, which
// the handler closes (finish) when it has seen what the test waits for.
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]string
	calls   map[string]int
	done    chan struct{}
}

func (r *batchRecorder) record(recs []events.Record) {
	var ids []string
	for _, rec := range recs {
		ids = append(ids, rec.ID)
		r.calls[rec.ID]++
	}
	r.batches = append(r.batches, ids)
}

func (r *batchRecorder) finish() {
	select {
	case <-r.done:
	default:
		close(r.done)
	}
}

func (r *batchRecorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("batches %v", r.batches)
	}
}

// TestBatchConsumerPerEventOutcomes: batches are bounded by MaxBatch and keep stream order;
// the Inbox filters them; per-event outcomes (BatchErrors) ack, retry or dead-letter each
// event on its own.
func TestBatchConsumerPerEventOutcomes(t *testing.T) {
	b := openBus(t)
	ids := publishHolds(t, b, "r1", 6) // 7 events
	inbox := memstore.New()
	if err := inbox.MarkProcessed(context.Background(), "audit", ids[1], time.Now()); err != nil {
		t.Fatal(err)
	}
	dead := collectDeadLetters(t, b, "audit")
	r := &batchRecorder{calls: map[string]int{}, done: make(chan struct{})}
	sub, err := b.SubscribeBatch(context.Background(), ConsumerConfig{
		Name: "audit", Inbox: inbox, MaxDeliver: 3, MaxBatch: 3, Backoff: []time.Duration{10 * time.Millisecond},
	}, func(_ context.Context, recs []events.Record) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.record(recs)
		out := make(BatchErrors, len(recs))
		for i, rec := range recs {
			switch rec.ID {
			case ids[1]:
				t.Errorf("handler got %s, which the inbox holds", rec.ID)
			case ids[2]: // fails once
				if r.calls[rec.ID] == 1 {
					out[i] = errors.New("receiver down")
				}
			case ids[3]:
				out[i] = fmt.Errorf("bad payload: %w", ErrPermanent)
			}
		}
		if r.calls[ids[2]] == 2 && r.calls[ids[6]] == 1 {
			r.finish()
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t)
	if msg := dead(); msg.Headers().Get(HeaderDeliveries) != "1" {
		t.Fatalf("dead letter headers %v", msg.Headers())
	}
	sub.Stop()
	sub.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	var first []string // first deliveries, in order
	for _, batch := range r.batches {
		if len(batch) == 0 || len(batch) > 3 {
			t.Fatalf("batch of %d events, want 1..3: %v", len(batch), r.batches)
		}
		for _, id := range batch {
			if !slices.Contains(first, id) {
				first = append(first, id)
			}
		}
	}
	want := append([]string{ids[0]}, ids[2:]...)
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Fatalf("first deliveries %v, want %v", first, want)
	}
	if r.calls[ids[3]] != 1 {
		t.Fatalf("a permanent failure was delivered %d times", r.calls[ids[3]])
	}
	for _, id := range want {
		ok, _ := inbox.Processed(context.Background(), "audit", id)
		if ok != (id != ids[3]) {
			t.Fatalf("%s in the inbox: %v", id, ok)
		}
	}
}

// TestBatchConsumerWholeBatchError: an error that is not a BatchErrors redelivers every event
// of the batch, and each is then handled once more.
func TestBatchConsumerWholeBatchError(t *testing.T) {
	b := openBus(t)
	ids := publishHolds(t, b, "r2", 4) // 5 events
	r := &batchRecorder{calls: map[string]int{}, done: make(chan struct{})}
	acked := map[string]bool{}
	sub, err := b.SubscribeBatch(context.Background(), ConsumerConfig{
		Name: "rollup", MaxDeliver: 3, Backoff: []time.Duration{10 * time.Millisecond},
	}, func(_ context.Context, recs []events.Record) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.record(recs)
		if len(r.batches) == 1 {
			return errors.New("store unavailable")
		}
		for _, rec := range recs {
			acked[rec.ID] = true
		}
		if len(acked) == len(ids) {
			r.finish()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t)
	sub.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.batches[0] {
		if r.calls[id] != 2 {
			t.Fatalf("%s of the failed batch handled %d times, want 2: %v", id, r.calls[id], r.batches)
		}
	}
	total := 0
	for _, n := range r.calls {
		total += n
	}
	if total != len(ids)+len(r.batches[0]) {
		t.Fatalf("handled %d times in all, want %d: %v", total, len(ids)+len(r.batches[0]), r.batches)
	}
}

func TestSubscribeBatchValidates(t *testing.T) {
	b := openBus(t)
	h := func(context.Context, []events.Record) error { return nil }
	for _, cfg := range []ConsumerConfig{{}, {Name: "x", MaxBatch: -1}, {Name: "x", MaxBatch: 5000},
		{Name: "x", BatchInterval: -time.Second}, {Name: "x", BatchInterval: time.Hour}} {
		if _, err := b.SubscribeBatch(context.Background(), cfg, h); err == nil {
			t.Fatalf("SubscribeBatch(%+v) = nil error", cfg)
		}
	}
	if _, err := b.SubscribeBatch(context.Background(), ConsumerConfig{Name: "x"}, nil); err == nil {
		t.Fatal("nil handler accepted")
	}
}

// TestBatchIntervalPaces: with a BatchInterval, the events published while a batch is
// handled wait for the interval and then come in one batch, not one batch each.
func TestBatchIntervalPaces(t *testing.T) {
	b := openBus(t)
	const interval = 300 * time.Millisecond
	first := publishHolds(t, b, "r1", 0) // 1 event: resource.created
	r := &batchRecorder{calls: map[string]int{}, done: make(chan struct{})}
	var starts []time.Time
	more := make(chan struct{})
	sub, err := b.SubscribeBatch(context.Background(), ConsumerConfig{Name: "paced", BatchInterval: interval},
		func(_ context.Context, recs []events.Record) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.record(recs)
			starts = append(starts, time.Now())
			if len(r.batches) == 1 {
				close(more)
			}
			if len(r.calls) == len(first)+4 {
				r.finish()
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	<-more
	publishHolds(t, b, "r2", 3) // 4 events, published one by one after the first batch
	r.wait(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) != 2 || len(r.batches[1]) != 4 {
		t.Fatalf("batches %v, want the 4 later events in one", r.batches)
	}
	// The interval runs from a batch's first event, before the fetch of the rest and the
	// decoding, which the handler's clock does not see: its starts may be closer by that much
	// (5 ms once under load). Without pacing the later events come within milliseconds.
	if gap := starts[1].Sub(starts[0]); gap < interval*4/5 {
		t.Fatalf("second batch %s after the first, want about %s", gap, interval)
	}
}

// TestBatchIntervalSkippedAfterAFullBatch: a consumer that is behind takes batch after full
// batch without waiting for its BatchInterval (one minute here, which the test would not
// survive): pacing keeps batches large, and a full batch is as large as they get.
func TestBatchIntervalSkippedAfterAFullBatch(t *testing.T) {
	b := openBus(t)
	const maxBatch = 4
	ids := publishHolds(t, b, "r1", 3*maxBatch-1) // 3 full batches: resource.created and 11 holds
	r := &batchRecorder{calls: map[string]int{}, done: make(chan struct{})}
	sub, err := b.SubscribeBatch(context.Background(),
		ConsumerConfig{Name: "behind", BatchInterval: time.Minute, MaxBatch: maxBatch},
		func(_ context.Context, recs []events.Record) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.record(recs)
			if len(r.calls) == len(ids) {
				r.finish()
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	r.wait(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) != 3 {
		t.Fatalf("batches %v, want 3 of %d", r.batches, maxBatch)
	}
	if got := slices.Concat(r.batches...); !slices.Equal(got, ids) {
		t.Fatalf("events %v, want %v in stream order", got, ids)
	}
}
