package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/hashicorp/memberlist"
)

// Provider is a protoactor cluster.ClusterProvider that discovers members with
// hashicorp/memberlist (SWIM gossip + failure detection).
//
// Every member gossips, as memberlist node metadata, its protoactor member id, remote
// address, hosted kinds and activation count (see nodeMeta). Joins, graceful leaves and
// failures reported by memberlist feed a member table; a single goroutine owned by the
// Provider turns table changes into cluster.MemberList.UpdateClusterTopology calls with
// the full set of alive (and suspect) non-client members, so topology updates are
// serialized and never run on memberlist's goroutines or under its locks.
//
// Lifecycle: NewProvider, then exactly one of StartMember or StartClient (normally
// called by protoactor's Cluster.StartMember/StartClient), then Shutdown. Start methods
// are idempotent for the same cluster; Shutdown is idempotent; a stopped Provider cannot
// be restarted (ErrStopped). All exported methods are safe for concurrent use.
type Provider struct {
	// Lock order: lifeMu may be held while calling memberlist; mu is never held while
	// calling memberlist or protoactor, because memberlist invokes the delegates
	// (which take mu) while holding its own locks.

	cfg ProviderConfig
	log *slog.Logger
	now func() time.Time

	// dirty has capacity 1: a pending "topology may have changed" signal.
	dirty chan struct{}

	// lifeMu serializes listen, start and Shutdown and guards the fields up to wg. The
	// Provider's goroutines read ml, advPort and cfg without it: they are written
	// before the goroutines start and not after.
	lifeMu    sync.Mutex
	phase     providerPhase
	transport *memberlist.NetTransport // bound by listen, owned by ml once created
	advIP     net.IP
	advPort   int
	boundPort int
	bindHost  string
	ml        *memberlist.Memberlist
	topoSub   *eventstream.Subscription
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the topology and maintenance goroutines

	mu         sync.Mutex // guards the fields below
	name       string     // memberlist node name == protoactor member id
	gossipAddr string
	self       nodeMeta
	localMeta  []byte
	cl         *cluster.Cluster
	members    map[string]*memberEntry // by memberlist node name
	// prunedGens keeps the generation of members pruned from members (dead or left for
	// DeadMemberRetention), so that one coming back after a long partition does not get a
	// topology id protoactor blocked. It grows by one entry per member that ever left the
	// topology, as protoactor's own block list does.
	prunedGens map[string]int
	warned     map[string]bool // member ids already warned about (blocked/bad meta)
	applied    map[string]bool // member ids of the topology protoactor last applied

	joined   chan struct{} // closed once joined (provider_join.go)
	joinOnce sync.Once
	stopping atomic.Bool // Shutdown began: memberlist's send errors are expected
}

type providerPhase int

const (
	phaseIdle providerPhase = iota
	phaseListening
	phaseRunning
	phaseStopped
)

var _ cluster.ClusterProvider = (*Provider)(nil)

// NewProvider validates cfg and returns an unstarted Provider. It binds nothing.
func NewProvider(cfg ProviderConfig) (*Provider, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("provider config: %w", err)
	}
	cfg.Join = slices.Clone(cfg.Join)
	cfg.SecretKey = slices.Clone(cfg.SecretKey)
	if cfg.LookupHost == nil {
		cfg.LookupHost = net.DefaultResolver.LookupHost
	}
	if cfg.Jitter == nil {
		cfg.Jitter = defaultJitter
	}
	return &Provider{
		cfg:        cfg,
		log:        orDiscard(cfg.Logger).With("component", "gossip"),
		now:        time.Now,
		dirty:      make(chan struct{}, 1),
		members:    map[string]*memberEntry{},
		prunedGens: map[string]int{},
		warned:     map[string]bool{},
		joined:     make(chan struct{}),
	}, nil
}

// GossipAddr returns the advertised memberlist host:port (with the real port when
// BindAddr used port 0), or "" before the Provider has bound its listeners.
func (p *Provider) GossipAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gossipAddr
}

// StartMember joins the gossip cluster as a member hosting c's kinds. c's remote must be
// started (its address is gossiped). Seeds that cannot be reached are logged, not
// returned: a first member has nobody to join, and the Provider keeps retrying while
// alone.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	return p.start(c, false)
}

// StartClient joins the gossip cluster as a client: it learns the topology but hosts no
// kinds and is excluded from every member's topology.
func (p *Provider) StartClient(c *cluster.Cluster) error {
	return p.start(c, true)
}

