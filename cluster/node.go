// Package cluster runs Allot's virtual actors on a protoactor-go cluster whose members
// discover each other with hashicorp/memberlist.
//
// Provider is the memberlist-based cluster.ClusterProvider; Node assembles the actor
// system, protoactor remote, the cluster with its identity lookup (lookup.go), the
// caller's kinds and the Provider, and adds a deadline-aware Request.
//
// Ownership: an identity of a kind is owned by the member that rendezvous hashing (over
// the remote addresses of the alive members hosting the kind) picks; the owner's
// placement actor (placement.go, disthash's protocol) activates it on first use. When the
// topology changes, every placement actor stops (poisons) the activations it no longer
// owns; they are re-activated on the new owner by the next request. protoactor does not fence
// activations: while members disagree about the topology (for a few gossip rounds after
// a change) two activations of one identity can exist on different members. Actors that
// own durable state must fence their writes.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
)

// Node is one Allot cluster member: an actor system with protoactor remote and cluster,
// gossiping with memberlist.
//
// Lifecycle: NewNode, Start, Stop. Start and Stop are idempotent; a stopped Node cannot
// be restarted (ErrStopped). All methods are safe for concurrent use. Request, OwnerOf,
// Members and Self may be called in any state (Request fails with ErrUnavailable unless
// the Node is running).
type Node struct {
	cfg      NodeConfig
	log      *slog.Logger
	system   *actor.ActorSystem
	c        *cluster.Cluster
	remote   *remote.Config
	provider *Provider
	lookup   *identityLookup
	metrics  *nodeMetrics // nil without a Registerer
	timers   timerPool    // bound RequestWithin's reply waits (reply.go)
	replies  replyPool    // reply processes of local requests (replypool.go)
	pids     *pidCache    // the request path's PID cache, not protoactor's (pidcache.go)

	started  atomic.Bool // cluster member started: protoactor's kinds map is immutable from here
	running  atomic.Bool // accepting requests
	stopping atomic.Bool // teardown began: connection errors from here on are expected

	lifeMu   sync.Mutex // guards phase and stopDone
	phase    nodePhase
	stopDone chan struct{} // closed when teardown finished
	stopErr  error         // written before stopDone is closed
}

// protoGossipInterval idles protoactor's own gossip layer. Cluster.StartMember always
// starts it, but Allot does not need it (memberlist is the membership source, and
// disthash uses none of its consensus checks), and it races: its loop and actor write
// the remote block list and read the member list without the locks protoactor's
// MemberList uses, and its informer shares a package-level math/rand source across
// actor systems. With a tick this long it never sends, never expires heartbeats and
// never blocks members; its actor only records topology updates locally.
const protoGossipInterval = 365 * 24 * time.Hour

type nodePhase int

const (
	nodeIdle nodePhase = iota
	nodeRunning
	nodeStopping
	nodeStopped
)

// NewNode validates cfg, registers metrics and builds the (unstarted) actor system and
// cluster. It binds no sockets and starts no goroutines of its own.
func NewNode(cfg NodeConfig) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("node config: %w", err)
	}
	log := orDiscard(cfg.Logger).With("component", "cluster")
	gcfg := cfg.Gossip
	if gcfg.Label == "" {
		gcfg.Label = cfg.ClusterName
	}
	if gcfg.Logger == nil {
		gcfg.Logger = cfg.Logger
	}
	provider, err := NewProvider(gcfg)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, provider: provider}
	n.metrics, err = newNodeMetrics(cfg.Registerer, n.localActivations)
	if err != nil {
		return nil, err
	}
	n.pids = newPIDCache()
	n.lookup = newIdentityLookup(cfg.RequestTimeout, n.onView)
	n.lookup.onTerminating = n.forget
	n.lookup.inMajority, n.lookup.handover = provider.inMajority, cfg.HandoverGrace

	level := cfg.ProtoActorLogLevel
	if level == nil {
		level = slog.LevelWarn
	}
	base := orDiscard(cfg.Logger)
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		h := expectedErrors{h: levelFloor{h: base.Handler(), min: level}, expected: n.expectedLoss}
		return slog.New(h).With("lib", "protoactor", "system", s.ID)
	}))
	prewarmRegistry(n.system)   // registry.go: before anything is spawned
	n.replies.install(n.system) // replypool.go: before remote registers its resolver
	var remoteOpts []remote.ConfigOption
	if cfg.PeerTLS != nil {
		remoteOpts = cfg.PeerTLS.RemoteOptions() // replaces protoactor's plaintext dial option
	}
	n.remote = remote.Configure("", 0, remoteOpts...)
	// One connection attempt per endpoint writer: protoactor's retries (5, two seconds apart,
	// inside the writer's mailbox) each dial a new grpc.ClientConn and overwrite the previous
	// one without closing it, so a peer that died left connections redialling it for the rest
	// of the process. Gossip decides whether a peer is gone; a message to an endpoint that
	// failed is dead-lettered, and Request locates the activation again.
	n.remote.MaxRetryCount = 1
	ccfg := cluster.Configure(cfg.ClusterName, provider, n.lookup, n.remote,
		cluster.WithKinds(cfg.Kinds...),
		cluster.WithRequestTimeout(cfg.RequestTimeout))
	ccfg.GossipInterval = protoGossipInterval
	n.c = cluster.New(n.system, ccfg)
	return n, nil
}

