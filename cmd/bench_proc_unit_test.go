package cmd

import (
	"bufio"
	"os/exec"
	"testing"
	"time"
)

// TestCPUOfCountsExitedChildren: a child that burns CPU and exits between two snapshots
// counts in the difference (its parent reaped it), as a PostgreSQL autovacuum worker or a
// closed connection's backend does between the bench's snapshots. Without the parent's
// reaped time the difference is about zero.
func TestCPUOfCountsExitedChildren(t *testing.T) {
	// The parent waits for a line, runs a busy child (a subshell) to its end, says so, and
	// waits for a second line before exiting.
	cmd := exec.Command("sh", "-c", `read a; (i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done); echo done; read b`)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	defer func() { _ = in.Close(); _ = cmd.Wait() }()
	pid := []int{cmd.Process.Pid}
	before := cpuOf(pid, pid)
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	after := cpuOf(pid, pid)
	if d := after - before; d < 50*time.Millisecond { // the loop takes 0.2-1 s of CPU
		t.Fatalf("CPU of the exited child not counted: %v", d)
	}
}
