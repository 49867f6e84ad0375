package resource

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
)

// TestWakeupsAgainstModel arms, moves and drops the wake-ups of a few activations at random
// (fixed seed) and moves the clock: after every step exactly the activations whose wake-up is
// due have been woken, once each, the rest keep theirs, the heap indexes are consistent, and
// the kind has at most one timer, armed for the earliest wake-up.
func TestWakeupsAgainstModel(t *testing.T) {
	sys := MustSystem(t)
	clock := newClock()
	w := newWakeups(clock.Now, clock.AfterFunc)
	woken := make(chan int, 64)
	const n = 40
	actors := make([]*resourceActor, n)
	for i := range actors {
		pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*wake); ok {
				woken <- i
			}
		}))
		actors[i] = &resourceActor{system: sys, self: pid}
	}
	model := map[int]time.Time{} // the armed wake-ups
	rng := rand.New(rand.NewPCG(17, 1))
	for step := range 3000 {
		i := rng.IntN(n)
		// Hours ahead: the fake clock's timers also fire in real time, which must not happen.
		at := clock.Now().Add(time.Duration(1+rng.IntN(50)) * time.Hour)
		switch op := rng.IntN(10); {
		case op < 5:
			w.arm(actors[i], at)
			model[i] = at
		case op < 7:
			w.disarm(actors[i])
			delete(model, i)
		default:
			clock.Advance(time.Duration(rng.IntN(20)) * time.Hour)
			now := clock.Now()
			want := map[int]bool{}
			for j, at := range model {
				if !at.After(now) {
					want[j] = true
					delete(model, j)
				}
			}
			for left := len(want); left > 0; left-- {
				select {
				case j := <-woken:
					if !want[j] {
						t.Fatalf("step %d: activation %d woken, not due (or twice)", step, j)
					}
					delete(want, j)
				case <-time.After(askTimeout):
					t.Fatalf("step %d: %d due activations not woken", step, len(want))
				}
			}
		}
		checkWakeups(t, step, w, clock, model, actors)
	}
	select {
	case j := <-woken:
		t.Fatalf("activation %d woken, not due", j)
	default:
	}
}

func checkWakeups(t *testing.T, step int, w *wakeups, clock *fakeClock, model map[int]time.Time, actors []*resourceActor) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.heap) != len(model) {
		t.Fatalf("step %d: %d wake-ups in the heap, want %d", step, len(w.heap), len(model))
	}
	for i, e := range w.heap {
		if e.a.wakeIdx != i+1 {
			t.Fatalf("step %d: entry %d has index %d", step, i, e.a.wakeIdx-1)
		}
		if p := (i - 1) / 2; i > 0 && w.heap[p].at > e.at {
			t.Fatalf("step %d: heap order broken at %d", step, i)
		}
	}
	for j, a := range actors {
		at, armed := model[j]
		if !armed && a.wakeIdx != 0 {
			t.Fatalf("step %d: activation %d has an entry, none armed", step, j)
		}
		if armed && (a.wakeIdx == 0 || w.heap[a.wakeIdx-1].at != at.Sub(w.base)) {
			t.Fatalf("step %d: activation %d: entry does not hold its wake-up %v", step, j, at)
		}
	}
	clock.mu.Lock()
	timers := len(clock.timers)
	var armedAt time.Time
	for ft := range clock.timers {
		armedAt = ft.at
	}
	clock.mu.Unlock()
	switch {
	case len(w.heap) == 0 && timers != 0:
		t.Fatalf("step %d: %d timers armed with no wake-up", step, timers)
	case len(w.heap) > 0 && (timers != 1 || armedAt.Sub(w.base) != w.heap[0].at):
		t.Fatalf("step %d: %d timers armed (at %v), want one at %v", step, timers, armedAt, w.heap[0].at)
	}
}

// TestWakeEntrySize: one entry per active resource with a wake-up (all of them: the idle
// check is one), in an array that grows as append grows it.
func TestWakeEntrySize(t *testing.T) {
	if size := unsafe.Sizeof(wakeEntry{}); size > 16 {
		t.Fatalf("wakeEntry is %d bytes, want 16 (a distance and a pointer)", size)
	}
}

// TestWakeupsOrderAsTheClock: on the real clock (monotonic readings), wake-ups far apart and
// close together come out in the order of their times, and one armed in the past is due.
func TestWakeupsOrderAsTheClock(t *testing.T) {
	w := newWakeups(time.Now, func(time.Duration, func()) func() bool { return func() bool { return true } })
	now := time.Now()
	ats := []time.Time{now.Add(time.Hour), now.Add(-time.Minute), now.Add(time.Nanosecond), now.Add(100 * 365 * 24 * time.Hour), now}
	actors := make([]*resourceActor, len(ats))
	for i, at := range ats {
		actors[i] = &resourceActor{}
		w.arm(actors[i], at)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var got []time.Duration
	for len(w.heap) > 0 {
		got = append(got, w.heap[0].at)
		w.remove(0)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("wake-ups out of order: %v", got)
		}
	}
	if got[0] != ats[1].Sub(w.base) || got[len(got)-1] != ats[3].Sub(w.base) {
		t.Fatalf("first %v, last %v: want the minute ago and the century ahead", got[0], got[len(got)-1])
	}
}
