package bus

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// fixedClaims is a RelayStore whose one claim is recs (then nothing); marks are recorded.
type fixedClaims struct {
	recs   []events.Record
	marked int
}

func (f *fixedClaims) ClaimEvents(context.Context, time.Time, time.Duration, int) ([]events.Record, error) {
	recs := f.recs
	f.recs = nil
	return recs, nil
}

func (f *fixedClaims) MarkPublished(_ context.Context, keys []persistence.EventKey, _ time.Time) error {
	f.marked += len(keys)
	return nil
}

func (f *fixedClaims) PruneEvents(context.Context, time.Time) (int64, error) { return 0, nil }

// dupScenario is what a relay restarted after kill -9 claims: its predecessor published p and
// d (d last) and marked neither; a, committed after d with an earlier time, comes between
// them in the log; b follows a in a's resource (r/2 after r/1).
func dupScenario(t *testing.T, b *Bus) []events.Record {
	t.Helper()
	at := time.UnixMilli(1_900_000_000_000)
	rec := func(rid string, v uint64, ms int) events.Record {
		r := events.Record{ResourceID: rid, Version: v, Type: events.HoldPlaced, OccurredAt: at.Add(time.Duration(ms) * time.Millisecond),
			Data: []byte(`{}`)}
		r.ID = events.ID(rid, v, 0)
		return r
	}
	p, a, d, bb := rec("q", 1, 1), rec("r", 1, 2), rec("q", 2, 3), rec("r", 2, 4)
	for _, r := range []events.Record{p, d} {
		if _, err := b.Publish(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
	}
	return []events.Record{p, a, d, bb}
}

// A window's chain (Nats-Expected-Last-Msg-Id) does not hold with duplicates in it: a refused
// (it names p, the last is d), d a duplicate, b names d, which is the last: b is stored before
// a. This is round 15's kill -9 reorder; the relay publishes one at a time until it is fresh.
func TestPublishWindowChainBreaksOnDuplicates(t *testing.T) {
	b := openBus(t)
	recs := dupScenario(t, b)
	dup := make([]bool, len(recs))
	n, err := b.PublishWindow(context.Background(), recs, dup)
	if err == nil || n != 1 {
		t.Fatalf("window over duplicates: %d stored, %v; want the chain refused at a", n, err)
	}
	if got := fmt.Sprint(storedIDs(t, b, 1)); got != "[q/1/0 q/2/0 r/2/0]" {
		t.Fatalf("stream %s: the scenario no longer shows the chain's limit", got)
	}
}

// A relay that just started publishes its claims one at a time (the events a killed
// predecessor published and did not mark are among them), so r's events keep their order.
func TestRelayPublishesOneAtATimeUntilFresh(t *testing.T) {
	b := openBus(t)
	store := &fixedClaims{recs: dupScenario(t, b)}
	cfg := DefaultRelayConfig()
	cfg.Store, cfg.Publisher, cfg.Windows = store, b, true
	r := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler), start: cfg.Now()} // as NewRelay makes it, not started
	if n, err := r.publishBatch(context.Background()); err != nil || n != 4 || store.marked != 4 {
		t.Fatalf("publishBatch: %d, %v, %d marked", n, err, store.marked)
	}
	if got := fmt.Sprint(storedIDs(t, b, 1)); got != "[q/1/0 q/2/0 r/1/0 r/2/0]" {
		t.Fatalf("stream %s, want r/1/0 before r/2/0", got)
	}
	if r.fresh {
		t.Fatal("fresh before a claim lease passed since the start")
	}
}

// With nothing to wait out (FreshAfter 0: SQLite), the first short claim published whole
// makes the relay fresh, and its next claims go as windows; a full claim does not.
func TestRelayFreshAfterAShortClaim(t *testing.T) {
	b := openBus(t)
	store := &fixedClaims{recs: dupScenario(t, b)}
	cfg := DefaultRelayConfig()
	cfg.Store, cfg.Publisher, cfg.Windows, cfg.FreshAfter, cfg.Batch = store, b, true, 0, 4
	r := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler), start: cfg.Now()}
	if _, err := r.publishBatch(context.Background()); err != nil || r.fresh {
		t.Fatalf("a full claim: %v, fresh %v; want not fresh (more may follow)", err, r.fresh)
	}
	store.recs = []events.Record{{ID: "s/1/0", ResourceID: "s", Version: 1, Type: events.HoldPlaced, Data: []byte(`{}`),
		OccurredAt: time.UnixMilli(1_900_000_000_100)}}
	if _, err := r.publishBatch(context.Background()); err != nil || !r.fresh {
		t.Fatalf("a short claim published whole: %v, fresh %v; want fresh", err, r.fresh)
	}
}
