package notify

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus metrics. The alert on failures is
// increase(allot_notifications_total{outcome="failed"}[15m]) > 0 (docs/NOTIFICATIONS.md).
type metrics struct {
	// outcomes counts finished attempts: allot_notifications_total{channel,kind,outcome},
	// outcome being sent, skipped, failed (given up) or retry.
	outcomes *prometheus.CounterVec
	// lag is the time from recording a notification to its hand-off to the provider:
	// allot_notification_handoff_seconds{channel}.
	lag *prometheus.HistogramVec
	// retries counts failed notifications made due again by hand (POST
	// /v1/notifications/{id}/retry): allot_notification_manual_retries_total{channel}.
	retries *prometheus.CounterVec
}

// newMetrics registers the metrics on reg (nil: a private registry, nothing exported). A
// second Service on the same registry shares the collectors.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "allot_notifications_total",
		Help: "Notification attempts finished, by channel, message kind and outcome (sent, skipped, failed, retry).",
	}, []string{"channel", "kind", "outcome"})
	lag := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "allot_notification_handoff_seconds",
		Help:    "Time from recording a notification to handing it to the provider, by channel.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
	}, []string{"channel"})
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "allot_notification_manual_retries_total",
		Help: "Failed notifications made due again by an operator, by channel.",
	}, []string{"channel"})
	var err error
	if retries, err = register(reg, retries); err != nil {
		return nil, err
	}
	if outcomes, err = register(reg, outcomes); err != nil {
		return nil, err
	}
	if lag, err = register(reg, lag); err != nil {
		return nil, err
	}
	return &metrics{outcomes: outcomes, lag: lag, retries: retries}, nil
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
	return c, fmt.Errorf("register notify metrics: %w", err)
}

func (m *metrics) observe(n Notification, o Outcome) {
	outcome := o.Status
	if outcome == StatusPending {
		outcome = "retry"
	}
	m.outcomes.WithLabelValues(string(n.Channel), string(n.Kind), outcome).Inc()
}
