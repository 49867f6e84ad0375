package cmd

import (
	"strings"
	"testing"
)

// The benchmark document sets verification's cached cost against the server CPU of a hold.
func TestBenchDocumentReportsVerificationCost(t *testing.T) {
	b := &bench{cfg: benchConfig{Clients: []int{64}}}
	var w strings.Builder
	b.writeAuthCost(&w)
	if !strings.Contains(w.String(), "Authentication is on") || !strings.Contains(w.String(), "did not run") {
		t.Fatalf("without measurements: %s", w.String())
	}
	b.goBench = []goBenchRun{{Results: []*goBenchResult{
		{Name: "BenchmarkVerifyCached", Values: map[string][]float64{"ns/op": {400, 500, 600}}},
		{Name: "BenchmarkVerifyUncached", Values: map[string][]float64{"ns/op": {120000}}},
	}}}
	b.series = []*benchSeries{{Sys: &benchSystem{Key: "allot-pg"}, Clients: 64, Runs: []benchRun{{HoldsPerSec: 10000, ServerCores: 1}}}}
	w.Reset()
	b.writeAuthCost(&w)
	// 1 core at 10,000 holds/s is 100 µs per hold; 500 ns of it is 0.50%.
	for _, want := range []string{"500 ns", "uncached 120 µs", "100 µs of server CPU per hold", "**0.50%**"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("lacks %q: %s", want, w.String())
		}
	}
}
