package cluster

// Multi-member Node tests run every member in its own process (this test binary,
// re-executed in "child" mode and driven over stdin/stdout with JSON lines).
//
// Why: protoactor's remote.Start calls grpclog.SetLoggerV2, which writes grpc-go's
// global logger while grpc goroutines of any other member in the same process read it;
// under -race several members per process always report that race. One member per
// process is also how Allot runs, and it makes a crash a real SIGKILL. Children are
// built with -race too: the parent fails the test if a child reports a data race.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const childEnv = "ALLOT_CLUSTER_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

type childSpec struct {
	Join []string `json:"join"`
	// Peer security (node_security_proc_test.go): a gossip key file and the remote's mTLS.
	GossipKeyFile string       `json:"gossip_key_file,omitempty"`
	Peer          PeerTLSFiles `json:"peer,omitzero"`
}

type childCmd struct {
	Op        string   `json:"op"`
	IDs       []string `json:"ids,omitempty"`
	Value     string   `json:"value,omitempty"`
	TimeoutMS int      `json:"timeout_ms,omitempty"`
}

type childResult struct {
	ID    string `json:"id"`
	Reply string `json:"reply"`
	Owner string `json:"owner"`
	Err   string `json:"err,omitempty"`
}

type childReply struct {
	Err      string             `json:"err,omitempty"`
	Self     MemberInfo         `json:"self"`
	Members  []MemberInfo       `json:"members,omitempty"`
	Topology []string           `json:"topology,omitempty"`
	Results  []childResult      `json:"results,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	TookMS   int64              `json:"took_ms,omitempty"`
}

// runChild runs one Node until stdin closes (then stops it gracefully) or "exit".
func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 2
	}
	cfg := DefaultNodeConfig()
	cfg.ClusterName = "allot-test"
	cfg.RemoteAddr = "127.0.0.1:0"
	cfg.Gossip.BindAddr = "127.0.0.1:0"
	cfg.Gossip.Join = spec.Join
	cfg.Gossip.MetaRefreshInterval = 200 * time.Millisecond
	cfg.Kinds = []*cluster.Kind{echoKind()}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	err := spec.secure(&cfg)
	var n *Node
	if err == nil {
		n, err = NewNode(cfg)
	}
	if err == nil {
		err = n.Start(context.Background())
	}
	out := json.NewEncoder(os.Stdout)
	if err != nil {
		_ = out.Encode(childReply{Err: err.Error()})
		return 1
	}
	_ = out.Encode(childReply{Self: n.Self()})

	stop := func(d time.Duration) childReply {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		begin := time.Now()
		var r childReply
		if err := n.Stop(ctx); err != nil {
			r.Err = err.Error()
		}
		r.TookMS = time.Since(begin).Milliseconds()
		r.Self = n.Self()
		return r
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var cmd childCmd
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			_ = out.Encode(childReply{Err: err.Error()})
			continue
		}
		var r childReply
		switch cmd.Op {
		case "self":
		case "members":
			r.Members = n.Members()
		case "topology":
			r.Topology = topologyAddrs(n)
		case "request":
			r.Results = childRequests(n, cmd)
		case "owners":
			for _, id := range cmd.IDs {
				r.Results = append(r.Results, childResult{ID: id, Owner: n.OwnerOf(id, echoKindName)})
			}
		case "metrics":
			r.Metrics = gather(reg)
		case "stop":
			r = stop(time.Duration(cmd.TimeoutMS) * time.Millisecond)
		case "exit":
			return 0
		default:
			r.Err = "unknown op " + cmd.Op
		}
		if r.Self.ID == "" {
			r.Self = n.Self()
		}
		_ = out.Encode(r)
	}
	_ = stop(15 * time.Second)
	return 0
}

func childRequests(n *Node, cmd childCmd) []childResult {
	res := make([]childResult, 0, len(cmd.IDs))
	for _, id := range cmd.IDs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cmd.TimeoutMS)*time.Millisecond)
		r := childResult{ID: id}
		reply, err := n.Request(ctx, id, echoKindName, wrapperspb.String(cmd.Value))
		cancel()
		if err != nil {
			r.Err = err.Error()
		} else if s, ok := reply.(*wrapperspb.StringValue); ok {
			r.Reply = s.GetValue()
		} else {
			r.Err = fmt.Sprintf("reply %T", reply)
		}
		r.Owner = n.OwnerOf(id, echoKindName)
		res = append(res, r)
	}
	return res
}

func gather(reg *prometheus.Registry) map[string]float64 {
	out := map[string]float64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				out[mf.GetName()] += m.GetGauge().GetValue()
			case m.Counter != nil:
				out[mf.GetName()] += m.GetCounter().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// procNode is the parent's handle on a child member. Calls are serialized.
type procNode struct {
	tb     testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dec    *json.Decoder
	stderr *syncBuffer
	self   MemberInfo
	mu     sync.Mutex
	done   chan struct{} // closed when the process has exited
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

// MustProcNodes starts n child members concurrently, all joining join, and stops them
// (closing stdin: graceful Stop) when the test ends.
func MustProcNodes(tb testing.TB, n int, join ...string) []*procNode {
	tb.Helper()
	nodes := make([]*procNode, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i], errs[i] = startProcNode(tb, join) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("start members: %v", err)
	}
	return nodes
}

func startProcNode(tb testing.TB, join []string) (*procNode, error) {
	return startProcNodeSpec(tb, childSpec{Join: join})
}

func startProcNodeSpec(tb testing.TB, cs childSpec) (*procNode, error) {
	spec, _ := json.Marshal(cs)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	p := &procNode{tb: tb, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.dec = json.NewDecoder(stdout)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(p.cleanup)
	var ready childReply
	if err := p.dec.Decode(&ready); err != nil {
		return nil, fmt.Errorf("child did not start: %w\n%s", err, p.stderr.String())
	}
	if ready.Err != "" {
		return nil, fmt.Errorf("child start: %s", ready.Err)
	}
	p.self = ready.Self
	return p, nil
}

func (p *procNode) cleanup() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.tb.Errorf("member %s did not exit after stdin closed", p.self.RemoteAddr)
	}
	logs := p.stderr.String()
	if strings.Contains(logs, "WARNING: DATA RACE") {
		p.tb.Errorf("member %s reported a data race:\n%s", p.self.RemoteAddr, logs)
	} else if (p.tb.Failed() || os.Getenv("ALLOT_TEST_LOG") != "") && logs != "" {
		p.tb.Logf("member %s stderr:\n%s", p.self.RemoteAddr, logs)
	}
}

func (p *procNode) call(cmd childCmd) childReply {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var r childReply
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.tb.Fatalf("%s %s: %v", p.self.RemoteAddr, cmd.Op, err)
	}
	if err := p.dec.Decode(&r); err != nil {
		p.tb.Fatalf("%s %s: %v\n%s", p.self.RemoteAddr, cmd.Op, err, p.stderr.String())
	}
	return r
}

func (p *procNode) addr() string                { return p.self.RemoteAddr }
func (p *procNode) topology() []string          { return p.call(childCmd{Op: "topology"}).Topology }
func (p *procNode) members() []MemberInfo       { return p.call(childCmd{Op: "members"}).Members }
func (p *procNode) selfInfo() MemberInfo        { return p.call(childCmd{Op: "self"}).Self }
func (p *procNode) metrics() map[string]float64 { return p.call(childCmd{Op: "metrics"}).Metrics }

// kill ends the member with SIGKILL: no leave, sockets closed by the kernel.
func (p *procNode) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *procNode) memberByAddr(addr string) MemberInfo {
	for _, m := range p.members() {
		if m.RemoteAddr == addr {
			return m
		}
	}
	return MemberInfo{}
}

func procAddrs(nodes []*procNode) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.addr())
	}
	slices.Sort(out)
	return out
}

// waitProcTopology waits until every observer's protoactor topology is exactly members.
func waitProcTopology(tb testing.TB, timeout time.Duration, observers, members []*procNode) {
	tb.Helper()
	want := procAddrs(members)
	waitFor(tb, timeout, func() (bool, string) {
		for _, o := range observers {
			if got := o.topology(); !slices.Equal(got, want) {
				return false, fmt.Sprintf("%s sees %v, want %v", o.addr(), got, want)
			}
		}
		return true, ""
	})
}

// requestVia sends "who" for every identity, identity i through via[i%len(via)] (members
// work concurrently), checks every reply came from the member its OwnerOf names, and
// counts replies per serving member.
func requestVia(tb testing.TB, ids []string, via []*procNode) map[string]int {
	tb.Helper()
	batches := make([][]string, len(via))
	for i, id := range ids {
		batches[i%len(via)] = append(batches[i%len(via)], id)
	}
	results := make([][]childResult, len(via))
	var wg sync.WaitGroup
	for i, n := range via {
		wg.Go(func() {
			results[i] = n.call(childCmd{Op: "request", IDs: batches[i], Value: "who", TimeoutMS: 5000}).Results
		})
	}
	wg.Wait()
	served := map[string]int{}
	for i, rs := range results {
		for _, r := range rs {
			if r.Err != "" {
				tb.Fatalf("request %s via %s: %s", r.ID, via[i].addr(), r.Err)
			}
			if r.Reply != r.Owner {
				tb.Fatalf("request %s via %s: served by %s, OwnerOf says %s", r.ID, via[i].addr(), r.Reply, r.Owner)
			}
			served[r.Reply]++
		}
	}
	return served
}
