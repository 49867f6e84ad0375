package api

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// unmatchedRoute labels requests that matched no route (404, 405), so that raw URLs never
// become label values.
const unmatchedRoute = "unmatched"

// httpMetrics are the edge's request metrics. route is gin's route pattern (FullPath).
type httpMetrics struct {
	requests *prometheus.CounterVec   // allot_http_requests_total{route,code}
	seconds  *prometheus.HistogramVec // allot_http_request_seconds{route}

	// series caches the children of requests and seconds by route and status: WithLabelValues
	// hashes the labels and locks the vector on every call, and both sets are small (the
	// routes, the statuses an edge answers). Nothing deletes a child, so a cached one stays
	// the vector's.
	series sync.Map // seriesKey -> *routeSeries
}

type seriesKey struct {
	route  string
	status int
}

type routeSeries struct {
	requests prometheus.Counter
	seconds  prometheus.Observer
}

// newHTTPMetrics registers the metrics on reg. When a Server with the same metrics was
// registered on reg before, its collectors are shared.
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "allot_http_requests_total",
		Help: "HTTP requests answered, by route pattern and status code.",
	}, []string{"route", "code"})
	seconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "allot_http_request_seconds",
		Help:    "Time to answer an HTTP request, by route pattern.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"route"})
	var err error
	if requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if seconds, err = register(reg, seconds); err != nil {
		return nil, err
	}
	return &httpMetrics{requests: requests, seconds: seconds}, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register http metrics: %w", err)
}

func (m *httpMetrics) observe(route string, status int, elapsed time.Duration) {
	if route == "" {
		route = unmatchedRoute
	}
	k := seriesKey{route, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &routeSeries{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(status)),
			seconds:  m.seconds.WithLabelValues(route),
		})
	}
	rs := v.(*routeSeries)
	rs.requests.Inc()
	rs.seconds.Observe(elapsed.Seconds())
}
