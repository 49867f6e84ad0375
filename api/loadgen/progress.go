package loadgen

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// startProgress reports the load's progress on w until the returned stop is called (safe
// twice): on a terminal one live line rewritten every second, otherwise one line every
// cfg.ProgressEvery (a log or CI keeps a readable trace). Nothing with cfg.Quiet.
func startProgress(w io.Writer, cfg *Config, r *runner) (stop func()) {
	if cfg.Quiet || w == nil {
		return func() {}
	}
	live := isTerminal(w)
	every := cfg.ProgressEvery
	if live {
		every = time.Second
	}
	t := time.NewTicker(every)
	p := &progress{w: w, live: live, r: r, start: time.Now()}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer t.Stop()
		for {
			select {
			case <-done:
				p.end()
				return
			case now := <-t.C:
				p.tick(now)
			}
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

// progress prints the progress lines of one run. It is used by one goroutine.
type progress struct {
	w     io.Writer
	live  bool // a terminal: rewrite one line
	r     *runner
	start time.Time

	last             time.Time
	lastOps, lastHol int64
}

// tick prints the line for now: rates since the previous tick.
func (p *progress) tick(now time.Time) {
	since := p.last
	if since.IsZero() {
		since = p.start
	}
	secs := now.Sub(since).Seconds()
	if secs <= 0 {
		return
	}
	r := p.r
	ops, holds := r.ops.Load(), r.holds.Load()
	line := fmt.Sprintf("%6.0fs  %7.0f ops/s  %7.0f holds/s  errors %d  retries %d",
		now.Sub(p.start).Seconds(), float64(ops-p.lastOps)/secs, float64(holds-p.lastHol)/secs, r.errs.Load(), r.retries.Load())
	if r.flashID != "" {
		line += fmt.Sprintf("  sold %d/%d", r.sold.Load(), r.cfg.Stock)
	}
	if p.live {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintf(p.w, "loadgen: %s\n", line)
	}
	p.last, p.lastOps, p.lastHol = now, ops, holds
}

// end finishes the live line.
func (p *progress) end() {
	if p.live {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
