package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
)

// BenchmarkPlaceHoldEdgeLean sizes the lever issue 17's rounds 13-15 name but did not take: a
// lean HTTP/1.1 server for the hot routes. It is BenchmarkPlaceHoldEdgeServer with net/http's
// server replaced by leanConn below, a sketch that serves the same gin handler (the whole
// chain: authentication, limits, audit, problems, metrics) on one kept-alive connection with
// the connection's buffers, header map and request reused from request to request, one
// deadline per request, no background read and the answer written in one write. It is NOT a
// server the node could run (see leanConn); it only bounds what such a server could save.
//
//	go test ./api -run '^$' -bench 'BenchmarkPlaceHoldEdge(Server|Lean)$' -benchmem
func BenchmarkPlaceHoldEdgeLean(b *testing.B) {
	e, token := holdEdgeForBench(b)
	const body = `{"buckets":["all"],"quantity":1}`
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		lc := &leanConn{nc: nc, h: e.h, ctx: auth.ConnContext(context.Background(), nc)}
		_ = lc.serve()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var req []byte
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := range b.N {
		req = append(req[:0], "POST /v1/resources/wrk-r/holds HTTP/1.1\r\nHost: bench\r\nUser-Agent: Go-http-client/1.1\r\n"...)
		req = append(req, "Content-Length: "...)
		req = strconv.AppendInt(req, int64(len(body)), 10)
		req = append(req, "\r\nAuthorization: "...)
		req = append(req, token...)
		req = append(req, "\r\nContent-Type: application/json\r\nIdempotency-Key: run-1-"...)
		req = strconv.AppendInt(req, int64(i), 10)
		req = append(req, "\r\nAccept-Encoding: gzip\r\n\r\n"...)
		req = append(req, body...)
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	conn.Close()
	<-done
}

// leanConn is the sizing sketch of a lean HTTP/1.1 connection: requests of the one form the
// load generator sends (a request line, header fields, a Content-Length body), parsed into
// storage the connection reuses. What a server the node could run would need besides (issue
// 17, round 15, "What it would take"): every form net/http accepts or refuses handed to
// net/http unchanged (chunked bodies, Transfer-Encoding with Content-Length, obs-fold, bare
// LF, Expect, HTTP/1.0, upgrades, TLS and HTTP/2) or answered as net/http answers it;
// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout; MaxHeaderBytes with 431;
// Connection: close; graceful shutdown with http.Server's; a request context cancelled when
// the client goes away; and the api and cmd suites run against it.
type leanConn struct {
	nc  net.Conn
	h   http.Handler
	ctx context.Context

	br   *bufio.Reader
	out  []byte
	hdr  http.Header
	resp leanWriter
}

func (c *leanConn) serve() error {
	c.br = bufio.NewReaderSize(c.nc, 4096)
	c.hdr = make(http.Header, 8)
	c.resp.c = c
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		method, target, ok := leanRequestLine(line)
		if !ok {
			return errors.New("lean: request line")
		}
		clear(c.hdr)
		length := int64(-1)
		for {
			l, err := c.br.ReadSlice('\n')
			if err != nil {
				return err
			}
			l = bytes.TrimRight(l, "\r\n")
			if len(l) == 0 {
				break
			}
			k, v, ok := bytes.Cut(l, []byte(":"))
			if !ok {
				return errors.New("lean: header line")
			}
			key := http.CanonicalHeaderKey(string(k))
			val := string(bytes.TrimSpace(v))
			if key == "Content-Length" {
				if length, err = strconv.ParseInt(val, 10, 64); err != nil || length < 0 {
					return errors.New("lean: content length")
				}
			}
			c.hdr[key] = append(c.hdr[key], val)
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return err
		}
		r := &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: c.hdr, Host: c.hdr.Get("Host"), RequestURI: target, RemoteAddr: c.nc.RemoteAddr().String(),
			ContentLength: max(length, 0), Body: http.NoBody}
		if length > 0 {
			r.Body = io.NopCloser(io.LimitReader(c.br, length))
		}
		r = r.WithContext(c.ctx)
		c.resp.reset()
		c.h.ServeHTTP(&c.resp, r)
		if err := c.resp.finish(); err != nil {
			return err
		}
	}
}

func leanRequestLine(line []byte) (method, target string, ok bool) {
	line = bytes.TrimRight(line, "\r\n")
	m, rest, ok1 := bytes.Cut(line, []byte(" "))
	t, proto, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || string(proto) != "HTTP/1.1" {
		return "", "", false
	}
	return string(m), string(t), true
}

// leanWriter is leanConn's http.ResponseWriter: the answer's header map is the connection's,
// and status line, fields and body go out in one write at finish.
type leanWriter struct {
	c      *leanConn
	h      http.Header
	status int
	body   []byte
}

func (w *leanWriter) reset() {
	if w.h == nil {
		w.h = make(http.Header, 8)
	}
	clear(w.h)
	w.status, w.body = 0, w.body[:0]
}

func (w *leanWriter) Header() http.Header { return w.h }

func (w *leanWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *leanWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *leanWriter) finish() error {
	w.WriteHeader(http.StatusOK)
	c := w.c
	out := append(c.out[:0], "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(w.status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(w.status)...)
	out = append(out, "\r\n"...)
	keys := make([]string, 0, len(w.h))
	for k := range w.h {
		if k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range w.h[k] {
			out = append(out, k...)
			out = append(out, ": "...)
			out = append(out, v...)
			out = append(out, "\r\n"...)
		}
	}
	out = append(out, "Date: "...)
	out = time.Now().UTC().AppendFormat(out, http.TimeFormat)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(w.body)), 10)
	out = append(out, "\r\n\r\n"...)
	out = append(out, w.body...)
	c.out = out
	_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.nc.Write(out)
	return err
}
