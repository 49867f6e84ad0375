package audit

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock whose timers fire when the test says so.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
}

type manualTimer struct {
	d       time.Duration
	f       func()
	stopped *bool
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	stopped := new(bool)
	c.timers = append(c.timers, manualTimer{d: d, f: f, stopped: stopped})
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !*stopped
		*stopped = true
		return was
	}
}

// fire runs the one armed timer, after moving the clock by its delay, and returns the delay.
func (c *manualClock) fire(t *testing.T) time.Duration {
	t.Helper()
	c.mu.Lock()
	if len(c.timers) != 1 || *c.timers[0].stopped {
		c.mu.Unlock()
		t.Fatalf("%d timers armed, want one running", len(c.timers))
	}
	tm := c.timers[0]
	c.timers = nil
	c.now = c.now.Add(tm.d)
	c.mu.Unlock()
	tm.f()
	return tm.d
}

func TestPrunerDeletesPastRetentionOnTheClock(t *testing.T) {
	clock := &manualClock{now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	store := NewMemStore()
	day := 24 * time.Hour
	for i, age := range []time.Duration{500 * day, 401 * day, 395 * day, day} {
		e := Entry{ID: NewID(), At: clock.now.Add(-age), Subject: "op-1", Action: "resource.create", Status: 201}
		if i == 3 {
			e.ID = "au_newest"
		}
		if err := store.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		p, err := store.List(context.Background(), Filter{Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Entries)
	}
	p, err := StartPruner(RetentionConfig{Store: store, Retention: 400 * day, Every: day, Now: clock.Now, AfterFunc: clock.AfterFunc,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if d := clock.fire(t); d != 0 {
		t.Fatalf("first prune after %s, want at once", d)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d entries after the first prune, want 2 (the 500- and 401-day-old ones deleted)", n)
	}
	for range 6 { // the 395-day-old entry is over 400 days old on the sixth day
		if d := clock.fire(t); d != day {
			t.Fatalf("next prune after %s, want %s", d, day)
		}
	}
	if n := count(); n != 1 {
		t.Fatalf("%d entries after six days, want 1", n)
	}
	p.Stop()
	p.Stop() // twice: no effect
	clock.mu.Lock()
	defer clock.mu.Unlock()
	for _, tm := range clock.timers {
		if !*tm.stopped {
			t.Fatal("a timer is still armed after Stop")
		}
	}
}

func TestPrunerConfigRefused(t *testing.T) {
	for _, cfg := range []RetentionConfig{{}, {Store: NewMemStore()}, {Store: NewMemStore(), Retention: time.Hour, Every: -1}} {
		if _, err := StartPruner(cfg); err == nil {
			t.Errorf("StartPruner(%+v) accepted", cfg)
		}
	}
}
