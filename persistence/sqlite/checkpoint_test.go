package sqlite

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// The writer's connection keeps its temporary data in memory, a larger page cache, and
// leaves checkpoints to the checkpointer until the WAL reaches walRestartFrames; the WAL
// and synchronous=FULL are unchanged.
func TestWriterPragmas(t *testing.T) {
	s := MustOpen(t, Config{})
	ctx := context.Background()
	for _, c := range []struct {
		pragma string
		want   int64
	}{{"synchronous", 2}, {"temp_store", 2}, {"cache_size", -16 << 10}, {"wal_autocheckpoint", walRestartFrames}} {
		var got int64
		if err := s.wc.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %d, want %d", c.pragma, got, c.want)
		}
	}
	// The checkpointer's checkpoints fsync the file before the WAL may start over.
	var sync int64
	if err := s.cdb.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 2 {
		t.Errorf("checkpointer PRAGMA synchronous = %d, want 2 (FULL)", sync)
	}
}

// checkpointed installs a hook that reports each checkpoint's copied frames.
func checkpointed(s *Store) <-chan int64 {
	ch := make(chan int64, 1024)
	h := func(copied int64) { ch <- copied }
	s.ckptHook.Store(&h)
	return ch
}

// commitHolds commits n new holds to resource id as its version v.
func commitHolds(s *Store, id string, v uint64, n int) error {
	b := &persistence.Batch{ResourceID: id, Epoch: 1, Version: v, Resource: res(id), Holds: make([]booking.Hold, n)}
	for i := range b.Holds {
		b.Holds[i] = newHold(id, fmt.Sprintf("%s-%d-%d", id, v, i))
	}
	b.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(n) * int64(v)}}
	return s.Commit(context.Background(), b)
}

// Once woken by the writer, the checkpointer copies the committed frames into the file on its
// own connection, and what was committed reads back.
func TestCheckpointerCopiesCommittedFrames(t *testing.T) {
	cfg := DefaultConfig(t.TempDir() + "/allot.db")
	s := MustOpen(t, cfg)
	done := checkpointed(s)
	mustCommit(t, s, createBatch("r")) // the first group wakes it: nothing measured yet
	select {
	case copied := <-done:
		if copied <= 0 {
			t.Fatalf("checkpoint copied %d frames, want some", copied)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no checkpoint after the first group")
	}
	if err := commitHolds(s, "r", 2, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHold(context.Background(), "r", "r-2-9"); err != nil {
		t.Fatalf("hold after checkpoint: %v", err)
	}
}

// Passive checkpoints beside a writer that keeps appending seldom leave the WAL fully copied;
// the writer's own checkpoint at walRestartFrames lets SQLite start it over, so the file
// (which never shrinks: its size is the most frames it ever held) stays near that size.
func TestWALStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about three WALs' worth of frames")
	}
	cfg := DefaultConfig(t.TempDir() + "/allot.db")
	s := MustOpen(t, cfg)
	const frame = 4096 + 24 // page and frame header
	// Committers on their own resources keep the writer's queue non-empty, so that the
	// checkpointer rarely finds nothing left to copy.
	var wg sync.WaitGroup
	for w := range 4 {
		id := fmt.Sprintf("r%d", w)
		mustCommit(t, s, createBatch(id))
		wg.Go(func() {
			for v := uint64(2); s.ckpt.copied.Load() < 3*walRestartFrames && !t.Failed(); v++ {
				if err := commitHolds(s, id, v, 100); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if s.ckpt.runs.Load() == 0 {
		t.Fatal("the checkpointer never ran")
	}
	st, err := os.Stat(cfg.Path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// The commit that crosses walRestartFrames adds its frames first; 200 holds take far
	// fewer than 1024.
	if limit := int64(walRestartFrames+1024) * frame; st.Size() > limit {
		t.Fatalf("WAL is %d bytes after %d groups, want at most %d", st.Size(), s.stats.groups.Load(), limit)
	}
	t.Logf("%d groups, %d checkpoints copied %d frames (%d failed), WAL %d bytes",
		s.stats.groups.Load(), s.ckpt.runs.Load(), s.ckpt.copied.Load(), s.ckpt.failed.Load(), st.Size())
}

// The groups between checkpoints follow the frames a group adds: small groups are
// checkpointed less often, within bounds.
func TestNextEvery(t *testing.T) {
	for _, c := range []struct {
		log, last, groups, want int64
	}{
		{log: 100, last: 0, groups: 1, want: 10},                // 100 frames a group: 1000/100
		{log: 1050, last: 50, groups: 200, want: 200},           // 5 frames a group
		{log: 5000, last: 0, groups: 1, want: 1},                // a group larger than the target
		{log: 300, last: 4000, groups: 10, want: 33},            // started over: 30 frames a group
		{log: 100, last: 100, groups: 0, want: 1},               // nothing measured
		{log: 100000, last: 0, groups: 1e6, want: maxCkptEvery}, // nearly empty groups: bounded
	} {
		if got := nextEvery(c.log, c.last, c.groups, 1000); got != c.want {
			t.Errorf("nextEvery(%d, %d, %d, 1000) = %d, want %d", c.log, c.last, c.groups, got, c.want)
		}
	}
}
