package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Every 5xx is logged exactly once — by the request log, with its cause — however many
// layers (handler, owner round trip, error mapping, middleware) it went through.
func TestOneLogPerFailure(t *testing.T) {
	reply := func(r *protos.Reply, err error) func(*Config) {
		return func(c *Config) {
			c.Dispatcher = &funcDispatcher{fn: func(context.Context, *protos.Command) (*protos.Reply, error) { return r, err }}
		}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		path   string
		status int
		level  string
		cause  string // in the record's err, message or panic
	}{
		{"panic", func(c *Config) { c.Dispatcher = panicDispatcher{} }, "/v1/resources/r1", 500, "ERROR", "boom"},
		{"owner unreachable", reply(nil, errors.New("dial 10.0.0.7: connection refused")), "/v1/resources/r1", 503, "WARN", "connection refused"},
		{"owner internal", reply(&protos.Reply{Owner: "n", Error: &protos.Error{Code: booking.CodeInternal, Message: "invariant broken"}}, nil), "/v1/resources/r1", 500, "ERROR", "invariant broken"},
		{"owner unavailable", reply(&protos.Reply{Owner: "n", Error: &protos.Error{Code: booking.CodeUnavailable, Message: "store down"}}, nil), "/v1/resources/r1", 503, "WARN", "store down"},
		{"no reply", reply(nil, nil), "/v1/resources/r1", 500, "ERROR", "neither a reply nor an error"},
		{"no payload", reply(&protos.Reply{}, nil), "/v1/resources/r1", 500, "ERROR", "no payload"},
		{"lister internal", func(c *Config) { c.Holds = errLister{errors.New("secret sql text")} }, "/v1/users/u-1/holds", 500, "ERROR", "secret sql text"},
		{"lister unavailable", func(c *Config) { c.Holds = errLister{fmt.Errorf("query: %w", persistence.ErrUnavailable)} }, "/v1/users/u-1/holds", 503, "WARN", "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := MustServer(t, tt.mutate)
			rec := e.do("GET", tt.path, "")
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			recs := e.logRecords()
			if len(recs) != 1 {
				t.Fatalf("%d log records, want 1: %s", len(recs), e.logs)
			}
			r := recs[0]
			if r["level"] != tt.level || r["status"] != float64(tt.status) || r["route"] == "" {
				t.Fatalf("record %v", r)
			}
			if !strings.Contains(fmt.Sprint(r["err"], r["message"], r["panic"]), tt.cause) {
				t.Fatalf("record %v lacks the cause %q", r, tt.cause)
			}
		})
	}
}

// A sold-out is an expected answer: not logged at info (only at debug), while other 4xx are.
func TestSoldOutLoggedAtDebug(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	e.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-1"}`)
	for range 3 {
		mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-2"}`), 409, "sold-out")
	}
	if recs := e.logRecords(); len(recs) != 0 {
		t.Fatalf("sold-outs logged at info: %s", e.logs)
	}
	mustProblem(t, e.do("POST", "/v1/resources", walkResource), 409, "already-exists")
	recs := e.logRecords()
	if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["code"] != booking.CodeAlreadyExists {
		t.Fatalf("another 409 not logged at info with its code: %s", e.logs)
	}

	// At debug, the sold-out is there, with its code and without the owner's message.
	logs := &syncBuffer{}
	d := MustServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	d.mustCreate()
	d.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-1"}`)
	mustProblem(t, d.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-2"}`), 409, "sold-out")
	if out := logs.String(); !strings.Contains(out, `"level":"DEBUG","msg":"http request","method":"POST","route":"/v1/resources/:rid/holds","path":"/v1/resources/hotel-1/holds","status":409`) ||
		!strings.Contains(out, `"code":"sold_out"`) || strings.Contains(out, "available") {
		t.Fatalf("sold-out at debug: %s", out)
	}
}

// A client that goes away is recorded as 499, in the metrics and the log, never as 503.
func TestClientClosedRequest(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config, context.CancelFunc)
		path   string
		route  string
	}{
		{"waiting for the owner", func(c *Config, disconnect context.CancelFunc) {
			c.Dispatcher = &funcDispatcher{fn: func(ctx context.Context, _ *protos.Command) (*protos.Reply, error) {
				disconnect()
				<-ctx.Done()
				return nil, fmt.Errorf("request: %w", ctx.Err())
			}}
		}, "/v1/resources/r1", "/v1/resources/:rid"},
		{"waiting for the store", func(c *Config, disconnect context.CancelFunc) {
			c.Holds = ctxLister{before: disconnect}
		}, "/v1/users/u-1/holds", "/v1/users/:uid/holds"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, disconnect := context.WithCancel(context.Background())
			defer disconnect()
			e := MustServer(t, func(c *Config) { tt.mutate(c, disconnect) })
			req := httptest.NewRequestWithContext(ctx, "GET", tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+e.tokens.token(t, asAdmin))
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			p := mustProblem(t, rec, StatusClientClosedRequest, "client-closed-request")
			if p.Code != booking.CodeUnavailable || rec.Header().Get("Retry-After") != "" {
				t.Fatalf("problem %+v headers %v", p, rec.Header())
			}
			if n := requestCount(t, e.reg, tt.route, "499"); n != 1 {
				t.Fatalf("499 counted %v times", n)
			}
			if n := requestCount(t, e.reg, tt.route, "503"); n != 0 {
				t.Fatalf("a client abort counted as 503")
			}
			recs := e.logRecords()
			if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["status"] != float64(499) {
				t.Fatalf("log %s", e.logs)
			}
		})
	}
}

