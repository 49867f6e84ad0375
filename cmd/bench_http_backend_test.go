package cmd

import (
	"strings"
	"testing"
)

// The commit loop of the http section's one-node PostgreSQL rows (issue 17, round 19): around
// every run of (a) and of its twin, measure (bench_http_test.go) samples the PostgreSQL backend
// that applies the hot resource's commits as the wrk section does (bench_wrk_backend_test.go),
// and "Why the misses" judges the runs by the wrk rows' rule (wrkResult.backendBound): one
// backend is the bound only when it was busy (executing, flushing the WAL, waiting for a core)
// in at least backendSaturated of the samples; otherwise it waited for the node's next commit,
// and the row stays the design's.

// commitLoopBound is backendBound over the runs of s that measured their backend (medians):
// the sentence, whether it names a machine bound, and whether anything was measured.
func (s *benchSeries) commitLoopBound() (string, bool, bool) {
	if s == nil {
		return "", false, false
	}
	var runs []wrkRun
	for _, r := range s.ok() {
		if r.Backend != nil {
			runs = append(runs, wrkRun{CommitsInFlight: r.CommitsInFlight, Backend: r.Backend})
		}
	}
	r := &wrkResult{Runs: map[string][]wrkRun{s.Sys.Key: runs}}
	return r.backendBound(s.Sys.Key)
}

func TestHTTPCommitLoopBound(t *testing.T) {
	pg := &benchSystem{Key: "allot-pg", Label: "(a) Allot", Allot: true}
	run := func(waiting float64) benchRun {
		return benchRun{HoldsPerSec: 9000, AuditOK: true, CommitsInFlight: 0.98,
			Backend: &wrkBackend{Samples: 150, Executing: 0.5, WAL: 0.5 - waiting, Waiting: waiting, OnCPU: 0.3, RunQueue: 0.4}}
	}
	s := &benchSeries{Sys: pg, Clients: 256, Runs: []benchRun{run(0.33), run(0.14), run(0.2)}}
	if b, ok, measured := s.commitLoopBound(); !measured || ok || !strings.Contains(b, "for the node's next commit 20%") ||
		!strings.Contains(b, "0.98 of at most 2") {
		t.Fatalf("backend waiting for the node: explained %v, measured %v: %s", ok, measured, b)
	}
	s.Runs = []benchRun{run(0.03), run(0.04), run(0.2)}
	if b, ok, _ := s.commitLoopBound(); !ok || !strings.Contains(b, "bound by one backend") {
		t.Fatalf("backend busy 96%% of the time: explained %v: %s", ok, b)
	}
	// Runs without a backend measurement (other stores, failed sampling) measure nothing.
	s.Runs = []benchRun{{HoldsPerSec: 9000, AuditOK: true}}
	if _, _, measured := s.commitLoopBound(); measured {
		t.Fatal("no backend samples, yet a commit-loop verdict")
	}
}
