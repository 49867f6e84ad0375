package loadgen

import (
	"bytes"
	"testing"
	"time"
)

// TestProgressLines: the rate of a line is over the time since the previous line; a terminal
// gets one rewritten line, anything else one plain line per tick.
func TestProgressLines(t *testing.T) {
	t0 := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	r := &runner{cfg: Config{Stock: 100}, flashID: "f"}
	var w bytes.Buffer
	p := &progress{w: &w, r: r, start: t0}
	r.ops.Store(1000)
	r.holds.Store(500)
	r.sold.Store(40)
	p.tick(t0.Add(10 * time.Second))
	r.ops.Store(1500)
	r.holds.Store(600)
	r.errs.Store(2)
	p.tick(t0.Add(20 * time.Second))
	p.end()
	want := "loadgen:     10s      100 ops/s       50 holds/s  errors 0  retries 0  sold 40/100\n" +
		"loadgen:     20s       50 ops/s       10 holds/s  errors 2  retries 0  sold 40/100\n"
	if w.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", w.String(), want)
	}

	w.Reset()
	live := &progress{w: &w, live: true, r: &runner{}, start: t0}
	live.tick(t0.Add(time.Second))
	live.end()
	if want := "\r\033[K     1s        0 ops/s        0 holds/s  errors 0  retries 0\n"; w.String() != want {
		t.Fatalf("live: got %q, want %q", w.String(), want)
	}
}
