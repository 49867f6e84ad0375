package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const echoKindName = "echo"

// echoActor replies to a StringValue with its member's remote address. "hang" gets no
// reply; "stop" replies and then stops the activation.
type echoActor struct{}

func (echoActor) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*wrapperspb.StringValue)
	if !ok {
		return
	}
	switch m.GetValue() {
	case "hang":
		return
	case "identity":
		ctx.Respond(wrapperspb.String(cluster.GetClusterIdentity(ctx).GetIdentity()))
		return
	case "gone-once":
		// The first activation of an identity says it is gone without deciding the message
		// (as a stopping resource actor does) and stops; later ones answer.
		if _, said := saidGone.LoadOrStore(cluster.GetClusterIdentity(ctx).GetIdentity(), true); !said {
			ctx.Respond(goneReply{})
			ctx.Poison(ctx.Self())
			return
		}
	}
	ctx.Respond(wrapperspb.String(ctx.ActorSystem().Address()))
	if m.GetValue() == "stop" {
		ctx.Poison(ctx.Self())
	}
}

// saidGone holds the identities whose activation answered "gone-once" with goneReply.
var saidGone sync.Map

// goneReply is a Redeliverable reply (local only: it is not a protobuf message).
type goneReply struct{}

func (goneReply) Redeliver() bool { return true }

func echoKind() *cluster.Kind {
	return cluster.NewKind(echoKindName, actor.PropsFromProducer(func() actor.Actor { return echoActor{} }))
}

// testLogger logs to tb at warn (debug with ALLOT_TEST_LOG=debug) until the test ends;
// later records (from goroutines that outlive the test) are dropped.
func testLogger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ALLOT_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	w := &tbWriter{tb: tb}
	tb.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tbWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

func (w *tbWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

func testNodeConfig(tb testing.TB, join ...string) NodeConfig {
	cfg := DefaultNodeConfig()
	cfg.ClusterName = "allot-test"
	cfg.RemoteAddr = "127.0.0.1:0"
	cfg.Gossip.BindAddr = "127.0.0.1:0"
	cfg.Gossip.Join = join
	cfg.Gossip.MetaRefreshInterval = 200 * time.Millisecond
	cfg.Gossip.RejoinInterval = 200 * time.Millisecond
	cfg.Kinds = []*cluster.Kind{echoKind()}
	cfg.Logger = testLogger(tb)
	cfg.Registerer = prometheus.NewRegistry()
	return cfg
}

// MustNode creates and starts a Node, stopping it when the test ends.
func MustNode(tb testing.TB, cfg NodeConfig) *Node {
	tb.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		tb.Fatalf("new node: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			tb.Errorf("stop node: %v", err)
		}
	})
	if err := n.Start(context.Background()); err != nil {
		tb.Fatalf("start node: %v", err)
	}
	return n
}

