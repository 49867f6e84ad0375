package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// StressReport is the outcome of RunStress.
type StressReport struct {
	RunID        string
	Targets      []string
	SLOP99       time.Duration
	MaxErrorRate float64
	// NodeCores is the CPU cores of the nodes together (for their utilisation); Metrics says
	// whether the nodes' /metrics were read.
	NodeCores int
	Metrics   bool
	Started   time.Time
	Steps     []StressStep
	Verdict   StressVerdict
}

func (r *StressReport) finish(o slo) { r.Verdict = judge(r.Steps, o) }

// KneeStep is the knee's step, or nil when the first step already broke the SLO.
func (r *StressReport) KneeStep() *StressStep {
	if r.Verdict.Knee < 0 {
		return nil
	}
	return &r.Steps[r.Verdict.Knee]
}

// AuditOK reports whether every step's audit passed.
func (r *StressReport) AuditOK() bool {
	for _, s := range r.Steps {
		if !s.AuditOK {
			return false
		}
	}
	return len(r.Steps) > 0
}

// Summary is the verdict in one or two sentences.
func (r *StressReport) Summary() string {
	v := r.Verdict
	var b strings.Builder
	switch k := r.KneeStep(); {
	case k == nil:
		fmt.Fprintf(&b, "no knee: the first step (%d clients) already broke the SLO (%s)", r.Steps[0].Clients, v.BrokeBy)
	case v.Broke < 0:
		fmt.Fprintf(&b, "knee not reached: %.0f holds/s at %d clients within the SLO (p99 %s ≤ %s) up to the last step", k.Throughput, k.Clients, ms(k.P99), ms(r.SLOP99))
	default:
		fmt.Fprintf(&b, "knee: %.0f holds/s at %d clients (p99 %s); %d clients broke the SLO (%s: p99 %s, errors %.2f%%)",
			k.Throughput, k.Clients, ms(k.P99), r.Steps[v.Broke].Clients, v.BrokeBy, ms(r.Steps[v.Broke].P99), 100*r.Steps[v.Broke].ErrorRate)
	}
	b.WriteString("; ")
	switch {
	case v.FirstLimit != "":
		fmt.Fprintf(&b, "first limit crossed: %s at %d clients", v.FirstLimit, r.Steps[v.FirstLimitStep].Clients)
		if len(v.AlsoCrossed) > 0 {
			fmt.Fprintf(&b, " (with %s)", joinLimits(v.AlsoCrossed))
		}
	case !v.Measured:
		b.WriteString("no limit seen by the clients; give --metrics to read the nodes' limits")
	default:
		b.WriteString("no node limit crossed: the latency grew in queues (or on the load generator's side)")
	}
	return b.String()
}

func joinLimits(ls []Limit) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

// stepLine is one step in one line, for --progress.
func stepLine(s StressStep) string {
	line := fmt.Sprintf("step %d: %4d clients %4d resources  %7.0f holds/s  p50 %s  p99 %s  errors %.2f%%  429 %d",
		s.Step, s.Clients, s.Resources, s.Throughput, ms(s.P50), ms(s.P99), 100*s.ErrorRate, s.Busy)
	if n := s.Node; n != nil {
		line += fmt.Sprintf("  node cpu %.0f%%  commit %s (p99 %s)  batch %.1f", 100*n.Utilisation(), ms(n.CommitMean()), ms(n.CommitP99), n.BatchMean())
	}
	if !s.WithinSLO {
		line += "  SLO BROKEN"
	}
	if len(s.Limits) > 0 {
		line += "  limits: " + joinLimits(s.Limits)
	}
	return line
}

