package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
)

// crashForTest stops the Provider like a crash: no leave, loops and memberlist stopped.
func (p *Provider) crashForTest() {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.phase != phaseRunning {
		return
	}
	p.phase = phaseStopped
	p.cancel()
	p.wg.Wait()
	p.cl.ActorSystem.EventStream.Unsubscribe(p.topoSub)
	_ = p.ml.Shutdown()
}

func TestMetaRoundTrip(t *testing.T) {
	in := nodeMeta{ID: "abc", RemoteAddr: "10.0.0.1:8090", Activations: 123456, Kinds: []string{"echo", "prototopic"}}
	out, err := decodeMeta(in.encode())
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.RemoteAddr != in.RemoteAddr || out.Activations != in.Activations ||
		out.Client || !slices.Equal(out.Kinds, in.Kinds) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
	client := nodeMeta{ID: "c", RemoteAddr: "h:1", Client: true}
	if out, err := decodeMeta(client.encode()); err != nil || !out.Client || out.Kinds != nil {
		t.Fatalf("client: %+v, %v", out, err)
	}
}

func TestMetaSizeBound(t *testing.T) {
	m := nodeMeta{ID: strings.Repeat("i", 22), RemoteAddr: "255.255.255.255:65535", Kinds: []string{"resource", "prototopic"}}
	m.Activations = 1<<31 - 1
	if got, max := len(m.encode()), m.encodedMaxLen(); got > max {
		t.Fatalf("encoded %d bytes > bound %d", got, max)
	}
	if m.encodedMaxLen() > 100 {
		t.Fatalf("typical metadata takes %d bytes, want compact", m.encodedMaxLen())
	}
}

