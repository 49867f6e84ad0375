package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence/memstore"
)

// storedIDs returns the message ids of the events stream from sequence from on, in stream order.
func storedIDs(t *testing.T, b *Bus, from uint64) []string {
	t.Helper()
	ctx := context.Background()
	st, err := b.JetStream().Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := max(from, info.State.FirstSeq); info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, m.Header.Get(jetstream.MsgIDHeader))
	}
	return out
}

func setMaxMsgSize(t *testing.T, b *Bus, size int32) {
	t.Helper()
	ctx := context.Background()
	st, err := b.JetStream().Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgSize = size
	if _, err := b.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestPublishWindowKeepsThePrefixRule (randomized, fixed seeds): windows of events of a few
// resources, some of which the stream refuses (too large), and republishes of what is stored.
// After every window: PublishWindow reports exactly the records before the first refused one
// as stored, the stream holds every event published so far once, in the order of the records
// (so each resource's events in version order), and the duplicate flags are exactly the
// republished ones. A window cut short is then republished from its first unstored record,
// as the relay does.
func TestPublishWindowKeepsThePrefixRule(t *testing.T) {
	b := openBus(t)
	if b.ns == nil {
		t.Fatal("no embedded server")
	}
	setMaxMsgSize(t, b, 1024)
	ctx := context.Background()
	at := time.UnixMilli(1_900_000_000_000).UTC()
	var from uint64 = 1
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 17))
		n := 2 + rng.IntN(60)
		version := map[string]uint64{}
		recs := make([]events.Record, n)
		big := map[int]bool{}
		for i := range recs {
			rid := fmt.Sprintf("s%d-r%d", seed, rng.IntN(3))
			version[rid]++
			recs[i] = events.Record{ID: events.ID(rid, version[rid], 0), Type: events.HoldPlaced, ResourceID: rid,
				Version: version[rid], OccurredAt: at, Data: json.RawMessage(`{"i":1}`)}
			if rng.IntN(8) == 0 {
				big[i] = true // refused by the stream until "fixed" below
				recs[i].Data = json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)
			}
		}
		stored := 0 // recs[:stored] are in the stream
		for passes := 0; stored < n; passes++ {
			if passes > 2*n+4 {
				t.Fatalf("seed %d: no progress after %d passes", seed, passes)
			}
			start := stored
			if stored > 0 && rng.IntN(3) == 0 {
				start = rng.IntN(stored) // a republish of stored records first
			}
			window := recs[start:]
			dup := make([]bool, len(window))
			got, err := b.PublishWindow(ctx, window, dup)
			want := len(window)
			for i := range window {
				if big[start+i] {
					want = i
					break
				}
			}
			if got != want || (err == nil) != (want == len(window)) {
				t.Fatalf("seed %d, window from %d: stored %d, %v; want %d", seed, start, got, err, want)
			}
			for i := range got {
				if dup[i] != (start+i < stored) {
					t.Fatalf("seed %d: record %d duplicate %v, stored before: %v", seed, start+i, dup[i], start+i < stored)
				}
			}
			stored = start + got
			ids := storedIDs(t, b, from)
			if len(ids) != stored {
				t.Fatalf("seed %d: the stream holds %d of this seed's events, want %d (%v)", seed, len(ids), stored, ids)
			}
			for i, id := range ids {
				if id != recs[i].ID {
					t.Fatalf("seed %d: stream position %d is %s, want %s", seed, i, id, recs[i].ID)
				}
			}
			if stored < n { // the relay's retry: the refused record goes out next, now storable
				delete(big, stored)
				recs[stored].Data = json.RawMessage(`{"i":2}`)
			}
		}
		from += uint64(n)
	}
}

// TestPublishWindowValidates: fewer duplicate flags than records is an error, nothing published.
func TestPublishWindowValidates(t *testing.T) {
	b := openBus(t)
	recs := []events.Record{{ID: events.ID("v1", 1, 0), Type: events.HoldPlaced, ResourceID: "v1", Version: 1}}
	if n, err := b.PublishWindow(context.Background(), recs, nil); n != 0 || err == nil {
		t.Fatalf("no flags: %d, %v", n, err)
	}
	if got := streamMsgs(t, b); got != 0 {
		t.Fatalf("stream holds %d", got)
	}
}

