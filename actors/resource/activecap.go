package resource

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// The cap on active resource actors (Config.MaxActive, --max-active-resources): a client
// naming ever new resource ids must not be able to make a node hold an actor per id. Every
// activation registers in its Props' activeSet from Started to Stopped. One that would take
// the set over the cap asks the least recently used idle activations (no command queued or
// pending, no store call in flight) to passivate, the way an idle timeout does (pending work
// committed, lease released, state dropped), and is admitted in their place. Only when no
// activation can be passivated (all are busy) is it refused: it makes no core and no store
// call, answers every command it gets unavailable (503 with Retry-After) and stops at once.

// errOverCap is the answer of a refused activation.
var errOverCap = booking.Errorf(booking.CodeUnavailable, "this node has too many active resources; retry later")

// lruSample is how many idle activations an admission over the cap compares to choose the
// least recently used: the choice is exact while at most this many are idle and approximate
// beyond (the oldest of a sample, as Redis does), which keeps admission cheap at any cap.
// lruScan bounds the entries an admission looks at, so that a node whose activations are all
// busy refuses in bounded time.
const (
	lruSample = 16
	lruScan   = 64 * lruSample
)

// activeSet is the set of one Props' activations (shared by all of them). Its methods are
// safe for concurrent use. The hot path (every command) only stores a timestamp and a flag
// in the activation's own entry, atomically; the mutex is taken once per activation and stop.
// The set holds the actors themselves, and an actor its entry (resourceActor.entry): a
// separate entry object with a pointer back to its actor was 24 bytes more per active
// resource (round 16, docs/PERFORMANCE.md).
// Invariant: len(entries) - evicting is the number of activations that stay once the
// passivations asked for are done, and admit keeps it at most max (when max > 0).
type activeSet struct {
	max int

	mu       sync.Mutex
	entries  map[*resourceActor]struct{}
	evicting int // entries asked to passivate under pressure, not yet removed or declined
	peak     int // most entries since the map was last rebuilt (see remove)
}

// shrinkMin is the peak below which remove does not rebuild the map: its table is small.
const shrinkMin = 1024

// activeEntry is an activation's entry in an activeSet, part of the actor. used and busy are
// written by the activation's goroutine and read by admissions; claimed is guarded by the
// set's mutex. An admission that claims an activation asks it to passivate (tell, from any
// goroutine: system and self are set before the actor is admitted).
type activeEntry struct {
	used    atomic.Int64 // Config.Now in Unix nanoseconds at the last command (or admission)
	busy    atomic.Bool  // the activation had work when it last handled a message
	claimed bool         // asked to passivate under pressure (counted in evicting)
}

func newActiveSet(max int) *activeSet {
	return &activeSet{max: max, entries: make(map[*resourceActor]struct{})}
}

// admit adds a, unless the set is at its cap and no idle activation can make room. Over the
// cap it claims the least recently used idle entries it needs and returns them: the caller
// asks them to passivate (outside the lock). A refused a is not added.
func (s *activeSet) admit(a *resourceActor) (ok bool, victims []*resourceActor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	need := len(s.entries) + 1 - s.evicting - s.max
	if s.max <= 0 || need <= 0 {
		s.entries[a] = struct{}{}
		s.peak = max(s.peak, len(s.entries))
		return true, nil
	}
	victims = s.leastRecentlyUsedIdle(need)
	if len(victims) < need {
		return false, nil
	}
	for _, v := range victims {
		v.entry.claimed = true
	}
	s.evicting += len(victims)
	s.entries[a] = struct{}{}
	s.peak = max(s.peak, len(s.entries))
	return true, victims
}

// leastRecentlyUsedIdle returns the n least recently used idle, unclaimed entries of a sample
// (fewer if there are not that many). s.mu is held.
func (s *activeSet) leastRecentlyUsedIdle(n int) []*resourceActor {
	sample := make([]*resourceActor, 0, max(lruSample, n))
	scanned := 0
	for e := range s.entries { // map order: a random start, so successive samples differ
		if scanned++; scanned > max(lruScan, 4*n) || len(sample) == cap(sample) {
			break
		}
		if !e.entry.claimed && !e.entry.busy.Load() {
			sample = append(sample, e)
		}
	}
	// n is 1 but for races: a selection sort of the first n is cheaper than sorting.
	for i := 0; i < n && i < len(sample); i++ {
		oldest := i
		for j := i + 1; j < len(sample); j++ {
			if sample[j].entry.used.Load() < sample[oldest].entry.used.Load() {
				oldest = j
			}
		}
		sample[i], sample[oldest] = sample[oldest], sample[i]
	}
	return sample[:min(n, len(sample))]
}

