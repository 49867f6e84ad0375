package cluster

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// A request to an activation this node owns (every command of a one-node cluster) waits for its
// reply on a pooled reply process that stays in the actor system's registry from one attempt
// to the next, instead of on a replyProcess registered and removed per attempt: the registry's
// insert (a concurrent map's shard lock, a map insert into a shard that also deletes, the id
// string) and the process and channel allocations were about 3% of the node's CPU per hold at
// 256 clients (issue 17, docs/PERFORMANCE.md, Round 11).
//
// An attempt is told apart from the process's earlier ones by its sender PID's RequestId (a
// fresh PID per attempt; protoactor keeps the PID a message was sent with and hands it to the
// process with every reply, dead letter or stop). A reply for an attempt that is no longer
// current — it came after the waiter gave up, and the process serves a later attempt or
// none — goes to dead letters, as a late reply to a removed replyProcess does. Only local
// requests use it: protoactor's remote may not carry RequestId back.

// localReply is a reply process kept registered for local requests (see replyPool).
//
// Invariant: state is 2·g while attempt g (the RequestId of its sender PID) waits and 2·g+1
// once it ended. Whoever moves it from 2·g to 2·g+1 (the first reply, dead letter or stop for
// g, or the waiter giving up) decides g's outcome; only a reply that did so writes r and then
// sends on ch, which has room for that one value. Only the waiter starts an attempt
// (state 2·g+1 → 2·(g+1)), after it received g's outcome, so ch is empty then and no message
// of g can end the new attempt. RequestId is 32 bits: a reply 2³² attempts of one process
// late would be taken for a current one.
type localReply struct {
	system *actor.ActorSystem
	addr   string // its PIDs' Address: replyAddress when it has a slot, else the registry's
	id     string // its PIDs' Id: the slot's number, or its id in the registry
	slot   int    // its slot in the pool's table, -1 when it is in the registry instead
	state  atomic.Uint64
	ch     chan struct{}
	r      replyResult
}

var _ actor.Process = (*localReply)(nil)

func (p *localReply) SendUserMessage(pid *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	r := replyResult{v: msg}
	if _, ok := msg.(*actor.DeadLetterResponse); ok {
		r = replyResult{err: actor.ErrDeadLetter}
	}
	if !p.finish(pid, r) {
		p.system.DeadLetter.SendUserMessage(pid, message)
	}
}

func (p *localReply) SendSystemMessage(pid *actor.PID, message any) {
	if !p.finish(pid, replyResult{v: message}) {
		p.system.DeadLetter.SendSystemMessage(pid, message)
	}
}

func (p *localReply) Stop(pid *actor.PID) { p.finish(pid, replyResult{err: errReplyStopped}) }

// finish ends pid's attempt with r if it is the current one and has not ended; it reports
// whether it did.
func (p *localReply) finish(pid *actor.PID, r replyResult) bool {
	g := uint64(pid.RequestId)
	if !p.state.CompareAndSwap(2*g, 2*g+1) {
		return false
	}
	p.r = r
	p.ch <- struct{}{}
	return true
}

// replyPool keeps the idle localReply processes of a Node. Safe for concurrent use. A process
// the pool does not keep (more than maxIdleReplies idle) is removed from the registry, so the
// registry holds at most as many as were ever waiting at once, bounded by maxIdleReplies
// idle ones; a sync.Pool would drop processes without removing them.
type replyPool struct {
	mu   sync.Mutex
	free []*localReply

	// The table of reply processes found by their PID alone (see resolve), once install
	// ran: chunks of slots, each chunk allocated when the first of its slots is taken.
	// Slots are taken in order and never reused, so a reply for a process that left the
	// table finds its slot empty for good, never another process (whose attempts count
	// from 1 again).
	installed bool // set by install, before any request
	next      int  // the next slot to take; under mu
	chunks    [replySlots / replyChunk]atomic.Pointer[[replyChunk]atomic.Pointer[localReply]]
}

// maxIdleReplies bounds the idle reply processes a Node keeps registered (a few hundred
// concurrent requests are the edge's working range).
const maxIdleReplies = 4096

// The reply processes' table: replySlots slots in chunks of replyChunk. A process made once
// every slot was taken is registered in the registry as before (possible only after
// replySlots - maxIdleReplies processes were dropped, each after a burst of more than
// maxIdleReplies concurrent requests).
const (
	replySlots = 1 << 16
	replyChunk = 1 << 8
)

// replyAddress is the Address of a pooled reply process's PIDs: not a host:port, so never a
// member's or the local system's (protoactor's registry then asks its address resolvers,
// resolve first).
const replyAddress = "allot.reply"

