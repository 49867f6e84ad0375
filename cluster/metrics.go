package cluster

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics holds a Node's collectors. A nil *nodeMetrics (no Registerer) is valid and
// records nothing. Methods are safe for concurrent use.
type nodeMetrics struct {
	members        prometheus.Gauge
	forwarded      prometheus.Counter
	forwardSeconds prometheus.Histogram
}

func newNodeMetrics(reg prometheus.Registerer, activations func() int) (*nodeMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &nodeMetrics{
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_cluster_members",
			Help: "Members in the cluster topology as seen by this member (alive or suspect, hosting kinds).",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_cluster_forwarded_requests_total",
			Help: "Requests through this member answered by an activation on another member.",
		}),
		forwardSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "allot_cluster_forward_seconds",
			Help:    "Latency of requests answered by another member, including lookup and retries.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms .. ~4s
		}),
	}
	acts := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "allot_cluster_activations",
		Help: "Virtual actor activations hosted by this member.",
	}, func() float64 { return float64(activations()) })
	cs := []prometheus.Collector{m.members, m.forwarded, m.forwardSeconds, acts}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register cluster metrics: %w", err)
		}
	}
	return m, nil
}

func (m *nodeMetrics) setMembers(n int) {
	if m != nil {
		m.members.Set(float64(n))
	}
}

func (m *nodeMetrics) observeForward(d time.Duration) {
	if m != nil {
		m.forwarded.Inc()
		m.forwardSeconds.Observe(d.Seconds())
	}
}
