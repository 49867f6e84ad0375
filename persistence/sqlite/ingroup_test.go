package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/sqlbind"
)

// sideWrite is a side store's batch as InGroup runs it: the consumer's inbox row and the
// effect of the event (a row of side_effect) in one call, failing after both when fail is set.
func sideWrite(s *Store, eventID string, fail bool) func() error {
	return func() error {
		return s.InGroup(context.Background(), func(ctx context.Context, q sqlbind.Querier) error {
			if _, err := q.ExecContext(ctx, insertInbox, "side", eventID, int64(1)); err != nil {
				return err
			}
			if _, err := q.ExecContext(ctx, `INSERT INTO side_effect (event_id) VALUES (?)`, eventID); err != nil {
				return err
			}
			if fail {
				return errors.New("side store refused the batch")
			}
			return nil
		})
	}
}

// count returns the rows of table matching event_id (read pool: what is committed).
func count(t *testing.T, s *Store, table, eventID string) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM `+table+` WHERE event_id = ?`, eventID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustSetup(t *testing.T, s *Store, stmts ...string) {
	t.Helper()
	err := s.write(context.Background(), "setup", func(ctx context.Context) error {
		for _, st := range stmts {
			if _, err := s.wc.ExecContext(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A side write joins the group of the booking commits waiting with it: one transaction, one
// fsync. Its inbox row and its effect commit together; a side write that fails is undone
// alone (neither its inbox row nor its effect), and the rest of its group commits.
func TestInGroupJoinsTheGroupCommit(t *testing.T) {
	s := MustOpen(t, Config{})
	mustSetup(t, s, `CREATE TABLE side_effect (event_id TEXT PRIMARY KEY)`)
	for _, id := range []string{"blocker", "ok1"} {
		mustCommit(t, s, createBatch(id))
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)

	calls := []func() error{
		func() error {
			return s.Commit(context.Background(), &persistence.Batch{ResourceID: "ok1", Epoch: 1, Version: 2, Resource: res("ok1")})
		},
		sideWrite(s, "e1", false),
		sideWrite(s, "e2", true),
		sideWrite(s, "e3", false),
	}
	errs := g.enqueueInOrder(calls)
	groups := s.stats.groups.Load()
	close(g.release)
	if err := <-blocked; err != nil {
		t.Fatalf("blocking commit: %v", err)
	}
	if n := <-g.entered; n != len(calls) {
		t.Fatalf("second group has %d ops, want %d", n, len(calls))
	}
	for i, want := range []bool{true, true, false, true} {
		if err := <-errs[i]; (err == nil) != want {
			t.Errorf("call %d: err %v, want success %v", i, err, want)
		}
	}
	if got := s.stats.groups.Load() - groups; got != 2 {
		t.Errorf("%d groups committed, want 2 (the blocker's and one for the booking commit with the side writes)", got)
	}
	for id, want := range map[string]int{"e1": 1, "e2": 0, "e3": 1} {
		if n, m := count(t, s, "event_inbox", id), count(t, s, "side_effect", id); n != want || m != want {
			t.Errorf("%s: %d inbox rows and %d effects, want %d of each", id, n, m, want)
		}
	}
	snap, err := s.Activate(context.Background(), "ok1", time.Time{})
	if err != nil || snap.Version != 2 {
		t.Errorf("booking commit in the group: %+v %v", snap, err)
	}
}

// A group that fails as a whole (here its COMMIT: a deferred foreign key left dangling by
// another op of the group) fails its side writes too: neither their inbox rows nor their
// effects are stored, and the caller is told (ErrUnavailable), so its consumer redelivers.
func TestInGroupFailsWithItsGroup(t *testing.T) {
	s := MustOpen(t, Config{})
	mustSetup(t, s, `CREATE TABLE side_effect (event_id TEXT PRIMARY KEY)`,
		`CREATE TABLE side_parent (id TEXT PRIMARY KEY)`,
		`CREATE TABLE side_child (parent TEXT REFERENCES side_parent (id) DEFERRABLE INITIALLY DEFERRED)`)
	mustCommit(t, s, createBatch("blocker"))
	g := installGate(s)
	blocked := g.blockWriter(t, s)

	calls := []func() error{
		sideWrite(s, "e1", false),
		func() error { // its savepoint releases; the COMMIT finds the dangling key
			return s.write(context.Background(), "dangling", func(ctx context.Context) error {
				_, err := s.wc.ExecContext(ctx, `INSERT INTO side_child (parent) VALUES ('nobody')`)
				return err
			})
		},
	}
	errs := g.enqueueInOrder(calls)
	close(g.release)
	if err := <-blocked; err != nil {
		t.Fatalf("blocking commit: %v", err)
	}
	if n := <-g.entered; n != len(calls) {
		t.Fatalf("second group has %d ops, want %d", n, len(calls))
	}
	for i := range calls {
		if err := <-errs[i]; !errors.Is(err, persistence.ErrUnavailable) {
			t.Errorf("call %d: err %v, want ErrUnavailable", i, err)
		}
	}
	if n, m := count(t, s, "event_inbox", "e1"), count(t, s, "side_effect", "e1"); n != 0 || m != 0 {
		t.Errorf("failed group left %d inbox rows and %d effects", n, m)
	}
	// The writer goes on: the same side write succeeds in a group of its own.
	if err := sideWrite(s, "e1", false)(); err != nil {
		t.Fatal(err)
	}
	if n, m := count(t, s, "event_inbox", "e1"), count(t, s, "side_effect", "e1"); n != 1 || m != 1 {
		t.Errorf("after the retry: %d inbox rows and %d effects, want 1 of each", n, m)
	}
}

// A group of lossy ops alone (the relay's claims, marks and prunes) runs with
// synchronous=NORMAL, so that its COMMIT does not fsync the WAL; any group with another op
// (a booking commit, an inbox record, a side write) runs with FULL.
func TestOnlyLossyGroupsSkipTheFsync(t *testing.T) {
	s := MustOpen(t, Config{})
	mustCommit(t, s, createBatch("blocker"))
	level := func(lossy bool, got *int64) func() error {
		return func() error {
			o := &op{ctx: context.Background(), lossy: lossy, fn: func(ctx context.Context) error {
				return s.wc.QueryRowContext(ctx, "PRAGMA synchronous").Scan(got)
			}}
			return s.writeOp(context.Background(), "level", o)
		}
	}
	const normal, full = 1, 2
	var alone, mixedLossy, mixedDurable, after int64
	if err := level(true, &alone)(); err != nil {
		t.Fatal(err)
	}
	g := installGate(s)
	blocked := g.blockWriter(t, s)
	calls := []func() error{level(true, &mixedLossy), level(false, &mixedDurable)}
	errs := g.enqueueInOrder(calls)
	close(g.release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	<-g.entered
	for i := range calls {
		if err := <-errs[i]; err != nil {
			t.Fatal(err)
		}
	}
	go func() { <-g.entered }()
	if err := level(true, &after)(); err != nil {
		t.Fatal(err)
	}
	if alone != normal || mixedLossy != full || mixedDurable != full || after != normal {
		t.Errorf("synchronous: lossy alone %d, mixed %d and %d, lossy alone again %d; want %d, %d, %d, %d",
			alone, mixedLossy, mixedDurable, after, normal, full, full, normal)
	}
	// A durable op after a lossy group runs at FULL again.
	var again int64
	go func() { <-g.entered }()
	if err := level(false, &again)(); err != nil {
		t.Fatal(err)
	}
	if again != full {
		t.Errorf("synchronous after a lossy group: %d, want %d", again, full)
	}
}

// While booking commits keep coming, a group of side ops waits (up to SideWait) for the next
// booking op and shares its transaction and fsync; once a group without a booking op has
// run, side ops run at once.
func TestSideOpsWaitForTheNextBookingCommit(t *testing.T) {
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "allot.db"))
	cfg.SideWait = 100 * time.Millisecond
	s := MustOpen(t, cfg)
	mustSetup(t, s, `CREATE TABLE side_effect (event_id TEXT PRIMARY KEY)`)
	mustCommit(t, s, createBatch("hot")) // booking commits under way
	g := installGate(s)

	side := make(chan error, 1)
	go func() { side <- sideWrite(s, "e1", false)() }()
	<-g.enqueued
	for { // until the writer took the side op (and waits for a booking op)
		s.q.mu.Lock()
		n := len(s.q.ops)
		s.q.mu.Unlock()
		if n == 0 {
			break
		}
		runtime.Gosched()
	}
	commit := make(chan error, 1)
	go func() {
		commit <- s.Commit(context.Background(), &persistence.Batch{ResourceID: "hot", Epoch: 1, Version: 2, Resource: res("hot")})
	}()
	<-g.enqueued
	if n := <-g.entered; n != 2 {
		t.Fatalf("the side op's group has %d ops, want 2 (with the booking commit)", n)
	}
	g.release <- struct{}{}
	if err := <-side; err != nil {
		t.Fatal(err)
	}
	if err := <-commit; err != nil {
		t.Fatal(err)
	}
	if got := s.stats.sideWaits.Load(); got != 1 {
		t.Fatalf("side waits = %d, want 1", got)
	}

	// A side op alone after the booking group waits (in vain: no booking op comes); the next
	// one, after a group without a booking op, does not.
	close(g.release) // the hook no longer blocks; g.entered has room for these groups
	for i, id := range []string{"e2", "e3"} {
		if err := sideWrite(s, id, false)(); err != nil {
			t.Fatal(err)
		}
		if got, want := s.stats.sideWaits.Load(), int64(2); got != want {
			t.Fatalf("after side write %d: side waits = %d, want %d", i, got, want)
		}
	}
	for _, id := range []string{"e1", "e2", "e3"} {
		if n := count(t, s, "side_effect", id); n != 1 {
			t.Errorf("%s: %d effects, want 1", id, n)
		}
	}
}
