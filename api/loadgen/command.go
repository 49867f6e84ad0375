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

// Command is `allot loadgen`: it parses args (flags only, see Config.RegisterFlags), runs the
// load with live progress on stderr, writes the text report to stdout and, with --json, the
// JSON report to that file, and returns the process exit status.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	rep, err := Run(ctx, cfg, stderr)
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
	case !rep.Audit.OK && !cfg.NoAudit:
		return ExitAuditFailed
	}
	return status
}
