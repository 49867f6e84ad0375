package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Lean serves plain HTTP/1.1 (no TLS) on a listener with a fast path for the hot routes and
// net/http for everything else (issue 17, round 15: net/http's per-request machinery, the
// background read, its deadlines, the header maps and their clone, was most of the node's
// CPU per hold beyond the handler).
//
// Every connection starts on the fast path (leanConn). A request is served there only when
// its head, read whole into the connection's buffer, has the one strict form the hot routes
// need (leanhead.go): "POST <target> HTTP/1.1" with a target hot accepts, CRLF line ends,
// exactly one Host and one Content-Length of plain digits, field names of token characters
// and values of visible ASCII, Connection only as one "keep-alive" (what browsers send), and
// none of Transfer-Encoding, Expect, Upgrade, TE, Trailer, Keep-Alive or Proxy-Connection. At
// the first request that is anything else, the connection, with every byte of that request
// still unread, is handed to srv (net/http) for
// the rest of its life: net/http parses, answers or refuses it exactly as it would have
// (request smuggling, bad framing, oversized headers, HTTP/1.0, upgrades, 100-continue).
// Bytes are never consumed before that decision, so net/http sees the connection from the
// start of a request.
//
// On the fast path the same handler runs (srv.Handler) under Config's limits: ReadHeaderTimeout
// for a request's head (from its first byte, or from the end of the previous answer),
// ReadTimeout for the whole request, WriteTimeout for handling and writing the answer, and
// IdleTimeout between requests. A head must fit in leanBufSize bytes (less than any allowed
// MaxHeaderBytes); a longer one is handed over, and net/http applies MaxHeaderBytes.
//
// As net/http, a request's context is cancelled when its client goes away while the handler
// runs, but only once the handler has run for leanWatchAfter (leanwatch.go: the connection is
// read in the background only then, not for every request). What differs from net/http, on
// the fast path only: the answer is written when the handler returns (a handler
// that writes more than leanMaxBuffered bytes streams it, without Content-Length, and the
// connection then closes); http.Hijacker and 1xx answers are not offered. A head handed over before it was whole (a bare LF or a control byte midway)
// gets net/http's ReadHeaderTimeout afresh: at most twice ReadHeaderTimeout in all.
//
// Shutdown: srv.Shutdown closes the handed-over connections as ever and, through the hook
// Serve registers, the listener and every fast-path connection waiting for a request; one
// serving a request closes after its answer (Connection: close). Serve returns once srv's
// Serve has and every fast-path connection is closed. srv.Close does not reach the fast path:
// a request in flight there ends within WriteTimeout.
type Lean struct {
	srv *http.Server
	cfg Config
	hot func(target string) bool

	handoff *handoffListener
	wg      sync.WaitGroup // fast-path connections
	mu      sync.Mutex
	conns   map[*leanConn]struct{} // guarded by mu
	closing atomic.Bool
	ln      net.Listener

	served, handed atomic.Uint64 // requests served on the fast path; connections handed over
}

// Served counts the requests the fast path served, and Handed the connections it handed
// to net/http (allot_http_fast_path_requests_total, allot_http_fast_path_handoffs_total).
func (l *Lean) Served() uint64 { return l.served.Load() }

// Handed: see Served.
func (l *Lean) Handed() uint64 { return l.handed.Load() }

