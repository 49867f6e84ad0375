package cluster

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// The Provider's member table: one entry per memberlist node name, written by
// memberlist's callbacks (mlDelegate, mlEvents, mlPing, and the suspect hook in
// memberlistLog) and read by the topology loop and Members. Everything here takes p.mu
// and never calls into memberlist or protoactor while holding it.

type memberEntry struct {
	info    MemberInfo
	valid   bool      // metadata decoded
	leaving bool      // announced a graceful leave
	since   time.Time // last status change
	// gen counts how often this member was declared dead or left, as this node saw it; it
	// is part of the member's id in the topology given to protoactor (topologyID).
	gen int
}

// topologyID is the id a member has in the topologies this provider gives protoactor: its
// member id (its actor system's id) and the number of times this node saw it die.
//
// Why not the plain member id: protoactor blocks, for good, the id of every member that
// leaves its topology, and its remote refuses connections from a system whose id is
// blocked. A member that was wrongly declared dead (paused past the failure detector, or
// partitioned) and refuted it would then stay excluded until it restarts, and nodes would
// route its resources differently (docs/RELIABILITY.md, finding 2). With a generation in the
// id, the blocked id is one this member no longer has when it comes back, and the system id
// itself is never blocked. protoactor compares these ids only within one node (topology
// deltas, the block list); placement hashes remote addresses, so nodes that count different
// generations for one member still agree on owners.
func topologyID(memberID string, gen int) string {
	return memberID + "/" + strconv.Itoa(gen)
}

// memberIDOf is the member id in a topology id.
func memberIDOf(topologyID string) string {
	if i := strings.LastIndexByte(topologyID, '/'); i >= 0 {
		return topologyID[:i]
	}
	return topologyID
}

