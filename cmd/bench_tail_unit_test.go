package cmd

import (
	"math"
	"testing"
)

func TestTailQuantilesFromBuckets(t *testing.T) {
	inf := math.Inf(1)
	a := map[float64]float64{0.025: 10, 0.05: 10, 0.1: 10, inf: 10}
	b := map[float64]float64{0.025: 60, 0.05: 100, 0.1: 110, inf: 110}
	if got := within(a, b, 0.05); got != 0.9 {
		t.Errorf("within 50 ms = %v, want 0.9", got)
	}
	if got := within(a, a, 0.05); !math.IsNaN(got) {
		t.Errorf("within without requests = %v, want NaN", got)
	}
	// 100 observations: 50 up to 25 ms, 40 in (25, 50], 10 in (50, 100].
	if got := quantileOf(a, b, 0.5); got != 0.025 {
		t.Errorf("p50 = %v, want 0.025", got)
	}
	if got := quantileOf(a, b, 0.99); math.Abs(got-0.095) > 1e-9 {
		t.Errorf("p99 = %v, want 0.095", got)
	}
	if v, ok := labelValue(`allot_commit_seconds_bucket{le="0.0032"} 7`, "le"); !ok || v != "0.0032" {
		t.Errorf("labelValue = %q %v", v, ok)
	}
}
