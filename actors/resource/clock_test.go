package resource

import (
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected clock. Its time moves only forward: by Advance, which fires the
// timers due, and by a timer that fires after its duration in real time, which moves the
// clock to the timer's deadline if it is behind (time passes for a program that waits). So a
// test moves hold deadlines and leases at will, while backoffs and short timeouts still end on
// their own.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	timers  map[*fakeTimer]struct{}
	signal  time.Duration // timers armed this close announce themselves on waiting
	waiting chan struct{}
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newClock() *fakeClock {
	return &fakeClock{t: base, timers: map[*fakeTimer]struct{}{}, waiting: make(chan struct{}, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// AfterFunc is Config.AfterFunc on this clock.
func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	t := &fakeTimer{at: c.t.Add(d), f: f}
	c.timers[t] = struct{}{}
	if d <= c.signal {
		select {
		case c.waiting <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	real := time.AfterFunc(d, func() { c.fire(t) })
	return func() bool {
		real.Stop()
		c.mu.Lock()
		defer c.mu.Unlock()
		_, armed := c.timers[t]
		delete(c.timers, t)
		return armed
	}
}

// fire runs t once, moving the clock to its deadline.
func (c *fakeClock) fire(t *fakeTimer) {
	c.mu.Lock()
	_, armed := c.timers[t]
	delete(c.timers, t)
	if armed && c.t.Before(t.at) {
		c.t = t.at
	}
	c.mu.Unlock()
	if armed {
		t.f()
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	var due []*fakeTimer
	for t := range c.timers {
		if !t.at.After(c.t) {
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		c.fire(t)
	}
}

// awaitWaiter fails the test unless a timer no further than c.signal ahead (an activation
// waiting for a previous lease) is armed within askTimeout.
func (c *fakeClock) awaitWaiter(tb testing.TB, what string) {
	tb.Helper()
	select {
	case <-c.waiting:
	case <-time.After(askTimeout):
		tb.Fatalf("nobody waited on the clock: %s", what)
	}
}
