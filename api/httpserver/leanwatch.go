package httpserver

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// leanWatchAfter is how long a fast-path handler runs before its connection is watched for
// the client going away. net/http reads in the background during every request; the fast
// path does so only for the slow ones (a hold waiting on its owner, the store or a fault), so
// that the common request costs a timer's reset and stop, not a goroutine and a read.
const leanWatchAfter = 50 * time.Millisecond

// aLongTimeAgo is a read deadline in the past: it ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// leanSrc is what a fast-path connection's bufio.Reader reads: the connection, preceded by
// the byte a watch read, if any (the first byte of a pipelined request must not be lost).
// has and b are written by the watch and read by the connection's goroutine only once the
// watch has ended (leanWatch.disarm waits for it), so they need no lock of their own.
type leanSrc struct {
	nc  net.Conn
	has bool
	b   byte
}

func (s *leanSrc) Read(p []byte) (int, error) {
	if s.has && len(p) > 0 {
		p[0], s.has = s.b, false
		return 1, nil
	}
	return s.nc.Read(p)
}

// leanWatch cancels a fast-path request's context when its client goes away while the
// handler runs, as net/http's background read does (a client that gave up, an attempt
// timeout of a retrying client, a load balancer's): without it the handler, its command and
// its place at the owner were kept until the command's own deadline.
//
// One per connection, used by the connection's goroutine only through arm and disarm:
// arm (before the handler) starts a timer; when it fires while the handler still runs and
// the request's body has been read to its end, the timer's goroutine reads one byte from the
// connection (a body not read yet restarts the timer). EOF or an error (the client left, a
// reset) cancels the request's context and marks the connection gone; a byte (a pipelined
// request) is kept for the next request and ends the watch. disarm (after the handler) stops the timer, ends a read in progress with a
// deadline in the past, waits for it and restores the connection's read deadline.
//
// Invariant: while reading is true the watch owns src (and the connection's read deadline);
// the connection's goroutine touches neither until disarm returned.
type leanWatch struct {
	c     *leanConn
	timer *time.Timer // created at the first arm, under mu; stopped when the connection ends

	mu       sync.Mutex
	done     sync.Cond // signalled when a read ends
	armed    bool      // a handler runs
	reading  bool      // the watch's read is in progress
	aborted  bool      // disarm ended the read
	gone     bool      // the client went away during the request
	body     *leanBody
	cancel   context.CancelFunc
	deadline time.Time // the read deadline to restore after a read
	buf      [1]byte
}

// arm watches the request whose body is body and whose context cancel cancels; deadline
// is the connection's read deadline, restored after a watch read.
func (w *leanWatch) arm(body *leanBody, cancel context.CancelFunc, deadline time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed, w.gone, w.body, w.cancel, w.deadline = true, false, body, cancel, deadline
	// Under mu: watch reads w.timer (to look again) on the timer's goroutine.
	if w.timer == nil {
		w.done.L = &w.mu
		w.timer = time.AfterFunc(leanWatchAfter, w.watch)
	} else {
		w.timer.Reset(leanWatchAfter)
	}
}

// disarm ends the watch of the request; gone reports whether its client went away (the
// connection is then not kept).
func (w *leanWatch) disarm() (gone bool) {
	w.timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if w.reading {
		w.aborted = true
		_ = w.c.nc.SetReadDeadline(aLongTimeAgo)
		for w.reading {
			w.done.Wait()
		}
		_ = w.c.nc.SetReadDeadline(w.deadline)
	}
	w.body, w.cancel = nil, nil
	return w.gone
}

// stop ends the timer for good (the connection's end).
func (w *leanWatch) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// watch runs on the timer's goroutine. A timer that fired as disarm ran may run it after
// the next arm: it then watches that request a little early, which is harmless.
func (w *leanWatch) watch() {
	w.mu.Lock()
	if !w.armed || w.reading || w.gone || w.c.src.has {
		// Not serving; already watching; over; or a pipelined byte already waits.
		w.mu.Unlock()
		return
	}
	if !w.body.consumed() {
		// The handler may still read the body from the connection (net/http too watches
		// only past the body's end): look again later, or a handler whose client sent the
		// body slowly would never be watched (round 17). disarm stops the timer; one that
		// fires after it finds the watch unarmed.
		w.timer.Reset(leanWatchAfter)
		w.mu.Unlock()
		return
	}
	w.reading = true
	_ = w.c.nc.SetReadDeadline(time.Time{}) // under mu: disarm's deadline comes after it
	w.mu.Unlock()

	n, err := w.c.nc.Read(w.buf[:])

	w.mu.Lock()
	if n == 1 {
		w.c.src.b, w.c.src.has = w.buf[0], true
	}
	if err != nil && !(w.aborted && errors.Is(err, os.ErrDeadlineExceeded)) {
		w.gone = true
		w.cancel()
	}
	w.reading, w.aborted = false, false
	w.mu.Unlock()
	w.done.Broadcast()
}

// consumed reports whether the handler has read the body to its end (then no read of the
// handler touches the connection any more). A body being read right now is not: the watch
// does not wait for a read that may last until ReadTimeout.
func (b *leanBody) consumed() bool {
	if !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	return b.left <= 0
}
