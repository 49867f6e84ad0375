package cmd

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// targetCPUVsEmpty is issue 17's CPU target: the node's CPU per durable hold at most this
// many times the empty handler's CPU per request.
const targetCPUVsEmpty = 3.0

// wrkStat is the median and range over the completed runs of key.
func (r *wrkResult) stat(key string, f func(wrkRun) float64) stat {
	var xs []float64
	for _, run := range r.Runs[key] {
		if run.Err == nil {
			xs = append(xs, f(run))
		}
	}
	return statOf(xs)
}

func (r *wrkResult) reqs(key string) stat {
	return r.stat(key, func(w wrkRun) float64 { return w.ReqPerSec })
}

func (r *wrkResult) nodeUs(key string) stat {
	return r.stat(key, func(w wrkRun) float64 { return w.perReq(w.NodeCPU) })
}

// audit is the audit cell of a durable row.
func (r *wrkResult) audit(tg *wrkTarget) string {
	if !tg.Durable {
		return "n/a (stores nothing)"
	}
	ok, n := 0, 0
	var notes []string
	for _, run := range r.Runs[tg.Key] {
		if run.Err != nil {
			continue
		}
		n++
		if run.AuditOK {
			ok++
		} else {
			notes = append(notes, run.AuditNote)
		}
	}
	if ok == n && n > 0 {
		return fmt.Sprintf("OK %d/%d, 0 oversold", ok, n)
	}
	return fmt.Sprintf("**FAILED %d of %d**: %s", n-ok, n, strings.Join(notes, "; "))
}

// writeWrkTargets adds the wrk rows to the summary's table of targets.
func (b *bench) writeWrkTargets(w *strings.Builder) {
	r := b.wrk
	e, pg, sq := r.reqs("empty"), r.reqs("pg"), r.reqs("sqlite")
	if e.N == 0 || pg.N == 0 {
		return
	}
	fmt.Fprintf(w, "| wrk: Allot durable hold on PostgreSQL ≥ %.0f%% of the empty handler, %d connections | %.0f%% (%s of %s req/s) | %s |\n",
		100*targetVsEmpty, wrkConns, 100*pg.Med/max(e.Med, 1), num(pg.Med), num(e.Med), yesNo(pg.Med >= targetVsEmpty*e.Med))
	if sq.N > 0 {
		fmt.Fprintf(w, "| wrk: embedded SQLite ≥ PostgreSQL (durable holds/s) | %s vs %s req/s (%.2f×) | %s |\n",
			num(sq.Med), num(pg.Med), sq.Med/max(pg.Med, 1), yesNo(sq.Med >= pg.Med))
	}
	audited, ok := 0, 0
	for _, tg := range r.Targets {
		for _, run := range r.Runs[tg.Key] {
			if tg.Durable && run.Err == nil {
				audited++
				if run.AuditOK {
					ok++
				}
			}
		}
	}
	fmt.Fprintf(w, "| wrk: zero oversell (the node's holds after every durable run against stock and 201s) | %d of %d audited runs OK | %s |\n",
		ok, audited, yesNo(audited > 0 && ok == audited))
	ec, pc := r.nodeUs("empty"), r.nodeUs("pg")
	fmt.Fprintf(w, "| wrk: node CPU per durable hold (PostgreSQL) ≤ %.0f× the empty handler's per request | %.0f vs %.0f µs (%.1f×) | %s |\n",
		targetCPUVsEmpty, pc.Med, ec.Med, pc.Med/max(ec.Med, 1), yesNo(pc.Med <= targetCPUVsEmpty*ec.Med))
}

