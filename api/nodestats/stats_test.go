package nodestats_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/api/nodestats"
	"github.com/allot/allot/api/wire"
)

// registry has the metrics the node registers, by the same names and labels.
type registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	holds    prometheus.Counter
}

func newRegistry() registry {
	r := registry{reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "allot_http_requests_total"}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "allot_http_request_seconds",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}, []string{"route"}),
		holds: prometheus.NewCounter(prometheus.CounterOpts{Name: "allot_holds_total"})}
	r.reg.MustRegister(r.requests, r.seconds, r.holds)
	return r
}

func TestStatsRates(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	r := newRegistry()
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	s, err := nodestats.New(nodestats.Config{Gatherer: r.reg, Node: "n1", Now: func() time.Time { return now },
		Fail: func(c *gin.Context, err error) { c.String(http.StatusUnprocessableEntity, err.Error()) },
		Members: func() []wire.Member {
			return []wire.Member{{ID: "n2", Activations: 3}, {ID: "n1", Self: true, Activations: 5}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	for _, rt := range s.Routes() {
		e.Handle(rt.Method, rt.Path, rt.Handler)
	}
	get := func(query string) (int, nodestats.Body) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, nodestats.Path+query, nil))
		var b nodestats.Body
		if w.Code == http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
		}
		return w.Code, b
	}
	if code, b := get(""); code != 200 || b.WindowSeconds != 0 || b.P99Seconds != nil || len(b.Members) != 2 || b.Members[0].ID != "n1" {
		t.Fatalf("first answer %d %+v: want window 0, no p99, members by id", code, b)
	}
	// One second: 100 answers in (5ms, 10ms], 5 of them 429s; 10 holds; a stream open for
	// 30 s, which is not a latency.
	for i := 0; i < 100; i++ {
		code := "200"
		if i < 5 {
			code = "429"
		}
		r.requests.WithLabelValues("/v1/resources/:rid/holds", code).Inc()
		r.seconds.WithLabelValues("/v1/resources/:rid/holds").Observe(0.007)
	}
	r.seconds.WithLabelValues("/v1/resources/:rid/availability/stream").Observe(30)
	r.holds.Add(10)
	now = now.Add(time.Second)
	_, b := get("")
	if b.WindowSeconds != 1 || b.Rate429PerSecond != 5 || b.RequestsPerSecond != 100 || b.HoldsPerSecond != 10 {
		t.Fatalf("rates %+v", b)
	}
	if b.P99Seconds == nil || math.Abs(*b.P99Seconds-0.00995) > 1e-9 {
		t.Fatalf("p99 = %v, want 9.95 ms (interpolated in (5ms, 10ms])", b.P99Seconds)
	}
	// A poll within MinInterval reuses the sample; a 10 s window reaches back to the first.
	now = now.Add(100 * time.Millisecond)
	if _, b := get("?window=10s"); b.WindowSeconds != 1 {
		t.Fatalf("window %v, want 1 (only two samples, the newer one reused)", b.WindowSeconds)
	}
	now = now.Add(time.Second)
	if _, b := get("?window=2"); b.WindowSeconds != 2.1 || b.HoldsPerSecond != 10/2.1 || b.P99Seconds == nil {
		t.Fatalf("2 s window: %+v", b)
	}
	if _, b := get(""); b.HoldsPerSecond != 0 || b.P99Seconds != nil {
		t.Fatalf("a quiet second: %+v", b)
	}
	for _, q := range []string{"?window=0s", "?window=2m", "?window=x", "?other=1"} {
		if code, _ := get(q); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", q, code)
		}
	}
}

// TestP99BeyondLastBound: latencies above the last finite bound report that bound.
func TestP99BeyondLastBound(t *testing.T) {
	r := newRegistry()
	t0 := time.Unix(0, 0)
	before, _ := r.reg.Gather()
	for i := 0; i < 10; i++ {
		r.seconds.WithLabelValues("/x").Observe(20)
	}
	after, _ := r.reg.Gather()
	rates := nodestats.Between(nodestats.Parse(t0, before), nodestats.Parse(t0.Add(time.Second), after))
	if !rates.P99OK || rates.P99 != 10*time.Second {
		t.Fatalf("p99 = %v %v, want 10s", rates.P99, rates.P99OK)
	}
}
