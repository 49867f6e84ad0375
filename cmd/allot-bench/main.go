// Command allot-bench holds what only benchmarks need, apart from the allot binary operators
// deploy: the competitors Allot is measured against. `allot-bench baseline --kind classic`
// serves the classic SELECT ... FOR UPDATE design on PostgreSQL, `--kind redis` a Redis + Lua
// design, `--kind empty` an empty gin handler (the HTTP ceiling). `make bench` builds it next
// to bin/allot; see docs/BENCHMARKS.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/allot/allot/api/baseline"
)

const usage = `allot-bench: the competitors Allot's benchmarks measure it against (not for production).

Usage:
  allot-bench baseline [flags]   serve a comparison design (classic SQL, Redis, empty) until SIGINT/SIGTERM
  allot-bench help               show this text

Run "allot-bench baseline --help" for its flags. The load generator is "allot loadgen".
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the command line args (without the program name) until ctx is done and
// returns the exit code: 0, 1 when a command fails, 2 for a usage error.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "baseline":
		return baseline.Command(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "allot-bench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