// writeWrk writes the wrk section.
func (b *bench) writeWrk(w *strings.Builder) {
	r := b.wrk
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## 9. The same paths driven by wrk\n\n")
	p("An outside load generator (%s, C, %d threads, %d keep-alive connections, %s per run, %d runs per row interleaved "+
		"like section 1) against fresh servers: the empty handler, and two Allot nodes (PostgreSQL; embedded SQLite, which "+
		"also serves the availability and sold-out rows). Authentication on: every request carries a bearer token; every "+
		"POST sends the hold JSON (`%s`) with its own `Idempotency-Key` (the script `bin/bench/wrk.lua`). req/s counts "+
		"answers with the expected status only. CPU per request is the process's user+system time from "+
		"`/proc/PID/stat` over the whole wrk run ÷ the answers wrk read; wrk's own is its rusage. The durable rows are "+
		"audited after every run: the node's availability of the resource against its stock (never more held) and "+
		"against the `201`s wrk read (every acknowledged hold held).\n\n",
		orQ(r.Version), wrkThreads, wrkConns, b.cfg.Duration, b.cfg.Runs, wrkHoldBody)
	p("| path | expected | req/s (median) | range | p50 / p99 ms | node CPU µs/req | database µs/req | wrk µs/req | cores: node / db / wrk / machine | other answers | audit |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n")
	emptyUs := r.nodeUs("empty").Med
	for _, tg := range r.Targets {
		runs := r.Runs[tg.Key]
		rq := r.reqs(tg.Key)
		if rq.N == 0 {
			p("| %s | %d | **failed** | | | | | | | | %v |\n", tg.Label, tg.Expect, firstErr(runs))
			continue
		}
		cores := func(f func(wrkRun) time.Duration) float64 {
			return r.stat(tg.Key, func(w wrkRun) float64 { return f(w).Seconds() / max(w.Seconds, 1e-9) }).Med
		}
		lat := func(f func(wrkRun) time.Duration) float64 {
			return r.stat(tg.Key, func(w wrkRun) float64 { return float64(f(w)) / float64(time.Millisecond) }).Med
		}
		other := map[string]int64{}
		var sockErr int64
		for _, run := range runs {
			for s, n := range run.OtherStatusCodes {
				other[s] += n
			}
			sockErr += run.SocketErrors
		}
		var os []string
		for _, s := range sortedKeysOf(other) {
			os = append(os, fmt.Sprintf("%s×%d", s, other[s]))
		}
		if sockErr > 0 {
			os = append(os, fmt.Sprintf("%d socket errors", sockErr))
		}
		if len(os) == 0 {
			os = []string{"none"}
		}
		nodeUs := r.nodeUs(tg.Key).Med
		ratio := ""
		if tg.Key != "empty" && emptyUs > 0 {
			ratio = fmt.Sprintf(" (%.1f×)", nodeUs/emptyUs)
		}
		p("| %s | %d | **%s** | %s | %s / %s | **%.0f**%s | %.0f | %.0f | %.2f / %.2f / %.2f / %.2f | %s | %s |\n",
			tg.Label, tg.Expect, num(rq.Med), rangeOf(rq, num), ms(lat(func(w wrkRun) time.Duration { return w.P50 })),
			ms(lat(func(w wrkRun) time.Duration { return w.P99 })), nodeUs, ratio,
			r.stat(tg.Key, func(w wrkRun) float64 { return w.perReq(w.DBCPU) }).Med,
			r.stat(tg.Key, func(w wrkRun) float64 { return w.perReq(w.WrkCPU) }).Med,
			cores(func(w wrkRun) time.Duration { return w.NodeCPU }), cores(func(w wrkRun) time.Duration { return w.DBCPU }),
			cores(func(w wrkRun) time.Duration { return w.WrkCPU }), cores(func(w wrkRun) time.Duration { return w.MachineCPU }),
			strings.Join(os, ", "), r.audit(tg))
	}
	if e := r.reqs("empty"); e.N > 0 {
		p("\nShare of the empty handler's req/s, same run: ")
		var parts []string
		for _, tg := range r.Targets[1:] {
			if s := r.reqs(tg.Key); s.N > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", strings.TrimPrefix(tg.Label, "Allot "), 100*s.Med/e.Med))
			}
		}
		p("%s. The CPU ratio in parentheses is the node's CPU per request against the empty handler's (target for the "+
			"durable hold ≤ %.0f×).\n", strings.Join(parts, "; "), targetCPUVsEmpty)
	}
	if bound, _, ok := r.backendBound("pg"); ok {
		p("\nThe durable PostgreSQL row's commit loop, medians over its runs (measured around each run, "+
			"`cmd/bench_wrk_backend_test.go`): %s.\n", bound)
	}
	p("\n```sh\n%s\n```\n\n", r.Command)
}

func firstErr(runs []wrkRun) error {
	for _, r := range runs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

func sortedKeysOf(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) }

func TestParseWrk(t *testing.T) {
	out := "Running 4s test @ http://127.0.0.1:1\n" +
		`WRKJSON {"requests":1000,"duration_us":4000000,"expected":990,"created":990,"socket_errors":2,"p50_us":1500,"p99_us":9000,"other":{"503":10}}` + "\n"
	var r wrkRun
	if err := parseWrk(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests != 1000 || r.Expected != 990 || r.Created != 990 || r.SocketErrors != 2 || r.ReqPerSec != 247.5 ||
		r.P99 != 9*time.Millisecond || r.OtherStatusCodes["503"] != 10 {
		t.Fatalf("parsed %+v", r)
	}
	if err := parseWrk("Running 4s test\n", &r); err == nil {
		t.Fatal("no WRKJSON line: want an error")
	}
}
