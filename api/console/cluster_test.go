package console_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster"
)

// peerEnv makes this test binary a cluster member joining the gossip address it names (see
// TestMain): the members besides the first run in their own processes, because protoactor's
// remote writes grpc's global logger at start, which races with another member's grpc
// goroutines in the same process (cluster/node_proc_test.go).
const peerEnv = "ALLOT_CONSOLE_TEST_PEER"

func TestMain(m *testing.M) {
	if join := os.Getenv(peerEnv); join != "" {
		os.Exit(runPeer(join))
	}
	os.Exit(m.Run())
}

func memberConfig(join ...string) cluster.NodeConfig {
	cfg := cluster.DefaultNodeConfig()
	cfg.ClusterName = "allot-console-test"
	cfg.RemoteAddr = "127.0.0.1:0"
	cfg.Gossip.BindAddr = "127.0.0.1:0"
	cfg.Gossip.MetaRefreshInterval = 200 * time.Millisecond
	cfg.Gossip.RejoinInterval = 200 * time.Millisecond
	cfg.Gossip.Join = join
	cfg.Kinds = []*pcluster.Kind{pcluster.NewKind("noop", actor.PropsFromFunc(func(actor.Context) {}))}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Registerer = prometheus.NewRegistry()
	return cfg
}

// runPeer runs one member until its stdin closes.
func runPeer(join string) int {
	node, err := cluster.NewNode(memberConfig(join))
	if err == nil {
		err = node.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = node.Stop(ctx)
	return 0
}

// gossipMembers is the member list of a real gossip cluster as one member sees it, adapted
// to the API's as cmd does (cmd/wiring.go).
type gossipMembers struct{ node *cluster.Node }

func (m gossipMembers) Members() []wire.Member {
	var out []wire.Member
	for _, mi := range m.node.Members() {
		if mi.Client {
			continue
		}
		out = append(out, wire.Member{ID: mi.ID, Address: mi.RemoteAddr, Status: string(mi.Status), Self: mi.Self, Activations: mi.Activations})
	}
	return out
}

// mustGossipCluster starts a member in this process and n-1 more in child processes, all on
// loopback with real sockets, and returns the first member's view once it sees n alive.
func mustGossipCluster(t *testing.T, n int) gossipMembers {
	t.Helper()
	first, err := cluster.NewNode(memberConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = first.Stop(ctx)
	})
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		startPeer(t, first.Self().GossipAddr)
	}
	m := gossipMembers{node: first}
	deadline := time.Now().Add(30 * time.Second)
	for {
		alive := 0
		for _, x := range m.Members() {
			if x.Status == "alive" {
				alive++
			}
		}
		if alive == n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %+v: not %d alive", m.Members(), n)
		}
		time.Sleep(50 * time.Millisecond) // convergence of gossip has no event to wait on: poll
	}
}

// startPeer runs this test binary as a member joining join, until the test ends.
func startPeer(t *testing.T, join string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peerEnv+"="+join)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = stdin.Close() // the peer stops when its stdin closes
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
	if err != nil || line != "ready\n" {
		t.Fatalf("peer did not start: %q %v", line, err)
	}
}
