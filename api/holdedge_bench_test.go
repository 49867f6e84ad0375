package api

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/ratelimit"
	"github.com/allot/allot/protos"
)

// fixedDispatcher answers every command with one reply (read only, shared). It bounds a
// command itself (timedDispatcher), as the node's dispatcher does, so that the edge takes the
// node's path (no deadline context per request).
type fixedDispatcher struct{ reply *protos.Reply }

func (d fixedDispatcher) Dispatch(context.Context, *protos.Command) (*protos.Reply, error) {
	return d.reply, nil
}

func (d fixedDispatcher) DispatchWithin(context.Context, time.Duration, *protos.Command) (*protos.Reply, error) {
	return d.reply, nil
}

// holdEdgeForBench is the edge both hold benchmarks drive, and a customer's bearer token: as
// on the benchmarked node (clustertest.LoadRateLimitArgs, an audit store), rate limits on
// with budgets that never refuse, on the wall clock, and the audit trail on; its dispatcher
// answers every hold at once.
func holdEdgeForBench(b *testing.B) (*testEnv, string) {
	reply := &protos.Reply{Owner: "node-1", Hold: &protos.Hold{Id: "h_2a3bcdefghijkmnpqrstuvwxyz234567", ResourceId: "wrk-r",
		Status: "held", Buckets: []string{"all"}, Quantity: 1, UserId: "u-1", CreatedAtMs: 1_900_000_000_000,
		ExpiresAtMs: 1_900_000_900_000, UpdatedAtMs: 1_900_000_000_000, IdempotencyKey: "u-1|k"}}
	high := ratelimit.Limit{Count: 1_000_000, Period: time.Second, Burst: 1_000_000}
	e := MustServer(b, func(c *Config) {
		c.Dispatcher = fixedDispatcher{reply}
		rl := ratelimit.DefaultConfig()
		rl.Subject, rl.Anonymous, rl.Holds, rl.AuthFailures = high, high, high, high
		rl.Now = time.Now
		c.RateLimits = &rl
		c.Audit = audit.NewMemStore()
	})
	token := e.bearer(asCustomer)[1]
	return e, token
}

// BenchmarkPlaceHoldEdge is the edge's share of a durable hold, in process: the request as
// wrk sends it (bearer token, Idempotency-Key, the hold body) through the whole gin chain
// (request id, metrics, recovery, rate limits, audit, authentication, decode, the reply's
// JSON), with a dispatcher that answers at once; no network, no actor, no store. It isolates
// what issue 17's round 9 changed at the edge (docs/PERFORMANCE.md, Round 9). As on the
// benchmarked node (clustertest.LoadRateLimitArgs, an audit store): rate limits on with
// budgets that never refuse, on the wall clock, and the audit trail on (round 11).
//
//	go test ./api -run '^$' -bench BenchmarkPlaceHoldEdge -benchmem
func BenchmarkPlaceHoldEdge(b *testing.B) {
	e, token := holdEdgeForBench(b)
	const body = `{"buckets":["all"],"quantity":1}`
	conn := auth.ConnContext(context.Background(), nil) // one keep-alive connection, as the node's (cmd/edge.go)
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := range b.N {
		req := httptest.NewRequestWithContext(conn, http.MethodPost, "/v1/resources/wrk-r/holds", strings.NewReader(body))
		req.Header["Authorization"] = []string{token}
		req.Header["Content-Type"] = []string{"application/json"}
		req.Header["Idempotency-Key"] = []string{"run-1-" + strconv.Itoa(i)}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkPlaceHoldEdgeServer is BenchmarkPlaceHoldEdge through net/http's server: the same
// request, written by hand on one kept-alive loopback connection (no http.Client: its own
// goroutines would be most of the client's cost), its answer read with http.ReadResponse. It
// adds what the in-process benchmark leaves out and the node pays per hold (issue 17, round
// 13): the request's parsing, the background read, the answer's headers and the write. The
// client's CPU is in cpu-ns/op too (one process).
//
//	go test ./api -run '^$' -bench BenchmarkPlaceHoldEdgeServer -benchmem
func BenchmarkPlaceHoldEdgeServer(b *testing.B) {
	e, token := holdEdgeForBench(b)
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ConnContext = auth.ConnContext // as the node (cmd/edge.go)
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	benchHoldRequests(b, conn, token)
}
