package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// leanBufSize is a fast-path connection's read buffer, the largest head the fast path
// serves (Config.validate keeps MaxHeaderBytes above it, so a longer head is net/http's to
// accept or refuse).
const leanBufSize = 4 << 10

// Connection states, for shutdown (Lean.shutdown closes only an idle connection).
const (
	connActive int32 = iota
	connIdle
	connClosed
)

// leanConn is one fast-path connection: its goroutine reads requests, serves them and writes
// their answers in order until the client closes, a limit cuts it, a request is not of the
// fast path's form (then net/http takes the connection over) or the server shuts down.
type leanConn struct {
	l      *Lean
	nc     net.Conn
	src    leanSrc // what br reads: nc, after a byte the watch read
	br     *bufio.Reader
	watch  leanWatch // cancels a slow request's context when its client goes away
	remote string
	ctx    context.Context // the connection's: BaseContext, ServerContextKey, ConnContext
	state  atomic.Int32
	once   sync.Once
	out    []byte // the answer's head, then the whole answer; kept for the next one
	body   []byte // the answer's body while it is buffered; kept for the next one
	tmpl   http.Request
}

func newLeanConn(l *Lean, nc net.Conn) *leanConn {
	c := &leanConn{l: l, nc: nc, remote: nc.RemoteAddr().String()}
	c.src.nc = nc
	c.br = bufio.NewReaderSize(&c.src, leanBufSize)
	c.watch.c = c
	return c
}

func (c *leanConn) close() { c.once.Do(func() { _ = c.nc.Close() }) }

// closeIfIdle closes c if it waits for a request (shutdown).
func (c *leanConn) closeIfIdle() {
	if c.state.CompareAndSwap(connIdle, connClosed) {
		c.close()
	}
}

// serve is the connection's goroutine.
func (c *leanConn) serve() {
	handed := false
	defer func() {
		c.watch.stop()
		if !handed {
			c.close()
		}
		c.l.forget(c)
	}()
	c.ctx = c.l.baseContext(c.nc)
	cfg := &c.l.cfg
	for first := true; ; first = false {
		// Wait for the next request: ReadHeaderTimeout for the first, IdleTimeout between
		// requests.
		c.state.Store(connIdle)
		if c.l.closing.Load() {
			return
		}
		start := time.Now()
		if first {
			_ = c.nc.SetReadDeadline(start.Add(cfg.ReadHeaderTimeout))
		} else {
			_ = c.nc.SetReadDeadline(start.Add(cfg.IdleTimeout))
		}
		// As net/http: between requests it waits for 4 bytes (IdleTimeout), then drops the
		// CRs and LFs an old client may send after a POST's body (every fast-path request is
		// a POST), then reads the head under ReadHeaderTimeout.
		want := 1
		if !first {
			want = 4
		}
		_, err := c.br.Peek(want)
		if !c.state.CompareAndSwap(connIdle, connActive) || err != nil {
			return // closed by shutdown, or the client left, or a timeout
		}
		if !first {
			start = time.Now()
			_ = c.nc.SetReadDeadline(start.Add(cfg.ReadHeaderTimeout))
		}
		if !first {
			peek, _ := c.br.Peek(4)
			k := 0
			for k < len(peek) && (peek[k] == '\r' || peek[k] == '\n') {
				k++
			}
			_, _ = c.br.Discard(k)
		}
		head, n, ok := c.readHead()
		if !ok {
			if n < 0 {
				// The client left or was too slow mid-head. As net/http: silence before the
				// request line is whole, 400 after.
				if buf, _ := c.br.Peek(c.br.Buffered()); bytes.Contains(buf, []byte("\r\n")) {
					_, _ = io.WriteString(c.nc, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
				}
				return
			}
			// Not of the fast path's form: net/http's, from this request's first byte.
			_ = c.nc.SetDeadline(time.Time{})
			pending, _ := c.br.Peek(c.br.Buffered())
			pending = append([]byte(nil), pending...)
			if c.src.has { // (br has read it by now; if not, it follows br's bytes)
				pending = append(pending, c.src.b)
			}
			handed = true
			c.l.hand(c.nc, pending)
			return
		}
		_, _ = c.br.Discard(n)
		c.l.served.Add(1)
		readDeadline := start.Add(cfg.ReadTimeout)
		_ = c.nc.SetReadDeadline(readDeadline)
		_ = c.nc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
		if !c.serveRequest(&head, readDeadline) || c.l.closing.Load() {
			return
		}
	}
}

// readHead reads the next request's head into the buffer without consuming it. ok: a head of
// the fast path's form, n bytes. Otherwise n is 0 to hand the connection over, -1 to close it.
func (c *leanConn) readHead() (head leanHead, n int, ok bool) {
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		switch v, size := scanHead(buf); v {
		case headHandOff:
			return head, 0, false
		case headWhole:
			head, ok = parseHead(buf[:size], c.l.hot)
			return head, size, ok
		}
		if len(buf) >= leanBufSize {
			return head, 0, false // longer than the fast path takes: net/http applies MaxHeaderBytes
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return head, -1, false
		}
	}
}

