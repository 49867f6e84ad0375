package live

import (
	"context"
	"strings"
	"sync"

	"github.com/allot/allot/api/feed"
)

// UserFeed fans each hold event out to the streams of the user it belongs to (the event's
// Subject). Unlike availability, events are not coalesced: a user sees each of their own
// changes. A stream whose buffer is full is dropped rather than waited for. Create it with
// NewUserFeed; safe for concurrent use; it starts no goroutines.
type UserFeed struct {
	buffer int

	mu       sync.Mutex
	closed   bool
	watchers map[string]map[*UserWatcher]struct{} // by subject
}

// UserWatcher receives one user's hold events. Events is closed when it is dropped,
// stopped, or the feed closes.
type UserWatcher struct {
	feed    *UserFeed
	subject string
	ch      chan feed.Event
}

// Events delivers the user's hold events in the order the feed got them.
func (w *UserWatcher) Events() <-chan feed.Event { return w.ch }

// Stop ends the watch. Safe to call twice.
func (w *UserWatcher) Stop() {
	f := w.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeLocked(w)
}

// NewUserFeed returns a feed whose watchers may fall buffer events behind (default 64).
func NewUserFeed(buffer int) *UserFeed {
	if buffer <= 0 {
		buffer = 64
	}
	return &UserFeed{buffer: buffer, watchers: map[string]map[*UserWatcher]struct{}{}}
}

// Watch starts watching subject's hold events; nil once the feed is closed.
func (f *UserFeed) Watch(subject string) *UserWatcher {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	w := &UserWatcher{feed: f, subject: subject, ch: make(chan feed.Event, f.buffer)}
	if f.watchers[subject] == nil {
		f.watchers[subject] = map[*UserWatcher]struct{}{}
	}
	f.watchers[subject][w] = struct{}{}
	return w
}

// Handle is the feed's event consumer (a feed.Handler). It never fails.
func (f *UserFeed) Handle(_ context.Context, ev feed.Event) error {
	if ev.Subject == "" || !strings.HasPrefix(ev.Type, "hold.") {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.watchers[ev.Subject] {
		select {
		case w.ch <- ev:
		default:
			f.removeLocked(w)
		}
	}
	return nil
}

// Watched reports whether any user's events are watched: while it is false, Handle does
// nothing (see Hub.Watched). Safe for concurrent use.
func (f *UserFeed) Watched() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers) > 0
}

func (f *UserFeed) removeLocked(w *UserWatcher) {
	ws := f.watchers[w.subject]
	if _, ok := ws[w]; !ok {
		return
	}
	delete(ws, w)
	close(w.ch)
	if len(ws) == 0 {
		delete(f.watchers, w.subject)
	}
}

// Close ends every watch. Safe to call twice.
func (f *UserFeed) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, ws := range f.watchers {
		for w := range ws {
			close(w.ch)
		}
	}
	f.watchers = map[string]map[*UserWatcher]struct{}{}
	return nil
}
