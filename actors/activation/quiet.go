package activation

import (
	"encoding/binary"
	"time"

	"github.com/allot/allot/actors/booking"
)

// Quiet activations. Most active resources sit idle between requests while their activation
// stays warm (no reload from the store for the next one), and an idle activation's booking
// state is a graph of a dozen objects, about a kilobyte for 3 holds, that every GC cycle
// marks. Once an activation got no command for Config.QuietAfter and has nothing under way,
// the core packs its state (booking.State.Pack: one string of a few hundred bytes) and drops
// the graph; the next input that needs the state unpacks it first (unpackFor). The decision
// runs in the idle check the core already has (idleCheck, on the shell's one wake-up per
// activation): no timer of its own, and no clock but the Step's.
//
// Invariant: packed != "" only while
//   - the phase is Serving and memory is Current (no reload owed);
//   - nothing is at the store or waits for it: no commit, renewal, load or lookup, nothing
//     pending, deferred or parked, no command queued, no backoff;
//   - committed and spec are one State (shareSpec) of a resource that exists (Missing
//     answers from the core's fields without unpacking; Waiting from the packed form's
//     header, see packedWaiting);
//
// and then committed = spec = nil, and between Steps the whole work is dropped (work.go). A
// waitlist does not keep a state from packing (since round 15): its offers come when hold
// deadlines pass, which unpack it. So no decision is taken or answered while packed, nothing
// acknowledged lives only in the graph that is dropped (the packed form is the committed
// state, which the store has), and every input that can change or read the state unpacks it
// before the step: a command, a store result, a stop, an abort, a Tick with a hold deadline
// due. What a packed activation still does without unpacking: idle checks, passivation and
// the graceful stop that follows (the state is in the store), and Ticks with nothing due. A hot resource never goes quiet: its
// commands keep lastActive within QuietAfter, so it never packs and pays one string
// comparison per Step.

// pack packs the state if the activation is quiet (see the invariant above); queued is the
// number of commands in the shell's mailbox.
func (c *Core) pack(queued int) {
	if c.packed != "" || c.committed == nil || c.phase != Serving || c.memory != Current || c.Busy() ||
		c.parked > 0 || queued > 0 || c.deferred != nil || c.backingOff() || (c.rare != nil && len(c.rare.lookups) > 0) {
		return
	}
	c.shareSpec(true) // nothing in flight or pending: spec is committed
	if c.spec != c.committed || !c.committed.Exists() {
		return
	}
	// Room for a few holds at once (the packed form is ~60-100 bytes a hold): one allocation
	// of scratch in most cases, and the string is the one that stays.
	b := make([]byte, 0, 128+96*c.committed.HoldCount())
	if n := c.committed.WaitlistLen(); n > 0 {
		b = binary.AppendUvarint(append(b, packedWaitMark), uint64(n))
	}
	b, ok := c.committed.Pack(b)
	if !ok {
		return // something the format cannot say exactly: the graph stays
	}
	c.packed = string(b)
	c.committed, c.spec = nil, nil // the rest of the work goes at the end of the Step (dropWorkIfQuiet)
}

// unpackFor unpacks a packed state before a Step of in that may read or change it: every
// input but a Passivate, a Stop, an Abort and a Tick with no hold deadline due (see the
// invariant above). A stop needs no state: nothing is pending to flush, and the lease's
// release needs only to know that the resource exists, which a packed one does (exists).
func (c *Core) unpackFor(now time.Time, in Input) {
	switch in.(type) {
	case Passivate, Stop, Abort:
		return
	case Tick:
		if c.expiryAt == 0 || ms(now).Before(c.expiryTime()) {
			return
		}
	}
	s, err := booking.Unpack(c.id, packedState(c.packed))
	c.packed = ""
	if err != nil {
		// A bug: the bytes are the core's own. The state is the store's (nothing was under
		// way when it was packed), so the activation dies and the next request activates the
		// resource again from the store.
		c.die()
		return
	}
	c.committed, c.spec = s, s // work is there: Step gave it (work.go)
	// The idle check comes back within QuietAfter of the command that woke the state.
	if at := c.at(now.Add(c.cfg.QuietAfter)); c.idleCheckAt == 0 || at < c.idleCheckAt {
		if c.phase == Serving {
			c.idleCheckAt = at
		}
	}
}

// The waitlist of a packed state. The waitlist gauge sums Waiting over a node's activations
// and reads it after every Step, so a quiet activation must say its count without unpacking,
// and a count field in Core would move every Core to a larger class (round 14 packed no state
// with a waitlist for this reason). So the packed form of a state with waiting entries begins
// with packedWaitMark and the count (a uvarint), then the booking state's packed form; that of
// a state without, which most are, is the booking state's packed form alone, whose first byte
// is its format's version, never packedWaitMark (TestPackedWaitMarkIsNoVersion).
const packedWaitMark = 0xff

// packedWaiting is the number of waiting entries of the packed form p.
func packedWaiting(p string) int {
	if p == "" || p[0] != packedWaitMark {
		return 0
	}
	n, k := uvarintString(p[1:])
	if k <= 0 {
		return 0 // not the core's: cannot happen
	}
	return int(n)
}

// packedState is the booking state's packed form within p (a substring: no copy).
func packedState(p string) string {
	if p == "" || p[0] != packedWaitMark {
		return p
	}
	_, k := uvarintString(p[1:])
	return p[1+max(k, 0):]
}

// uvarintString is binary.Uvarint of a string, without converting it to bytes.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// nextIdleCheck is the pause before the next idle check, left being the pause before the idle
// timeout and quiet the time since the last command: sooner, when the state is not packed yet,
// at the moment it will have been quiet for QuietAfter (or QuietAfter from now, when it was
// quiet that long but had work under way).
func (c *Core) nextIdleCheck(left, quiet time.Duration) time.Duration {
	q := c.cfg.QuietAfter
	if q <= 0 || c.packed != "" {
		return left
	}
	if quiet < q {
		return min(left, q-quiet)
	}
	return min(left, q)
}

// exists reports whether the loaded resource exists (committed's, or a packed one's: packed
// only when it exists).
func (c *Core) exists() bool { return c.packed != "" || c.committed.Exists() }

// Quiet reports whether the activation's state is packed (quiet.go): for tests and gauges.
func (c *Core) Quiet() bool { return c.packed != "" }