// Shutdown stops the Provider. With graceful set it first announces the leave in its
// metadata, then broadcasts a memberlist leave (each bounded by LeaveTimeout), so peers
// drop this member immediately, and report it as left instead of dead.
// It waits for the Provider's goroutines. Safe to call more than once.
func (p *Provider) Shutdown(graceful bool) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	switch p.phase {
	case phaseIdle:
		p.phase = phaseStopped
		return nil
	case phaseListening:
		p.phase = phaseStopped
		if err := p.transport.Shutdown(); err != nil {
			return fmt.Errorf("shutdown transport: %w", err)
		}
		return nil
	case phaseStopped:
		return nil
	}
	p.phase = phaseStopped
	p.stopping.Store(true)
	p.cancel()
	p.wg.Wait()
	p.cl.ActorSystem.EventStream.Unsubscribe(p.topoSub)

	var errs []error
	status := StatusDead
	if graceful {
		// Announce the leave in the metadata first so peers can tell it from a failure.
		p.mu.Lock()
		p.self.Leaving = true
		p.localMeta = p.self.encode()
		p.mu.Unlock()
		if err := p.ml.UpdateNode(p.cfg.LeaveTimeout); err != nil {
			p.log.Debug("announce leave", "error", err)
		}
		switch err := p.ml.Leave(p.cfg.LeaveTimeout); {
		case err == nil:
			status = StatusLeft
		case p.nobodyToTell():
			// Every peer is leaving too (a whole cluster stopped at once): nobody is left
			// to confirm the broadcast, and nobody needs it.
			p.log.Debug("leave broadcast unconfirmed: every peer is leaving too", "error", err)
			status = StatusLeft
		default:
			errs = append(errs, fmt.Errorf("leave: %w", err))
		}
	}
	if err := p.ml.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("shutdown memberlist: %w", err))
	}
	p.mu.Lock()
	if e := p.members[p.name]; e != nil {
		e.info.Status, e.since = status, p.now()
	}
	p.mu.Unlock()
	p.log.Info("gossip stopped", "graceful", graceful)
	return errors.Join(errs...)
}

// listen binds the memberlist transport and computes the advertised address. Node calls
// it before starting protoactor remote so both can advertise the same IP. Idempotent.
func (p *Provider) listen() error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	return p.listenLocked()
}

func (p *Provider) listenLocked() error {
	switch p.phase {
	case phaseListening, phaseRunning:
		return nil
	case phaseStopped:
		return ErrStopped
	}
	host, port, _ := splitHostPortDefault(p.cfg.BindAddr, -1)
	if host == "" {
		host = "0.0.0.0"
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host},
		BindPort:  port,
		Logger:    newMemberlistLogger(p.log, nil, p.expectedLoss),
	})
	if err != nil {
		return fmt.Errorf("bind gossip %s: %w", p.cfg.BindAddr, err)
	}
	advHost, advPort := "", 0
	if p.cfg.AdvertiseAddr != "" {
		advHost, advPort, _ = splitHostPortDefault(p.cfg.AdvertiseAddr, 0)
		if advPort == 0 {
			advPort = nt.GetAutoBindPort()
		}
	}
	ip, aport, err := nt.FinalAdvertiseAddr(advHost, advPort)
	if err != nil {
		_ = nt.Shutdown()
		return fmt.Errorf("gossip advertise address: %w", err)
	}
	p.transport, p.advIP, p.advPort = nt, ip, aport
	p.boundPort, p.bindHost = nt.GetAutoBindPort(), host
	p.phase = phaseListening
	p.mu.Lock()
	p.gossipAddr = net.JoinHostPort(ip.String(), strconv.Itoa(aport))
	p.mu.Unlock()
	return nil
}

// advertiseIP returns the IP the gossip layer advertises, or nil before listen.
func (p *Provider) advertiseIP() net.IP {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	return p.advIP
}

