package chaos

import (
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/allot/allot/persistence/pgtest"
)

// Harness regression (RELIABILITY.md, harness bugs): node processes are started with
// Pdeathsig, which Linux delivers when the parent *thread* ends. A database restart must not
// end a thread that started a node (pgtest used to let its OS-locked thread die with
// postgres, killing every node forked on that thread before).
func TestDatabaseRestartKeepsChildProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	db := pgtest.MustNewServer(t)
	var mu sync.Mutex
	var kids []*exec.Cmd
	start := func() {
		cmd := exec.Command("sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		kids = append(kids, cmd)
		mu.Unlock()
	}
	t.Cleanup(func() {
		for _, k := range kids {
			_ = k.Process.Kill()
			_ = k.Wait()
		}
	})
	for round := 0; round < 6; round++ {
		// Fork from many goroutines, so that children come from many threads.
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); start() }()
		}
		wg.Wait()
		stop := db.Crash
		if round%2 == 1 {
			stop = db.Stop
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if err := db.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	dead := 0
	for _, k := range kids {
		if err := k.Process.Signal(syscall.Signal(0)); err != nil {
			dead++
			continue
		}
		var st syscall.WaitStatus
		if pid, _ := syscall.Wait4(k.Process.Pid, &st, syscall.WNOHANG, nil); pid == k.Process.Pid {
			dead++
		}
	}
	if dead > 0 {
		t.Fatalf("%d of %d children (with Pdeathsig) died while PostgreSQL was restarted", dead, len(kids))
	}
}
