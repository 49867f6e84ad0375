// Package nodestats serves GET /v1/cluster/stats: what an operator watching a sale needs
// from this node, as rates over the last second or few (429 answers, p99 latency, holds and
// confirmations per second) and the members with the resources each hosts. It reads the
// node's own Prometheus registry, which the edge (api) and the resource actors already
// fill: nothing on the request path changes. The console's live page polls it.
package nodestats

import (
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Metric names read from the registry.
const (
	metricRequests = "allot_http_requests_total"  // {route, code}
	metricSeconds  = "allot_http_request_seconds" // histogram {route}
	metricHolds    = "allot_holds_total"
	metricConfirms = "allot_confirms_total"
)

// Sample is the node's cumulative counters at one time. Latency buckets are summed over
// routes, except streams (their duration is the stream's length, not a latency).
type Sample struct {
	At                 time.Time
	Requests, Code429  float64
	Holds, Confirms    float64
	LatencyUpperBounds []float64 // ascending, +Inf last
	LatencyCumulative  []float64 // cumulative counts per bound
}

// Rates are what happened between two samples.
type Rates struct {
	Window            time.Duration
	RequestsPerSecond float64
	Code429PerSecond  float64
	HoldsPerSecond    float64
	ConfirmsPerSecond float64
	// P99 is the 99th percentile of the requests' latency, interpolated linearly within its
	// histogram bucket (as Prometheus' histogram_quantile); ok false when no request was
	// answered.
	P99   time.Duration
	P99OK bool
}

// Parse reads a Sample from gathered metric families. Pure.
func Parse(at time.Time, mfs []*dto.MetricFamily) Sample {
	s := Sample{At: at}
	buckets := map[float64]float64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case metricRequests:
			for _, m := range mf.GetMetric() {
				v := m.GetCounter().GetValue()
				s.Requests += v
				if label(m, "code") == "429" {
					s.Code429 += v
				}
			}
		case metricSeconds:
			for _, m := range mf.GetMetric() {
				if strings.Contains(label(m, "route"), "/stream") {
					continue
				}
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
				}
				buckets[math.Inf(1)] += float64(h.GetSampleCount())
			}
		case metricHolds:
			s.Holds += sum(mf)
		case metricConfirms:
			s.Confirms += sum(mf)
		}
	}
	for ub := range buckets {
		s.LatencyUpperBounds = append(s.LatencyUpperBounds, ub)
	}
	sort.Float64s(s.LatencyUpperBounds)
	for _, ub := range s.LatencyUpperBounds {
		s.LatencyCumulative = append(s.LatencyCumulative, buckets[ub])
	}
	return s
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func sum(mf *dto.MetricFamily) float64 {
	var v float64
	for _, m := range mf.GetMetric() {
		v += m.GetCounter().GetValue()
	}
	return v
}

// Between returns the rates from before to now. Pure. Counters that went down (a restart)
// count from zero.
func Between(before, now Sample) Rates {
	r := Rates{Window: now.At.Sub(before.At)}
	secs := r.Window.Seconds()
	if secs <= 0 {
		return r
	}
	rate := func(a, b float64) float64 { return math.Max(0, b-a) / secs }
	r.RequestsPerSecond = rate(before.Requests, now.Requests)
	r.Code429PerSecond = rate(before.Code429, now.Code429)
	r.HoldsPerSecond = rate(before.Holds, now.Holds)
	r.ConfirmsPerSecond = rate(before.Confirms, now.Confirms)
	r.P99, r.P99OK = quantile(0.99, before, now)
	return r
}

// quantile interpolates the q-quantile of the latency observed between two samples.
func quantile(q float64, before, now Sample) (time.Duration, bool) {
	prev := map[float64]float64{}
	for i, ub := range before.LatencyUpperBounds {
		prev[ub] = before.LatencyCumulative[i]
	}
	n := len(now.LatencyUpperBounds)
	if n == 0 {
		return 0, false
	}
	counts := make([]float64, n)
	for i, ub := range now.LatencyUpperBounds {
		counts[i] = math.Max(0, now.LatencyCumulative[i]-prev[ub])
	}
	total := counts[n-1]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, ub := range now.LatencyUpperBounds {
		if counts[i] >= rank {
			if math.IsInf(ub, 1) { // beyond the last finite bound: report that bound
				return time.Duration(lower * float64(time.Second)), true
			}
			inBucket := counts[i] - below
			frac := 1.0
			if inBucket > 0 {
				frac = (rank - below) / inBucket
			}
			return time.Duration((lower + (ub-lower)*frac) * float64(time.Second)), true
		}
		lower, below = ub, counts[i]
	}
	return time.Duration(lower * float64(time.Second)), true
}
