package loadgen

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// startProgress prints a live progress line to w every second while the load runs, when w is
// a terminal and !quiet. The returned stop ends it (and the line) and is safe to call twice.
func startProgress(w io.Writer, quiet bool, r *runner) (stop func()) {
	if quiet || !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		lastOps, lastHolds := int64(0), int64(0)
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-t.C:
			}
			ops, holds := r.ops.Load(), r.holds.Load()
			line := fmt.Sprintf("%6.0fs  %7d ops/s  %7d holds/s  errors %d  retries %d",
				time.Since(start).Seconds(), ops-lastOps, holds-lastHolds, r.errs.Load(), r.retries.Load())
			if r.flashID != "" {
				line += fmt.Sprintf("  sold %d/%d", r.sold.Load(), r.cfg.Stock)
			}
			fmt.Fprintf(w, "\r\033[K%s", line)
			lastOps, lastHolds = ops, holds
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