// WriteText writes the report for humans: one row per step, then the verdict.
func (r *StressReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: stress against %s, SLO p99 ≤ %s and errors ≤ %.2f%%\n", r.RunID, strings.Join(r.Targets, ","), ms(r.SLOP99), 100*r.MaxErrorRate)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tclients\tresources\tholds/s\tp50\tp99\terrors\t429\tnode cpu\tcpu/hold\tcommit\tcommit p99\tbatch\tSLO\tlimits\t")
	for _, s := range r.Steps {
		cpu, perHold, commit, commitP99, batch := "-", "-", "-", "-", "-"
		if n := s.Node; n != nil {
			cpu = fmt.Sprintf("%.0f%%", 100*n.Utilisation())
			perHold = fmt.Sprintf("%.0fµs", float64(s.CPUPerHold())/float64(time.Microsecond))
			commit, commitP99, batch = ms(n.CommitMean()), ms(n.CommitP99), fmt.Sprintf("%.1f", n.BatchMean())
		}
		ok := "ok"
		if !s.WithinSLO {
			ok = "BROKEN"
		}
		audit := ""
		if !s.AuditOK {
			audit = " AUDIT FAILED"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%s\t%s\t%.2f%%\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\t\n", s.Step, s.Clients, s.Resources, s.Throughput,
			ms(s.P50), ms(s.P99), 100*s.ErrorRate, s.Busy, cpu, perHold, commit, commitP99, batch, ok, joinLimits(s.Limits), audit)
	}
	tw.Flush()
	if len(r.Steps) > 0 {
		b.WriteString(r.Summary() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON writes durations as milliseconds and snake_case keys.
func (r *StressReport) MarshalJSON() ([]byte, error) {
	type nodeJSON struct {
		Utilisation  float64 `json:"cpu_utilisation"`
		CPUSeconds   float64 `json:"cpu_seconds"`
		Commits      float64 `json:"commits"`
		CommitMeanMs float64 `json:"commit_mean_ms"`
		CommitP99Ms  float64 `json:"commit_p99_ms"`
		BatchMean    float64 `json:"batch_mean"`
		Busy         float64 `json:"busy"`
		RateLimited  float64 `json:"rate_limited"`
		ConnRefused  float64 `json:"connections_refused"`
	}
	type stepJSON struct {
		Step        int       `json:"step"`
		Clients     int       `json:"clients"`
		Resources   int       `json:"resources"`
		Elapsed     float64   `json:"elapsed_seconds"`
		Holds       int64     `json:"holds"`
		Requests    int64     `json:"requests"`
		Errors      int64     `json:"errors"`
		Throughput  float64   `json:"holds_per_sec"`
		ErrorRate   float64   `json:"error_rate"`
		P50         float64   `json:"p50_ms"`
		P99         float64   `json:"p99_ms"`
		Busy        int64     `json:"status_429"`
		NoAnswer    int64     `json:"no_answer"`
		LoadgenCPU  float64   `json:"loadgen_cpu_seconds"`
		CPUPerHold  float64   `json:"cpu_per_hold_us,omitempty"`
		Node        *nodeJSON `json:"node,omitempty"`
		AuditOK     bool      `json:"audit_ok"`
		WithinSLO   bool      `json:"within_slo"`
		LimitsCross []Limit   `json:"limits"`
	}
	msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	steps := make([]stepJSON, len(r.Steps))
	for i, s := range r.Steps {
		j := stepJSON{s.Step, s.Clients, s.Resources, s.Elapsed.Seconds(), s.Holds, s.Requests, s.Errors, s.Throughput, s.ErrorRate,
			msf(s.P50), msf(s.P99), s.Busy, s.NoAnswer, s.LoadgenCPUSeconds, float64(s.CPUPerHold()) / float64(time.Microsecond), nil, s.AuditOK, s.WithinSLO, s.Limits}
		if n := s.Node; n != nil {
			j.Node = &nodeJSON{n.Utilisation(), n.CPUSeconds, n.Commits, msf(n.CommitMean()), msf(n.CommitP99), n.BatchMean(), n.Busy, n.RateLimited, n.ConnRefused}
		}
		steps[i] = j
	}
	v := r.Verdict
	return json.Marshal(struct {
		RunID          string     `json:"run_id"`
		Targets        []string   `json:"targets"`
		SLOP99         float64    `json:"slo_p99_ms"`
		MaxErrorRate   float64    `json:"max_error_rate"`
		NodeCores      int        `json:"node_cores"`
		Metrics        bool       `json:"metrics"`
		Started        time.Time  `json:"started"`
		Steps          []stepJSON `json:"steps"`
		Knee           int        `json:"knee_step"`
		Broke          int        `json:"broke_step"`
		BrokeBy        string     `json:"broke_by,omitempty"`
		FirstLimit     Limit      `json:"first_limit,omitempty"`
		FirstLimitStep int        `json:"first_limit_step"`
		AlsoCrossed    []Limit    `json:"also_crossed,omitempty"`
		Summary        string     `json:"summary"`
	}{r.RunID, r.Targets, msf(r.SLOP99), r.MaxErrorRate, r.NodeCores, r.Metrics, r.Started, steps,
		v.Knee, v.Broke, v.BrokeBy, v.FirstLimit, v.FirstLimitStep, v.AlsoCrossed, r.summaryOrEmpty()})
}

func (r *StressReport) summaryOrEmpty() string {
	if len(r.Steps) == 0 {
		return ""
	}
	return r.Summary()
}

// WriteJSONFile writes the report as indented JSON to path.
func (r *StressReport) WriteJSONFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
