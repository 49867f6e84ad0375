package cmd

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"github.com/allot/allot/api/loadgen"
)

// stressSVG draws the stress curve of rep: throughput (left axis) and hold p99 (right axis)
// against the offered clients (log scale, one tick per step), the SLO and the knee. It is
// hand-written SVG: no plotting dependency for one chart.
func stressSVG(title string, rep *loadgen.StressReport) string {
	const (
		w, h                     = 760, 420
		left, right, top, bottom = 80, 80, 50, 60
		pw, ph                   = w - left - right, h - top - bottom
	)
	steps := rep.Steps
	lo, hi := math.Log2(float64(steps[0].Clients)), math.Log2(float64(steps[len(steps)-1].Clients))
	if hi <= lo {
		lo, hi = lo-1, hi+1
	}
	x := func(clients int) float64 { return left + (math.Log2(float64(clients))-lo)/(hi-lo)*pw }
	maxT, maxP := 1.0, float64(rep.SLOP99)/float64(time.Millisecond)
	for _, s := range steps {
		maxT = max(maxT, s.Throughput)
		maxP = max(maxP, float64(s.P99)/float64(time.Millisecond))
	}
	maxT, maxP = niceCeil(maxT*1.05), niceCeil(maxP*1.05)
	yT := func(v float64) float64 { return top + ph - v/maxT*ph }
	yP := func(v float64) float64 { return top + ph - v/maxP*ph }

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	p(`<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	p(`<text x="%d" y="24" font-size="15" text-anchor="middle">%s</text>`+"\n", w/2, html.EscapeString("Stress curve: "+title))
	// Axes and grid.
	p(`<g stroke="#999" stroke-width="1"><line x1="%d" y1="%d" x2="%d" y2="%d"/><line x1="%d" y1="%d" x2="%d" y2="%d"/><line x1="%d" y1="%d" x2="%d" y2="%d"/></g>`+"\n",
		left, top, left, top+ph, left, top+ph, left+pw, top+ph, left+pw, top, left+pw, top+ph)
	for i := 0; i <= 5; i++ {
		fy := top + ph - float64(i)/5*ph
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", left, fy, left+pw, fy)
		p(`<text x="%d" y="%.1f" text-anchor="end" fill="#1f5fbf">%s</text>`+"\n", left-6, fy+4, num(maxT*float64(i)/5))
		p(`<text x="%d" y="%.1f" fill="#c0392b">%.0f</text>`+"\n", left+pw+6, fy+4, maxP*float64(i)/5)
	}
	for _, s := range steps {
		p(`<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(s.Clients), top+ph+18, s.Clients)
	}
	p(`<text x="%d" y="%d" text-anchor="middle">offered load: closed-loop clients without think time (log scale)</text>`+"\n", left+pw/2, h-14)
	p(`<text transform="translate(18 %d) rotate(-90)" text-anchor="middle" fill="#1f5fbf">throughput (acknowledged holds/s)</text>`+"\n", top+ph/2)
	p(`<text transform="translate(%d %d) rotate(90)" text-anchor="middle" fill="#c0392b">hold p99 latency (ms)</text>`+"\n", w-18, top+ph/2)
	// The SLO and the knee.
	slo := float64(rep.SLOP99) / float64(time.Millisecond)
	p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c0392b" stroke-dasharray="2 4"/>`+"\n", left, yP(slo), left+pw, yP(slo))
	p(`<text x="%d" y="%.1f" fill="#c0392b">SLO p99 %.0f ms</text>`+"\n", left+6, yP(slo)-5, slo)
	if k := rep.KneeStep(); k != nil {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="6 4"/>`+"\n", x(k.Clients), top, x(k.Clients), top+ph)
		p(`<text x="%.1f" y="%d" fill="#555">knee: %s holds/s at %d clients</text>`+"\n", x(k.Clients)+5, top+14, num(k.Throughput), k.Clients)
	}
	// The two series.
	var tp, pp []string
	for _, s := range steps {
		tp = append(tp, fmt.Sprintf("%.1f,%.1f", x(s.Clients), yT(s.Throughput)))
		pp = append(pp, fmt.Sprintf("%.1f,%.1f", x(s.Clients), yP(float64(s.P99)/float64(time.Millisecond))))
	}
	p(`<polyline points="%s" fill="none" stroke="#1f5fbf" stroke-width="2"/>`+"\n", strings.Join(tp, " "))
	p(`<polyline points="%s" fill="none" stroke="#c0392b" stroke-width="2" stroke-dasharray="7 4"/>`+"\n", strings.Join(pp, " "))
	for _, s := range steps {
		p(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="#1f5fbf"/>`+"\n", x(s.Clients), yT(s.Throughput))
		py := yP(float64(s.P99) / float64(time.Millisecond))
		p(`<rect x="%.1f" y="%.1f" width="7" height="7" fill="#c0392b"/>`+"\n", x(s.Clients)-3.5, py-3.5)
	}
	// Legend.
	p(`<g transform="translate(%d %d)"><line x1="0" y1="0" x2="24" y2="0" stroke="#1f5fbf" stroke-width="2"/><text x="30" y="4">throughput</text>`+
		`<line x1="120" y1="0" x2="144" y2="0" stroke="#c0392b" stroke-width="2" stroke-dasharray="7 4"/><text x="150" y="4">p99</text></g>`+"\n", left+pw-230, top-10)
	p("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}
