package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// topologyView is an immutable snapshot of the topology protoactor applied, with the
// rendezvous hash disthash uses to pick owners (same members, same algorithm, so
// OwnerOf and the request path agree with disthash's placement actors).
type topologyView struct {
	members []*cluster.Member // sorted by id
	rdv     *cluster.Rendezvous
	// sole maps a kind that exactly one member hosts to that member's address: the
	// rendezvous hash can only pick it, and asking the hash builds a slice and the address
	// string on every request (one node, or one node per kind, is the common case).
	sole map[string]string
	// replaced is closed when a newer view takes this one's place: a wait on a member can
	// then check whether the member is still in the cluster (memberWatch).
	replaced chan struct{}
}

// hosts says whether a member with address addr is in the view.
func (v *topologyView) hosts(addr string) bool {
	for _, m := range v.members {
		if m.Address() == addr {
			return true
		}
	}
	return false
}

func newTopologyView(members []*cluster.Member) *topologyView {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b *cluster.Member) int {
		switch {
		case a.Id < b.Id:
			return -1
		case a.Id > b.Id:
			return 1
		}
		return 0
	})
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(ms)
	return &topologyView{members: ms, rdv: rdv, sole: soleHosts(ms), replaced: make(chan struct{})}
}

// soleHosts maps each kind hosted by exactly one of members (sorted by id) to its address.
// With two members of one id (the rendezvous keeps one of them) it maps nothing: owner then
// always asks the hash.
func soleHosts(members []*cluster.Member) map[string]string {
	hosts := map[string]int{}
	addr := map[string]string{}
	for i, m := range members {
		if i > 0 && members[i-1].Id == m.Id {
			return nil
		}
		for _, k := range slices.Compact(slices.Sorted(slices.Values(m.Kinds))) {
			hosts[k]++
			addr[k] = m.Address()
		}
	}
	for k, n := range hosts {
		if n != 1 {
			delete(addr, k)
		}
	}
	return addr
}

// owner returns the remote address of the member owning ci, or "" if no member hosts
// ci.Kind.
func (v *topologyView) owner(ci *cluster.ClusterIdentity) string {
	if a, ok := v.sole[ci.Kind]; ok {
		return a
	}
	return v.rdv.GetByClusterIdentity(ci)
}

func (v *topologyView) hostsKind(kind string) bool {
	for _, m := range v.members {
		if m.HasKind(kind) {
			return true
		}
	}
	return false
}

// identityLookup is protoactor's disthash identity lookup with a race-free Get and a
// placement actor of its own (placement.go).
//
// Owners are resolved as disthash resolves them (rendezvous over the members hosting the
// kind) but from an atomically swapped topologyView: disthash.Manager.Get reads a rendezvous
// pointer that its topology subscription replaces without synchronization (a data race under
// concurrent requests and topology changes). Activation requests go to the owner's
// "partition-activator", disthash's name and protocol, served here by placementActor, which
// unlike disthash's keeps nothing of a passivated activation.
//
// Setup/Shutdown are called by protoactor's cluster; Shutdown is idempotent (protoactor
// calls it twice on a graceful Cluster.Shutdown). Get and activate are safe for
// concurrent use.
type identityLookup struct {
	timeout time.Duration
	view    atomic.Pointer[topologyView]

	mu        sync.Mutex
	c         *cluster.Cluster
	sub       *eventstream.Subscription
	placement *actor.PID
	shutdown  bool
	// onView is called (on the topology goroutine) after each view swap.
	onView func(*topologyView)
	// onTerminating, if set before Setup, is called (on the stopping activation's goroutine)
	// with every local activation's stop, before the placement actor is told.
	onTerminating func(*cluster.ActivationTerminating)
	// inMajority and handover, if set before Setup, are the placement actor's (placement.go:
	// a member in a minority activates nothing; one that leaves it waits handover first).
	inMajority func() bool
	handover   time.Duration
}

var _ cluster.IdentityLookup = (*identityLookup)(nil)

func newIdentityLookup(timeout time.Duration, onView func(*topologyView)) *identityLookup {
	l := &identityLookup{timeout: timeout, onView: onView}
	l.view.Store(newTopologyView(nil))
	return l
}

