package webhooks

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/api/feed"
)

// lagSamples returns allot_webhook_delivery_lag_seconds's count and sum on reg.
func lagSamples(t *testing.T, reg *prometheus.Registry) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "allot_webhook_delivery_lag_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatal("allot_webhook_delivery_lag_seconds is not registered")
	return 0, 0
}

func TestDeliveryLagObservedOnFirstSuccessOnly(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.status.Store(http.StatusInternalServerError)
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) { c.Registerer = reg })
	ep, _ := h.register(t, rcv.srv.URL, "hold.placed")
	ctx := context.Background()
	occurred := h.clock.Now().Add(-90 * time.Second) // decided a while before it reached us
	if err := h.d.Handle(ctx, event("hotel-1/7/0", "hold.placed", occurred)); err != nil {
		t.Fatal(err)
	}

	// A failed attempt observes nothing.
	rcv.next(t)
	r := h.nextAttempt(t)
	if r.err != nil || r.o.Status != StatusPending {
		t.Fatalf("failed attempt = %+v", r)
	}
	if n, _ := lagSamples(t, reg); n != 0 {
		t.Fatalf("a failed attempt observed the lag (%d samples)", n)
	}

	// The retry succeeds: the lag is from occurred_at to its end, on the dispatcher's clock.
	rcv.status.Store(http.StatusOK)
	h.clock.Set(r.o.NextAttemptAt.Add(time.Second))
	rcv.next(t)
	r = h.nextAttempt(t)
	if r.err != nil || r.o.Status != StatusSucceeded || r.a.N != 2 {
		t.Fatalf("retry = %+v", r)
	}
	want := r.a.At.Add(r.a.Duration).Sub(occurred).Seconds()
	if n, sum := lagSamples(t, reg); n != 1 || math.Abs(sum-want) > 1e-6 {
		t.Fatalf("lag samples = %d summing %gs; want 1 of %gs", n, sum, want)
	}

	// Sent again on request (Retry), the succeeded delivery is not its first success.
	if _, err := h.d.Retry(ctx, ep.ID, r.a.DeliveryID); err != nil {
		t.Fatal(err)
	}
	rcv.nextAdvancing(t, h.clock)
	if r := h.nextAttempt(t); r.err != nil || r.o.Status != StatusSucceeded || r.a.N != 3 {
		t.Fatalf("retry on request = %+v", r)
	}
	if n, _ := lagSamples(t, reg); n != 1 {
		t.Fatalf("lag samples = %d after a delivery succeeded twice; want 1", n)
	}
}

func TestMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newMetrics(reg)
	if err != nil || b.lag != a.lag {
		t.Fatalf("second dispatcher's metrics = %v, %v; want the first's collector", b, err)
	}
	var m *metrics
	m.delivered(time.Now(), time.Now()) // nil: no metrics, no panic
}

// occurredAt's fast path reads the same instant as decoding the payload, whatever the
// event's id and data hold (a "timestamp" of its own in the data, quotes in the id), and a
// payload without a readable timestamp gives zero.
func TestOccurredAtReadsThePayloadsTimestamp(t *testing.T) {
	at := time.Date(2026, 12, 6, 11, 22, 33, 123456789, time.FixedZone("x", 3600))
	for _, ev := range []feed.Event{
		{ID: "r/1/0", Type: "hold.placed", OccurredAt: at, Data: json.RawMessage(`{"timestamp":"1999-01-01T00:00:00Z"}`)},
		{ID: `we"ird"timestamp":"1999-01-01T00:00:00Z`, Type: "hold.placed", OccurredAt: at},
		{ID: "r/2/0", Type: "resource.created", OccurredAt: at.Truncate(time.Second)},
	} {
		p, err := Payload(ev)
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Timestamp time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(p, &want); err != nil {
			t.Fatal(err)
		}
		if got := occurredAt(p); !got.Equal(want.Timestamp) || !got.Equal(ev.OccurredAt) {
			t.Fatalf("occurredAt(%s) = %v, want %v", p, got, want.Timestamp)
		}
	}
	for _, p := range []string{`{}`, `{"timestamp":"yesterday"}`, `not json`} {
		if got := occurredAt([]byte(p)); !got.IsZero() {
			t.Fatalf("occurredAt(%s) = %v, want zero", p, got)
		}
	}
}
