package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// within reports whether got is within 0.2% of want (HDR histogram precision is 0.1%).
func within(got, want time.Duration) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= want/500
}

func TestLatencyPercentilesFromKnownSamples(t *testing.T) {
	s := newStats()
	// 1ms..100ms, once each, shuffled order does not matter to a histogram.
	for i := 100; i >= 1; i-- {
		s.observe(OpHold, time.Duration(i)*time.Millisecond)
	}
	s.observe(OpConfirm, 7*time.Millisecond)
	l := s.latency()
	h := l[OpHold]
	if h.Count != 100 {
		t.Fatalf("count = %d, want 100", h.Count)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"p50", h.P50, 50 * time.Millisecond},
		{"p95", h.P95, 95 * time.Millisecond},
		{"p99", h.P99, 99 * time.Millisecond},
		{"max", h.Max, 100 * time.Millisecond},
		{"mean", h.Mean, 50500 * time.Microsecond},
	} {
		if !within(c.got, c.want) {
			t.Errorf("%s = %v, want %v (±0.2%%)", c.name, c.got, c.want)
		}
	}
	if c := l[OpConfirm]; c.Count != 1 || !within(c.P99, 7*time.Millisecond) {
		t.Errorf("confirm = %+v, want one sample of 7ms", c)
	}
	if _, ok := l[OpCancel]; ok {
		t.Error("an operation never observed has latency stats")
	}
}

func TestLatencyClampsOutOfRange(t *testing.T) {
	s := newStats()
	s.observe(OpHold, 0)
	s.observe(OpHold, time.Hour)
	h := s.latency()[OpHold]
	if h.Count != 2 || !within(h.Max, time.Minute) {
		t.Fatalf("got %+v, want 2 samples, max clamped to 1m", h)
	}
}

func TestStatusCounts(t *testing.T) {
	s := newStats()
	for _, c := range []int{201, 201, 409, 429, 201, 0, 503, 429} {
		s.countStatus(c)
	}
	got := s.statusCounts()
	want := map[int]int64{201: 3, 409: 1, 429: 2, 0: 1, 503: 1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("status %d: got %d, want %d", k, got[k], v)
		}
	}
	got[201] = 99 // a copy
	if s.statusCounts()[201] != 3 {
		t.Error("statusCounts returned the live map")
	}
}

func TestLatencyJSONInMilliseconds(t *testing.T) {
	b, err := json.Marshal(LatencyStats{Count: 3, P50: 1500 * time.Microsecond, Max: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"count":3`, `"p50_ms":1.5`, `"max_ms":2000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}
