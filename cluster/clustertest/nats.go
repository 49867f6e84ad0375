package clustertest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// natsBuild is the one nats-server binary of this test process, built from the version go.mod
// pins (github.com/nats-io/nats-server/v2), like build for allot.
var natsBuild struct {
	once sync.Once
	path string
	file *os.File // keeps an unlinked binary alive; never closed
	err  error
}

// MustNATSBinary builds nats-server from the module once per test binary and returns a path
// that executes it (see MustBinary for where it lives).
func MustNATSBinary(tb testing.TB) string {
	tb.Helper()
	natsBuild.once.Do(func() {
		natsBuild.path, natsBuild.file, natsBuild.err = buildBinary("github.com/nats-io/nats-server/v2", "nats-server")
	})
	if natsBuild.err != nil {
		tb.Fatalf("build nats-server: %v", natsBuild.err)
	}
	return natsBuild.path
}

// NATSCluster is a JetStream cluster of real nats-server processes on 127.0.0.1, each routing
// to every other, as deploy/local/cluster.sh and the manifests run it. Servers keep their
// ports and store directories across restarts.
type NATSCluster struct {
	Servers []*NATSServer
}

// NATSServer is one nats-server process of a NATSCluster.
type NATSServer struct {
	Name        string
	ClientAddr  string // host:port of clients (Allot nodes)
	MonitorAddr string // host:port of /healthz

	tb   testing.TB
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *syncBuffer
}

// StartNATSCluster starts n servers with JetStream in one cluster on 127.0.0.1 and waits
// until every one is healthy (JetStream has a meta leader and the server caught up). The
// processes are killed in tb.Cleanup.
func StartNATSCluster(tb testing.TB, n int) *NATSCluster {
	tb.Helper()
	return StartNATSClusterOn(tb, n, "127.0.0.1")
}

// StartNATSClusterOn is StartNATSCluster listening on host (e.g. the bridge address that
// nodes in network namespaces reach the host by).
func StartNATSClusterOn(tb testing.TB, n int, host string) *NATSCluster {
	tb.Helper()
	bin := MustNATSBinary(tb)
	type ports struct{ client, cluster, monitor int }
	ps := make([]ports, n)
	var routes []string
	for i := range ps {
		ps[i] = ports{FreePort(tb, host), FreePort(tb, host), FreePort(tb, host)}
		routes = append(routes, fmt.Sprintf("nats://%s:%d", host, ps[i].cluster))
	}
	c := &NATSCluster{}
	for i, p := range ps {
		name := fmt.Sprintf("nats%d", i+1)
		s := &NATSServer{
			Name:        name,
			ClientAddr:  net.JoinHostPort(host, strconv.Itoa(p.client)),
			MonitorAddr: net.JoinHostPort(host, strconv.Itoa(p.monitor)),
			tb:          tb,
			logs:        &syncBuffer{},
			args: []string{bin, "--name", name, "--addr", host, "--port", strconv.Itoa(p.client),
				"--http_port", strconv.Itoa(p.monitor), "--jetstream", "--store_dir", tb.TempDir(),
				"--cluster_name", "allot-events", "--cluster", routes[i], "--routes", strings.Join(routes, ",")},
		}
		tb.Cleanup(func() {
			s.Kill()
			if tb.Failed() {
				tb.Logf("--- logs of %s (last 30 lines) ---\n%s", s.Name, s.LogTail(30))
			}
		})
		if err := s.start(); err != nil {
			tb.Fatal(err)
		}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if err := s.Ready(60 * time.Second); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// URL is the --nats-url of the cluster: every server, so a client starts on any of them.
func (c *NATSCluster) URL() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, "nats://"+s.ClientAddr)
	}
	return strings.Join(urls, ",")
}

func (s *NATSServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			return fmt.Errorf("%s: start while running", s.Name)
		}
	}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	fmt.Fprintf(s.logs, "=== start %s\n", strings.Join(s.args, " "))
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %v", s.Name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	return nil
}

// Ready polls /healthz until it answers 200 (JetStream current) and returns an error after
// timeout or when the process exits first. It does not fail the test, so fault injectors may
// call it from any goroutine.
func (s *NATSServer) Ready(timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !s.Running() {
			return fmt.Errorf("%s exited before healthy:\n%s", s.Name, s.LogTail(20))
		}
		if r, err := hc.Get("http://" + s.MonitorAddr + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond) // health poll: the process signals nothing else
	}
	return fmt.Errorf("%s not healthy after %s:\n%s", s.Name, timeout, s.LogTail(20))
}

// Restart stops the server (SIGTERM, then SIGKILL after 10s), starts it again on the same
// ports and store, and waits up to timeout for it to be healthy. It reports failures as an
// error, so fault injectors may call it from any goroutine.
func (s *NATSServer) Restart(timeout time.Duration) error {
	if !s.signalAndWait(syscall.SIGTERM, 10*time.Second) {
		s.Kill()
	}
	if err := s.start(); err != nil {
		return err
	}
	return s.Ready(timeout)
}

// Stop sends SIGTERM and waits for the exit (killing after timeout); Start brings it back.
func (s *NATSServer) Stop(timeout time.Duration) {
	if !s.signalAndWait(syscall.SIGTERM, timeout) {
		s.Kill()
	}
}

// Start starts a stopped server without waiting for it (Ready does).
func (s *NATSServer) Start() error { return s.start() }

// Kill sends SIGKILL and waits for the exit. Safe on a stopped server.
func (s *NATSServer) Kill() { s.signalAndWait(syscall.SIGKILL, 10*time.Second) }

// Running reports whether the process is alive.
func (s *NATSServer) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *NATSServer) signalAndWait(sig syscall.Signal, timeout time.Duration) bool {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// LogTail returns the last lines the process wrote (all its runs).
func (s *NATSServer) LogTail(lines int) string {
	all := strings.Split(strings.TrimRight(s.logs.String(), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
