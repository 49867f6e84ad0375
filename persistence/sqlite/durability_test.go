package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

const crashEnv = "ALLOT_SQLITE_CRASH_DB"

const (
	crashWriters  = 4  // resources written concurrently, so that group commit is exercised
	crashHolds    = 20 // holds per batch
	crashKillAt   = 60 // acknowledgements the parent waits for before SIGKILL
	crashMaxBatch = 5000
)

// TestDurabilityKill9 re-executes the test binary as a child that commits batches from
// several goroutines and prints "committed <resource> <version>" after each acknowledgement.
// The parent SIGKILLs it mid-stream, reopens the file and checks that every acknowledged
// batch is there, whole, and that the file is intact. (kill -9 leaves the OS page cache in
// place: this proves that no acknowledgement runs ahead of SQLite's COMMIT; power-loss
// durability rests on synchronous=FULL, which Open verifies is in effect on the writer.)
func TestDurabilityKill9(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "allot.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{}
	sc := bufio.NewScanner(out)
	lines := 0
	killed := false
	for sc.Scan() {
		var id string
		var v uint64
		if _, err := fmt.Sscanf(sc.Text(), "committed %s %d", &id, &v); err != nil {
			continue // test framework output
		}
		acked[id] = max(acked[id], v)
		if lines++; lines == crashKillAt {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d acknowledgements: %v", crashKillAt, werr)
	}
	t.Logf("acknowledged before kill: %v", acked)

	s := MustOpen(t, DefaultConfig(path))
	ctx := context.Background()
	for i := range crashWriters {
		id := fmt.Sprintf("r%d", i)
		snap, err := s.Activate(ctx, id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if snap.Version < acked[id] {
			t.Errorf("%s: version %d on disk, %d acknowledged", id, snap.Version, acked[id])
		}
		// Version v carries holds v-1 batches' worth: every batch is whole or absent.
		if want := int(snap.Version-1) * crashHolds; len(snap.Holds) != want {
			t.Errorf("%s: %d holds at version %d, want %d (a torn batch)", id, len(snap.Holds), snap.Version, want)
		}
	}
	db, err := sql.Open("sqlite", DefaultConfig(path).dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
}

// crashChild is the child process: it writes until it is killed.
func crashChild(t *testing.T, path string) {
	s, err := Open(context.Background(), DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // one line per write
	var wg sync.WaitGroup
	for i := range crashWriters {
		wg.Go(func() {
			id := fmt.Sprintf("r%d", i)
			if err := s.Commit(context.Background(), createBatch(id)); err != nil {
				panic(err)
			}
			for v := uint64(2); v < crashMaxBatch; v++ {
				b := &persistence.Batch{ResourceID: id, Epoch: 1, Version: v, Resource: res(id),
					Buckets: []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(v-1) * crashHolds}}}
				for k := range crashHolds {
					b.Holds = append(b.Holds, newHold(id, fmt.Sprintf("%s-%d-%d", id, v, k)))
				}
				if err := s.Commit(context.Background(), b); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "committed %s %d\n", id, v)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Fatal("child was not killed")
}
