package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// gate blocks the writer at the start of its next group until released, and counts
// enqueues, so that a test can decide exactly which ops share a group.
type gate struct {
	entered  chan int      // receives each group's size as the writer reaches it
	release  chan struct{} // one receive per group
	enqueued chan struct{} // one send per enqueue
}

func installGate(s *Store) *gate {
	g := &gate{entered: make(chan int, 16), release: make(chan struct{}), enqueued: make(chan struct{}, 1024)}
	s.q.onEnter = func() { g.enqueued <- struct{}{} }
	hook := func(n int) {
		g.entered <- n
		<-g.release
	}
	s.groupHook.Store(&hook)
	return g
}

// hold blocks the writer inside a group of one op and returns the op's result channel.
func (g *gate) blockWriter(t *testing.T, s *Store) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- s.Commit(context.Background(), &persistence.Batch{ResourceID: "blocker", Epoch: 1, Version: 2, Resource: res("blocker")})
	}()
	<-g.enqueued
	if n := <-g.entered; n != 1 {
		t.Fatalf("blocking group has %d ops, want 1", n)
	}
	return done
}

// enqueueInOrder starts each call on a goroutine of its own, one at a time, each once the
// one before it is queued at the writer (so a group takes them in this order), and returns
// the channels their results arrive on.
func (g *gate) enqueueInOrder(calls []func() error) []chan error {
	errs := make([]chan error, len(calls))
	for i, c := range calls {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- c() }()
		<-g.enqueued
	}
	return errs
}

// The ops waiting while a transaction runs are folded into the next one; a fenced, an
// oversold and a foreign-hold batch in that group fail alone, the others commit, and an
// activation in the same group sees the commits before it.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := MustOpen(t, Config{})
	for _, id := range []string{"blocker", "ok1", "ok2", "fenced", "oversold", "foreign", "act"} {
		mustCommit(t, s, createBatch(id))
	}
	mustCommit(t, s, &persistence.Batch{ResourceID: "ok1", Epoch: 1, Version: 2, Resource: res("ok1"), Holds: []booking.Hold{newHold("ok1", "taken")}})
	if _, err := s.Activate(context.Background(), "fenced", time.Time{}); err != nil {
		t.Fatal(err)
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)

	type call struct {
		name string
		run  func() error
		want func(error) bool
	}
	isNil := func(err error) bool { return err == nil }
	invalid := func(err error) bool {
		return err != nil && !errors.Is(err, persistence.ErrFenced) && !errors.Is(err, persistence.ErrUnavailable)
	}
	var snap *persistence.Snapshot
	commit := func(id string, b persistence.Batch) func() error {
		b.ResourceID, b.Resource = id, res(id)
		if b.Version == 0 {
			b.Version = 2
		}
		if b.Epoch == 0 {
			b.Epoch = 1
		}
		return func() error { return s.Commit(context.Background(), &b) }
	}
	calls := []call{
		{"ok1", commit("ok1", persistence.Batch{Version: 3, Holds: []booking.Hold{newHold("ok1", "h-ok1")}}), isNil},
		{"fenced", commit("fenced", persistence.Batch{Holds: []booking.Hold{newHold("fenced", "h-fenced")}}), func(err error) bool { return errors.Is(err, persistence.ErrFenced) }},
		{"oversold", commit("oversold", persistence.Batch{Holds: []booking.Hold{newHold("oversold", "h-oversold")}, Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 2}}}), invalid},
		{"foreign", commit("foreign", persistence.Batch{Holds: []booking.Hold{newHold("foreign", "h-foreign"), newHold("foreign", "taken")}}), invalid},
		{"ok2", commit("ok2", persistence.Batch{Holds: []booking.Hold{newHold("ok2", "h-ok2")}}), isNil},
		{"act", func() error {
			var err error
			snap, err = s.Activate(context.Background(), "ok2", time.Time{})
			return err
		}, isNil},
	}
	errs := make([]chan error, len(calls))
	for i, c := range calls {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- c.run() }()
		<-g.enqueued // enqueue in this order, one at a time
	}
	close(g.release) // let every group through from now on
	if err := <-blocked; err != nil {
		t.Fatalf("blocking commit: %v", err)
	}
	if n := <-g.entered; n != len(calls) {
		t.Fatalf("second group has %d ops, want %d", n, len(calls))
	}
	for i, c := range calls {
		if err := <-errs[i]; !c.want(err) {
			t.Errorf("%s: unexpected result %v", c.name, err)
		}
	}
	ctx := context.Background()
	for id, want := range map[string]bool{"h-ok1": true, "h-ok2": true, "h-fenced": false, "h-oversold": false, "h-foreign": false} {
		resID := id[2:]
		_, err := s.GetHold(ctx, resID, id)
		if got := err == nil; got != want {
			t.Errorf("hold %s visible = %v, want %v (%v)", id, got, want, err)
		}
	}
	if h, err := s.GetHold(ctx, "ok1", "taken"); err != nil || h.ResourceID != "ok1" {
		t.Errorf("foreign batch moved hold 'taken': %+v %v", h, err)
	}
	if snap == nil || snap.Epoch != 2 || len(snap.Holds) != 1 || snap.Holds[0].ID != "h-ok2" {
		t.Errorf("activation in the group: %+v", snap)
	}
	if got := s.stats.groups.Load(); got < 2 {
		t.Errorf("groups = %d", got)
	}
}

