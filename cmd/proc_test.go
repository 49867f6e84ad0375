package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// proc is one `allot node` process started with exactly the given flags (clustertest.Node
// always passes every address and waits for readiness; these tests need neither).
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	http   string
	mu     sync.Mutex
	out    bytes.Buffer
	exited chan struct{}
	err    error // Wait's result, valid once exited is closed
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	port := clustertest.FreePort(t, "127.0.0.1")
	p := &proc{t: t, http: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	// The admin listener's default port would collide between nodes side by side, and a
	// cluster member in dev auth mode needs a key file (these tests send no tokens).
	args = append([]string{"node", "--http-addr", p.http, "--admin-addr", "127.0.0.1:0", "--leave-timeout", "10s"}, args...)
	args = append(args, clustertest.LoadRateLimitArgs()...) // bursts from 127.0.0.1 without tokens
	if (slices.Contains(args, "--db-url") || slices.Contains(args, "--join")) && !slices.Contains(args, "--key-file") {
		args = append(args, "--key-file", clustertest.KeyFile(t))
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("--- logs of node %s ---\n%s", p.http, p.logs())
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// readyz is the status of GET /readyz, or 0 when the node does not answer.
func (p *proc) readyz() int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + p.http + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.readyz() != http.StatusOK {
		if time.Now().After(deadline) {
			p.t.Fatalf("node %s not ready after %s", p.http, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("node %s still running %s after the signal", p.http, timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// noErrors fails the test if the process logged at ERROR level.
func (p *proc) noErrors() {
	p.t.Helper()
	for _, line := range strings.Split(p.logs(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			p.t.Errorf("node %s logged an error during a normal run and shutdown: %s", p.http, line)
		}
	}
}

var gossipAddrRE = regexp.MustCompile(`msg="gossip started".*? gossip_addr=(\S+)`)

// TestSingleNodesSideBySideAndSecondSignal runs two single nodes with default addresses on
// one machine (each binds gossip and remote on loopback ephemeral ports, so they do not
// collide), then stops one as `make cluster` used to: SIGINT and SIGTERM together. The
// second signal must not cut the drain short: the node logs it, finishes its drain and exits
// 0, and neither node logs an error.
func TestSingleNodesSideBySideAndSecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := clustertest.MustBinary(t)
	a := startProc(t, bin, "--data-dir", t.TempDir())
	b := startProc(t, bin, "--data-dir", t.TempDir())
	a.waitReady(30 * time.Second)
	b.waitReady(30 * time.Second)
	for _, p := range []*proc{a, b} {
		m := gossipAddrRE.FindStringSubmatch(p.logs())
		if m == nil {
			t.Fatalf("no gossip address logged by %s", p.http)
		}
		host, port, _ := net.SplitHostPort(m[1])
		if host != "127.0.0.1" || port == "7946" {
			t.Fatalf("single node %s gossips on %s, want loopback and an ephemeral port", p.http, m[1])
		}
	}

	// Both signals are pending when the process resumes: the drain starts on one and sees
	// the other while it runs.
	a.signal(syscall.SIGSTOP)
	a.signal(syscall.SIGINT)
	a.signal(syscall.SIGTERM)
	a.signal(syscall.SIGCONT)
	if code := a.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGINT+SIGTERM, want 0 (a complete drain)", code)
	}
	logs := a.logs()
	for _, want := range []string{"second signal during the drain: still draining", "cluster member stopped", `msg="node stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if b.readyz() != http.StatusOK {
		t.Fatal("the other single node stopped serving")
	}
	b.signal(syscall.SIGTERM)
	if code := b.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	a.noErrors()
	b.noErrors()
}

// TestNodeNotReadyUntilItsSeedStarts starts a node whose only seed starts later: the
// node must answer /readyz 503 (alive, not serving as a cluster of one) until it joined,
// then 200 with both members listed. Both then leave without logging an error.
func TestNodeNotReadyUntilItsSeedStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := clustertest.MustBinary(t)
	db := pgtest.MustServer(t).MustDatabase(t)
	seedGossip := "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(t, "127.0.0.1"))
	key := clustertest.KeyFile(t)
	late := startProc(t, bin, "--db-url", db, "--key-file", key, "--join", seedGossip, "--advertise-addr", "127.0.0.1",
		"--gossip-addr", "127.0.0.1:0", "--remote-addr", "127.0.0.1:0")
	// However long the node takes to start (a loaded machine), its seed has not started: every
	// answer must be 503. Poll until it answers, then for a while longer, in which its join
	// attempts run and fail.
	var firstAnswer time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		switch code := late.readyz(); code {
		case 0:
		case http.StatusServiceUnavailable:
			if firstAnswer.IsZero() {
				firstAnswer = time.Now()
			}
		default:
			t.Fatalf("/readyz = %d before its seed started, want 503", code)
		}
		if !firstAnswer.IsZero() && time.Since(firstAnswer) > time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node never answered /readyz while waiting for its seed")
		}
	}
	seed := startProc(t, bin, "--db-url", db, "--key-file", key, "--advertise-addr", "127.0.0.1",
		"--gossip-addr", seedGossip, "--remote-addr", "127.0.0.1:0")
	seed.waitReady(30 * time.Second)
	late.waitReady(10 * time.Second) // the join backoff is at most 2 s; slack for a loaded machine
	admin, err := clustertest.DevIssuer(t, key).Mint(auth.TokenSpec{Subject: "admin", Roles: []auth.Role{auth.RoleAdmin}, MFA: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+late.http+"/v1/cluster/members", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var members struct {
		Members []struct {
			Status string `json:"status"`
		} `json:"members"`
	}
	err = json.NewDecoder(resp.Body).Decode(&members)
	resp.Body.Close()
	if err != nil || len(members.Members) != 2 {
		t.Fatalf("members right after ready: %+v (%v), want both", members, err)
	}
	for _, p := range []*proc{late, seed} {
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("node %s: exit status %d", p.http, code)
		}
	}
	late.noErrors()
	seed.noErrors()
	if !strings.Contains(late.logs(), "waiting for a gossip seed") {
		t.Error(fmt.Sprintf("the late node did not say it waits for its seed:\n%s", late.logs()))
	}
}