func (p *Provider) start(c *cluster.Cluster, client bool) error {
	if c == nil {
		return errors.New("start provider: nil cluster")
	}
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	switch p.phase {
	case phaseRunning:
		p.mu.Lock()
		same := p.cl == c
		p.mu.Unlock()
		if same {
			return nil
		}
		return errors.New("start provider: already started with another cluster")
	case phaseStopped:
		return ErrStopped
	}
	if err := p.listenLocked(); err != nil {
		return err
	}
	self := nodeMeta{
		ID:         c.ActorSystem.ID,
		RemoteAddr: c.ActorSystem.Address(),
		Client:     client,
	}
	if _, _, err := net.SplitHostPort(self.RemoteAddr); err != nil {
		return fmt.Errorf("start provider: remote address %q: %w (is remote started?)", self.RemoteAddr, err)
	}
	if !client {
		self.Kinds = c.GetClusterKinds()
		slices.Sort(self.Kinds)
	}
	if n := self.encodedMaxLen(); n > memberlist.MetaMaxSize {
		return fmt.Errorf("start provider: gossip metadata needs up to %d bytes, memberlist allows %d (too many or too long kind names)", n, memberlist.MetaMaxSize)
	}
	p.mu.Lock()
	p.name, p.self, p.localMeta, p.cl = self.ID, self, self.encode(), c
	p.mu.Unlock()
	// UpdateClusterTopology publishes the topology it applied (after dropping blocked
	// members) synchronously on the topology goroutine.
	p.topoSub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			ids := make(map[string]bool, len(t.Members))
			for _, m := range t.Members {
				ids[m.Id] = true
			}
			p.mu.Lock()
			p.applied = ids
			p.mu.Unlock()
		}
	})

	mc := memberlist.DefaultLANConfig()
	mc.Name = self.ID
	mc.Transport = p.transport
	mc.BindAddr, mc.BindPort = p.bindHost, p.boundPort
	mc.AdvertiseAddr, mc.AdvertisePort = p.advIP.String(), p.advPort
	mc.Label = p.cfg.Label
	mc.SecretKey = p.cfg.SecretKey
	mc.Keyring = p.cfg.Keyring // nil unless --gossip-key-file; shared so rotation reaches memberlist
	mc.ProbeInterval = p.cfg.ProbeInterval
	mc.ProbeTimeout = p.cfg.ProbeTimeout
	mc.SuspicionMult = p.cfg.SuspicionMult
	mc.SuspicionMaxTimeoutMult = p.cfg.SuspicionMaxTimeoutMult
	mc.GossipInterval = p.cfg.GossipInterval
	mc.PushPullInterval = p.cfg.PushPullInterval
	mc.TCPTimeout = p.cfg.TCPTimeout
	mc.GossipToTheDeadTime = p.cfg.PushPullInterval
	mc.Delegate = mlDelegate{p}
	mc.Events = mlEvents{p}
	mc.Ping = mlPing{p}
	mc.Logger = newMemberlistLogger(p.log, p.markSuspect, p.expectedLoss)
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = p.transport.Shutdown()
		c.ActorSystem.EventStream.Unsubscribe(p.topoSub)
		p.phase = phaseStopped
		return fmt.Errorf("start memberlist: %w", err)
	}
	p.ml = ml
	p.phase = phaseRunning
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.topologyLoop(ctx)
	go p.maintainLoop(ctx)
	p.signal()
	p.log.Info("gossip started", "gossip_addr", p.GossipAddr(), "member_id", self.ID,
		"remote_addr", self.RemoteAddr, "client", client)
	if p.cfg.Bootstrap {
		p.markJoined("bootstrap: configured as a first member")
	}
	if !p.join(ctx, true) && !p.IsJoined() {
		p.log.Info("waiting for a gossip seed: not ready until one answers", "seeds", p.cfg.Join,
			"dns", p.cfg.JoinDNS, "bootstrap_after", p.cfg.BootstrapAfter)
	}
	return nil
}

// signal records that the topology may have changed. Never blocks.
func (p *Provider) signal() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// topologyLoop is the only caller of UpdateClusterTopology. It always sends the latest
// table snapshot, so bursts of events coalesce and ordering cannot regress.
func (p *Provider) topologyLoop(ctx context.Context) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.dirty:
		}
		members, cl := p.topologyMembers()
		// BlockList.Len takes the block list's lock; protoactor reads the list without
		// it inside UpdateClusterTopology. Taking it here orders that read after every
		// completed Block (e.g. by protoactor's own gossip loop).
		_ = cl.Remote.BlockList().Len()
		cl.MemberList.UpdateClusterTopology(members)
		p.warnExcluded(members)
	}
}

func (p *Provider) refreshMeta() {
	p.mu.Lock()
	cl, client := p.cl, p.self.Client
	p.mu.Unlock()
	if client {
		return
	}
	n := activationCount(cl)
	p.mu.Lock()
	if n == p.self.Activations {
		p.mu.Unlock()
		return
	}
	p.self.Activations = n
	p.localMeta = p.self.encode()
	p.mu.Unlock()
	// UpdateNode waits for the broadcast to reach one peer; bound it so Shutdown is
	// not held up.
	if err := p.ml.UpdateNode(time.Second); err != nil {
		p.log.Debug("publish gossip metadata", "error", err)
	}
}
