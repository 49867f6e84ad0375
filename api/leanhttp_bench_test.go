package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/httpserver"
)

// BenchmarkPlaceHoldEdgeLean is BenchmarkPlaceHoldEdgeServer through httpserver.Lean, the
// node's plain-HTTP edge (cmd/edge.go): the hold request on the fast path, the same handler
// and the same hand-written client on one kept-alive loopback connection (issue 17, round 15).
//
//	go test ./api -run '^$' -bench 'BenchmarkPlaceHoldEdge(Server|Lean)$' -benchmem
func BenchmarkPlaceHoldEdgeLean(b *testing.B) {
	e, token := holdEdgeForBench(b)
	cfg := httpserver.DefaultConfig()
	srv, err := httpserver.New(e.h, cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv.ConnContext = auth.ConnContext // as the node
	lean, err := httpserver.NewLean(srv, cfg, IsHotRoute)
	if err != nil {
		b.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := httpserver.Listen(tcp, cfg)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lean.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("Serve: %v", err)
		}
	}()
	conn, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	benchHoldRequests(b, conn, token)
}

// benchHoldRequests sends b.N hold requests on conn as the load generator's client does (its
// seven header fields), each after the previous answer, and checks every answer is a 201.
func benchHoldRequests(b *testing.B, conn net.Conn, token string) {
	const body = `{"buckets":["all"],"quantity":1}`
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
}
