package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/wire"
)

// Snapshot is a resource's availability at a version.
type Snapshot struct {
	Version      uint64
	Availability wire.Availability
}

// AvailabilityReader reads a resource's current availability and version (in Allot, a
// GetResource command to its owner). Safe for concurrent use; it returns when ctx is done.
// A resource that does not exist is a *booking.Error with booking.CodeNotFound.
type AvailabilityReader interface {
	ReadAvailability(ctx context.Context, resourceID string) (Snapshot, error)
}

// HubConfig configures a Hub. Zero optional fields take the defaults of DefaultHubConfig.
type HubConfig struct {
	// Reader reads availability. Required.
	Reader AvailabilityReader
	// Now and AfterFunc are the hub's one clock (see webhooks.Config for AfterFunc's contract).
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Interval is the least time between two reads of one resource: 100ms gives at most 10
	// updates a second.
	Interval time.Duration
	// Buffer is how many updates a watcher may fall behind before it is dropped.
	Buffer int
	// ReadTimeout bounds one read.
	ReadTimeout time.Duration
	// Logger gets failed reads. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultHubConfig returns the defaults; set Reader.
func DefaultHubConfig() HubConfig {
	return HubConfig{
		Now:         time.Now,
		AfterFunc:   func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop },
		Interval:    100 * time.Millisecond,
		Buffer:      16,
		ReadTimeout: 2 * time.Second,
		Logger:      slog.Default(),
	}
}

func (c HubConfig) withDefaults() HubConfig {
	d := DefaultHubConfig()
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.AfterFunc == nil {
		c.AfterFunc = d.AfterFunc
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Buffer == 0 {
		c.Buffer = d.Buffer
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

func (c HubConfig) validate() error {
	switch {
	case c.Reader == nil:
		return errors.New("live hub config: Reader is required")
	case c.Interval < 0 || c.Buffer < 0 || c.ReadTimeout < 0:
		return errors.New("live hub config: Interval, Buffer and ReadTimeout must be positive")
	}
	return nil
}

// Hub fans availability out to the watchers of each resource. Create it with NewHub; Close
// it. Safe for concurrent use.
//
// Invariants: per resource, at most one read in flight and reads begin at least Interval
// apart; a fan-out never blocks on a watcher; every goroutine and timer it starts has ended
// when Close returns.
type Hub struct {
	cfg    HubConfig
	ctx    context.Context // ends at Close: aborts reads
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reads  atomic.Int64

	mu     sync.Mutex
	closed bool
	topics map[string]*topic

	afterRead func() // for tests: called at the end of each read, without the lock
}

// topic is one watched resource. Guarded by Hub.mu.
type topic struct {
	id        string
	watchers  map[*Watcher]struct{}
	dirty     bool        // changed since the last read began
	busy      bool        // a read is running or armed
	stopTimer func() bool // of the armed read, if any
	lastRead  time.Time
	version   uint64 // highest version fanned out
}

// Watcher receives a resource's snapshots. Updates is closed when the watcher is dropped
// (it fell Buffer updates behind), stopped, or the hub closes.
type Watcher struct {
	hub   *Hub
	topic *topic
	ch    chan Snapshot
}

// Updates delivers snapshots, newest last, each with a higher version than the one before.
func (w *Watcher) Updates() <-chan Snapshot { return w.ch }

// Stop ends the watch. Safe to call twice, and after the watcher was dropped.
func (w *Watcher) Stop() {
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(w)
}

// NewHub returns a Hub.
func NewHub(cfg HubConfig) (*Hub, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, topics: map[string]*topic{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Reads counts the availability reads made (for tests and metrics).
func (h *Hub) Reads() int64 { return h.reads.Load() }

// Watch starts watching a resource. Snapshots come for changes after Watch; read the current
// availability after calling it, so that nothing falls between.
func (h *Hub) Watch(resourceID string) (*Watcher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("live hub: closed")
	}
	t := h.topics[resourceID]
	if t == nil {
		t = &topic{id: resourceID, watchers: map[*Watcher]struct{}{}}
		h.topics[resourceID] = t
	}
	w := &Watcher{hub: h, topic: t, ch: make(chan Snapshot, h.cfg.Buffer)}
	t.watchers[w] = struct{}{}
	return w, nil
}

// Handle is the hub's event consumer (a feed.Handler): any event about a watched resource
// marks it changed. It never fails: a live stream has nothing to redeliver.
func (h *Hub) Handle(_ context.Context, ev feed.Event) error {
	h.Changed(ev.ResourceID)
	return nil
}

// Watched reports whether any resource is watched (or a read for one is still running):
// while it is false, Handle does nothing, so the live consumer may drop events unread
// (bus.ConsumerConfig.Listening). Safe for concurrent use.
func (h *Hub) Watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics) > 0
}

// Changed marks a resource changed; its watchers get a snapshot within Interval.
func (h *Hub) Changed(resourceID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[resourceID]
	if t == nil || h.closed {
		return
	}
	t.dirty = true
	if !t.busy {
		h.scheduleLocked(t)
	}
}

// scheduleLocked arms the topic's next read: now if Interval has passed since the last one
// began, else when it will have.
func (h *Hub) scheduleLocked(t *topic) {
	t.busy = true
	h.wg.Add(1)
	wait := t.lastRead.Add(h.cfg.Interval).Sub(h.cfg.Now())
	if wait <= 0 {
		go h.read(t)
		return
	}
	t.stopTimer = h.cfg.AfterFunc(wait, func() { h.read(t) })
}

// read reads the topic's resource once and fans the snapshot out.
func (h *Hub) read(t *topic) {
	defer h.wg.Done()
	if h.afterRead != nil {
		defer h.afterRead()
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	t.dirty, t.stopTimer, t.lastRead = false, nil, h.cfg.Now()
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.ReadTimeout)
	snap, err := h.cfg.Reader.ReadAvailability(ctx, t.id)
	cancel()
	h.reads.Add(1)

	h.mu.Lock()
	defer h.mu.Unlock()
	t.busy = false
	if h.closed {
		return
	}
	if err != nil {
		h.cfg.Logger.Warn("live: read availability", slog.String("resource_id", t.id), slog.Any("err", err))
		t.dirty = true // try again next interval
	} else if snap.Version > t.version {
		t.version = snap.Version
		for w := range t.watchers {
			select {
			case w.ch <- snap:
			default:
				h.removeLocked(w) // too slow: dropped, never waited for
			}
		}
	}
	if len(t.watchers) == 0 {
		if h.topics[t.id] == t {
			delete(h.topics, t.id)
		}
		return
	}
	if t.dirty {
		h.scheduleLocked(t)
	}
}

// removeLocked ends a watcher once.
func (h *Hub) removeLocked(w *Watcher) {
	t := w.topic
	if _, ok := t.watchers[w]; !ok {
		return
	}
	delete(t.watchers, w)
	close(w.ch)
	if len(t.watchers) == 0 && !t.busy && h.topics[t.id] == t {
		delete(h.topics, t.id)
	}
}

// Close ends every watch, stops armed reads and waits for running ones. Safe to call twice.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for _, t := range h.topics {
		if t.stopTimer != nil && t.stopTimer() {
			h.wg.Done()
		}
		t.stopTimer = nil
		for w := range t.watchers {
			delete(t.watchers, w)
			close(w.ch)
		}
	}
	h.topics = map[string]*topic{}
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	return nil
}