// A caller whose ctx ends while its op is queued gets the plain ctx error, and the op never
// runs. A caller whose ctx ends after the writer took its op gets ErrUnavailable (outcome
// unknown); here the writer sees the ctx before executing, so the op does not run either.
func TestContextWhileQueuedAndTaken(t *testing.T) {
	s := MustOpen(t, Config{})
	for _, id := range []string{"blocker", "queued", "taken"} {
		mustCommit(t, s, createBatch(id))
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)

	qctx, qcancel := context.WithCancel(context.Background())
	qdone := make(chan error, 1)
	go func() {
		qdone <- s.Commit(qctx, &persistence.Batch{ResourceID: "queued", Epoch: 1, Version: 2, Resource: res("queued"), Holds: []booking.Hold{newHold("queued", "hq")}})
	}()
	<-g.enqueued
	qcancel()
	if err := <-qdone; !errors.Is(err, context.Canceled) || errors.Is(err, persistence.ErrUnavailable) {
		t.Fatalf("cancelled while queued: err = %v, want context.Canceled only", err)
	}

	tctx, tcancel := context.WithCancel(context.Background())
	tdone := make(chan error, 1)
	go func() {
		tdone <- s.Commit(tctx, &persistence.Batch{ResourceID: "taken", Epoch: 1, Version: 2, Resource: res("taken"), Holds: []booking.Hold{newHold("taken", "ht")}})
	}()
	<-g.enqueued
	g.release <- struct{}{} // the blocker's group finishes
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if n := <-g.entered; n != 1 { // the writer took the "taken" op and waits at the gate
		t.Fatalf("group size %d, want 1 (the abandoned op must not be taken)", n)
	}
	tcancel()
	if err := <-tdone; !errors.Is(err, persistence.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled after being taken: err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	close(g.release)
	// A later op through the same writer shows the group ended; neither hold was written.
	mustCommit(t, s, &persistence.Batch{ResourceID: "blocker", Epoch: 1, Version: 3, Resource: res("blocker")})
	for _, h := range [][2]string{{"queued", "hq"}, {"taken", "ht"}} {
		if _, err := s.GetHold(context.Background(), h[0], h[1]); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("hold %s written: %v", h[1], err)
		}
	}
}

// Close while ops are queued behind a running group: every caller gets an answer, and what
// was acknowledged is on disk.
func TestCloseWithQueuedOps(t *testing.T) {
	cfg := DefaultConfig(t.TempDir() + "/allot.db")
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"blocker", "r"} {
		mustCommit(t, s, createBatch(id))
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)
	const n = 5
	errs := make([]chan error, n)
	for i := range n {
		errs[i] = make(chan error, 1)
		go func() {
			errs[i] <- s.Commit(context.Background(), &persistence.Batch{ResourceID: "r", Epoch: 1, Version: uint64(2 + i), Resource: res("r"),
				Holds: []booking.Hold{newHold("r", fmt.Sprintf("h%d", i))}})
		}()
		<-g.enqueued
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	close(g.release)
	if err := <-blocked; err != nil {
		t.Fatalf("running group: %v", err)
	}
	results := make([]error, n)
	for i := range n {
		results[i] = <-errs[i]
		if results[i] != nil && !errors.Is(results[i], persistence.ErrUnavailable) {
			t.Fatalf("queued op at Close: %v", results[i])
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	s2 := MustOpen(t, cfg)
	ran := 0
	for i, err := range results {
		_, gerr := s2.GetHold(context.Background(), "r", fmt.Sprintf("h%d", i))
		switch {
		case err == nil && gerr != nil:
			t.Errorf("op %d acknowledged but not on disk: %v", i, gerr)
		case err != nil && !errors.Is(gerr, persistence.ErrNotFound):
			t.Errorf("op %d refused at Close (%v) but on disk: %v", i, err, gerr)
		case err == nil:
			ran++
		}
	}
	t.Logf("%d of %d queued ops ran before Close", ran, n)
}