// NewLean returns a Lean for srv (from New, with cfg; srv.TLSConfig must be nil) whose fast
// path takes the POST requests whose target hot accepts. hot sees only targets of the
// characters [A-Za-z0-9/_-] (no query); it must be safe for concurrent use and fast.
func NewLean(srv *http.Server, cfg Config, hot func(target string) bool) (*Lean, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if srv == nil || hot == nil || srv.Handler == nil {
		return nil, errors.New("httpserver: NewLean needs a server with a handler and a hot-route test")
	}
	if srv.TLSConfig != nil {
		return nil, errors.New("httpserver: the fast path is plain HTTP/1.1; serve TLS with net/http")
	}
	l := &Lean{srv: srv, cfg: cfg, hot: hot, conns: make(map[*leanConn]struct{})}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "allot_http_fast_path_requests_total",
				Help: "Requests the edge served on its HTTP/1.1 fast path (the hold route, plain HTTP).",
			}, func() float64 { return float64(l.Served()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "allot_http_fast_path_handoffs_total",
				Help: "Connections the edge's fast path handed to net/http (another route or a request not of its strict form).",
			}, func() float64 { return float64(l.Handed()) }),
		} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("httpserver: register metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Serve accepts connections on ln (from Listen) until srv.Shutdown or srv.Close, and returns
// http.ErrServerClosed then, once every fast-path connection has closed; any other error ends
// it at once. It may be called once.
func (l *Lean) Serve(ln net.Listener) error {
	l.ln = ln
	l.handoff = newHandoffListener(ln.Addr())
	l.srv.RegisterOnShutdown(l.shutdown)
	served := make(chan error, 1)
	go func() { served <- l.srv.Serve(l.handoff) }()

	var err error
	var backoff time.Duration
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			if l.closing.Load() || errors.Is(err, net.ErrClosed) {
				break
			}
			// As net/http: any other accept error (out of file descriptors, a connection
			// reset before it was accepted) is retried after a pause growing to 1 s.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if l.srv.ErrorLog != nil {
				l.srv.ErrorLog.Printf("http: Accept error: %v; retrying in %v", err, backoff)
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := l.newConn(nc)
		if c == nil {
			nc.Close()
			continue
		}
		go c.serve()
	}
	if !l.closing.Load() { // the listener failed, not a shutdown: stop the rest too
		l.shutdown()
		_ = l.srv.Close()
	}
	l.wg.Wait()
	serr := <-served
	if l.closing.Load() {
		return http.ErrServerClosed
	}
	if err == nil {
		err = serr
	}
	return err
}

// newConn registers a fast-path connection; nil when shutting down.
func (l *Lean) newConn(nc net.Conn) *leanConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return nil
	}
	c := newLeanConn(l, nc)
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return c
}

// forget is a fast-path connection's last act.
func (l *Lean) forget(c *leanConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.wg.Done()
}

// shutdown stops accepting and closes the idle fast-path connections; the others close after
// their answer. Safe to call twice.
func (l *Lean) shutdown() {
	l.mu.Lock()
	first := !l.closing.Swap(true)
	conns := make([]*leanConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	if first && l.ln != nil {
		_ = l.ln.Close()
	}
	for _, c := range conns {
		c.closeIfIdle()
	}
}

// Close closes the listener and every fast-path connection, serving or not, as srv.Close
// does its own; call it with srv.Close (after a Shutdown that ran out of time).
func (l *Lean) Close() {
	l.shutdown()
	l.mu.Lock()
	conns := make([]*leanConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// hand gives nc, whose next bytes are pending followed by what it still has to read, to
// net/http.
func (l *Lean) hand(nc net.Conn, pending []byte) {
	l.handed.Add(1)
	if len(pending) > 0 {
		nc = &replayConn{Conn: nc, pending: pending}
	}
	if !l.handoff.give(nc) {
		nc.Close()
	}
}

// baseContext is what net/http gives a connection's requests before ConnContext.
func (l *Lean) baseContext(nc net.Conn) context.Context {
	ctx := context.Background()
	if l.srv.BaseContext != nil {
		ctx = l.srv.BaseContext(l.ln)
	}
	ctx = context.WithValue(ctx, http.ServerContextKey, l.srv)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	if l.srv.ConnContext != nil {
		ctx = l.srv.ConnContext(ctx, nc)
	}
	return ctx
}

// handoffListener is the listener srv serves: it yields the connections the fast path gives
// up. Close (by srv.Shutdown or srv.Close) ends Accept; a connection given after that is
// closed by the giver.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	mu     sync.Mutex
	closed bool
	done   chan struct{}
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (h *handoffListener) give(nc net.Conn) bool {
	select {
	case h.conns <- nc:
		return true
	case <-h.done:
		return false
	}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case nc := <-h.conns:
		return nc, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	return nil
}

func (h *handoffListener) Addr() net.Addr { return h.addr }

// replayConn is a connection whose first reads return pending: the bytes of a request the
// fast path peeked at and handed over unread.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
