package sqlite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const openChildEnv = "ALLOT_SQLITE_OPEN_CHILD"

// TestMultiProcessOpen starts several processes that open one fresh file at the same time
// (each migrates it) and write through it: all succeed and the migrations are recorded once.
// Unlike TestConcurrentOpen this goes through the OS file locks between processes.
func TestMultiProcessOpen(t *testing.T) {
	if spec := os.Getenv(openChildEnv); spec != "" {
		path, id, _ := strings.Cut(spec, "|")
		s, err := Open(context.Background(), DefaultConfig(path))
		if err != nil {
			t.Fatalf("child open: %v", err)
		}
		defer s.Close()
		mustCommit(t, s, createBatch(id))
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "allot.db")
	const n = 3
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcessOpen$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|p%d", openChildEnv, path, i))
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	if got := countMigrations(t, path); got != mustMigrations(t) {
		t.Fatalf("schema_migrations has %d rows, want %d", got, mustMigrations(t))
	}
	s := MustOpen(t, DefaultConfig(path))
	for i := range n {
		snap, err := s.Activate(context.Background(), fmt.Sprintf("p%d", i), time.Time{})
		if err != nil || !snap.Exists {
			t.Fatalf("resource written by child %d: %+v %v", i, snap, err)
		}
	}
}
