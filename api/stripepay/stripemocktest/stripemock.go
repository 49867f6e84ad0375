// Package stripemocktest runs a real stripe-mock (github.com/stripe/stripe-mock, installed by
// .ci/install-deps with go install) for tests: the Stripe API as its OpenAPI specification
// defines it, stateless. It is a test harness: nothing in the shipped binary imports it.
package stripemocktest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Start runs stripe-mock on loopback and returns its HTTP base URL; it is stopped when the
// test ends. A missing binary fails the test under CI=true (the proof must run there) and
// skips it elsewhere.
func Start(t testing.TB) string {
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
