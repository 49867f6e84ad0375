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
	"sync"
	"testing"
	"time"
)

// Start runs stripe-mock on loopback and returns its HTTP base URL (StartMock).
func Start(t testing.TB) string { return StartMock(t).URL }

// Mock is a running stripe-mock: its base URL and the requests it logged.
type Mock struct {
	URL string

	mu       sync.Mutex
	requests []string // "POST /v1/payment_intents/pi_1/capture", in order
	refused  []string // the requests stripe-mock answered with a 4xx or 5xx
}

// Refused lists the requests stripe-mock refused (their request lines): a request Stripe
// would not accept (an unknown parameter, a bad value).
func (m *Mock) Refused() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.refused...)
}

// Count is how many requests stripe-mock logged whose "METHOD PATH" contains substr.
func (m *Mock) Count(substr string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.requests {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// StartMock runs stripe-mock on loopback; it is stopped when the test ends. A missing binary
// fails the test under CI=true (the proof must run there) and skips it elsewhere.
func StartMock(t testing.TB) *Mock {
	t.Helper()
	m := &Mock{}
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
		const prefix, request = "Listening for HTTP at address: ", "Request: "
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if !found && strings.HasPrefix(line, prefix) {
				found = true
				addr <- strings.TrimPrefix(line, prefix)
			}
			m.mu.Lock()
			switch {
			case strings.HasPrefix(line, request):
				m.requests = append(m.requests, strings.TrimPrefix(line, request))
			case strings.HasPrefix(line, "Response: ") && len(m.requests) > 0 &&
				(strings.Contains(line, "status=4") || strings.Contains(line, "status=5")):
				m.refused = append(m.refused, m.requests[len(m.requests)-1])
			}
			m.mu.Unlock()
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("stripe-mock exited before listening")
		}
		m.URL = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("stripe-mock did not say where it listens within 30s")
	}
	return m
}
