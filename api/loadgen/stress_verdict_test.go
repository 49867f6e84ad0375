package loadgen

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

var testSLO = slo{P99: 100 * time.Millisecond, MaxErrorRate: 0.01}

func TestLimitsCrossed(t *testing.T) {
	calm := NodeUsage{Cores: 2, Seconds: 10, CPUSeconds: 5, Commits: 1000, CommitSeconds: 1, BatchedCommands: 8000}
	with := func(mut func(*NodeUsage)) *NodeUsage { u := calm; mut(&u); return &u }
	for _, tc := range []struct {
		name string
		step StressStep
		want []Limit
	}{
		{"calm", StressStep{Node: &calm}, nil},
		{"no metrics, nothing seen", StressStep{}, nil},
		{"no metrics, 429s are the mailbox", StressStep{Busy: 3}, []Limit{LimitMailbox}},
		{"no metrics, no answer", StressStep{NoAnswer: 1}, []Limit{LimitConnections}},
		{"metrics: 429s without busy rejections are not the mailbox", StressStep{Busy: 3, Node: with(func(u *NodeUsage) { u.RateLimited = 3 })}, []Limit{LimitRateLimit}},
		{"busy", StressStep{Node: with(func(u *NodeUsage) { u.Busy = 1 })}, []Limit{LimitMailbox}},
		{"cpu at 85%", StressStep{Node: with(func(u *NodeUsage) { u.CPUSeconds = 17 })}, []Limit{LimitCPU}},
		{"cpu at 84%", StressStep{Node: with(func(u *NodeUsage) { u.CPUSeconds = 16.8 })}, nil},
		{"commit at a quarter of the SLO", StressStep{Node: with(func(u *NodeUsage) { u.CommitSeconds = 25 })}, []Limit{LimitCommit}},
		{"commit below", StressStep{Node: with(func(u *NodeUsage) { u.CommitSeconds = 24 })}, nil},
		{"commit p99 at half the SLO", StressStep{Node: with(func(u *NodeUsage) { u.CommitP99 = 50 * time.Millisecond })}, []Limit{LimitCommit}},
		{"commit p99 below", StressStep{Node: with(func(u *NodeUsage) { u.CommitP99 = 49 * time.Millisecond })}, nil},
		{"refused connections", StressStep{Node: with(func(u *NodeUsage) { u.ConnRefused = 2 })}, []Limit{LimitConnections}},
		{"all, in order", StressStep{NoAnswer: 1, Node: with(func(u *NodeUsage) {
			u.CPUSeconds, u.CommitSeconds, u.Busy, u.RateLimited = 20, 30, 1, 1
		})}, []Limit{LimitConnections, LimitRateLimit, LimitMailbox, LimitCPU, LimitCommit}},
	} {
		if got := limitsCrossed(tc.step, testSLO); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNextClientsAndDone(t *testing.T) {
	for _, tc := range []struct {
		cur, step int
		growth    float64
		want      int
	}{{8, 8, 2, 16}, {8, 0, 1.5, 12}, {1, 0, 1.5, 2}, {100, 8, 1, 108}, {3, 1, 2, 6}} {
		if got := nextClients(tc.cur, tc.step, tc.growth); got != tc.want {
			t.Errorf("nextClients(%d, %d, %v) = %d, want %d", tc.cur, tc.step, tc.growth, got, tc.want)
		}
	}
	cfg := DefaultConfig()
	cfg.StressMaxClients = 64
	ok := StressStep{Clients: 32, WithinSLO: true}
	if stressDone(nil, &cfg) || stressDone([]StressStep{ok}, &cfg) {
		t.Error("done before 64 clients")
	}
	if !stressDone([]StressStep{{Clients: 64, WithinSLO: true}}, &cfg) {
		t.Error("not done although the next step would pass --stress-max-clients")
	}
	if !stressDone([]StressStep{{Clients: 8}}, &cfg) {
		t.Error("not done after a step that broke the SLO")
	}
}

func TestJudge(t *testing.T) {
	ms := time.Millisecond
	cpu := &NodeUsage{Cores: 1, Seconds: 1, CPUSeconds: 1}
	busy := &NodeUsage{Cores: 1, Seconds: 1, Busy: 4}
	for _, tc := range []struct {
		name  string
		steps []StressStep
		want  StressVerdict
	}{
		{"never broke", []StressStep{{Clients: 8, Throughput: 100, P99: 5 * ms}, {Clients: 16, Throughput: 150, P99: 9 * ms}},
			StressVerdict{Knee: 1, Broke: -1, FirstLimitStep: -1}},
		{"broke by p99, knee is the best before it", []StressStep{
			{Throughput: 100, P99: 5 * ms, Node: &NodeUsage{}}, {Throughput: 300, P99: 50 * ms, Node: cpu},
			{Throughput: 250, P99: 90 * ms, Node: busy}, {Throughput: 400, P99: 150 * ms, Node: busy}, {Throughput: 999, P99: ms}},
			StressVerdict{Knee: 1, Broke: 3, BrokeBy: "p99", FirstLimit: LimitCPU, FirstLimitStep: 1, Measured: true}},
		{"broke by errors at once", []StressStep{{Throughput: 10, P99: ms, ErrorRate: 0.5, NoAnswer: 9}},
			StressVerdict{Knee: -1, Broke: 0, BrokeBy: "errors", FirstLimit: LimitConnections, FirstLimitStep: 0}},
		{"both, several limits", []StressStep{{Throughput: 10, P99: ms}, {Throughput: 10, P99: time.Second, ErrorRate: 0.02,
			Node: &NodeUsage{Cores: 1, Seconds: 1, CPUSeconds: 1, Busy: 1}}},
			StressVerdict{Knee: 0, Broke: 1, BrokeBy: "p99 and errors", FirstLimit: LimitMailbox, FirstLimitStep: 1, AlsoCrossed: []Limit{LimitCPU}, Measured: true}},
		{"limit after the break does not count", []StressStep{{P99: time.Second}, {P99: ms, Busy: 1}},
			StressVerdict{Knee: -1, Broke: 0, BrokeBy: "p99", FirstLimitStep: -1}},
	} {
		for i := range tc.steps {
			judgeStep(&tc.steps[i], testSLO)
		}
		got := judge(tc.steps, testSLO)
		if len(got.AlsoCrossed) == 0 {
			got.AlsoCrossed = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestJudgeRandomized checks the verdict over random ramps against its definition, stated
// the slow way: the knee is the best step that kept the SLO before the first that broke it,
// and the first limit the first crossed up to that step.
func TestJudgeRandomized(t *testing.T) {
	for seed := uint64(1); seed <= 500; seed++ {
		rng := rand.New(rand.NewPCG(seed, 17))
		steps := make([]StressStep, 1+rng.IntN(10))
		for i := range steps {
			s := &steps[i]
			s.Clients = 8 << i
			s.Throughput = float64(rng.IntN(1000))
			s.P99 = time.Duration(rng.IntN(130)) * time.Millisecond
			if rng.IntN(5) == 0 {
				s.ErrorRate = rng.Float64() * 0.03
			}
			if rng.IntN(6) == 0 {
				s.Busy = int64(rng.IntN(3))
			}
			if rng.IntN(3) > 0 {
				s.Node = &NodeUsage{Cores: 2, Seconds: 10, CPUSeconds: rng.Float64() * 20,
					Commits: 100, CommitSeconds: rng.Float64() * 3, Busy: float64(rng.IntN(2) * rng.IntN(2))}
			}
			judgeStep(s, testSLO)
		}
		v := judge(steps, testSLO)

		broke := -1
		for i, s := range steps {
			if s.P99 > testSLO.P99 || s.ErrorRate > testSLO.MaxErrorRate {
				broke = i
				break
			}
		}
		if v.Broke != broke {
			t.Fatalf("seed %d: broke %d, want %d", seed, v.Broke, broke)
		}
		end := len(steps)
		if broke >= 0 {
			end = broke
		}
		best := -1.0
		for _, s := range steps[:end] {
			best = max(best, s.Throughput)
		}
		switch {
		case end == 0 && v.Knee != -1:
			t.Fatalf("seed %d: knee %d although the first step broke the SLO", seed, v.Knee)
		case end > 0 && (v.Knee < 0 || v.Knee >= end || steps[v.Knee].Throughput != best || !steps[v.Knee].WithinSLO):
			t.Fatalf("seed %d: knee %d, want a step before %d with %v holds/s", seed, v.Knee, end, best)
		}
		last := min(end, len(steps)-1)
		first := -1
		for i := 0; i <= last; i++ {
			if len(steps[i].Limits) > 0 {
				first = i
				break
			}
		}
		if v.FirstLimitStep != first || (first >= 0 && v.FirstLimit != steps[first].Limits[0]) || (first < 0 && v.FirstLimit != "") {
			t.Fatalf("seed %d: first limit %q at %d, want step %d", seed, v.FirstLimit, v.FirstLimitStep, first)
		}
	}
}