func TestMetaRejectsMalformed(t *testing.T) {
	good := nodeMeta{ID: "abc", RemoteAddr: "h:1", Kinds: []string{"k"}}.encode()
	bad := [][]byte{
		nil,
		{2, 0},                               // unknown version
		good[:len(good)-1],                   // truncated
		append(slices.Clone(good), 0),        // trailing byte
		nodeMeta{RemoteAddr: "h:1"}.encode(), // empty id
		{metaVersion, 0, 3, 'a', 'b', 'c', 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, // absurd kind count
	}
	for i, b := range bad {
		if _, err := decodeMeta(b); !errors.Is(err, errBadMeta) {
			t.Errorf("case %d: err %v, want errBadMeta", i, err)
		}
	}
}

func TestMemberlistLogParsing(t *testing.T) {
	var suspected []string
	w := &memberlistLog{log: testLogger(t), onSuspect: func(n string) { suspected = append(suspected, n) }}
	for _, line := range []string{
		"[INFO] memberlist: Suspect node-b has failed, no acks received\n",
		"[DEBUG] memberlist: Failed UDP ping: node-b (timeout reached)\n",
		"[WARN] memberlist: Refuting a suspect message (from: node-c)\n",
	} {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(suspected, []string{"node-b"}) {
		t.Fatalf("suspected %v", suspected)
	}
	if l, msg := parseMemberlistLine("[ERR] memberlist: boom\n"); l.String() != "ERROR" || msg != "memberlist: boom" {
		t.Fatalf("parsed %v %q", l, msg)
	}
}

func TestProviderConfigValidate(t *testing.T) {
	cases := map[string]func(*ProviderConfig){
		"bind without port":      func(c *ProviderConfig) { c.BindAddr = "127.0.0.1" },
		"bad port":               func(c *ProviderConfig) { c.BindAddr = ":99999" },
		"advertise hostname":     func(c *ProviderConfig) { c.AdvertiseAddr = "pod.local:7946" },
		"ipv6 any w/o advertise": func(c *ProviderConfig) { c.BindAddr = "[::]:7946" },
		"empty seed":             func(c *ProviderConfig) { c.Join = []string{""} },
		"key size":               func(c *ProviderConfig) { c.SecretKey = make([]byte, 20) },
		"long label":             func(c *ProviderConfig) { c.Label = strings.Repeat("x", 256) },
		"zero probe interval":    func(c *ProviderConfig) { c.ProbeInterval = 0 },
		"timeout above interval": func(c *ProviderConfig) { c.ProbeTimeout = c.ProbeInterval },
		"zero suspicion mult":    func(c *ProviderConfig) { c.SuspicionMult = 0 },
		"zero meta refresh":      func(c *ProviderConfig) { c.MetaRefreshInterval = 0 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultProviderConfig()
			mutate(&cfg)
			if err := cfg.validate(); err == nil {
				t.Fatal("validate accepted it")
			}
		})
	}
	cfg := DefaultProviderConfig()
	cfg.AdvertiseAddr = "10.1.2.3"
	cfg.JoinDNS = "allot-gossip.default.svc.cluster.local"
	cfg.SecretKey = make([]byte, 32)
	if err := cfg.validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestProviderBindsPortZero(t *testing.T) {
	cfg := DefaultProviderConfig()
	cfg.BindAddr = "127.0.0.1:0"
	p, err := NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.listen(); err != nil {
		t.Fatal(err)
	}
	addr := p.GossipAddr()
	if err := p.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("gossip addr %q (%v)", addr, err)
	}
	if err := p.Shutdown(true); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if err := p.listen(); !errors.Is(err, ErrStopped) {
		t.Fatalf("listen after shutdown: %v", err)
	}
}

// fakeMember is a Provider on a protoactor cluster whose remote is configured but never
// started (no gRPC): enough for everything the Provider touches, and safe to run
// several per process (see node_cluster_test.go for why real members are not).
type fakeMember struct {
	p    *Provider
	c    *cluster.Cluster
	addr string // fake remote address (nothing listens there)

	mu   sync.Mutex
	topo []string // member ids of the last topology protoactor applied
}

func testProviderConfig(join ...string) ProviderConfig {
	cfg := DefaultProviderConfig()
	cfg.BindAddr = "127.0.0.1:0"
	cfg.Join = join
	cfg.RejoinInterval = 200 * time.Millisecond
	return cfg
}

// MustFakeMember starts a Provider (as a member, or a client) and shuts it down
// gracefully when the test ends.
func MustFakeMember(tb testing.TB, cfg ProviderConfig, client bool) *fakeMember {
	tb.Helper()
	log := testLogger(tb)
	cfg.Logger = log
	p, err := NewProvider(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	rcfg := remote.Configure("127.0.0.1", 0)
	c := cluster.New(sys, cluster.Configure("test", p, nil, rcfg))
	c.Remote = remote.NewRemote(sys, rcfg)
	f := &fakeMember{p: p, c: c, addr: "member-" + sys.ID + ":1"} // never dialled
	sys.ProcessRegistry.Address = f.addr
	sys.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			ids := make([]string, 0, len(t.Members))
			for _, m := range t.Members {
				ids = append(ids, memberIDOf(m.Id))
			}
			slices.Sort(ids)
			f.mu.Lock()
			f.topo = ids
			f.mu.Unlock()
		}
	})
	tb.Cleanup(func() {
		if err := p.Shutdown(true); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
	})
	start := p.StartMember
	if client {
		start = p.StartClient
	}
	if err := start(c); err != nil {
		tb.Fatalf("start provider: %v", err)
	}
	return f
}

func (f *fakeMember) id() string { return f.c.ActorSystem.ID }

func (f *fakeMember) topology() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.topo)
}

func (f *fakeMember) member(id string) MemberInfo {
	for _, m := range f.p.Members() {
		if m.ID == id {
			return m
		}
	}
	return MemberInfo{}
}

func idsOf(ms ...*fakeMember) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.id())
	}
	slices.Sort(out)
	return out
}

func waitFakeTopology(tb testing.TB, timeout time.Duration, observers, members []*fakeMember) {
	tb.Helper()
	want := idsOf(members...)
	waitFor(tb, timeout, func() (bool, string) {
		for _, o := range observers {
			if got := o.topology(); !slices.Equal(got, want) {
				return false, fmt.Sprintf("%s sees %v, want %v", o.id(), got, want)
			}
		}
		return true, ""
	})
}

