package bus

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/events"
)

// RelayMetrics are the outbox relay's Prometheus series. All methods are safe for concurrent
// use and do nothing on a nil *RelayMetrics.
//
//   - allot_events_published_total: events the relay published (the stream's acknowledgement
//     received), republishes included;
//   - allot_events_republished_total: of those, the ones the stream already had (a relay that
//     died between publishing and marking, or lost the answer to a NATS restart);
//   - allot_event_relay_lag_seconds: from an event's occurred_at to the stream's
//     acknowledgement: the delay every consumer sees at least;
//   - allot_event_relay_held: events claimed and not yet published (they wait for NATS);
//   - allot_event_outbox_backlog: unpublished events in the outbox, all nodes' (every node
//     reports the same shared count: take the max, not the sum).
type RelayMetrics struct {
	published, republished prometheus.Counter
	lag                    prometheus.Histogram
	held, backlog          prometheus.Gauge
}

// NewRelayMetrics creates the metrics and registers them with reg. It panics if one is
// already registered there, like prometheus.MustRegister.
func NewRelayMetrics(reg prometheus.Registerer) *RelayMetrics {
	m := &RelayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_events_published_total", Help: "Outbox events published to JetStream by this node's relay, republishes included.",
		}),
		republished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_events_republished_total", Help: "Published events the stream already had (deduplicated by Nats-Msg-Id).",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "allot_event_relay_lag_seconds", Help: "Delay from an event's commit (occurred_at) to the stream's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1 ms .. 262 s
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_event_relay_held", Help: "Events this node's relay claimed and has not published yet (waiting for NATS).",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_event_outbox_backlog", Help: "Unpublished events in the outbox, of all nodes (the same count on every node).",
		}),
	}
	reg.MustRegister(m.published, m.republished, m.lag, m.held, m.backlog)
	return m
}

// observe records one published event at now.
func (m *RelayMetrics) observe(rec *events.Record, duplicate bool, now time.Time) {
	if m == nil {
		return
	}
	m.published.Inc()
	if duplicate {
		m.republished.Inc()
	}
	if lag := now.Sub(rec.OccurredAt); lag >= 0 {
		m.lag.Observe(lag.Seconds())
	}
}

func (m *RelayMetrics) setHeld(n int) {
	if m != nil {
		m.held.Set(float64(n))
	}
}
