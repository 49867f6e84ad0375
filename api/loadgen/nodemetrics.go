package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// nodeCounters are the counters of one or more nodes' /metrics that the stress scenario
// reads at each step's start and end (NodeUsage is their difference).
type nodeCounters struct {
	CPUSeconds, Commits, CommitSeconds, BatchedCommands, Busy, RateLimited, ConnRefused float64
	// CommitBuckets is allot_commit_seconds_bucket: cumulative commits by upper bound (le,
	// in seconds; +Inf included).
	CommitBuckets map[float64]float64
}

func (c nodeCounters) add(o nodeCounters) nodeCounters {
	sum := nodeCounters{c.CPUSeconds + o.CPUSeconds, c.Commits + o.Commits, c.CommitSeconds + o.CommitSeconds,
		c.BatchedCommands + o.BatchedCommands, c.Busy + o.Busy, c.RateLimited + o.RateLimited, c.ConnRefused + o.ConnRefused, nil}
	for _, b := range []map[float64]float64{c.CommitBuckets, o.CommitBuckets} {
		for le, n := range b {
			if sum.CommitBuckets == nil {
				sum.CommitBuckets = map[float64]float64{}
			}
			sum.CommitBuckets[le] += n
		}
	}
	return sum
}

// QuantileBetween is the q quantile, in the histogram's unit, of the observations between two
// scrapes a and b of one cumulative Prometheus histogram (upper bound → count, +Inf
// included), interpolated linearly inside its bucket as Prometheus's histogram_quantile does:
// 0 without observations, the largest finite bound when the quantile lies beyond it.
func QuantileBetween(a, b map[float64]float64, q float64) float64 {
	les := make([]float64, 0, len(b))
	for le := range b {
		les = append(les, le)
	}
	slices.Sort(les)
	if len(les) == 0 {
		return 0
	}
	total := b[les[len(les)-1]] - a[les[len(les)-1]]
	if total <= 0 {
		return 0
	}
	rank := q * total
	prevLe, prevN := 0.0, 0.0
	for _, le := range les {
		n := b[le] - a[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return prevLe
			}
			if n > prevN {
				return prevLe + (le-prevLe)*(rank-prevN)/(n-prevN)
			}
			return le
		}
		prevLe, prevN = le, n
	}
	return 0
}

// quantileBetween is QuantileBetween of the commits' histogram (seconds) as a duration.
func quantileBetween(a, b map[float64]float64, q float64) time.Duration {
	return time.Duration(QuantileBetween(a, b, q) * float64(time.Second))
}

// usageBetween is the usage of a step that started at a and ended at b, over seconds on
// nodes of cores cores together.
func usageBetween(a, b nodeCounters, seconds, cores float64) NodeUsage {
	return NodeUsage{
		Cores: cores, Seconds: seconds,
		CPUSeconds: b.CPUSeconds - a.CPUSeconds, Commits: b.Commits - a.Commits, CommitSeconds: b.CommitSeconds - a.CommitSeconds,
		BatchedCommands: b.BatchedCommands - a.BatchedCommands, Busy: b.Busy - a.Busy,
		RateLimited: b.RateLimited - a.RateLimited, ConnRefused: b.ConnRefused - a.ConnRefused,
		CommitP99: quantileBetween(a.CommitBuckets, b.CommitBuckets, 0.99),
	}
}

// parseNodeCounters reads the counters from a Prometheus text exposition. Series of a
// counter with labels are summed, except allot_rejections_total, of which only reason="busy"
// counts. A counter the node does not export (no rate limiter, no store commits yet) is 0.
func parseNodeCounters(r io.Reader) (nodeCounters, error) {
	var c nodeCounters
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces, the value follows the
		// last '}' when there are labels.
		series, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], line[i+1:]
		} else if j := strings.IndexByte(line, ' '); j >= 0 {
			series, rest = line[:j], line[j:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(series, "{")
		switch name {
		case "process_cpu_seconds_total":
			c.CPUSeconds += v
		case "allot_commit_seconds_bucket":
			i := strings.Index(labels, `le="`)
			if i < 0 {
				continue
			}
			bound, _, _ := strings.Cut(labels[i+4:], `"`)
			le, err := strconv.ParseFloat(bound, 64)
			if err != nil {
				continue
			}
			if c.CommitBuckets == nil {
				c.CommitBuckets = map[float64]float64{}
			}
			c.CommitBuckets[le] += v
		case "allot_commit_seconds_count":
			c.Commits += v
		case "allot_commit_seconds_sum":
			c.CommitSeconds += v
		case "allot_batch_size_sum":
			c.BatchedCommands += v
		case "allot_rejections_total":
			if strings.Contains(labels, `reason="busy"`) {
				c.Busy += v
			}
		case "allot_ratelimit_refused_total":
			c.RateLimited += v
		case "allot_http_connections_refused_total":
			c.ConnRefused += v
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read metrics: %w", err)
	}
	return c, nil
}

// scrapeNodes reads the counters of every url and sums them.
func scrapeNodes(ctx context.Context, hc *http.Client, urls []string) (nodeCounters, error) {
	var sum nodeCounters
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return sum, fmt.Errorf("metrics %s: %w", u, err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return sum, fmt.Errorf("metrics: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return sum, fmt.Errorf("metrics %s: %s", u, resp.Status)
		}
		c, err := parseNodeCounters(resp.Body)
		resp.Body.Close()
		if err != nil {
			return sum, fmt.Errorf("metrics %s: %w", u, err)
		}
		sum = sum.add(c)
	}
	return sum, nil
}