// TestProviderMembership: joins reach protoactor's topology on every member; a crash is
// reported as dead and a graceful leave as left, each removed within seconds.
func TestProviderMembership(t *testing.T) {
	a := MustFakeMember(t, testProviderConfig(), false)
	b := MustFakeMember(t, testProviderConfig(a.p.GossipAddr()), false)
	c := MustFakeMember(t, testProviderConfig(a.p.GossipAddr()), false)
	all := []*fakeMember{a, b, c}
	waitFakeTopology(t, 10*time.Second, all, all)
	for _, o := range all {
		for _, m := range all {
			info := o.member(m.id())
			if info.Status != StatusAlive || info.RemoteAddr != m.addr || info.GossipAddr != m.p.GossipAddr() ||
				info.Self != (o == m) {
				t.Fatalf("%s sees %s as %+v", o.id(), m.id(), info)
			}
		}
	}

	// A crash is confirmed by both survivors and declared dead within seconds.
	start := time.Now()
	c.p.crashForTest()
	waitFakeTopology(t, 10*time.Second, []*fakeMember{a, b}, []*fakeMember{a, b})
	t.Logf("crash detected after %v", time.Since(start))
	for _, o := range []*fakeMember{a, b} {
		if got := o.member(c.id()).Status; got != StatusDead {
			t.Errorf("%s sees the crashed member as %q, want dead", o.id(), got)
		}
	}

	start = time.Now()
	if err := b.p.Shutdown(true); err != nil {
		t.Fatalf("leave: %v", err)
	}
	// A leave is usually applied in well under a second; the bound is generous because a
	// loaded CI machine (make test runs packages in parallel) delays gossip rounds.
	waitFakeTopology(t, 15*time.Second, []*fakeMember{a}, []*fakeMember{a})
	t.Logf("graceful leave applied after %v", time.Since(start))
	if got := a.member(b.id()).Status; got != StatusLeft {
		t.Errorf("leaver is %q, want left", got)
	}
}

// TestProviderClient: a client sees the members but is in nobody's topology.
func TestProviderClient(t *testing.T) {
	a := MustFakeMember(t, testProviderConfig(), false)
	cl := MustFakeMember(t, testProviderConfig(a.p.GossipAddr()), true)
	waitFor(t, 10*time.Second, func() (bool, string) {
		return a.member(cl.id()).Status == StatusAlive, "member does not see the client"
	})
	waitFakeTopology(t, 5*time.Second, []*fakeMember{a, cl}, []*fakeMember{a})
	if err := cl.p.StartClient(cl.c); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if err := cl.p.StartMember(MustFakeMember(t, testProviderConfig(), false).c); err == nil {
		t.Fatal("start with another cluster: no error")
	}
	if info := a.member(cl.id()); !info.Client || len(info.Kinds) != 0 {
		t.Fatalf("client seen as %+v", info)
	}
}

// TestProviderJoinDNS seeds through an injected resolver. The third member starts while
// the name resolves to nothing and must keep re-resolving until it finds the others.
func TestProviderJoinDNS(t *testing.T) {
	first := MustFakeMember(t, testProviderConfig(), false)
	_, port, _ := net.SplitHostPort(first.p.GossipAddr())
	const name = "allot-gossip.test.svc"
	var published atomic.Bool
	published.Store(true)
	var lookups atomic.Int32
	cfg := testProviderConfig()
	cfg.JoinDNS = name + ":" + port
	cfg.LookupHost = func(ctx context.Context, host string) ([]string, error) {
		lookups.Add(1)
		if host != name {
			return nil, fmt.Errorf("unexpected lookup %q", host)
		}
		if !published.Load() {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []string{"127.0.0.1"}, nil
	}
	second := MustFakeMember(t, cfg, false)
	waitFakeTopology(t, 10*time.Second, []*fakeMember{first, second}, []*fakeMember{first, second})

	published.Store(false)
	third := MustFakeMember(t, cfg, false)
	if got := len(third.p.Members()); got != 1 {
		t.Fatalf("third member knows %d members while DNS is empty", got)
	}
	before := lookups.Load()
	waitFor(t, 5*time.Second, func() (bool, string) {
		return lookups.Load() >= before+2, "no re-resolution while alone"
	})
	published.Store(true)
	all := []*fakeMember{first, second, third}
	waitFakeTopology(t, 10*time.Second, all, all)
}

// TestProviderEncryption: members sharing a key form a cluster; a member with another
// key cannot join it.
func TestProviderEncryption(t *testing.T) {
	cfg := testProviderConfig()
	cfg.SecretKey = []byte("0123456789abcdef")
	a := MustFakeMember(t, cfg, false)
	cfg.Join = []string{a.p.GossipAddr()}
	b := MustFakeMember(t, cfg, false)
	cfg.SecretKey = []byte("fedcba9876543210")
	c := MustFakeMember(t, cfg, false)
	waitFakeTopology(t, 10*time.Second, []*fakeMember{a, b}, []*fakeMember{a, b})
	if got := len(c.p.Members()); got != 1 {
		t.Fatalf("member with the wrong key knows %d members", got)
	}
	waitFakeTopology(t, 5*time.Second, []*fakeMember{c}, []*fakeMember{c})
}
