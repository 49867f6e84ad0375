package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Exit statuses of Command.
const (
	ExitOK          = 0 // the run finished and the audit found no problem (or --no-audit)
	ExitAuditFailed = 1 // the audit found a problem (or was skipped)
	ExitUsage       = 2 // bad flags or config
	ExitFailed      = 3 // the run could not be done (setup failed, cancelled, report unwritable)
)

// usage is the text of `allot loadgen --help`, before the flags.
const usage = `Usage: allot loadgen [flags]

Drives one or more Allot nodes with simulated mobile clients (closed loop: each waits for its
answer, then --think, before its next request), then audits what the nodes (and with --db-url
the database) hold against what the clients were told: nothing oversold, every acknowledged
hold still there. Every run creates its own resources, <resource-prefix>-<run-id>-..., so
runs never mix; a request answered 429 or 503, or lost in transport, is retried with the
same Idempotency-Key.

Scenarios (--scenario):
  flash-sale  every client holds one unit of one hot resource of --stock units, then confirms
              it (or cancels, --cancel-ratio of them), until it is answered sold_out; the run
              ends when every client was, or at --duration or --requests.
  hotel       --resources hotels with --days nightly buckets of --rooms rooms each; a client
              holds 1..--nights consecutive nights of a random hotel, then confirms or cancels.
  browse      clients read the availability of random hotels.
  mixed       15% flash-sale sessions (while the stock lasts), 35% hotel sessions, 50% reads.
  stress      the breaking point: hold-only clients on one hot resource (hotel holds over
              --stress-resources growing by --stress-resources-step per step, if set), ramped
              from --stress-start clients by +--stress-step or x--stress-growth per step of
              --stress-step-duration (after an unreported --stress-warmup) until a step's
              hold p99 passes --slo-p99 or its errors pass --max-error-rate (or until
              --stress-max-clients). It reports each step, the knee
              (the highest throughput within the SLO) and the first limit of the node crossed
              (connections, rate-limit, mailbox, cpu, commit-latency), read from the nodes'
              --metrics (their admin listener). Run the node with --rate-limits off (or load
              budgets), or the curve measures the rate limits. --progress prints each step.
  hotel, browse and mixed need --duration or --requests. --hold-only ends every session with
  its hold (the workload of the benchmark baselines, which have no confirm or cancel).

Output: progress on stderr (a live line on a terminal, otherwise a line every
--progress-every; none with --quiet), the report on stdout, with --json also as JSON.
Exit status: 0 the audit found nothing (or --no-audit), 1 it found a problem, 2 bad flags,
3 the run could not be done (the target is not an Allot node, setup failed, interrupted).

Examples:
  allot loadgen --target http://127.0.0.1:8080
  allot loadgen --target http://10.0.0.1:8080,http://10.0.0.2:8080 --scenario mixed \
      --clients 256 --duration 2m --json report.json
  allot loadgen --scenario flash-sale --stock 100000 --clients 512 --hold-only
  allot loadgen --scenario hotel --duration 1m --db-url postgresql://allot@db:26257/allot
  allot loadgen --scenario stress --progress --metrics http://127.0.0.1:9090/metrics

Flags:
`

// Command is `allot loadgen`: it parses args (flags only, see Config.RegisterFlags), runs the
// load with live progress on stderr, writes the text report to stdout and, with --json, the
// JSON report to that file, and returns the process exit status.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return ExitUsage
	}
	var rep report
	var err error
	if cfg.Scenario == ScenarioStress {
		r, e := RunStress(ctx, cfg, stderr)
		if r != nil {
			rep = r
		}
		err = e
	} else {
		r, e := Run(ctx, cfg, stderr)
		if r != nil {
			rep = r
		}
		err = e
	}
	if errors.Is(err, ErrInvalidConfig) {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return ExitUsage
	}
	status := ExitOK
	if rep != nil {
		if werr := rep.WriteText(stdout); werr != nil {
			fmt.Fprintf(stderr, "loadgen: write report: %v\n", werr)
			status = ExitFailed
		}
		if cfg.JSONPath != "" {
			if werr := rep.WriteJSONFile(cfg.JSONPath); werr != nil {
				fmt.Fprintf(stderr, "loadgen: %v\n", werr)
				status = ExitFailed
			}
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return ExitFailed
	case !rep.AuditOK() && !cfg.NoAudit:
		return ExitAuditFailed
	}
	return status
}

// report is what Command writes and judges: a run's Report or a stress ramp's StressReport
// (whose audit is every step's).
type report interface {
	WriteText(io.Writer) error
	WriteJSONFile(path string) error
	AuditOK() bool
}
