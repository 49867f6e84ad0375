package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// target is one base URL of a run, split for writing requests by hand.
type target struct {
	base   string // as given, without a trailing slash: named in errors
	addr   string // host:port to dial
	host   string // the Host header
	prefix string // the base URL's path, before every request path
	tls    *tls.Config
}

func parseTarget(base string) (target, error) {
	base = strings.TrimSuffix(base, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, fmt.Errorf("--target %q: want a base URL like http://127.0.0.1:8080", base)
	}
	t := target{base: base, host: u.Host, addr: u.Host, prefix: u.EscapedPath()}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		t.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		// HTTP/1.1 over TLS: the load generator speaks nothing else.
		t.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
	}
	return t, nil
}

// httpConn is one keep-alive HTTP/1.1 connection to a target, used by one goroutine. It
// writes each request with one write from a reused buffer and reads the answer with
// respReader: no goroutine, channel or header map per request, as net/http's Transport has.
type httpConn struct {
	t       *target
	ctx     context.Context // the run's: a dial stops with it
	aborted *atomic.Bool    // set when ctx is done (see sender.abort)
	nc      net.Conn        // nil until dialled, and after an error or a close
	reused  bool            // nc carried an answer already
	wbuf    []byte
	rd      respReader
}

// request is one HTTP request of the load phase.
type request struct {
	Method  string
	Path    string // below the target's prefix, with its query
	IdemKey string // "": none
	Token   string // bearer token; "": none
	Body    []byte
	HasBody bool
}

// roundTrip sends req and reads its answer before deadline. A connection the server closed
// while it was idle (an error before any byte of the answer on a reused connection) is
// dialled anew and the request sent again, once: net/http's Transport would have noticed
// the close and not used it. Any error leaves the connection closed. dialed, when set, is
// told of every connection dialled (to interrupt it when the run is cancelled).
// The dial and the exchange share deadline.
func (c *httpConn) roundTrip(req *request, userAgent string, deadline time.Time, dialed func(net.Conn)) (response, error) {
	for try := 0; ; try++ {
		if c.nc == nil {
			if err := c.dial(deadline, dialed); err != nil {
				return response{}, err
			}
		}
		wasReused := c.reused
		resp, err := c.exchange(req, userAgent, deadline)
		if err == nil {
			if resp.Close {
				c.close()
			} else {
				c.reused = true
			}
			return resp, nil
		}
		c.close()
		if !wasReused || try > 0 || c.rd.got > 0 || !closedByPeer(err) {
			return resp, err
		}
	}
}

func (c *httpConn) dial(deadline time.Time, dialed func(net.Conn)) error {
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.t.addr)
	if err != nil {
		return err
	}
	if c.t.tls != nil {
		tc := tls.Client(nc, c.t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return err
		}
		nc = tc
	}
	if dialed != nil {
		dialed(nc)
	}
	c.nc, c.reused = nc, false
	if c.rd.br == nil {
		c.rd.br = bufio.NewReaderSize(nc, 8<<10)
	} else {
		c.rd.br.Reset(nc)
	}
	return nil
}

// exchange writes req and reads the answer.
func (c *httpConn) exchange(req *request, userAgent string, deadline time.Time) (response, error) {
	c.rd.got = 0
	if err := c.nc.SetDeadline(deadline); err != nil {
		return response{}, err
	}
	if c.aborted.Load() {
		// abort may have put the deadline in the past before the line above replaced it.
		return response{}, c.ctx.Err()
	}
	c.wbuf = appendRequest(c.wbuf[:0], c.t, req, userAgent)
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return response{}, err
	}
	resp, err := c.rd.read(req.Method)
	if err != nil && !errors.Is(err, errMalformed) {
		err = fmt.Errorf("read answer: %w", err)
	}
	return resp, err
}

// appendRequest appends the request as net/http's Transport writes it for api/client (the
// same headers; no Accept-Encoding: the run's transport disables compression).
func appendRequest(b []byte, t *target, req *request, userAgent string) []byte {
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, t.prefix...)
	b = append(b, req.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, userAgent...)
	if req.HasBody || req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH" {
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.Body)), 10)
	}
	b = append(b, "\r\nAccept: application/json, application/problem+json"...)
	if req.Token != "" {
		b = append(b, "\r\nAuthorization: Bearer "...)
		b = append(b, req.Token...)
	}
	if req.HasBody {
		b = append(b, "\r\nContent-Type: application/json"...)
	}
	if req.IdemKey != "" {
		b = append(b, "\r\nIdempotency-Key: "...)
		b = append(b, req.IdemKey...)
	}
	b = append(b, "\r\n\r\n"...)
	return append(b, req.Body...)
}

func (c *httpConn) close() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
	c.reused = false
}

// closedByPeer reports whether err says the server closed the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