// Members returns a snapshot of all known members, alive or not (dead and left members
// are kept for DeadMemberRetention), sorted by ID. Self's Activations is the live local
// count.
func (p *Provider) Members() []MemberInfo {
	p.mu.Lock()
	out := make([]MemberInfo, 0, len(p.members))
	var selfIdx = -1
	for _, e := range p.members {
		if !e.valid {
			continue
		}
		if e.info.Self {
			selfIdx = len(out)
		}
		out = append(out, e.info.clone())
	}
	cl := p.cl
	p.mu.Unlock()
	if selfIdx >= 0 && cl != nil {
		out[selfIdx].Activations = activationCount(cl)
	}
	slices.SortFunc(out, func(a, b MemberInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// warnExcluded warns (once per member) about members that memberlist reports alive but
// protoactor left out of the applied topology. protoactor blocks every member id it
// removes and never re-admits it; topologyID gives a member that comes back a new id, so
// this should not happen: it is a canary for a protoactor change.
func (p *Provider) warnExcluded(members cluster.Members) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range members {
		if p.applied != nil && !p.applied[m.Id] {
			p.warnOnceLocked(m.Id, "member is alive in gossip but protoactor has blocked its id",
				"member_id", m.Id, "remote_addr", m.Address())
		}
	}
}

// topologyMembers returns the alive and suspect non-client members with valid metadata.
func (p *Provider) topologyMembers() (cluster.Members, *cluster.Cluster) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(cluster.Members, 0, len(p.members))
	for _, e := range p.members {
		if !e.valid || e.info.Client || (e.info.Status != StatusAlive && e.info.Status != StatusSuspect) {
			continue
		}
		host, portStr, err := net.SplitHostPort(e.info.RemoteAddr)
		port, err2 := strconv.Atoi(portStr)
		if err != nil || err2 != nil {
			continue
		}
		out = append(out, &cluster.Member{
			Id:    topologyID(e.info.ID, e.gen),
			Host:  host,
			Port:  int32(port),
			Kinds: slices.Clone(e.info.Kinds),
		})
	}
	return out, p.cl
}

func (p *Provider) pruneDeparted() {
	cutoff := p.now().Add(-p.cfg.DeadMemberRetention)
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, e := range p.members {
		if (e.info.Status == StatusDead || e.info.Status == StatusLeft) && e.since.Before(cutoff) {
			p.prunedGens[name] = e.gen
			delete(p.members, name)
		}
	}
}

// upsert records an alive member from a memberlist join/update event.
func (p *Provider) upsert(n *memberlist.Node) {
	meta, err := decodeMeta(n.Meta)
	gossipAddr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.members[n.Name]
	if e == nil {
		// A member pruned while dead keeps counting: its last topology id is blocked.
		e = &memberEntry{gen: p.prunedGens[n.Name]}
		delete(p.prunedGens, n.Name)
		p.members[n.Name] = e
	}
	prev, prevValid := e.info, e.valid
	e.info.GossipAddr = gossipAddr
	e.info.Self = n.Name == p.name
	e.valid = err == nil
	if err != nil {
		p.warnOnceLocked(n.Name, "ignoring gossip member with unreadable metadata", "node", n.Name, "addr", gossipAddr, "error", err)
	} else {
		e.info.ID, e.info.RemoteAddr, e.info.Client = meta.ID, meta.RemoteAddr, meta.Client
		e.info.Kinds, e.info.Activations = meta.Kinds, meta.Activations
		e.leaving = meta.Leaving
	}
	if e.info.Status != StatusAlive {
		e.info.Status, e.since = StatusAlive, p.now()
	}
	if e.valid && !e.info.Self {
		p.markJoined("a peer joined")
	}
	if prevValid != e.valid || prev.Status != e.info.Status || prev.ID != e.info.ID ||
		prev.RemoteAddr != e.info.RemoteAddr || prev.Client != e.info.Client ||
		!slices.Equal(prev.Kinds, e.info.Kinds) {
		p.signal()
	}
}

// markGone records that memberlist declared name dead or left. memberlist's event does
// not say which (the Node it passes never carries the state), so a member counts as
// left if it announced its leave in its metadata first, and as dead otherwise.
func (p *Provider) markGone(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.members[name]
	if e == nil {
		return
	}
	status := StatusDead
	if e.leaving {
		status = StatusLeft
	}
	if e.info.Status != status {
		if e.info.Status == StatusAlive || e.info.Status == StatusSuspect {
			e.gen++ // protoactor blocks the id it had; should it come back, it gets a new one
		}
		e.info.Status, e.since = status, p.now()
		p.signal()
	}
}

// expectedLoss reports whether a failure to reach addr (a gossip or remote host:port) is
// the expected consequence of a graceful leave: this member is stopping, or addr belongs to
// a member that announced its leave. Such errors are logged at debug level, not as errors.
// It takes p.mu only, so memberlist's logger may call it under memberlist's locks.
func (p *Provider) expectedLoss(addr string) bool {
	if p.stopping.Load() {
		return true
	}
	if addr == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.members {
		if (e.leaving || e.info.Status == StatusLeft) && (e.info.GossipAddr == addr || e.info.RemoteAddr == addr) {
			return true
		}
	}
	return false
}

// nobodyToTell reports whether no peer is alive and staying: each one left, is leaving, or
// is dead.
func (p *Provider) nobodyToTell() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.members {
		if !e.info.Self && !e.leaving && (e.info.Status == StatusAlive || e.info.Status == StatusSuspect) {
			return false
		}
	}
	return true
}

// inMajority reports whether this member sees at least half of the members it knows alive:
// alive ones against those, the suspect ones and the ones declared dead (not left, which
// announced it, and not clients) within DeadMemberRetention. A suspect counts against: a
// member cut off from its peers suspects them all about a second after the cut, seconds
// before it declares them dead. A tie counts as a majority, so either side of a cluster of two
// keeps serving, as before. A dead member whose gossip address a live one holds now (a restart
// under a new name) is not counted.
func (p *Provider) inMajority() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	alive, known := 0, 0
	for _, e := range p.members {
		if !e.valid || e.info.Client {
			continue
		}
		switch e.info.Status {
		case StatusAlive:
			alive++
			known++
		case StatusSuspect:
			known++
		case StatusDead:
			if !p.liveAtLocked(e.info.GossipAddr) {
				known++
			}
		}
	}
	return 2*alive >= known
}

