package loadgen

import (
	"math"
	"time"
)

// The stress scenario's decisions, apart from its I/O (stress.go): the next step's load,
// whether a step kept the SLO, which limits of the node a step crossed, and the verdict
// over the steps. Everything here is a pure function of its arguments.

// Limit names a limit of the node that a step crossed.
type Limit string

// Limits, in the order they are named when one step crosses several: refusals the clients
// see first (their cause is certain), then the saturation that explains latency.
const (
	// LimitConnections: connections refused (allot_http_connections_refused_total) or
	// attempts without an answer (transport errors, timeouts).
	LimitConnections Limit = "connections"
	// LimitRateLimit: requests refused by a rate limit (allot_ratelimit_refused_total): the
	// node was not started with --rate-limits off or load budgets; the curve measures the
	// limit, not the node.
	LimitRateLimit Limit = "rate-limit"
	// LimitMailbox: commands refused busy (429) because a resource's queue was full
	// (--max-pending; allot_rejections_total{reason="busy"}).
	LimitMailbox Limit = "mailbox"
	// LimitCPU: the nodes used at least cpuSaturation of their cores.
	LimitCPU Limit = "cpu"
	// LimitCommit: the mean store commit (allot_commit_seconds) took at least
	// commitShareOfSLO of the SLO's p99 (a hold waits for one or two commits plus its queue),
	// or the commits' p99 at least commitP99ShareOfSLO of it (stalls of the store).
	LimitCommit Limit = "commit-latency"
)

// limitOrder is the order of limitsCrossed's answer.
var limitOrder = [...]Limit{LimitConnections, LimitRateLimit, LimitMailbox, LimitCPU, LimitCommit}

// Thresholds of the limits that are not a count of refusals.
const (
	cpuSaturation       = 0.85 // of the nodes' cores
	commitShareOfSLO    = 0.25 // of SLOP99
	commitP99ShareOfSLO = 0.5  // of SLOP99
)

// NodeUsage is what the nodes' /metrics say about one step: differences of counters between
// the step's start and end, summed over the nodes.
type NodeUsage struct {
	// Cores is the CPU capacity of the nodes together; Seconds the step's wall time.
	Cores   float64
	Seconds float64
	// CPUSeconds is process_cpu_seconds_total.
	CPUSeconds float64
	// Commits, CommitSeconds and BatchedCommands are allot_commit_seconds_count and _sum and
	// allot_batch_size_sum: store commits, their time, and the commands they carried.
	Commits, CommitSeconds, BatchedCommands float64
	// CommitP99 is the p99 of the commits, to the histogram's bucket (0 when unknown).
	CommitP99 time.Duration
	// Busy is allot_rejections_total{reason="busy"}, RateLimited allot_ratelimit_refused_total
	// (every policy), ConnRefused allot_http_connections_refused_total.
	Busy, RateLimited, ConnRefused float64
}

// Utilisation is the share of the nodes' cores used (0 when unknown).
func (u NodeUsage) Utilisation() float64 {
	if u.Cores <= 0 || u.Seconds <= 0 {
		return 0
	}
	return u.CPUSeconds / u.Seconds / u.Cores
}

// CommitMean is the mean store commit time (0 without commits).
func (u NodeUsage) CommitMean() time.Duration {
	if u.Commits <= 0 {
		return 0
	}
	return time.Duration(u.CommitSeconds / u.Commits * float64(time.Second))
}

// BatchMean is the mean commands per commit (0 without commits).
func (u NodeUsage) BatchMean() float64 {
	if u.Commits <= 0 {
		return 0
	}
	return u.BatchedCommands / u.Commits
}

// StressStep is the outcome of one step of the stress scenario.
type StressStep struct {
	Step      int // from 0
	Clients   int // offered load: closed-loop clients without think time
	Resources int // resources the holds went to
	Elapsed   time.Duration
	// Holds acknowledged, Requests issued (logical, retries not counted), Errors among them
	// (failed after their retries); Throughput is acknowledged holds per second.
	Holds, Requests, Errors int64
	Throughput              float64
	ErrorRate               float64
	P50, P99                time.Duration // of holds, retries included
	// Busy counts attempts answered 429, NoAnswer attempts without an answer.
	Busy, NoAnswer int64
	// LoadgenCPUSeconds is the CPU this process (the load generator) used in the step.
	LoadgenCPUSeconds float64
	// Node is nil without Config.MetricsURLs (or when a scrape failed).
	Node *NodeUsage
	// AuditOK is the step's audit verdict (nothing oversold, nothing acknowledged lost).
	AuditOK bool
	// WithinSLO and Limits are decided by judgeStep.
	WithinSLO bool
	Limits    []Limit
}

