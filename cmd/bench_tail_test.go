package cmd

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Where a run's tail is: the node's own view of the hold requests (allot_http_request_seconds
// of the hold route, from the gin middleware's start to the reply written) against the load
// generator's, and the commits' latency quantiles (allot_commit_seconds). A client-side p99
// well above the node's share of holds answered within 50 ms is time outside the node's
// handler: the load generator, the kernel, net/http's read of the request.

// holdRoute is the hold placement's route label (gin's FullPath, api/server.go).
const holdRoute = `route="/v1/resources/:rid/holds"`

// nodeTail is one scrape of a node's cumulative histograms, by upper bound in seconds.
type nodeTail struct {
	holds   map[float64]float64 // hold requests answered within le
	commits map[float64]float64 // commits that took at most le
}

// scrapeTail reads the hold route's and the commits' histogram buckets from a node's /metrics.
func scrapeTail(ctx context.Context, url string) (nodeTail, error) {
	t := nodeTail{holds: map[float64]float64{}, commits: map[float64]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return t, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var into map[float64]float64
		switch {
		case strings.HasPrefix(line, "allot_http_request_seconds_bucket{") && strings.Contains(line, holdRoute):
			into = t.holds
		case strings.HasPrefix(line, "allot_commit_seconds_bucket{"):
			into = t.commits
		default:
			continue
		}
		le, ok := labelValue(line, "le")
		f := strings.Fields(line)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if !ok || err != nil {
			continue
		}
		bound := math.Inf(1)
		if le != "+Inf" {
			if bound, err = strconv.ParseFloat(le, 64); err != nil {
				continue
			}
		}
		into[bound] += n
	}
	return t, sc.Err()
}

// labelValue returns the value of label name in a Prometheus text line.
func labelValue(line, name string) (string, bool) {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return "", false
	}
	v, _, ok := strings.Cut(rest, `"`)
	return v, ok
}

// finite is x, or 0 for NaN (results.json cannot hold a NaN; 0 reads as not measured).
func finite(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

// add sums two scrapes (the nodes of one system).
func (t nodeTail) add(o nodeTail) nodeTail {
	sum := nodeTail{holds: map[float64]float64{}, commits: map[float64]float64{}}
	for _, s := range []nodeTail{t, o} {
		for le, n := range s.holds {
			sum.holds[le] += n
		}
		for le, n := range s.commits {
			sum.commits[le] += n
		}
	}
	return sum
}

// within is the share of the hold requests between scrapes a and b that the node answered
// within bound seconds (a bucket bound of api/metrics.go), or NaN without requests.
func within(a, b map[float64]float64, bound float64) float64 {
	total := b[math.Inf(1)] - a[math.Inf(1)]
	if total <= 0 {
		return math.NaN()
	}
	return (b[bound] - a[bound]) / total
}

// writeTailWhere says, for (a) at each client count, how much of the client-side p99 the
// node's own handling explains (section 1).
func (b *bench) writeTailWhere(w *strings.Builder) {
	for _, c := range b.cfg.Clients {
		a := b.seriesOf("allot-pg", c)
		if a == nil {
			continue
		}
		in50 := a.stat(func(r benchRun) float64 { return r.NodeWithin50 })
		cp99 := a.stat(func(r benchRun) float64 { return r.CommitP99Ms })
		if in50.N == 0 || in50.Med == 0 || cp99.Med == 0 {
			continue
		}
		fmt.Fprintf(w, "- Where (a)'s tail is, %d clients: the node answered %.1f%% of the holds within 50 ms by its own clock "+
			"(`allot_http_request_seconds`, medians of the runs; client-side p99 %.1f ms); its commits' p99 was %.1f ms (`allot_commit_seconds`). "+
			"A hold waits for the commit in flight and then for its own (docs/PERFORMANCE.md, Round 5).\n",
			c, 100*in50.Med, a.p99().Med, cp99.Med)
		if n, runs := walCreated(a.Runs); runs > 0 {
			fmt.Fprintf(w, "- WAL segments PostgreSQL created during (a)'s runs at %d clients: %d in %d runs where it is known "+
				"(each a 16 MB file zero-filled and fsynced inside the commit that crossed into it; the bench warms the WAL first, bench_walwarm_test.go).\n",
				c, n, runs)
		}
	}
}

// walCreated sums the WAL segments created over the runs where it is known, and counts them.
func walCreated(rs []benchRun) (created, runs int) {
	for _, r := range rs {
		if r.WALSegments >= 0 && r.Holds > 0 {
			created += r.WALSegments
			runs++
		}
	}
	return created, runs
}

// tailOutsideNode explains a client-side p99 over the target by time outside the handler: the
// node itself answered at least 99% of the holds within the target by its own clock (so its
// own p99 is under it), and the cores the load generator shares with it were saturated (the
// rest of the client's latency is the load generator, the kernel and the client side of the
// loopback connections waiting for those cores). Both must hold; otherwise the tail is (also)
// the node's and nothing is explained.
func (b *bench) tailOutsideNode(a *benchSeries, c cpuCheck) (string, bool) {
	in := a.stat(func(r benchRun) float64 { return r.NodeWithin50 })
	if in.N == 0 || in.Med < 0.99 || !c.saturated() {
		return "", false
	}
	lg := a.stat(func(r benchRun) float64 { return r.LoadgenCores })
	return fmt.Sprintf("; the node itself answered %.1f%% of the holds within %d ms (its own p99 is under the target; medians of the runs), "+
		"so the rest of the client-side tail is outside the handler: a request waiting for a core before the node reads it and after it writes the reply, "+
		"and the load generator's own time, on saturated cores the load generator (%.2f cores) shares with the node: "+
		"**bound by the shared machine** (the client runs on the server's cores)", 100*in.Med, targetP99.Milliseconds(), lg.Med), true
}
