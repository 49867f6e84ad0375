package live

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/wire"
)

// versionReader answers the current version of every resource and records when it read.
type versionReader struct {
	clock   *fakeClock
	version atomic.Uint64
	mu      sync.Mutex
	at      []time.Time
	got     []uint64
}

func (r *versionReader) ReadAvailability(_ context.Context, rid string) (Snapshot, error) {
	v := r.version.Load()
	r.mu.Lock()
	r.at = append(r.at, r.clock.Now())
	r.got = append(r.got, v)
	r.mu.Unlock()
	return Snapshot{Version: v, Availability: wire.Availability{ResourceID: rid}}, nil
}

func (r *versionReader) last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

func newTestHub(t *testing.T, buffer int) (*Hub, *versionReader, *fakeClock, chan struct{}) {
	clock := newFakeClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	r := &versionReader{clock: clock}
	cfg := DefaultHubConfig()
	cfg.Reader, cfg.Now, cfg.AfterFunc, cfg.Buffer = r, clock.Now, clock.AfterFunc, buffer
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reads := make(chan struct{}, 1000)
	h.afterRead = func() { reads <- struct{}{} }
	t.Cleanup(func() { _ = h.Close() })
	return h, r, clock, reads
}

func waitRead(t *testing.T, reads chan struct{}) {
	t.Helper()
	select {
	case <-reads:
	case <-time.After(10 * time.Second):
		t.Fatal("no read")
	}
}

