package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's Prometheus series:
//
//   - allot_webhook_delivery_lag_seconds: from an event's occurred_at (when the change was
//     decided) to the end of its delivery's first successful attempt, on the dispatcher's
//     clock: how far behind the receivers are. Retries last up to the schedule's
//     GiveUpAfter (3 days), so the buckets reach hours.
//
// All methods are safe for concurrent use and do nothing on a nil *metrics.
type metrics struct {
	lag prometheus.Histogram
}

// newMetrics registers the metrics on reg (nil: a private registry, nothing exported). A
// second dispatcher on the same registry shares the collector.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "allot_webhook_delivery_lag_seconds",
		Help:    "Delay from an event's occurred_at to its webhook delivery's first success.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 13), // 10 ms .. 46 h
	})
	if err := reg.Register(lag); err != nil {
		var are prometheus.AlreadyRegisteredError
		existing, ok := prometheus.Histogram(nil), false
		if errors.As(err, &are) {
			existing, ok = are.ExistingCollector.(prometheus.Histogram)
		}
		if !ok {
			return nil, fmt.Errorf("register webhook metrics: %w", err)
		}
		lag = existing
	}
	return &metrics{lag: lag}, nil
}

// delivered records a delivery's first success at end, of an event that occurred at
// occurredAt. A zero occurredAt (unknown) or a negative lag (the committing node's clock
// ahead of ours) records nothing.
func (m *metrics) delivered(occurredAt, end time.Time) {
	if m == nil || occurredAt.IsZero() {
		return
	}
	if lag := end.Sub(occurredAt); lag >= 0 {
		m.lag.Observe(lag.Seconds())
	}
}

// occurredAt reads the event's occurred_at from a delivery's payload (its "timestamp",
// Payload): deliveries do not store it apart. Zero when the payload has none.
func occurredAt(payload []byte) time.Time {
	// Fast path: Payload writes "timestamp" before "data", and a key's quotes cannot occur
	// unescaped inside id or type, so the first `"timestamp":"` is the payload's own. It
	// spares decoding the whole payload once per delivery (2% of a busy node's CPU).
	const key = `"timestamp":"`
	if i := bytes.Index(payload, []byte(key)); i >= 0 {
		v := payload[i+len(key):]
		if j := bytes.IndexByte(v, '"'); j > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(v[:j])); err == nil {
				return t
			}
		}
	}
	var p struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return time.Time{}
	}
	return p.Timestamp
}

// succeededBefore reports whether a claimed delivery has already succeeded once (and was
// made due again by Retry): every recorded failure leaves a LastError, a success none.
func succeededBefore(dl Delivery) bool {
	return dl.Attempts > 0 && dl.LastError == ""
}