// Setup implements cluster.IdentityLookup: it starts the placement actor and forwards it
// every topology, after the view is swapped (so that OwnerOf and the request path already
// route to the new owners when activations are moved), and every activation's stop.
func (l *identityLookup) Setup(c *cluster.Cluster, kinds []string, isClient bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = c
	inMajority, handover := l.inMajority, l.handover
	props := actor.PropsFromProducer(func() actor.Actor { return newPlacementActor(c, inMajority, handover) })
	pid, err := c.ActorSystem.Root.SpawnNamed(props, placementActorName)
	if err != nil { // the name is taken: Setup ran twice on one actor system
		panic(fmt.Sprintf("cluster: placement actor: %v", err))
	}
	l.placement = pid
	l.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		switch ev := ev.(type) {
		case *cluster.ClusterTopology:
			v := newTopologyView(ev.Members)
			l.swapView(v)
			if l.onView != nil {
				l.onView(v)
			}
			c.ActorSystem.Root.Send(pid, ev)
		case *cluster.ActivationTerminating: // published by the stopping activation itself
			if l.onTerminating != nil {
				l.onTerminating(ev)
			}
			c.ActorSystem.Root.Send(pid, ev)
		}
	})
}

// Shutdown implements cluster.IdentityLookup: it stops the placement actor, which first
// stops (poisons) every local activation and waits for them (protoactor bounds each wait at
// 10 s).
func (l *identityLookup) Shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shutdown || l.c == nil {
		l.shutdown = true
		return
	}
	l.shutdown = true
	l.c.ActorSystem.EventStream.Unsubscribe(l.sub)
	if err := l.c.ActorSystem.Root.PoisonFuture(l.placement).Wait(); err != nil {
		l.c.Logger().Error("stopping the placement actor", slog.Any("error", err))
	}
}

// RemovePid implements cluster.IdentityLookup. protoactor calls it nowhere; the placement
// actor learns of every stop from the event stream.
func (l *identityLookup) RemovePid(*cluster.ClusterIdentity, *actor.PID) {}

// Get implements cluster.IdentityLookup (used by protoactor's own Cluster.Request):
// it returns the PID of ci's activation, activating it on its owner, or nil.
func (l *identityLookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	if c == nil {
		return nil
	}
	owner := l.view.Load().owner(ci)
	if owner == "" {
		return nil
	}
	w := memberWatch{}
	if owner != c.ActorSystem.Address() {
		w = memberWatch{l: l, addr: owner}
	}
	pid, _ := activate(context.Background(), c.ActorSystem, owner, ci, l.timeout, w)
	return pid
}

func (l *identityLookup) currentView() *topologyView { return l.view.Load() }

// swapView makes v the current view and wakes the waits on the one it replaces (memberWatch).
// Called on the topology goroutine only, so each view is swapped out, and its channel
// closed, once.
func (l *identityLookup) swapView(v *topologyView) { close(l.view.Swap(v).replaced) }

// errMemberLeft is the outcome of a wait on a member that left the cluster meanwhile.
var errMemberLeft = errors.New("the member left the cluster")

// memberWatch follows one member through topology changes, so that a wait for its answer
// ends when it leaves instead of at the request's deadline: a member that stopped or died
// answers nothing, and its messages are neither delivered nor dead-lettered. The zero value
// (no lookup) watches nothing, for a member that cannot leave (this one).
type memberWatch struct {
	l    *identityLookup
	addr string
}

// next returns a channel closed at the next topology change, or nil (never) if the member
// has left already or nothing is watched. After it fires, call next again: a nil answer
// means the member is gone (check left).
func (w memberWatch) next() (ch <-chan struct{}, left bool) {
	if w.l == nil {
		return nil, false
	}
	v := w.l.currentView()
	if !v.hosts(w.addr) {
		return nil, true
	}
	return v.replaced, false
}

var errActivation = errors.New("activation refused")

// activate asks owner's disthash placement actor for ci's activation, spawning it there
// if needed. Errors: actor.ErrTimeout, actor.ErrDeadLetter (owner gone or stopping),
// ctx's error, or errActivation (e.g. the owner does not know the kind).
func activate(ctx context.Context, sys *actor.ActorSystem, owner string, ci *cluster.ClusterIdentity, timeout time.Duration, w memberWatch) (*actor.PID, error) {
	if timeout <= 0 {
		return nil, actor.ErrTimeout
	}
	req := &cluster.ActivationRequest{ClusterIdentity: ci}
	to := actor.NewPID(owner, placementActorName)
	res, err := await(ctx, sys.Root.RequestFuture(to, req, timeout), w)
	if err != nil {
		return nil, err
	}
	resp, ok := res.(*cluster.ActivationResponse)
	if !ok || resp.Pid == nil || resp.Failed {
		return nil, fmt.Errorf("%w by %s for %s", errActivation, owner, ci.AsKey())
	}
	return resp.Pid, nil
}
