package cmd

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/loadgen"
)

// These run with every `go test ./cmd`: the stress section's plot and projection are pure.

func TestStressSVGIsWellFormed(t *testing.T) {
	rep := &loadgen.StressReport{SLOP99: 100 * time.Millisecond, Steps: []loadgen.StressStep{
		{Clients: 8, Throughput: 1000, P99: 5 * time.Millisecond},
		{Clients: 16, Throughput: 1800, P99: 20 * time.Millisecond},
		{Clients: 32, Throughput: 1700, P99: 300 * time.Millisecond},
	}, Verdict: loadgen.StressVerdict{Knee: 1, Broke: 2}}
	svg := stressSVG("a <node> & co", rep)
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not XML: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{"offered load", "throughput (acknowledged holds/s)", "hold p99 latency (ms)", "SLO p99 100 ms",
		"knee: 1,800 holds/s at 16 clients", "a &lt;node&gt; &amp; co", ">32<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("plot lacks %q", want)
		}
	}
	one := &loadgen.StressReport{SLOP99: time.Second, Steps: []loadgen.StressStep{{Clients: 8}}, Verdict: loadgen.StressVerdict{Knee: -1}}
	if s := stressSVG("one", one); strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Errorf("one step: %s", s)
	}
}

func TestProject(t *testing.T) {
	pg := projectionInput{CPUPerHold: 100 * time.Microsecond, PerResource: 5000, Commit: 2 * time.Millisecond, Batch: 10, DBCPUPerCommit: 200 * time.Microsecond}
	cheapDB := pg
	cheapDB.DBCPUPerCommit = 50 * time.Microsecond
	for _, tc := range []struct {
		name    string
		in      projectionInput
		n, m, k int
		want    float64
		bound   string
	}{
		{"one hot resource", pg, 1, 8, 1, 5000, "per-resource ceiling"},
		{"many resources: the CPU", cheapDB, 1, 8, 1000, 8 * 0.7 / 100e-6, "node CPU"},
		{"many nodes: the database, one hold per commit", pg, 10, 8, 100000, 8 * 0.7 / 200e-6, "store commits"},
		{"embedded: serial commits", projectionInput{CPUPerHold: 50 * time.Microsecond, PerResource: 9000, Commit: time.Millisecond, Batch: 4, Embedded: true}, 1, 8, 1000, 1000, "store commits"},
	} {
		got := project(tc.in, tc.n, tc.m, tc.k)
		if math.Abs(got.HoldsPerSec-tc.want) > 1e-6*tc.want || got.Bound != tc.bound {
			t.Errorf("%s: %.1f holds/s bound by %s, want %.1f by %s (%+v)", tc.name, got.HoldsPerSec, got.Bound, tc.want, tc.bound, got)
		}
	}
	if got := project(projectionInput{Embedded: true, CPUPerHold: 1, PerResource: 1}, 3, 8, 1); got.NotApplicable == "" {
		t.Error("embedded store projected on 3 nodes")
	}
	if got := project(projectionInput{}, 1, 8, 1); got.NotApplicable == "" {
		t.Error("projected from nothing measured")
	}
}