// topologyAddrs is the sorted remote addresses of n's applied protoactor topology.
func topologyAddrs(n *Node) []string {
	var out []string
	for _, m := range n.lookup.currentView().members {
		out = append(out, m.Address())
	}
	slices.Sort(out)
	return out
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met after %v: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ask(ctx context.Context, n *Node, identity, value string) (string, error) {
	res, err := n.Request(ctx, identity, echoKindName, wrapperspb.String(value))
	if err != nil {
		return "", err
	}
	s, ok := res.(*wrapperspb.StringValue)
	if !ok {
		return "", fmt.Errorf("reply %T", res)
	}
	return s.GetValue(), nil
}

func identities(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("resource-%03d", i)
	}
	return ids
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNodeRequestErrors(t *testing.T) {
	n := MustNode(t, testNodeConfig(t))
	ctx := context.Background()

	if err := n.Start(ctx); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if got, err := ask(ctx, n, "a", "identity"); err != nil || got != "a" {
		t.Fatalf("identity: %q, %v", got, err)
	}
	self := n.Self()
	if self.Status != StatusAlive || self.Activations != 1 || n.OwnerOf("a", echoKindName) != self.RemoteAddr ||
		!slices.Equal(topologyAddrs(n), []string{self.RemoteAddr}) {
		t.Fatalf("self %+v, owner %q, topology %v", self, n.OwnerOf("a", echoKindName), topologyAddrs(n))
	}
	m := gather(n.cfg.Registerer.(*prometheus.Registry))
	if m["allot_cluster_members"] != 1 || m["allot_cluster_activations"] != 1 || m["allot_cluster_forwarded_requests_total"] != 0 {
		t.Fatalf("metrics %v", m)
	}
	if _, err := n.Request(ctx, "a", "no-such-kind", wrapperspb.String("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown kind: %v, want ErrUnavailable", err)
	}
	if _, err := n.Request(ctx, "a", echoKindName, nil); err == nil {
		t.Fatal("nil message: no error")
	}

	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := ask(tctx, n, "slow", "hang"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("hang: %v, want ErrTimeout", err)
	}
	if took := time.Since(begin); took > time.Second {
		t.Fatalf("timeout honoured after %v", took)
	}

	cctx, ccancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, ccancel)
	if _, err := ask(cctx, n, "slow", "hang"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}

	// An activation that stops itself is re-activated by the next request.
	before := n.Self().Activations
	if _, err := ask(ctx, n, "passivating", "stop"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// The reply to "stop" comes before the activation has processed its poison pill; a
	// message that reaches its mailbox in between is dropped with it (protoactor does not
	// dead-letter a stopping actor's queue; the resource actor answers such commands itself,
	// see actors/resource). Wait until the activation is gone, then ask again.
	for deadline := time.Now().Add(5 * time.Second); n.Self().Activations > before; {
		if time.Now().After(deadline) {
			t.Fatalf("the passivating activation did not stop: %d activations", n.Self().Activations)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ask(ctx, n, "passivating", "who"); err != nil {
		t.Fatalf("request after passivation: %v", err)
	}

	// A reply that says the activation is gone without deciding the message makes Request
	// deliver it again, to a fresh activation, instead of returning that reply.
	if got, err := ask(ctx, n, "gone", "gone-once"); err != nil || got != self.RemoteAddr {
		t.Fatalf("redelivered: %q, %v", got, err)
	}

	sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
	defer scancel()
	if err := n.Stop(sctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := ask(ctx, n, "a", "who"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after stop: %v, want ErrUnavailable", err)
	}
}

func TestNodeStopBeforeStart(t *testing.T) {
	n, err := NewNode(testNodeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := n.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("start after stop: %v, want ErrStopped", err)
	}
}

func TestNodeConfigValidate(t *testing.T) {
	cases := map[string]func(*NodeConfig){
		"empty cluster name":    func(c *NodeConfig) { c.ClusterName = "" },
		"remote addr no port":   func(c *NodeConfig) { c.RemoteAddr = "127.0.0.1" },
		"unspecified advertise": func(c *NodeConfig) { c.AdvertiseRemoteAddr = "0.0.0.0:1" },
		"zero timeout":          func(c *NodeConfig) { c.RequestTimeout = 0 },
		"nil kind":              func(c *NodeConfig) { c.Kinds = append(c.Kinds, nil) },
		"duplicate kind":        func(c *NodeConfig) { c.Kinds = append(c.Kinds, echoKind()) },
		"kind with a slash": func(c *NodeConfig) {
			c.Kinds = []*cluster.Kind{cluster.NewKind("a/b", c.Kinds[0].Props)}
		},
		"bad gossip": func(c *NodeConfig) { c.Gossip.SecretKey = []byte("short") },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultNodeConfig()
			cfg.Kinds = []*cluster.Kind{echoKind()}
			mutate(&cfg)
			if err := cfg.validate(); err == nil {
				t.Fatal("validate accepted it")
			}
		})
	}
	cfg := DefaultNodeConfig()
	cfg.Kinds = []*cluster.Kind{echoKind()}
	if err := cfg.validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

func TestNodeMetricsRegistrationConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testNodeConfig(t)
	cfg.Registerer = reg
	if _, err := NewNode(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewNode(cfg); err == nil {
		t.Fatal("second node on the same registry: no error")
	}
}

// RequestWithin bounds a wait on a cached activation by its timeout alone (a pooled timer;
// ctx carries only the cancellation, as an HTTP request's does), honours ctx's cancellation,
// and a timer reused after a timeout fires for nothing but its own wait.
func TestNodeRequestWithin(t *testing.T) {
	cfg := testNodeConfig(t)
	cfg.RequestTimeout = time.Second
	n := MustNode(t, cfg)
	bg := context.Background()
	if got, err := ask(bg, n, "w", "identity"); err != nil || got != "w" { // activated and cached
		t.Fatalf("identity: %q, %v", got, err)
	}
	within := func(ctx context.Context, timeout time.Duration, value string) (any, error) {
		return n.RequestWithin(ctx, timeout, "w", echoKindName, wrapperspb.String(value))
	}

	for i := range 3 { // the timer of one attempt goes back to the pool for the next
		begin := time.Now()
		if _, err := within(bg, 100*time.Millisecond, "hang"); !errors.Is(err, ErrTimeout) {
			t.Fatalf("hang %d: %v, want ErrTimeout", i, err)
		}
		if took := time.Since(begin); took < 100*time.Millisecond || took > 2*time.Second {
			t.Fatalf("hang %d: timed out after %v, want 100ms", i, took)
		}
		if res, err := within(bg, 5*time.Second, "identity"); err != nil || res.(*wrapperspb.StringValue).GetValue() != "w" {
			t.Fatalf("after a timeout %d: %v, %v", i, res, err)
		}
	}

	cctx, ccancel := context.WithCancel(bg)
	time.AfterFunc(100*time.Millisecond, ccancel)
	if _, err := within(cctx, time.Minute, "hang"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}

	// A ctx deadline sooner than the timeout bounds the call.
	tctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := within(tctx, time.Minute, "hang"); !errors.Is(err, ErrTimeout) || time.Since(begin) > 2*time.Second {
		t.Fatalf("ctx deadline: %v after %v, want ErrTimeout", err, time.Since(begin))
	}
	// A timeout past NodeConfig.RequestTimeout is cut to it.
	begin = time.Now()
	if _, err := within(bg, time.Hour, "hang"); !errors.Is(err, ErrTimeout) || time.Since(begin) < time.Second || time.Since(begin) > 3*time.Second {
		t.Fatalf("capped: %v after %v (RequestTimeout %v)", err, time.Since(begin), n.cfg.RequestTimeout)
	}
}