// TestHubCoalescesAndDropsSlowWatchers: 1,000 watchers of one resource, 999 of them reading
// and one that never does. Each round commits 100 changes within one interval. Per round
// the hub reads at most twice (the change that found it idle, and one trailing read for what
// came during it), reads begin at least an interval apart, every reading watcher ends the
// round at the latest version, and the silent watcher is dropped once its buffer is full
// without holding anyone up.
func TestHubCoalescesAndDropsSlowWatchers(t *testing.T) {
	const watchers, rounds, changes, buffer = 1000, 8, 100, 4
	h, r, clock, reads := newTestHub(t, buffer)
	const rid = "flash-sale"

	type report struct {
		w int
		v uint64
	}
	got := make(chan report, watchers*rounds*2)
	var ws []*Watcher
	var wg sync.WaitGroup
	for i := range watchers {
		w, err := h.Watch(rid)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		if i == 0 {
			continue // the silent one
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range w.Updates() {
				got <- report{i, s.Version}
			}
		}()
	}

	received := make([]int, watchers)
	latest := make([]uint64, watchers)
	totalReads := 0
	for round := range rounds {
		clock.Advance(h.cfg.Interval) // the last read was at least an interval ago
		for range changes {
			r.version.Add(1)
			_ = h.Handle(context.Background(), feed.Event{ResourceID: rid, Type: "hold.placed"})
			_ = h.Handle(context.Background(), feed.Event{ResourceID: "unwatched", Type: "hold.placed"})
		}
		cur := r.version.Load()
		readsThisRound := 0
		for {
			waitRead(t, reads)
			readsThisRound++
			if r.last() == cur {
				break
			}
			clock.Advance(h.cfg.Interval) // the trailing read's time
		}
		if readsThisRound > 2 {
			t.Fatalf("round %d: %d reads for %d changes", round, readsThisRound, changes)
		}
		totalReads += readsThisRound
		// Every reading watcher reaches cur.
		atCur := 0
		for atCur < watchers-1 {
			select {
			case rep := <-got:
				received[rep.w]++
				if rep.v <= latest[rep.w] {
					t.Fatalf("watcher %d got version %d after %d", rep.w, rep.v, latest[rep.w])
				}
				latest[rep.w] = rep.v
				if rep.v == cur {
					atCur++
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: %d of %d watchers reached version %d", round, atCur, watchers-1, cur)
			}
		}
	}
	if got := h.Reads(); got != int64(totalReads) || totalReads > 2*rounds {
		t.Fatalf("%d reads (%d counted) for %d changes", got, totalReads, rounds*changes)
	}
	r.mu.Lock()
	for i := 1; i < len(r.at); i++ {
		if gap := r.at[i].Sub(r.at[i-1]); gap < h.cfg.Interval {
			t.Fatalf("reads %d and %d only %s apart", i-1, i, gap)
		}
	}
	r.mu.Unlock()
	for i := 1; i < watchers; i++ {
		if received[i] > 2*rounds {
			t.Fatalf("watcher %d got %d updates in %d rounds", i, received[i], rounds)
		}
	}
	// The silent watcher holds its buffer and was then dropped: its channel is closed.
	n := 0
	for range ws[0].Updates() {
		n++
	}
	if n != buffer {
		t.Fatalf("the silent watcher had %d updates buffered, want %d", n, buffer)
	}
	// Stopping is safe after a drop; Close ends the others' streams.
	ws[0].Stop()
	_ = h.Close()
	_ = h.Close()
	wg.Wait()
}

func TestHubCloseStopsArmedRead(t *testing.T) {
	h, r, clock, reads := newTestHub(t, 4)
	w, _ := h.Watch("r")
	r.version.Add(1)
	h.Changed("r") // immediate read
	waitRead(t, reads)
	r.version.Add(1)
	h.Changed("r") // armed for an interval later
	_ = h.Close()
	clock.Advance(time.Second)
	if h.Reads() != 1 {
		t.Fatalf("%d reads after Close", h.Reads())
	}
	for range w.Updates() {
	}
	if _, err := h.Watch("r"); err == nil {
		t.Fatal("watch after Close")
	}
}

func TestUserFeed(t *testing.T) {
	f := NewUserFeed(2)
	a, b := f.Watch("alice"), f.Watch("bob")
	ctx := context.Background()
	_ = f.Handle(ctx, feed.Event{ID: "r/1/0", Type: "hold.placed", Subject: "alice"})
	_ = f.Handle(ctx, feed.Event{ID: "r/1/1", Type: "bucket.sold_out"})
	_ = f.Handle(ctx, feed.Event{ID: "r/2/0", Type: "hold.placed", Subject: "bob"})
	if ev := <-a.Events(); ev.ID != "r/1/0" {
		t.Fatalf("alice got %s", ev.ID)
	}
	if ev := <-b.Events(); ev.ID != "r/2/0" {
		t.Fatalf("bob got %s", ev.ID)
	}
	// bob stops reading: after two more he is dropped; alice is unaffected.
	for i := range 3 {
		_ = f.Handle(ctx, feed.Event{ID: "b" + string(rune('0'+i)), Type: "hold.cancelled", Subject: "bob"})
	}
	_ = f.Handle(ctx, feed.Event{ID: "a2", Type: "hold.confirmed", Subject: "alice"})
	if ev := <-a.Events(); ev.ID != "a2" {
		t.Fatalf("alice got %s", ev.ID)
	}
	n := 0
	for range b.Events() {
		n++
	}
	if n != 2 {
		t.Fatalf("bob had %d buffered before the drop, want 2", n)
	}
	b.Stop()
	_ = f.Close()
	_ = f.Close()
	if _, ok := <-a.Events(); ok {
		t.Fatal("alice's stream open after Close")
	}
	a.Stop()
}

// TestWatchedFollowsTheWatchers: Watched is true from a watcher's Watch until its Stop (for
// the hub, until the read it caused has finished), for the hub and the user feed alike.
func TestWatchedFollowsTheWatchers(t *testing.T) {
	h, _, _, _ := newTestHub(t, 4)
	if h.Watched() {
		t.Fatal("a new hub is watched")
	}
	w, err := h.Watch("r1")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Watched() {
		t.Fatal("a hub with a watcher is not watched")
	}
	w.Stop()
	if h.Watched() {
		t.Fatal("a hub whose only watcher stopped (no read running) is still watched")
	}

	f := NewUserFeed(4)
	defer f.Close()
	if f.Watched() {
		t.Fatal("a new user feed is watched")
	}
	uw := f.Watch("u")
	if !f.Watched() {
		t.Fatal("a user feed with a watcher is not watched")
	}
	uw.Stop()
	if f.Watched() {
		t.Fatal("a user feed whose only watcher stopped is still watched")
	}
}