// windowFailingAfter publishes windows through b until n events went, then stores nothing
// more: each window is cut where the budget ends, with an error. Held events are published
// one at a time (Relay.fresh), which it counts.
type windowFailingAfter struct {
	b    *Bus
	n    int
	ones int
}

func (f *windowFailingAfter) Publish(ctx context.Context, rec *events.Record) (bool, error) {
	if f.n == 0 {
		return false, errors.New("publish failed")
	}
	f.n--
	f.ones++
	return f.b.Publish(ctx, rec)
}

func (f *windowFailingAfter) PublishWindow(ctx context.Context, recs []events.Record, dup []bool) (int, error) {
	take := min(f.n, len(recs))
	n, err := f.b.PublishWindow(ctx, recs[:take], dup)
	f.n -= n
	if err == nil && take < len(recs) {
		err = errors.New("publish failed")
	}
	return n, err
}

// TestRelayHoldsTheRestOfAWindow: a window cut short marks exactly its stored prefix and keeps
// the rest held, in order, which the next pass publishes (the stored prefix again is not: it
// is marked); every event ends up in the stream once, in claim order.
func TestRelayHoldsTheRestOfAWindow(t *testing.T) {
	b := openBus(t)
	ms := memstore.New()
	var want []string
	for i := range 3 {
		want = append(want, commitHolds(t, ms, fmt.Sprintf("wh%d", i), 2)...) // 3 events each
	}
	cfg := DefaultRelayConfig()
	pub := &windowFailingAfter{b: b, n: 4}
	cfg.Store, cfg.Publisher, cfg.Batch, cfg.Windows = ms, pub, 6, true
	r := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler), fresh: true} // not started: the test is its run goroutine
	ctx := context.Background()

	if _, err := r.publishBatch(ctx); err == nil {
		t.Fatal("the window was cut after 4 events, publishBatch did not say so")
	}
	if len(r.held) != 2 || r.held[0].ID != want[4] || r.held[1].ID != want[5] {
		t.Fatalf("held after a cut window: %d events, want the claim's last 2 (%v)", len(r.held), want[4:6])
	}
	pub.n = len(want)
	if n, err := r.publishBatch(ctx); err != nil || n != cfg.Batch || r.held != nil || pub.ones != 2 {
		t.Fatalf("the held events' pass: %d, %v, %d held, %d published one at a time (want 2: held events "+
			"may be in the stream already, and a window's chain holds only without duplicates)", n, err, len(r.held), pub.ones)
	}
	if n, err := r.publishBatch(ctx); err != nil || n != 3 || r.held != nil {
		t.Fatalf("the next claim: %d events, %v, %d held; want the last 3", n, err, len(r.held))
	}
	if got := storedIDs(t, b, 1); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stream %v, want %v", got, want)
	}
	if published, dups, _ := r.Stats(); published != int64(len(want)) || dups != 0 {
		t.Fatalf("stats: published %d, duplicates %d; want %d, 0", published, dups, len(want))
	}
}

// liar stores a prefix without saying why: the relay must not take it for a whole window.
type liar struct{ n int }

func (l liar) Publish(context.Context, *events.Record) (bool, error) { return false, nil }
func (l liar) PublishWindow(_ context.Context, recs []events.Record, _ []bool) (int, error) {
	return min(l.n, len(recs)), nil
}

func TestRelayRefusesAWindowCutWithoutAnError(t *testing.T) {
	ms := memstore.New()
	commitHolds(t, ms, "lw", 3)
	cfg := DefaultRelayConfig()
	cfg.Store, cfg.Publisher, cfg.Windows = ms, liar{n: 2}, true
	r := &Relay{cfg: cfg, log: slog.New(slog.DiscardHandler), fresh: true}
	if _, err := r.publishBatch(context.Background()); err == nil || len(r.held) != 4 {
		t.Fatalf("a window cut without an error: %v, %d held; want an error and all 4 held", err, len(r.held))
	}
}