// Start binds gossip and remote, starts the cluster member and joins the seeds. It
// blocks for at least one second (protoactor's Cluster.StartMember sleeps) plus seed
// joining (seeds that cannot be reached are logged and retried in the background, see
// ProviderConfig.Join). ctx is only checked before starting: protoactor's start cannot
// be interrupted. A failed Start tears down what it started and leaves the Node stopped.
func (n *Node) Start(ctx context.Context) error {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	switch n.phase {
	case nodeRunning:
		return nil
	case nodeStopping, nodeStopped:
		return ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	err := n.provider.listen()
	if err == nil {
		err = n.configureRemote()
	}
	if err == nil {
		err = recoverPanic(n.c.StartMember)
	}
	if err != nil {
		n.abortStart()
		return fmt.Errorf("start node: %w", err)
	}
	n.started.Store(true)
	n.running.Store(true)
	n.phase = nodeRunning
	self := n.Self()
	n.log.Info("cluster member started", "member_id", self.ID, "remote_addr", self.RemoteAddr,
		"gossip_addr", self.GossipAddr, "kinds", self.Kinds)
	return nil
}

// Stop leaves the cluster gracefully: it stops accepting requests, stops every local
// activation (the placement actor poisons them and waits, at most 10 s each in
// parallel), broadcasts a gossip leave so peers re-home this member's identities at once,
// then shuts down protoactor gossip, remote (see stopRemote) and the actor system.
//
// Activations are stopped before leaving so an identity is never active here and on its
// new owner at the same time because of this shutdown; meanwhile peers' requests for
// these identities are retried (Node.Request) until the leave reaches them.
//
// If ctx ends first Stop returns its error while the teardown goroutine finishes on
// its own (every step is bounded); a later Stop waits for it again. Idempotent.
func (n *Node) Stop(ctx context.Context) error {
	n.lifeMu.Lock()
	switch n.phase {
	case nodeIdle:
		n.phase = nodeStopped
		n.stopDone = make(chan struct{})
		close(n.stopDone)
		_ = n.provider.Shutdown(false)
	case nodeRunning:
		n.phase = nodeStopping
		n.stopDone = make(chan struct{})
		go n.teardown(n.stopDone)
	}
	done := n.stopDone
	n.lifeMu.Unlock()
	select {
	case <-done:
		return n.stopErr
	case <-ctx.Done():
		return fmt.Errorf("stop node: %w", ctx.Err())
	}
}

func (n *Node) teardown(done chan struct{}) {
	n.stopping.Store(true)
	n.running.Store(false)
	var errs []error
	if err := recoverPanic(n.lookup.Shutdown); err != nil {
		errs = append(errs, fmt.Errorf("stop activations: %w", err))
	}
	if err := n.provider.Shutdown(true); err != nil {
		errs = append(errs, fmt.Errorf("leave gossip: %w", err))
	}
	if err := recoverPanic(n.c.Gossip.Shutdown); err != nil {
		errs = append(errs, fmt.Errorf("stop protoactor gossip: %w", err))
	}
	if err := recoverPanic(n.stopRemote); err != nil {
		errs = append(errs, fmt.Errorf("stop remote: %w", err))
	}
	n.system.Shutdown()
	n.metrics.setMembers(0)
	n.log.Info("cluster member stopped", "member_id", n.system.ID)

	n.lifeMu.Lock()
	n.stopErr = errors.Join(errs...)
	n.phase = nodeStopped
	n.lifeMu.Unlock()
	close(done)
}

// stopRemote closes the outbound endpoints to every peer, then hard-stops the gRPC
// server (which closes inbound streams).
//
// protoactor's graceful Remote.Shutdown(true) is avoided on purpose: it writes
// endpointReader.suspended and endpointManager.connections/stopped without
// synchronization while gRPC stream goroutines and endpoint events read them (data races
// under -race), and its GracefulStop waits up to 10 s for peers to drop their streams.
// Publishing EndpointTerminatedEvent is how protoactor itself retires the endpoint of a
// member that left; it stops the endpoint writers, which close their connections.
func (n *Node) stopRemote() {
	self := n.system.Address()
	for _, m := range n.lookup.currentView().members {
		if addr := m.Address(); addr != self {
			n.system.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: addr})
		}
	}
	n.c.Remote.Shutdown(false)
}

