package resource

import (
	"sync"
	"time"
)

// wakeups is the one timer of every activation of a Props: a min-heap of the activations'
// next wake-ups (hold deadlines, the idle timeout, leases, backoffs) and one Config.AfterFunc
// timer armed for the earliest. An activation's own time.AfterFunc cost 112 bytes of runtime
// timer, a closure and a stop closure per active resource (about 150 bytes; a stopped timer
// also stays in the runtime's timer heap until it is cleaned, pinning its span), where an
// entry here is 16 bytes of a shared array and an index in the actor: the wake-up is kept as
// its distance from base (a reading of the clock when the heap was made) instead of a
// 24-byte time.Time (docs/PERFORMANCE.md, "Round 15"). Distances order as time.Time.Sub
// orders the wake-ups: by the monotonic readings when the wake-up and base both have one
// (the real clock's), by the wall clock otherwise (a fake clock's times, or times made from
// Unix nanoseconds), as Before and After compare them; they can differ only for a wake-up
// without a monotonic reading against one with it, by a step of the wall clock. The
// distance saturates ±292 years from base.
//
// When the timer fires, every activation whose wake-up is due (at or before Now) is sent a
// wake and leaves the heap; the timer is then armed for the next one. A wake that arrives
// after the activation moved or dropped its wake-up is a tick the core ignores, as a stopped
// time.AfterFunc's racing fire was before.
//
// Thread-safety: arm and disarm are called from actor goroutines and the timer's callback
// from the clock's; mu guards the heap, the actors' wakeIdx (1 + the entry's index, 0: none),
// stop and armedAt. An actor's wakeIdx is read and written only under mu.
type wakeups struct {
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) (stop func() bool)

	base time.Time // wake-ups are kept as their distance from base

	mu      sync.Mutex
	heap    []wakeEntry
	peak    int           // the largest len(heap) since the array was last rebuilt
	stop    func() bool   // stops the armed timer; nil: none armed
	armedAt time.Duration // the wake-up the armed timer is for (a distance from base), if stop != nil
	gen     uint64        // counts the timers armed: a timer that fires after it was replaced does nothing
}

// wakeEntry is an activation's wake-up: at is its distance from wakeups.base.
type wakeEntry struct {
	at time.Duration
	a  *resourceActor
}

func newWakeups(now func() time.Time, afterFunc func(time.Duration, func()) func() bool) *wakeups {
	return &wakeups{now: now, afterFunc: afterFunc, base: now()}
}

// arm sets a's wake-up to at, replacing the one it had.
func (w *wakeups) arm(a *resourceActor, t time.Time) {
	at := t.Sub(w.base)
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := a.wakeIdx - 1; i >= 0 {
		w.heap[i].at = at
		w.fix(i)
	} else {
		w.heap = append(w.heap, wakeEntry{at: at, a: a})
		w.peak = max(w.peak, len(w.heap))
		a.wakeIdx = len(w.heap)
		w.up(len(w.heap) - 1)
	}
	w.rearm()
}

// disarm drops a's wake-up, if it has one.
func (w *wakeups) disarm(a *resourceActor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := a.wakeIdx - 1; i >= 0 {
		w.remove(i)
		w.rearm()
	}
}

// fire is the timer's callback: it wakes every activation that is due. The wakes are sent
// outside mu (a send may run a mailbox's scheduling).
func (w *wakeups) fire(gen uint64) {
	w.mu.Lock()
	if gen != w.gen {
		w.mu.Unlock()
		return
	}
	w.stop, w.armedAt = nil, 0
	now := w.now().Sub(w.base)
	var due []*resourceActor
	for len(w.heap) > 0 && w.heap[0].at <= now {
		due = append(due, w.heap[0].a)
		w.remove(0)
	}
	w.rearm()
	w.mu.Unlock()
	for _, a := range due {
		a.tell(&wake{}) // a.system and a.self were set before a armed (onStarted)
	}
}

// rearm keeps the timer armed for the earliest wake-up (mu held).
func (w *wakeups) rearm() {
	if len(w.heap) == 0 {
		if w.stop != nil {
			w.stop()
			w.stop, w.armedAt = nil, 0
		}
		return
	}
	at := w.heap[0].at
	if w.stop != nil {
		if at == w.armedAt {
			return
		}
		w.stop()
	}
	w.armedAt = at
	w.gen++
	gen := w.gen
	w.stop = w.afterFunc(max(at-w.now().Sub(w.base), time.Millisecond), func() { w.fire(gen) })
}

// remove takes entry i out of the heap (mu held). Once a passivation wave has emptied the
// heap to a quarter of its peak, the array is rebuilt: a slice keeps the array it grew to.
func (w *wakeups) remove(i int) {
	w.heap[i].a.wakeIdx = 0
	last := len(w.heap) - 1
	if i != last {
		w.heap[i] = w.heap[last]
		w.heap[i].a.wakeIdx = i + 1
	}
	w.heap[last] = wakeEntry{}
	w.heap = w.heap[:last]
	if i != last {
		w.fix(i)
	}
	if w.peak >= shrinkWakeupsMin && 4*len(w.heap) < w.peak {
		w.heap = append(make([]wakeEntry, 0, 2*len(w.heap)), w.heap...)
		w.peak = len(w.heap)
	}
}

// shrinkWakeupsMin is the peak below which the heap's array is kept as it is.
const shrinkWakeupsMin = 1024

func (w *wakeups) fix(i int) {
	if !w.down(i) {
		w.up(i)
	}
}

func (w *wakeups) less(i, j int) bool { return w.heap[i].at < w.heap[j].at }

func (w *wakeups) swap(i, j int) {
	w.heap[i], w.heap[j] = w.heap[j], w.heap[i]
	w.heap[i].a.wakeIdx = i + 1
	w.heap[j].a.wakeIdx = j + 1
}

func (w *wakeups) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !w.less(j, i) {
			break
		}
		w.swap(i, j)
		j = i
	}
}

// down moves entry i toward the leaves; it reports whether it moved.
func (w *wakeups) down(i0 int) bool {
	i, n := i0, len(w.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && w.less(r, l) {
			j = r
		}
		if !w.less(j, i) {
			break
		}
		w.swap(i, j)
		i = j
	}
	return i > i0
}