// declined gives back a claim an activation could not honour (work arrived before the
// request did): it stays, and the next admission over the cap claims one more.
func (s *activeSet) declined(a *resourceActor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.entry.claimed {
		a.entry.claimed = false
		s.evicting--
	}
}

// remove takes a stopped activation out, once.
func (s *activeSet) remove(a *resourceActor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[a]; !ok {
		return
	}
	delete(s.entries, a)
	if a.entry.claimed {
		a.entry.claimed = false
		s.evicting--
	}
	// A Go map keeps its table when entries are deleted: rebuild it once it holds a quarter of
	// its peak, so that a passivation wave returns the memory (amortized O(1) per remove).
	if s.peak >= shrinkMin && 4*len(s.entries) < s.peak {
		s.entries = rebuilt(s.entries)
		s.peak = len(s.entries)
	}
}

// len is the number of activations in the set.
func (s *activeSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// admit registers the activation and reports whether it may run. Over the cap it asks the
// least recently used idle activations to passivate, and is refused only when none can.
func (a *resourceActor) admit() bool {
	if a.cfg.active == nil {
		return true
	}
	a.entry.used.Store(a.cfg.Now().UnixNano())
	a.entry.busy.Store(true) // loading: nothing to passivate yet
	ok, victims := a.cfg.active.admit(a)
	if !ok {
		a.cfg.Metrics.refusedActivation()
		return false
	}
	a.counted = true
	a.cfg.Metrics.activeDelta(1)
	for _, v := range victims {
		v.tell(&evict{})
	}
	return true
}

// countOut undoes admit, once.
func (a *resourceActor) countOut() {
	if a.counted {
		a.cfg.active.remove(a)
		a.counted = false
		a.cfg.Metrics.activeDelta(-1)
	}
}

// touched records a command at now, for the least-recently-used choice.
func (a *resourceActor) touched(now time.Time) {
	if a.counted {
		a.entry.used.Store(now.UnixNano())
	}
}

// noteBusy publishes, after each message, whether the activation has work: only idle ones
// are asked to passivate under pressure. It may be stale by the time an admission reads it;
// the activation then declines (onEvict). queued counts the commands in the mailbox besides
// the one being handled; starting says a store call is about to start.
func (a *resourceActor) noteBusy(queued int, starting bool) {
	if a.counted {
		a.entry.busy.Store(a.core == nil || a.core.Phase() != activation.Serving ||
			a.core.Busy() || a.core.Parked() > 0 || len(a.calls()) > 0 || queued > 0 || starting)
	}
}

// onEvict passivates the activation at an admission's request if it is still idle, the way
// an idle timeout does; otherwise it gives the claim back.
func (a *resourceActor) onEvict() {
	if !a.counted { // stopped meanwhile: remove gave the claim back
		return
	}
	if a.core != nil && a.core.Phase() == activation.Serving {
		a.step(activation.Passivate{Queued: int(a.queue.n.Load())})
		if a.core.Phase() == activation.Passivating {
			a.cfg.Metrics.passivatedUnderPressure()
			return
		}
	}
	a.cfg.active.declined(a)
}

// refuse answers a command of a refused activation (one that reached it before the stop;
// later ones are answered by the mailbox, see onStopped).
func (a *resourceActor) refuse(to *actor.PID) {
	a.cfg.Metrics.rejected(booking.CodeUnavailable)
	if to != nil {
		a.system.Root.Send(to, a.overCapReply())
	}
}

func (a *resourceActor) overCapReply() *protos.Reply {
	return &protos.Reply{Error: errorProto(errOverCap, a.cfg.RetryAfter), Owner: a.cfg.Owner}
}

func (m *Metrics) activeDelta(d float64) {
	if m != nil {
		m.active.Add(d)
	}
}

func (m *Metrics) refusedActivation() {
	if m != nil {
		m.refusedCap.Inc()
	}
}

func (m *Metrics) passivatedUnderPressure() {
	if m != nil {
		m.pressured.Inc()
	}
}

// rebuilt returns a copy of m in a table sized for its entries (maps.Clone may keep the
// original's table size).
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