// serveRequest runs the handler for head and writes its answer; false: close the connection.
// readDeadline is the connection's read deadline for the request (its body, and what the
// handler leaves of it).
func (c *leanConn) serveRequest(head *leanHead, readDeadline time.Time) (keep bool) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	body := &leanBody{r: c.br, left: head.length}
	t := &c.tmpl
	*t = http.Request{
		Method: http.MethodPost, URL: &url.URL{Path: head.target}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: head.header, Body: body, ContentLength: head.length, Host: head.host,
		RemoteAddr: c.remote, RequestURI: head.target,
	}
	if head.length == 0 {
		t.Body = http.NoBody
	}
	r := t.WithContext(ctx)
	*t = http.Request{} // the template keeps nothing of the request
	w := &leanWriter{c: c, h: make(http.Header), declared: -1, head: c.out[:0], buf: c.body[:0]}

	c.watch.arm(body, cancel, readDeadline)
	defer func() {
		if v := recover(); v != nil {
			c.watch.disarm()
			keep = false
			w.done = true
			if v != http.ErrAbortHandler && c.l.srv.ErrorLog != nil {
				c.l.srv.ErrorLog.Printf("http: panic serving %s: %v", c.remote, v)
			}
		}
	}()
	c.l.srv.Handler.ServeHTTP(w, r)
	// The client went away while the handler ran (its context was cancelled then). As
	// net/http: the answer is still written (a client that only shut its side down may
	// read it), then the connection closes.
	gone := c.watch.disarm()
	body.mu.Lock()
	body.closed = true // a read after the handler returned gets ErrBodyReadAfterClose
	// As net/http: a body the handler left (a refusal before reading it: 401, 429, 413) is
	// read and dropped, within ReadTimeout, when it is at most maxDiscard bytes, so that
	// the connection stays open; a longer one closes the connection after the answer.
	if left := body.left; !gone && left > 0 && left <= maxDiscard {
		if k, err := c.br.Discard(int(left)); err == nil {
			body.left -= int64(k)
		}
	}
	unread := body.left > 0
	body.mu.Unlock()
	return w.finish(gone || unread || c.l.closing.Load())
}

// maxDiscard is the most of a request body the handler did not read that the fast path
// reads and drops to keep the connection (net/http's maxPostHandlerReadBytes).
const maxDiscard = 256 << 10

// leanBody is a fast-path request's body: the next left bytes of the connection.
type leanBody struct {
	mu     sync.Mutex
	r      *bufio.Reader
	left   int64
	closed bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		return n, io.EOF // with the last byte, as net/http's body
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close ends the handler's reading; what is left unread closes the connection after the
// answer.
func (b *leanBody) Close() error {
	return nil
}