// ctxLister calls before, then answers with its context's error, as a store does when the
// request's context ends.
type ctxLister struct{ before func() }

func (l ctxLister) ListHolds(ctx context.Context, _ persistence.HoldFilter) ([]booking.Hold, error) {
	l.before()
	<-ctx.Done()
	return nil, fmt.Errorf("list holds: %w", ctx.Err())
}

func requestCount(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "allot_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "route") == route && label(m, "code") == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A huge path comes back, in the problem's instance and in the log, cut to 256 bytes.
func TestLongPathTruncated(t *testing.T) {
	e := MustServer(t)
	long := strings.Repeat("é", 5000) // 10,000 bytes, cut inside a character
	for _, tt := range []struct {
		path, slug string
		status     int
	}{
		{"/v1/resources/" + long, "invalid", 422},
		{"/v1/" + long, "route-not-found", 404},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = tt.path
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		p := mustProblem(t, rec, tt.status, tt.slug)
		if len(p.Instance) > maxInstance+3 || !strings.HasPrefix(tt.path, strings.TrimSuffix(p.Instance, "...")) || !strings.HasSuffix(p.Instance, "...") {
			t.Errorf("instance of %d bytes: %q", len(p.Instance), p.Instance)
		}
		if rec.Body.Len() > 1024 {
			t.Errorf("answer of %d bytes", rec.Body.Len())
		}
	}
	for _, r := range e.logRecords() {
		if path := fmt.Sprint(r["path"]); len(path) > maxInstance+3 || !strings.HasSuffix(path, "...") {
			t.Errorf("logged path of %d bytes", len(path))
		}
	}
	if len(e.logs.String()) > 4096 {
		t.Errorf("log of %d bytes for two requests", len(e.logs.String()))
	}
	if got := truncatePath("/short"); got != "/short" {
		t.Errorf("short path changed: %q", got)
	}
}

// HEAD on a GET route answers like GET — status and headers — without a body.
func TestHeadOnGetRoutes(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	for _, path := range []string{HealthzPath, ReadyzPath, OpenAPIPath, DiscoveryPath, "/v1/resources/hotel-1",
		"/v1/resources/hotel-1/availability", "/v1/resources/hotel-1/holds", "/v1/users/u-1/holds", "/v1/cluster/members",
		"/v1/resources/nope", "/v1/resources/a%20b", "/v1/resources", "/v1/me/waitlist", "/v1/me/waitlist?user_id=u-1", "/v1/me/holds"} {
		get := e.do("GET", path, "")
		head := e.do("HEAD", path, "")
		if head.Code != get.Code || head.Header().Get("Content-Type") != get.Header().Get("Content-Type") ||
			head.Header().Get(OwnerHeader) != get.Header().Get(OwnerHeader) {
			t.Errorf("HEAD %s: %d %v, GET: %d %v", path, head.Code, head.Header(), get.Code, get.Header())
		}
		if head.Body.Len() != 0 || get.Body.Len() == 0 {
			t.Errorf("HEAD %s: body of %d bytes (GET %d)", path, head.Body.Len(), get.Body.Len())
		}
	}
	// A refusal before the handler (no token) has no body either.
	for _, path := range []string{"/v1/me/waitlist", "/v1/me/holds", "/v1/resources/hotel-1/holds"} {
		rec := e.do("HEAD", path, "", anonymous...)
		if rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0 || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("anonymous HEAD %s: %d %v, body of %d bytes", path, rec.Code, rec.Header(), rec.Body.Len())
		}
	}
	// Routes without GET still refuse HEAD, and GET routes now allow it.
	rec := e.do("HEAD", "/v1/resources/hotel-1/holds/h-1/confirm", "")
	if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "POST") {
		t.Fatalf("HEAD on a POST route: %d %v", rec.Code, rec.Header())
	}
	rec = e.do("PUT", "/v1/resources/hotel-1", "")
	if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "HEAD") || !strings.Contains(allow, "GET") {
		t.Fatalf("Allow %q", allow)
	}
}

// A Gatherer that fails outright gives a problem, like every other error, not promhttp's
// text/plain answer.
func TestMetricsFailureIsProblem(t *testing.T) {
	reg := prometheus.NewRegistry()
	failing := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, errors.New("collector exploded") })
	e := MustServer(t, func(c *Config) { c.Registerer, c.Gatherer = reg, failing })
	rec := e.doAdmin("GET", MetricsPath)
	p := mustProblem(t, rec, http.StatusInternalServerError, "internal")
	if strings.Contains(p.Detail, "exploded") {
		t.Fatalf("detail leaks the cause: %+v", p)
	}
	recs := e.logRecords()
	if len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]["err"]), "collector exploded") {
		t.Fatalf("log %s", e.logs)
	}
	if n := requestCount(t, reg, MetricsPath, "500"); n != 1 {
		t.Fatalf("500 counted %v times", n)
	}
}
