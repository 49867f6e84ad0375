package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/api/client"
)

// NodeOptions describe one node process. Ports left 0 are picked free once and then kept, so
// a restarted node comes back on the same addresses.
type NodeOptions struct {
	Name         string
	DBURL        string   // shared database; empty means the embedded store under DataDir
	DataDir      string   // default: a temp dir
	Join         []string // gossip seeds host:port
	HTTPPort     int
	GossipPort   int
	RemotePort   int
	AdminPort    int           // the admin listener (metrics, pprof) on Host
	KeyFile      string        // --key-file: the dev signing key the cluster shares (required with DBURL)
	Host         string        // bind/advertise host; default 127.0.0.1
	LeaveTimeout time.Duration // default 10s
	ExtraArgs    []string
	Env          []string
	// Secrets, if set, gives the node the cluster's gossip key file and its own peer
	// certificate (secrets.go); nil runs the node without peer security, which a cluster
	// member allows only on loopback.
	Secrets *PeerSecrets
	// Wrap, when set, rewrites the command line, e.g. to run the node inside a network
	// namespace (ip netns exec NAME ...).
	Wrap func(argv []string) []string
}

// Node is a running (or stopped) `allot node` process.
type Node struct {
	Name       string
	HTTPAddr   string
	GossipAddr string
	RemoteAddr string
	AdminAddr  string

	tb      testing.TB
	bin     string
	opts    NodeOptions
	secArgs []string // from opts.Secrets, issued once so that restarts keep the certificate

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *syncBuffer
}

// StartNode starts a node and waits until it is ready. The process is killed in tb.Cleanup.
func StartNode(tb testing.TB, bin string, opts NodeOptions) *Node {
	tb.Helper()
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.LeaveTimeout == 0 {
		opts.LeaveTimeout = 10 * time.Second
	}
	if opts.DataDir == "" && opts.DBURL == "" {
		opts.DataDir = tb.TempDir()
	}
	var picked []*int // ports this function chooses (and may choose again)
	for _, p := range []*int{&opts.HTTPPort, &opts.GossipPort, &opts.RemotePort, &opts.AdminPort} {
		if *p == 0 {
			picked = append(picked, p)
		}
	}
	n := &Node{Name: opts.Name, tb: tb, bin: bin, logs: &syncBuffer{}}
	pick := func() {
		for _, p := range picked {
			*p = FreePort(tb, opts.Host)
		}
		n.HTTPAddr = net.JoinHostPort(opts.Host, strconv.Itoa(opts.HTTPPort))
		n.GossipAddr = net.JoinHostPort(opts.Host, strconv.Itoa(opts.GossipPort))
		n.RemoteAddr = net.JoinHostPort(opts.Host, strconv.Itoa(opts.RemotePort))
		n.AdminAddr = net.JoinHostPort(opts.Host, strconv.Itoa(opts.AdminPort))
		n.opts = opts
	}
	pick()
	if opts.Secrets != nil {
		n.secArgs = opts.Secrets.Args(tb, opts.Name, opts.Host)
	}
	tb.Cleanup(func() {
		n.Kill()
		if tb.Failed() {
			tb.Logf("--- logs of node %s (last 60 lines) ---\n%s", n.Name, n.LogTail(60))
		}
	})
	for attempt := 1; ; attempt++ {
		n.Start()
		err := n.Ready(30 * time.Second)
		if err == nil {
			return n
		}
		// A port FreePort found free can be taken before the node binds it (by any process's
		// outgoing connection: ephemeral ports come from the same range). Only then, and only
		// for ports chosen here, start again on new ones.
		if attempt < 3 && len(picked) > 0 && !n.Running() && strings.Contains(n.LogTail(3), "address already in use") {
			tb.Logf("node %s: a port picked for it was taken before it bound it; starting again on new ports", n.Name)
			pick()
			continue
		}
		tb.Fatal(err)
	}
}

// SetJoin replaces the gossip seeds used by the next Start (a restarted first node must be
// told about the others, as a headless service would).
func (n *Node) SetJoin(seeds []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.opts.Join = append([]string(nil), seeds...)
}

// URL is the node's HTTP base URL.
func (n *Node) URL() string { return "http://" + n.HTTPAddr }

// AdminURL is the base URL of the node's admin listener (/metrics, /debug/pprof/).
func (n *Node) AdminURL() string { return "http://" + n.AdminAddr }

// Start (re)starts the process with the same options. It does not wait for readiness.
func (n *Node) Start() {
	n.tb.Helper()
	if err := n.start(); err != nil {
		n.tb.Fatal(err)
	}
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			return fmt.Errorf("node %s: Start while running", n.Name)
		}
	}
	args := []string{n.bin, "node",
		"--http-addr", n.HTTPAddr,
		"--gossip-addr", n.GossipAddr,
		"--remote-addr", n.RemoteAddr,
		"--admin-addr", n.AdminAddr,
		"--advertise-addr", n.opts.Host,
		"--leave-timeout", n.opts.LeaveTimeout.String(),
		"--log-level", "info",
	}
	if n.opts.DBURL != "" {
		args = append(args, "--db-url", n.opts.DBURL)
	} else {
		args = append(args, "--data-dir", n.opts.DataDir)
	}
	if n.opts.Name != "" {
		args = append(args, "--node-name", n.opts.Name)
	}
	if n.opts.KeyFile != "" {
		args = append(args, "--key-file", n.opts.KeyFile)
	}
	if len(n.opts.Join) > 0 {
		args = append(args, "--join", strings.Join(n.opts.Join, ","))
	}
	args = append(args, n.secArgs...)
	args = append(args, LoadRateLimitArgs()...) // one address, few subjects: see ratelimits.go
	args = append(args, n.opts.ExtraArgs...)
	if n.opts.Wrap != nil {
		args = n.opts.Wrap(args)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), n.opts.Env...)
	fmt.Fprintf(n.logs, "=== start %s\n", strings.Join(args, " "))
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	// The node dies with the test binary even if cleanup never runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start node %s: %v", n.Name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.cmd, n.exited = cmd, exited
	return nil
}

