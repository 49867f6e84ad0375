package loadgen

import (
	"encoding/json"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Operation kinds, the keys of Report.Latency.
const (
	OpCreate       = "create"       // POST /v1/resources (setup)
	OpHold         = "hold"         // POST .../holds
	OpConfirm      = "confirm"      // POST .../holds/{id}/confirm
	OpCancel       = "cancel"       // POST .../holds/{id}/cancel
	OpAvailability = "availability" // GET .../availability
)

// Histogram range: 1µs to 1 minute at 3 significant digits (about 0.1% error), in µs.
const (
	histMin    = 1
	histMax    = int64(time.Minute / time.Microsecond)
	histDigits = 3
)

// stats collects latencies per operation kind and HTTP status counts. It is safe for
// concurrent use: one mutex per kind keeps the ~100KB histograms shared rather than per
// client, and a record is a few nanoseconds under the lock.
type stats struct {
	mu     sync.Mutex
	hists  map[string]*hdrhistogram.Histogram
	status map[int]int64
}

func newStats() *stats {
	return &stats{hists: map[string]*hdrhistogram.Histogram{}, status: map[int]int64{}}
}

// observe records the latency of one logical operation, retries and their waits included:
// what the user of the app waits for.
func (s *stats) observe(op string, d time.Duration) {
	us := min(max(d.Microseconds(), histMin), histMax)
	s.mu.Lock()
	h := s.hists[op]
	if h == nil {
		h = hdrhistogram.New(histMin, histMax, histDigits)
		s.hists[op] = h
	}
	_ = h.RecordValue(us) // in range by construction
	s.mu.Unlock()
}

// countStatus counts the status of one HTTP attempt; 0 counts a transport error.
func (s *stats) countStatus(code int) {
	s.mu.Lock()
	s.status[code]++
	s.mu.Unlock()
}

func (s *stats) statusCounts() map[int]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int64, len(s.status))
	for k, v := range s.status {
		out[k] = v
	}
	return out
}

func (s *stats) latency() map[string]LatencyStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]LatencyStats, len(s.hists))
	for op, h := range s.hists {
		out[op] = latencyOf(h)
	}
	return out
}

func latencyOf(h *hdrhistogram.Histogram) LatencyStats {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	q := h.ValueAtPercentilesSlice([]float64{50, 95, 99})
	return LatencyStats{
		Count: h.TotalCount(),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:   us(q[0]),
		P95:   us(q[1]),
		P99:   us(q[2]),
		Max:   us(h.Max()),
	}
}

// LatencyStats summarises the latencies of one operation kind. Values are accurate to about
// 0.1% (HDR histogram, 3 significant digits) between 1µs and 1 minute.
type LatencyStats struct {
	Count int64
	Mean  time.Duration
	P50   time.Duration
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// MarshalJSON writes durations as milliseconds: {"count","mean_ms","p50_ms",...}.
func (l LatencyStats) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return json.Marshal(struct {
		Count int64   `json:"count"`
		Mean  float64 `json:"mean_ms"`
		P50   float64 `json:"p50_ms"`
		P95   float64 `json:"p95_ms"`
		P99   float64 `json:"p99_ms"`
		Max   float64 `json:"max_ms"`
	}{l.Count, ms(l.Mean), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max)})
}
