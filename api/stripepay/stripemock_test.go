package stripepay

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startStripeMock runs a real stripe-mock (github.com/stripe/stripe-mock, installed by
// .ci/install-deps) on loopback and returns its HTTP base URL; it is stopped when the test
// ends. Missing binary: the test fails under CI=true (the proof must run there) and is
// skipped elsewhere.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		out, gerr := exec.Command("go", "env", "GOPATH").Output()
		if gerr == nil {
			bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "stripe-mock")
		}
		if _, serr := os.Stat(bin); gerr != nil || serr != nil {
			msg := "stripe-mock not installed: run bash .ci/install-deps (go install github.com/stripe/stripe-mock@v0.203.0)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	// Both listeners on loopback with ports the system picks; HTTPS is not used.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		const prefix = "Listening for HTTP at address: "
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if line := sc.Text(); !found && strings.HasPrefix(line, prefix) {
				found = true
				addr <- strings.TrimPrefix(line, prefix)
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("stripe-mock exited before listening")
		}
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("stripe-mock did not say where it listens within 30s")
	}
	return ""
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