// WaitReady polls /readyz until it answers 200, failing the test after timeout.
func (n *Node) WaitReady(timeout time.Duration) {
	n.tb.Helper()
	if err := n.Ready(timeout); err != nil {
		n.tb.Fatal(err)
	}
}

// Ready polls /readyz until it answers 200 and returns an error after timeout or when the
// process exits first. Unlike WaitReady it does not fail the test, so fault injectors may call
// it from any goroutine.
func (n *Node) Ready(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c, err := client.New([]string{n.URL()}, client.WithHTTPClient(&http.Client{Timeout: time.Second}))
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	defer c.CloseIdleConnections()
	for time.Now().Before(deadline) {
		if !n.Running() {
			return fmt.Errorf("node %s exited before ready:\n%s", n.Name, n.LogTail(40))
		}
		if _, err := c.Ready(context.Background()); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // readiness poll: the process signals nothing else
	}
	return fmt.Errorf("node %s not ready after %s:\n%s", n.Name, timeout, n.LogTail(40))
}

// Restart starts a node that is not running and waits up to timeout until it is ready. It
// reports failures as an error instead of failing the test, so fault injectors may call it
// from any goroutine.
func (n *Node) Restart(timeout time.Duration) error {
	if err := n.start(); err != nil {
		return err
	}
	return n.Ready(timeout)
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to exit. Safe on a stopped node.
func (n *Node) Kill() { n.signalAndWait(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM (a graceful leave) and waits up to timeout; it returns an error if the
// process had to be killed or exited with a failure.
func (n *Node) Stop(timeout time.Duration) error {
	if !n.signalAndWait(syscall.SIGTERM, timeout) {
		n.Kill()
		return fmt.Errorf("node %s did not exit within %s of SIGTERM", n.Name, timeout)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if st := n.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("node %s exited with %s", n.Name, st)
	}
	return nil
}

// Pause and Resume stop and continue the process (SIGSTOP/SIGCONT), like a long GC pause.
func (n *Node) Pause()  { n.signal(syscall.SIGSTOP) }
func (n *Node) Resume() { n.signal(syscall.SIGCONT) }

func (n *Node) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

func (n *Node) signalAndWait(sig syscall.Signal, timeout time.Duration) bool {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot handle SIGTERM
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Logs returns everything the process wrote so far (all its runs).
func (n *Node) Logs() string { return n.logs.String() }

// LogTail returns the last lines of the logs.
func (n *Node) LogTail(lines int) string {
	all := strings.Split(strings.TrimRight(n.Logs(), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// FreePort returns a TCP port on host that was free a moment ago (UDP on the same number is
// checked too, since memberlist gossips on both), and that this process has not handed out
// before. It picks below the kernel's ephemeral range (ip_local_port_range): a port picked
// from that range (a bind to port 0) is handed out again by the kernel to the next bind to
// port 0 or outgoing connection of any process once it is closed, so a node given such a
// port could find it taken by its own gossip listener or a database connection before it
// bound it (seen as "bind: address already in use" in CI). Below the range only an explicit
// bind takes a port. Where the range cannot be read or leaves no room below it, it falls
// back to the kernel's pick.
func FreePort(tb testing.TB, host string) int {
	tb.Helper()
	if lo := ephemeralLow(); lo-minPickedPort >= 1000 {
		for range 200 {
			port := minPickedPort + rand.IntN(lo-minPickedPort)
			if bindable(host, port) && handedOut.claim(port) {
				return port
			}
		}
	}
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			tb.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			if handedOut.claim(port) {
				return port
			}
		}
	}
	tb.Fatalf("free port: none found")
	return 0
}

// minPickedPort is the lowest port FreePort picks: above the well-known and most services'
// registered ports.
const minPickedPort = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, or 0 if unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}

// bindable reports whether port can be bound on host for TCP and UDP right now.
func bindable(host string, port int) bool {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// handedOut is every port FreePort returned in this process. It is the one piece of
// package-level state here: the ports it guards are the process's, whatever test asks.
var handedOut = &portSet{ports: map[int]bool{}}

type portSet struct {
	mu    sync.Mutex
	ports map[int]bool
}

// claim records port and reports whether it was new.
func (s *portSet) claim(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ports[port] {
		return false
	}
	s.ports[port] = true
	return true
}

// WriteLogs writes the node's logs to dir/<name>.log (for failure artifacts).
func (n *Node) WriteLogs(dir string) error {
	return os.WriteFile(filepath.Join(dir, n.Name+".log"), []byte(n.Logs()), 0o644)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
