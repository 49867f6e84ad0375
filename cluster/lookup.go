package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
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
	return &topologyView{members: ms, rdv: rdv, sole: soleHosts(ms)}
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

// identityLookup is protoactor's disthash identity lookup with a race-free Get.
//
// disthash's placement actor ("partition-activator" on every member) does the
// activation work and is used unchanged. disthash.Manager.Get, however, reads a
// rendezvous pointer that its topology subscription replaces without synchronization (a
// data race under concurrent requests and topology changes); this type resolves owners
// from an atomically swapped topologyView instead and sends the same ActivationRequest
// to the owner's placement actor.
//
// Setup/Shutdown are called by protoactor's cluster; Shutdown is idempotent (protoactor
// calls it twice on a graceful Cluster.Shutdown). Get and activate are safe for
// concurrent use.
type identityLookup struct {
	inner   cluster.IdentityLookup
	timeout time.Duration
	view    atomic.Pointer[topologyView]

	mu       sync.Mutex
	c        *cluster.Cluster
	sub      *eventstream.Subscription
	shutdown bool
	// onView is called (on the topology goroutine) after each view swap.
	onView func(*topologyView)
}

var _ cluster.IdentityLookup = (*identityLookup)(nil)

func newIdentityLookup(timeout time.Duration, onView func(*topologyView)) *identityLookup {
	l := &identityLookup{inner: disthash.New(), timeout: timeout, onView: onView}
	l.view.Store(newTopologyView(nil))
	return l
}

// Setup implements cluster.IdentityLookup.
func (l *identityLookup) Setup(c *cluster.Cluster, kinds []string, isClient bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = c
	// Subscribe before disthash so that our view is swapped before disthash's
	// placement actor is told about a topology (subscribers run in order).
	l.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			v := newTopologyView(t.Members)
			l.view.Store(v)
			if l.onView != nil {
				l.onView(v)
			}
		}
	})
	l.inner.Setup(c, kinds, isClient)
}

// Shutdown implements cluster.IdentityLookup: it stops disthash's placement actor, which
// first stops (poisons) every local activation and waits for them (protoactor bounds
// each wait at 10 s).
func (l *identityLookup) Shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shutdown || l.c == nil {
		l.shutdown = true
		return
	}
	l.shutdown = true
	l.c.ActorSystem.EventStream.Unsubscribe(l.sub)
	l.inner.Shutdown()
}

// RemovePid implements cluster.IdentityLookup.
func (l *identityLookup) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	l.inner.RemovePid(ci, pid)
}

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
	pid, _ := activate(context.Background(), c.ActorSystem, owner, ci, l.timeout)
	return pid
}

func (l *identityLookup) currentView() *topologyView { return l.view.Load() }

var errActivation = errors.New("activation refused")

// activate asks owner's disthash placement actor for ci's activation, spawning it there
// if needed. Errors: actor.ErrTimeout, actor.ErrDeadLetter (owner gone or stopping),
// ctx's error, or errActivation (e.g. the owner does not know the kind).
func activate(ctx context.Context, sys *actor.ActorSystem, owner string, ci *cluster.ClusterIdentity, timeout time.Duration) (*actor.PID, error) {
	if timeout <= 0 {
		return nil, actor.ErrTimeout
	}
	req := &cluster.ActivationRequest{ClusterIdentity: ci}
	to := actor.NewPID(owner, disthash.PartitionActivatorActorName)
	res, err := await(ctx, sys.Root.RequestFuture(to, req, timeout))
	if err != nil {
		return nil, err
	}
	resp, ok := res.(*cluster.ActivationResponse)
	if !ok || resp.Pid == nil || resp.Failed {
		return nil, fmt.Errorf("%w by %s for %s", errActivation, owner, ci.AsKey())
	}
	return resp.Pid, nil
}
