package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseNodeCounters(t *testing.T) {
	const text = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
allot_commit_seconds_bucket{le="0.0001"} 3
allot_commit_seconds_bucket{le="0.0002"} 296
allot_commit_seconds_bucket{le="0.0004"} 297
allot_commit_seconds_bucket{le="+Inf"} 300
allot_commit_seconds_sum 0.75
allot_commit_seconds_count 300
allot_batch_size_sum 2400
allot_rejections_total{reason="busy"} 7
allot_rejections_total{reason="sold_out"} 100
allot_ratelimit_refused_total{policy="holds"} 2
allot_ratelimit_refused_total{policy="a b} c"} 3
allot_http_connections_refused_total 1 1700000000000
garbage
allot_mailbox_depth NaN-ish
`
	got, err := parseNodeCounters(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := nodeCounters{CPUSeconds: 12.5, Commits: 300, CommitSeconds: 0.75, BatchedCommands: 2400, Busy: 7, RateLimited: 5, ConnRefused: 1,
		CommitBuckets: map[float64]float64{0.0001: 3, 0.0002: 296, 0.0004: 297, math.Inf(1): 300}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	u := usageBetween(nodeCounters{}, want, 10, 2)
	if u.Utilisation() != 0.625 || u.CommitMean() != 2500*time.Microsecond || u.BatchMean() != 8 || u.CommitP99 != 400*time.Microsecond {
		t.Fatalf("usage %+v: utilisation %v, commit %v, batch %v", u, u.Utilisation(), u.CommitMean(), u.BatchMean())
	}
	// Between two scrapes: 100 commits, 98 of them in (100µs, 200µs], one under 400µs, one
	// beyond.
	a := map[float64]float64{0.0001: 0, 0.0002: 100, 0.0004: 100, math.Inf(1): 100}
	b := map[float64]float64{0.0001: 0, 0.0002: 198, 0.0004: 199, math.Inf(1): 200}
	for q, want := range map[float64]time.Duration{0.49: 150 * time.Microsecond, 0.985: 300 * time.Microsecond, 1: 400 * time.Microsecond} {
		if got := quantileBetween(a, b, q); got != want {
			t.Errorf("quantile %v: %v, want %v", q, got, want)
		}
	}
	if got := quantileBetween(b, b, 0.99); got != 0 {
		t.Errorf("quantile without commits: %v", got)
	}
	if got := (nodeCounters{CommitBuckets: a}).add(nodeCounters{CommitBuckets: b}).CommitBuckets[0.0002]; got != 298 {
		t.Errorf("buckets of two nodes: %v, want 298", got)
	}
}

// slowingAllot is a fake node whose holds take 10ms, and 200ms more with 3 or more in
// flight, and whose /metrics report a commit time of 5ms, 50ms more with 3 or more in flight:
// with a 150ms SLO, 2 clients keep it at twice the throughput of 1, 4 break it, and the
// commit latency crosses its limit (37.5ms) first there. The margins absorb a loaded machine.
type slowingAllot struct {
	fakeAllot
	inflight atomic.Int64
	mu       sync.Mutex
	holds    float64
	commitS  float64
}

func (s *slowingAllot) start(t *testing.T) (target, metrics string) {
	s.onHold = func() {
		n := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		service, commit := 10*time.Millisecond, 0.005
		if n >= 3 {
			service, commit = service+200*time.Millisecond, commit+0.050
		}
		time.Sleep(service) // the fake node's service time
		s.mu.Lock()
		s.holds++
		s.commitS += commit
		s.mu.Unlock()
	}
	target = mustFakeAllot(t, &s.fakeAllot)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		fmt.Fprintf(w, "process_cpu_seconds_total %g\nallot_commit_seconds_sum %g\nallot_commit_seconds_count %g\nallot_batch_size_sum %g\n",
			s.holds*0.0001, s.commitS, s.holds, s.holds)
	}))
	t.Cleanup(srv.Close)
	return target, srv.URL + "/metrics"
}

func stressTestConfig(target, metrics string) Config {
	cfg := DefaultConfig()
	cfg.Targets = []string{target}
	cfg.MetricsURLs = []string{metrics}
	cfg.StressStartClients, cfg.StressStepClients, cfg.StressGrowth, cfg.StressMaxClients = 1, 0, 2, 64
	cfg.StressStepDuration = time.Second
	cfg.StressWarmup = 200 * time.Millisecond // run, not reported: the steps are still 1, 2, 4
	cfg.NodeCores = 1
	cfg.SLOP99 = 150 * time.Millisecond
	cfg.RunID = "st"
	cfg.Progress = true
	return cfg
}

func TestRunStressFindsTheKnee(t *testing.T) {
	s := &slowingAllot{}
	target, metrics := s.start(t)
	var progress bytes.Buffer
	rep, err := RunStress(t.Context(), stressTestConfig(target, metrics), &progress)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 3 {
		t.Fatalf("steps %d, want 1, 2, 4 clients:\n%s", len(rep.Steps), progress.String())
	}
	for i, want := range []int{1, 2, 4} {
		if st := rep.Steps[i]; st.Clients != want || st.Holds == 0 || !st.AuditOK || st.Node == nil || st.Resources != 1 {
			t.Errorf("step %d: %+v, want %d clients, holds, audit ok, node usage", i, st, want)
		}
	}
	v := rep.Verdict
	if v.Knee != 1 || v.Broke != 2 || v.BrokeBy != "p99" || v.FirstLimit != LimitCommit || v.FirstLimitStep != 2 {
		t.Errorf("verdict %+v, want knee at 2 clients, broken by p99 at 4, commit latency first", v)
	}
	if got := strings.Count(progress.String(), "loadgen: step "); got != 3 {
		t.Errorf("progress printed %d steps, want 3:\n%s", got, progress.String())
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "knee: ") || !strings.Contains(out.String(), "first limit crossed: commit-latency at 4 clients") {
		t.Errorf("report:\n%s", out.String())
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := rep.WriteJSONFile(path); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Steps []struct {
			Clients int `json:"clients"`
		} `json:"steps"`
		Knee       int    `json:"knee_step"`
		FirstLimit string `json:"first_limit"`
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &j); err != nil || len(j.Steps) != 3 || j.Knee != 1 || j.FirstLimit != "commit-latency" {
		t.Errorf("JSON %s: %v", b, err)
	}
}

func TestRunStressGrowsResources(t *testing.T) {
	f := &fakeAllot{}
	cfg := stressTestConfig(mustFakeAllot(t, f), "")
	cfg.MetricsURLs = nil
	cfg.StressStartClients, cfg.StressMaxClients, cfg.StressGrowth, cfg.StressStepClients = 2, 3, 1, 1
	cfg.StressStartResources, cfg.StressResourcesStep = 2, 3
	rep, err := RunStress(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 2 || rep.Steps[0].Resources != 2 || rep.Steps[1].Resources != 5 || rep.Steps[1].Clients != 3 {
		t.Fatalf("steps %+v, want 2 then 5 resources", rep.Steps)
	}
	if rep.Verdict.Broke != -1 || rep.Verdict.Measured || !rep.AuditOK() {
		t.Errorf("verdict %+v, audit %v", rep.Verdict, rep.AuditOK())
	}
	if s := rep.Summary(); !strings.Contains(s, "knee not reached") || !strings.Contains(s, "--metrics") {
		t.Errorf("summary %q", s)
	}
}

func TestStressConfigRejects(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"start":      func(c *Config) { c.StressStartClients = 0 },
		"max":        func(c *Config) { c.StressMaxClients = 4 },
		"no growth":  func(c *Config) { c.StressStepClients, c.StressGrowth = 0, 1 },
		"growth":     func(c *Config) { c.StressGrowth = 0.5 },
		"step time":  func(c *Config) { c.StressStepDuration = time.Millisecond },
		"warm-up":    func(c *Config) { c.StressWarmup = -time.Second },
		"resources":  func(c *Config) { c.StressStartResources = 0 },
		"slo":        func(c *Config) { c.SLOP99 = 0 },
		"error rate": func(c *Config) { c.MaxErrorRate = 2 },
		"cores":      func(c *Config) { c.NodeCores = -1 },
		"metrics":    func(c *Config) { c.MetricsURLs = []string{"127.0.0.1:9090"} },
	} {
		cfg := DefaultConfig()
		cfg.Scenario = ScenarioStress
		if err := cfg.validate(); err != nil {
			t.Fatalf("default stress config: %v", err)
		}
		mut(&cfg)
		if err := cfg.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCommandStress(t *testing.T) {
	target := mustFakeAllot(t, &fakeAllot{})
	var out, errs bytes.Buffer
	code := Command(t.Context(), []string{"--target", target, "--scenario", "stress", "--stress-start", "1", "--stress-max-clients", "1",
		"--stress-step-duration", "1s", "--stress-warmup", "0s", "--progress", "--run-id", "cmdst"}, &out, &errs)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s, stdout %s", code, errs.String(), out.String())
	}
	if !strings.Contains(out.String(), "knee not reached") || !strings.Contains(errs.String(), "loadgen: step 0:    1 clients") {
		t.Fatalf("stdout %q, stderr %q", out.String(), errs.String())
	}
	if code := Command(t.Context(), []string{"--target", target, "--scenario", "stress", "--slo-p99", "0s"}, &out, &errs); code != ExitUsage {
		t.Errorf("--slo-p99 0s: exit %d, want %d", code, ExitUsage)
	}
}