// liveAtLocked reports whether an alive or suspect member has gossip address addr.
func (p *Provider) liveAtLocked(addr string) bool {
	for _, e := range p.members {
		if (e.info.Status == StatusAlive || e.info.Status == StatusSuspect) && e.info.GossipAddr == addr {
			return true
		}
	}
	return false
}

// deadGossipAddrs returns the gossip addresses of the members declared dead (not left, not
// clients), sorted, without the addresses a live member holds now (a member restarted on the
// same address under a new name).
func (p *Provider) deadGossipAddrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var dead []string
	live := map[string]bool{}
	for _, e := range p.members {
		switch {
		case e.info.Client || e.info.GossipAddr == "":
		case e.info.Status == StatusDead:
			dead = append(dead, e.info.GossipAddr)
		case e.info.Status == StatusAlive || e.info.Status == StatusSuspect:
			live[e.info.GossipAddr] = true
		}
	}
	dead = slices.DeleteFunc(dead, func(a string) bool { return live[a] })
	slices.Sort(dead)
	return slices.Compact(dead)
}

// markSuspect is called (from memberlist's logger) when this member's probe of name failed.
func (p *Provider) markSuspect(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.members[name]; e != nil && e.info.Status == StatusAlive && !e.info.Self {
		e.info.Status, e.since = StatusSuspect, p.now()
	}
}

// markAcked is called when a direct probe of name succeeded.
func (p *Provider) markAcked(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.members[name]; e != nil && e.info.Status == StatusSuspect {
		e.info.Status, e.since = StatusAlive, p.now()
	}
}

func (p *Provider) warnOnce(key, msg string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.warnOnceLocked(key, msg, args...)
}

func (p *Provider) warnOnceLocked(key, msg string, args ...any) {
	if p.warned[key] {
		return
	}
	p.warned[key] = true
	p.log.Warn(msg, args...)
}

// mlDelegate, mlEvents and mlPing adapt memberlist's callbacks. memberlist may call them
// concurrently and while holding its own locks: they only touch p.mu-guarded state.
type (
	mlDelegate struct{ p *Provider }
	mlEvents   struct{ p *Provider }
	mlPing     struct{ p *Provider }
)

func (d mlDelegate) NodeMeta(limit int) []byte {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	if len(d.p.localMeta) > limit { // prevented by the size check in start
		d.p.log.Error("gossip metadata exceeds memberlist limit", "size", len(d.p.localMeta), "limit", limit)
		return nil
	}
	return slices.Clone(d.p.localMeta)
}

func (mlDelegate) NotifyMsg([]byte)                  {}
func (mlDelegate) GetBroadcasts(_, _ int) [][]byte   { return nil }
func (mlDelegate) LocalState(bool) []byte            { return nil }
func (mlDelegate) MergeRemoteState(_ []byte, _ bool) {}

func (e mlEvents) NotifyJoin(n *memberlist.Node)   { e.p.upsert(n) }
func (e mlEvents) NotifyUpdate(n *memberlist.Node) { e.p.upsert(n) }

func (e mlEvents) NotifyLeave(n *memberlist.Node) { e.p.markGone(n.Name) }

func (mlPing) AckPayload() []byte { return nil }

func (d mlPing) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	d.p.markAcked(other.Name)
}

// activationCount sums the local activations of every kind c hosts (protoactor keeps
// the counters, incremented by the placement actor on spawn and decremented on
// termination).
func activationCount(c *cluster.Cluster) int {
	if c == nil {
		return 0
	}
	n := 0
	for _, k := range c.GetClusterKinds() {
		if ak, ok := c.TryGetClusterKind(k); ok {
			n += int(ak.Count())
		}
	}
	return n
}
