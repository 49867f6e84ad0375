package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"time"
)

// stressStock is the capacity of every bucket the stress scenario creates: no step sells
// out, so every step measures accepted durable holds.
const stressStock = 1_000_000_000

// RunStress plays the stress scenario: step after step, a Run of cfg.StressStepDuration with
// more clients (and, with cfg.StressResourcesStep, more resources), each on resources of its
// own and audited like any Run, until a step breaks the SLO (cfg.SLOP99, cfg.MaxErrorRate) or
// the next step would pass cfg.StressMaxClients. Around each step it reads the nodes'
// cfg.MetricsURLs to tell which limit broke first.
//
// With cfg.Progress each step is printed on progress as it finishes. RunStress returns an
// error wrapping ErrInvalidConfig for a bad cfg, the error of a step that could not be run
// (with the steps before it in the report), and ctx.Err() with the steps done when ctx is
// cancelled. A failed step audit is not an error: the step has AuditOK false.
func RunStress(ctx context.Context, cfg Config, progress io.Writer) (*StressReport, error) {
	if cfg.RunID == "" {
		cfg.RunID = newRunID()
	}
	cfg.Scenario = ScenarioStress
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cores := cfg.NodeCores
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	o := slo{P99: cfg.SLOP99, MaxErrorRate: cfg.MaxErrorRate}
	rep := &StressReport{RunID: cfg.RunID, Targets: cfg.Targets, SLOP99: cfg.SLOP99, MaxErrorRate: cfg.MaxErrorRate,
		NodeCores: cores * max(len(cfg.MetricsURLs), 1), Metrics: len(cfg.MetricsURLs) > 0, Started: time.Now()}
	if progress == nil || cfg.Quiet {
		progress = io.Discard
	}
	hc := &http.Client{Timeout: cfg.Timeout}
	defer hc.CloseIdleConnections()

	clients := cfg.StressStartClients
	if cfg.StressWarmup > 0 {
		warm := cfg
		warm.StressStepDuration, warm.MetricsURLs, warm.RunID = cfg.StressWarmup, nil, cfg.RunID+"-warmup"
		if _, err := runStressStep(ctx, &warm, hc, 0, clients, 0); err != nil {
			return rep, fmt.Errorf("stress warm-up: %w", err)
		}
	}
	for i := 0; ; i++ {
		step, err := runStressStep(ctx, &cfg, hc, i, clients, float64(rep.NodeCores))
		if err != nil {
			rep.finish(o)
			return rep, fmt.Errorf("stress step %d (%d clients): %w", i, clients, err)
		}
		judgeStep(&step, o)
		rep.Steps = append(rep.Steps, step)
		if cfg.Progress {
			fmt.Fprintln(progress, "loadgen: "+stepLine(step))
		}
		if stressDone(rep.Steps, &cfg) {
			break
		}
		clients = nextClients(clients, cfg.StressStepClients, cfg.StressGrowth)
	}
	rep.finish(o)
	return rep, nil
}

// runStressStep runs step i with clients clients and measures it.
func runStressStep(ctx context.Context, cfg *Config, hc *http.Client, i, clients int, cores float64) (StressStep, error) {
	inner := *cfg
	inner.Scenario = ScenarioFlashSale
	inner.Clients = clients
	inner.Duration = cfg.StressStepDuration
	inner.Requests = 0
	inner.Stock = stressStock
	inner.HoldOnly = true
	inner.ThinkTime = 0
	inner.Quiet = true
	inner.JSONPath = ""
	inner.RunID = fmt.Sprintf("%s-s%d", cfg.RunID, i)
	resources := 1
	if cfg.StressResourcesStep > 0 {
		resources = cfg.StressStartResources + i*cfg.StressResourcesStep
		inner.Scenario = ScenarioHotel
		inner.Resources, inner.Rooms, inner.Days, inner.Nights = resources, stressStock, 1, 1
	}

	// The counters are read before the resources are created and after the audit: the step's
	// usage includes both, a few requests against thousands.
	var before nodeCounters
	var scraped bool
	t0 := time.Now()
	if len(cfg.MetricsURLs) > 0 {
		c, err := scrapeNodes(ctx, hc, cfg.MetricsURLs)
		before, scraped = c, err == nil
	}
	cpu0 := processCPUSeconds()
	rep, err := Run(ctx, inner, nil)
	if err != nil {
		return StressStep{}, err
	}
	step := StressStep{
		Step: i, Clients: clients, Resources: resources, Elapsed: rep.Elapsed,
		Holds: rep.Holds, Requests: rep.Ops, Errors: rep.Errors, Throughput: rep.HoldsPerSec,
		Busy: rep.StatusCodes[http.StatusTooManyRequests], NoAnswer: rep.StatusCodes[0],
		LoadgenCPUSeconds: processCPUSeconds() - cpu0,
		AuditOK:           rep.Audit.OK,
	}
	if rep.Ops > 0 {
		step.ErrorRate = float64(rep.Errors) / float64(rep.Ops)
	}
	l := rep.Latency[OpHold]
	step.P50, step.P99 = l.P50, l.P99
	if scraped {
		if after, err := scrapeNodes(ctx, hc, cfg.MetricsURLs); err == nil {
			u := usageBetween(before, after, time.Since(t0).Seconds(), cores)
			step.Node = &u
		}
	}
	return step, nil
}

// processCPUSeconds is the CPU time this process used so far, as the Go runtime estimates it
// (portable, unlike getrusage).
func processCPUSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 || s[1].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return s[0].Value.Float64() - s[1].Value.Float64()
}