// install makes the reply processes of the pool found by resolve, through system's
// registry, instead of the registry's own map: its lookup on every reply (a murmur3 hash, a
// concurrent map's shard lock and its map, then fnv32 in that map) was about 2.4% of the
// node's CPU at 256 clients (docs/PERFORMANCE.md, round 12). Call it once, before system
// runs anything: the resolver goes ahead of those registered before it (protoactor's remote
// answers every address it is asked for, so it must not see replyAddress), and protoactor
// reads the resolvers without a lock.
func (rp *replyPool) install(system *actor.ActorSystem) {
	reg := system.ProcessRegistry
	resolve := func(pid *actor.PID) (actor.Process, bool) { return rp.resolve(system, pid) }
	reg.RemoteHandlers = append([]actor.AddressResolver{resolve}, reg.RemoteHandlers...)
	rp.installed = true
}

// resolve is the registry's address resolver for replyAddress: the process in the PID's
// slot, or dead letters for a slot that is empty (its process left the pool) or not a slot.
// It answers every PID of replyAddress (true), so that no later resolver takes one; any other
// address is not its own.
func (rp *replyPool) resolve(system *actor.ActorSystem, pid *actor.PID) (actor.Process, bool) {
	if pid.Address != replyAddress {
		return nil, false
	}
	slot, ok := parseSlot(pid.Id)
	if !ok {
		return system.DeadLetter, true
	}
	if c := rp.chunks[slot/replyChunk].Load(); c != nil {
		if p := c[slot%replyChunk].Load(); p != nil {
			return p, true
		}
	}
	return system.DeadLetter, true
}

// parseSlot parses a slot number as strconv.Itoa wrote it.
func parseSlot(id string) (int, bool) {
	if id == "" || len(id) > 5 || (id[0] == '0' && len(id) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n < replySlots
}

// newReply makes a reply process: in the next slot of the table when the pool is installed
// and a slot is left, else registered in the registry.
func (rp *replyPool) newReply(system *actor.ActorSystem) (*localReply, bool) {
	p := &localReply{system: system, slot: -1, ch: make(chan struct{}, 1)}
	p.state.Store(1) // attempt 0 ended: the first is attempt 1
	if rp.installed {
		rp.mu.Lock()
		if slot := rp.next; slot < replySlots {
			rp.next++
			c := rp.chunks[slot/replyChunk].Load()
			if c == nil {
				c = new([replyChunk]atomic.Pointer[localReply])
				rp.chunks[slot/replyChunk].Store(c)
			}
			p.addr, p.id, p.slot = replyAddress, strconv.Itoa(slot), slot
			c[slot%replyChunk].Store(p)
			rp.mu.Unlock()
			return p, true
		}
		rp.mu.Unlock()
	}
	p.addr, p.id = system.ProcessRegistry.Address, replyID(system.ProcessRegistry)
	if _, ok := system.ProcessRegistry.Add(p, p.id); !ok { // cannot happen: ids are unique
		return nil, false
	}
	return p, true
}

// drop takes p, which the pool does not keep, out of the table or the registry.
func (rp *replyPool) drop(p *localReply) {
	if p.slot >= 0 {
		rp.chunks[p.slot/replyChunk].Load()[p.slot%replyChunk].Store(nil)
		return
	}
	p.system.ProcessRegistry.Remove(&actor.PID{Address: p.addr, Id: p.id})
}

func (rp *replyPool) get(system *actor.ActorSystem) (*localReply, bool) {
	rp.mu.Lock()
	if n := len(rp.free); n > 0 {
		p := rp.free[n-1]
		rp.free[n-1] = nil
		rp.free = rp.free[:n-1]
		rp.mu.Unlock()
		return p, true
	}
	rp.mu.Unlock()
	return rp.newReply(system)
}

func (rp *replyPool) put(p *localReply) {
	rp.mu.Lock()
	if len(rp.free) < maxIdleReplies {
		rp.free = append(rp.free, p)
		rp.mu.Unlock()
		return
	}
	rp.mu.Unlock()
	rp.drop(p)
}

// request is requestReply for a pid on this node (no member to watch): it sends msg to pid
// and waits for its reply, for ctx to end or for expire (nil: never) to fire, with a pooled
// reply process.
func (rp *replyPool) request(ctx context.Context, system *actor.ActorSystem, pid *actor.PID, msg any, expire <-chan time.Time) (any, error) {
	p, ok := rp.get(system)
	if !ok {
		return requestReply(ctx, system, pid, msg, expire, memberWatch{})
	}
	g := uint32(p.state.Load()/2) + 1 // the state is odd: the last attempt ended
	self := &actor.PID{Address: p.addr, Id: p.id, RequestId: g}
	p.state.Store(2 * uint64(g))
	system.Root.RequestWithCustomSender(pid, msg, self)
	var err error
	select {
	case <-p.ch:
	case <-ctx.Done():
		err = ctx.Err()
	case <-expire:
		err = context.DeadlineExceeded
	}
	if err != nil && p.state.CompareAndSwap(2*uint64(g), 2*uint64(g)+1) {
		rp.put(p) // gave up: a reply that comes now finds the attempt ended
		return nil, err
	}
	if err != nil {
		<-p.ch // the reply won the race: it is there now
	}
	r := p.r
	p.r = replyResult{}
	rp.put(p)
	return r.v, r.err
}