// CPUPerHold is the nodes' CPU time per acknowledged hold (0 when unknown).
func (s StressStep) CPUPerHold() time.Duration {
	if s.Node == nil || s.Holds == 0 {
		return 0
	}
	return time.Duration(s.Node.CPUSeconds / float64(s.Holds) * float64(time.Second))
}

// slo is the SLO and the thresholds the steps are judged by.
type slo struct {
	P99          time.Duration
	MaxErrorRate float64
}

// judgeStep fills s.WithinSLO and s.Limits.
func judgeStep(s *StressStep, o slo) {
	s.WithinSLO = s.P99 <= o.P99 && s.ErrorRate <= o.MaxErrorRate
	s.Limits = limitsCrossed(*s, o)
}

// limitsCrossed returns the limits s crossed, in limitOrder.
func limitsCrossed(s StressStep, o slo) []Limit {
	crossed := map[Limit]bool{LimitConnections: s.NoAnswer > 0}
	if n := s.Node; n != nil {
		crossed[LimitConnections] = crossed[LimitConnections] || n.ConnRefused > 0
		crossed[LimitRateLimit] = n.RateLimited > 0
		crossed[LimitMailbox] = n.Busy > 0
		crossed[LimitCPU] = n.Utilisation() >= cpuSaturation
		crossed[LimitCommit] = n.Commits > 0 && (n.CommitMean() >= time.Duration(float64(o.P99)*commitShareOfSLO) ||
			n.CommitP99 >= time.Duration(float64(o.P99)*commitP99ShareOfSLO))
	} else {
		// Without metrics a 429 is most likely a full mailbox (rate limits are the other cause).
		crossed[LimitMailbox] = s.Busy > 0
	}
	var out []Limit
	for _, l := range limitOrder {
		if crossed[l] {
			out = append(out, l)
		}
	}
	return out
}

// nextClients is the offered load of the step after one with cur clients.
func nextClients(cur, step int, growth float64) int {
	return max(cur+step, int(math.Ceil(float64(cur)*growth)))
}

// stressDone reports whether the ramp stops after steps: the last step broke the SLO, or
// the next one would pass maxClients.
func stressDone(steps []StressStep, cfg *Config) bool {
	if len(steps) == 0 {
		return false
	}
	last := steps[len(steps)-1]
	return !last.WithinSLO || nextClients(last.Clients, cfg.StressStepClients, cfg.StressGrowth) > cfg.StressMaxClients
}

// StressVerdict is what the steps say.
type StressVerdict struct {
	// Knee is the index of the step with the highest throughput among the steps that kept
	// the SLO before the first that broke it; -1 when the first step broke it.
	Knee int
	// Broke is the index of the first step that broke the SLO, -1 when none did; BrokeBy says
	// how: "p99", "errors" or "p99 and errors".
	Broke   int
	BrokeBy string
	// FirstLimit is the first limit crossed in the steps up to Broke (all steps when none
	// broke), at step FirstLimitStep; "" and -1 when none was. When one step crossed several,
	// FirstLimit is the first in limitOrder and AlsoCrossed the others.
	FirstLimit     Limit
	FirstLimitStep int
	AlsoCrossed    []Limit
	// Measured is false when no step had node metrics: the limits then rest on what the
	// clients saw alone.
	Measured bool
}

// judge returns the verdict over steps judged (judgeStep) by o.
func judge(steps []StressStep, o slo) StressVerdict {
	v := StressVerdict{Knee: -1, Broke: -1, FirstLimitStep: -1}
	for i, s := range steps {
		if s.Node != nil {
			v.Measured = true
		}
		if v.FirstLimitStep < 0 && len(s.Limits) > 0 {
			v.FirstLimit, v.FirstLimitStep, v.AlsoCrossed = s.Limits[0], i, s.Limits[1:]
		}
		if !s.WithinSLO {
			v.Broke = i
			switch p99, errs := s.P99 > o.P99, s.ErrorRate > o.MaxErrorRate; {
			case p99 && errs:
				v.BrokeBy = "p99 and errors"
			case errs:
				v.BrokeBy = "errors"
			default:
				v.BrokeBy = "p99"
			}
			break
		}
		if v.Knee < 0 || s.Throughput > steps[v.Knee].Throughput {
			v.Knee = i
		}
	}
	return v
}