// abortStart releases whatever a failed Start got to start. Called with lifeMu held.
func (n *Node) abortStart() {
	_ = recoverPanic(n.lookup.Shutdown)
	_ = n.provider.Shutdown(false)
	_ = recoverPanic(n.c.Gossip.Shutdown)
	if n.c.Remote != nil {
		_ = recoverPanic(func() { n.c.Remote.Shutdown(false) })
	}
	n.system.Shutdown()
	n.phase = nodeStopped
	n.stopDone = make(chan struct{})
	close(n.stopDone)
}

// configureRemote resolves the remote bind and advertised addresses (see
// NodeConfig.RemoteAddr for how port 0 is handled).
func (n *Node) configureRemote() error {
	host, port, _ := splitHostPortDefault(n.cfg.RemoteAddr, -1)
	ip := net.ParseIP(host)
	specific := host != "" && (ip == nil || !ip.IsUnspecified())
	advHost, advPort := "", 0
	if n.cfg.AdvertiseRemoteAddr != "" {
		advHost, advPort, _ = splitHostPortDefault(n.cfg.AdvertiseRemoteAddr, 0)
	}
	if port == 0 {
		if advHost == "" && specific {
			// protoactor listens on host:0 and advertises the listener's address.
			n.remote.Host, n.remote.Port, n.remote.AdvertisedHost = host, 0, ""
			return nil
		}
		p, err := freePort(host)
		if err != nil {
			return fmt.Errorf("pick remote port: %w", err)
		}
		port = p
	}
	if advHost == "" {
		if specific {
			advHost = host
		} else if gip := n.provider.advertiseIP(); gip != nil {
			advHost = gip.String()
		} else {
			return errors.New("no address to advertise for remote; set AdvertiseRemoteAddr")
		}
	}
	if advPort == 0 {
		advPort = port
	}
	// remote.Config.AdvertisedHost is used verbatim as the actor system address.
	n.remote.Host, n.remote.Port = host, port
	n.remote.AdvertisedHost = net.JoinHostPort(advHost, strconv.Itoa(advPort))
	return nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// Members returns every known member (alive, suspect, and recently dead or left),
// sorted by ID. See MemberInfo for staleness.
func (n *Node) Members() []MemberInfo { return n.provider.Members() }

// Self returns this member's MemberInfo. Before Start only ID and Self are set.
func (n *Node) Self() MemberInfo {
	for _, m := range n.provider.Members() {
		if m.Self {
			return m
		}
	}
	return MemberInfo{ID: n.system.ID, Self: true}
}

// OwnerOf returns the remote address of the member that currently owns identity of kind
// according to this member's view of the topology, or "" if no member hosts kind. The
// answer can change with the topology at any moment; use it for logs and headers only.
func (n *Node) OwnerOf(identity, kind string) string {
	return n.lookup.currentView().owner(cluster.NewClusterIdentity(identity, kind))
}

// System returns the protoactor actor system.
func (n *Node) System() *actor.ActorSystem { return n.system }

// Cluster returns the protoactor cluster. Prefer Node.Request to Cluster().Request:
// protoactor's version ignores contexts and retries in ways that can hide timeouts.
func (n *Node) Cluster() *cluster.Cluster { return n.c }

// localActivations is the live number of activations hosted here (0 before Start).
func (n *Node) localActivations() int {
	if !n.started.Load() {
		return 0
	}
	return activationCount(n.c)
}

// expectedLoss reports whether a connection error about addr is expected: this member is
// stopping, or addr is a peer that left gracefully (see Provider.expectedLoss).
func (n *Node) expectedLoss(addr string) bool {
	return n.stopping.Load() || n.provider.expectedLoss(addr)
}

// Joined returns a channel closed once this member has joined a cluster or a bootstrap rule
// made it the first member (see ProviderConfig.Bootstrap); until then it should not be
// reported ready.
func (n *Node) Joined() <-chan struct{} { return n.provider.Joined() }

// onView runs on the provider's topology goroutine after each applied topology.
func (n *Node) onView(v *topologyView) {
	n.metrics.setMembers(len(v.members))
	n.pids.removeUnless(v.hosts) // what protoactor's cache does with a member that left
}

// forget drops a stopping local activation from the PID cache (protoactor's cluster
// middleware, or the activation itself, publishes its ActivationTerminating).
func (n *Node) forget(ev *cluster.ActivationTerminating) {
	if ev.ClusterIdentity != nil && ev.Pid != nil {
		n.pids.removeByValue(ev.ClusterIdentity.Identity, ev.ClusterIdentity.Kind, ev.Pid)
	}
}

// recoverPanic runs f, turning a panic into an error (protoactor reports most start and
// stop failures by panicking).
func recoverPanic(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("protoactor panic: %w", e)
			} else {
				err = fmt.Errorf("protoactor panic: %v", r)
			}
		}
	}()
	f()
	return nil
}
