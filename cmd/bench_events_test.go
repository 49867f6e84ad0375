package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/allot/allot/cluster/clustertest"
)

// The events section (issue 12): what the event stream costs the hot resource. Two embedded
// SQLite nodes take the same flash-sale load in interleaved rounds: one with events on (every
// commit writes its outbox rows, the relay publishes them to the embedded JetStream, and the
// webhook dispatcher delivers hold.placed to a receiver in this process), one with
// --events off. The receiver verifies every signature and timestamps every arrival.

// targetEventsRatio is issue 12's target: holds/s with events and a webhook consumer on
// stays within 10% of events off.
const targetEventsRatio = 0.90

// eventsClients is the client count of the events section.
const eventsClients = 64

// eventsDrainLimit bounds the wait, after an events-on run, for the webhook deliveries of its
// holds: the next run starts on a quiet machine, and what did not arrive is reported.
const eventsDrainLimit = 60 * time.Second

// eventsRunDuration caps the section's timed runs (ALLOT_BENCH_DURATION, if shorter, wins):
// every acknowledged hold is then delivered before the next run, and the webhook backlog of a
// longer run would cost `make bench` minutes of draining.
const eventsRunDuration = 5 * time.Second

// eventsDuration is the section's run duration: ALLOT_BENCH_EVENTS_DURATION when set (a
// sustained run, so that a burst's ratio, whose pipeline work may still be queued when the
// load stops, does not hide what a load that outlasts it costs), else d capped at
// eventsRunDuration.
func eventsDuration(t *testing.T, d time.Duration) time.Duration {
	v := os.Getenv("ALLOT_BENCH_EVENTS_DURATION")
	if v == "" {
		return min(d, eventsRunDuration)
	}
	ed, err := time.ParseDuration(v)
	if err != nil || ed < 3*time.Second {
		t.Fatalf("ALLOT_BENCH_EVENTS_DURATION %q: want a duration of at least 3s", v)
	}
	return ed
}

// drainLimit is eventsDrainLimit, or twice a longer run's duration.
func drainLimit(run time.Duration) time.Duration { return max(eventsDrainLimit, 2*run) }

// eventsResult is what the events section measured.
type eventsResult struct {
	Store    string // "embedded SQLite", "PostgreSQL"
	On, Off  *benchSeries
	Duration time.Duration // of each timed run
	Rounds   []eventsRound
	// Delays are the commit→delivery delays of every first delivery of every round.
	Delays []time.Duration
	// BadSignatures counts deliveries whose Standard Webhooks signature did not verify.
	BadSignatures int64
	// Duplicates counts deliveries of a webhook-id already received (at least once).
	Duplicates int64
}

// eventsRound is one events-on run's deliveries.
type eventsRound struct {
	Holds       int64         // holds the load generator saw acknowledged
	Delivered   int64         // distinct hold.placed deliveries of the run's resource
	AtRunEnd    int64         // of which arrived by the end of the run (the load and its audit)
	Drain       time.Duration // from the end of the run to the last delivery (or the limit)
	P50, P99    time.Duration
	DrainMissed bool // not every hold was delivered within eventsDrainLimit
}

func (r eventsResult) delay(q float64) time.Duration { return quantile(r.Delays, q) }

func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// ratio is the median of events-on holds/s over the median of events-off holds/s.
func (r eventsResult) ratio() float64 {
	if off := r.Off.holds().Med; off > 0 {
		return r.On.holds().Med / off
	}
	return 0
}

// webhookReceiver is the partner's endpoint: it verifies each delivery's signature and
// records, per resource, the delay from the event's timestamp to the delivery's arrival.
type webhookReceiver struct {
	srv *httptest.Server
	now func() time.Time // arrival times

	mu     sync.Mutex
	wh     *standardwebhooks.Webhook
	seen   map[string]bool            // webhook-id
	delays map[string][]time.Duration // resource id -> delays of first deliveries
	last   map[string]time.Time       // resource id -> last first delivery
	bad    int64                      // signatures that did not verify, bodies that did not parse
	dups   int64                      // repeated webhook-ids
	more   chan struct{}              // a delivery arrived (capacity 1)
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{now: time.Now, seen: map[string]bool{}, delays: map[string][]time.Duration{}, last: map[string]time.Time{}, more: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// setSecret arms the signature check with the endpoint's secret (returned once at creation).
func (r *webhookReceiver) setSecret(secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.wh = wh
	r.mu.Unlock()
	return nil
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	arrived := r.now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev struct {
		ResourceID string    `json:"resource_id"`
		Timestamp  time.Time `json:"timestamp"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wh == nil || r.wh.Verify(body, req.Header) != nil || json.Unmarshal(body, &ev) != nil {
		r.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	if r.seen[id] {
		r.dups++
	} else {
		r.seen[id] = true
		r.delays[ev.ResourceID] = append(r.delays[ev.ResourceID], arrived.Sub(ev.Timestamp))
		r.last[ev.ResourceID] = arrived
	}
	select {
	case r.more <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// delivered returns the count of distinct deliveries for resource rid and the last arrival.
func (r *webhookReceiver) delivered(rid string) (int64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.delays[rid])), r.last[rid]
}

// eventsSection runs the events section on one store (pg: the harness's PostgreSQL server,
// else embedded SQLite): the two nodes, the webhook, the interleaved runs.
func (b *bench) eventsSection(t *testing.T, pg bool) {
	art := b.cfg.Artifacts
	idle := "--idle-timeout=15s"
	prefix, store := "events", "embedded SQLite"
	if pg {
		prefix, store = "events-pg", "PostgreSQL"
	}
	node := func(key, label string, extra ...string) *benchSystem {
		sys := &benchSystem{Key: prefix + "-" + key, Label: "Allot, 1 node, " + store + ", " + label, Allot: true, DBName: "(in the node)", KeyFile: b.keyFile}
		args := []string{"--data-dir", filepath.Join(t.TempDir(), "data"), idle}
		if pg {
			sys.DBURL, sys.DBName = b.postgres(t).MustDatabase(t), "PostgreSQL"
			args = append(args, "--db-url", sys.DBURL)
		}
		sys.Procs = []*benchProc{startBenchNode(t, b.bin, art, sys.Key, b.keyFile, append(args, extra...)...)}
		return sys
	}
	onArgs := []string{"--webhook-allow-private"}
	if pg {
		// A node on a shared database publishes only to --nats-url: a JetStream server in this
		// process (its CPU counts as the load generator's).
		onArgs = append(onArgs, "--nats-url", startNATS(t))
	}
	// ALLOT_BENCH_EVENTS_ARGS: more flags for the events-on node, to measure a setting.
	onArgs = append(onArgs, strings.Fields(os.Getenv("ALLOT_BENCH_EVENTS_ARGS"))...)
	on := node("on", "events on + webhook", onArgs...)
	off := node("off", "--events off", "--events", EventsOff)
	defer on.Procs[0].stop()
	defer off.Procs[0].stop()

	rcv := newWebhookReceiver(t)
	c := clustertest.NewClient(10*time.Second, clustertest.DevIssuer(t, b.keyFile))
	resp, err := c.Do(t.Context(), http.MethodPost, on.Procs[0].URL+"/v1/webhooks", "",
		map[string]any{"url": rcv.srv.URL, "event_types": []string{"hold.placed"}})
	if err != nil || resp.Status != http.StatusCreated {
		b.problem(t, "%s: register the webhook: %v %+v", on.Key, err, resp)
		return
	}
	var ep struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(resp.Body, &ep); err != nil {
		b.problem(t, "events: webhook secret: %v", err)
		return
	}
	if err := rcv.setSecret(ep.Secret); err != nil {
		b.problem(t, "events: webhook secret: %v", err)
		return
	}

	defer func(d time.Duration) { b.cfg.Duration = d }(b.cfg.Duration)
	b.cfg.Duration = eventsDuration(t, b.cfg.Duration) // measure and loadConfig read it
	res := &eventsResult{Store: store, On: &benchSeries{Sys: on, Clients: eventsClients}, Off: &benchSeries{Sys: off, Clients: eventsClients}, Duration: b.cfg.Duration}
	b.events = append(b.events, res)
	b.series = append(b.series, res.On, res.Off) // their audits count in the zero-oversell verdict
	for round := 1; round <= b.cfg.Runs; round++ {
		// Alternate which goes first, so that neither always runs after the other's drain.
		order := []*benchSystem{on, off}
		if round%2 == 0 {
			order = []*benchSystem{off, on}
		}
		for _, sys := range order {
			// Round 1 of each node is profiled (cpu-events-on-64.pprof, cpu-events-off-64.pprof):
			// where the pipeline's CPU goes (issue 12); both pay the profiler alike.
			run := b.measure(t, sys, eventsClients, round, round == 1)
			if run.Err != nil {
				b.problem(t, "%s, run %d: %v", sys.Label, round, run.Err)
			}
			if sys == off {
				res.Off.Runs = append(res.Off.Runs, run)
				continue
			}
			res.On.Runs = append(res.On.Runs, run)
			if run.Err == nil {
				res.Rounds = append(res.Rounds, b.drainWebhooks(t, rcv, on, run, round))
			}
		}
	}
	rcv.mu.Lock()
	for _, ds := range rcv.delays {
		res.Delays = append(res.Delays, ds...)
	}
	res.BadSignatures, res.Duplicates = rcv.bad, rcv.dups
	rcv.mu.Unlock()
	if res.BadSignatures > 0 {
		b.problem(t, "%s: %d webhook deliveries failed the signature check", on.Key, res.BadSignatures)
	}
}

// drainWebhooks waits until every hold of an events-on run was delivered (or
// eventsDrainLimit passed) and returns the run's delivery figures.
func (b *bench) drainWebhooks(t *testing.T, rcv *webhookReceiver, on *benchSystem, run benchRun, round int) eventsRound {
	cfg := b.loadConfig(on, eventsClients, fmt.Sprintf("%s-c%d-r%d-%s", on.Key, eventsClients, round, b.stamp)) // measure's run id
	rid := cfg.ResourcePrefix + "-" + cfg.RunID + "-flash"
	ended := time.Now()
	atEnd, _ := rcv.delivered(rid)
	out := eventsRound{Holds: run.Holds, AtRunEnd: atEnd}
	limit := drainLimit(b.cfg.Duration)
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		n, last := rcv.delivered(rid)
		out.Delivered = n
		if n >= run.Holds {
			out.Drain = max(last.Sub(ended), 0)
			break
		}
		select {
		case <-rcv.more:
			continue
		case <-deadline.C:
			out.Drain, out.DrainMissed = limit, true
			b.problem(t, "%s round %d: %d of %d holds delivered by webhook %s after the load", on.Key, round, n, run.Holds, limit)
		case <-t.Context().Done():
		}
		break
	}
	rcv.mu.Lock()
	ds := slices.Clone(rcv.delays[rid])
	rcv.mu.Unlock()
	out.P50, out.P99 = quantile(ds, 0.50), quantile(ds, 0.99)
	t.Logf("%s round %d: %d holds, %d delivered (%d by the end of the load), drained %s after it, delay p50 %s p99 %s",
		on.Key, round, out.Holds, out.Delivered, out.AtRunEnd, out.Drain.Round(time.Millisecond), out.P50, out.P99)
	return out
}

// writeEventsTarget writes the events rows of the summary table, one per store.
func (b *bench) writeEventsTarget(w *strings.Builder) {
	for _, r := range b.events {
		if r.Off.holds().N == 0 || r.On.holds().N == 0 {
			continue
		}
		fmt.Fprintf(w, "| events on + webhook consumer ≥ %.0f%% of events off (%s, %d clients, HTTP) | %.2f× (%s vs %s holds/s); webhook delay p50 %s, p99 %s | %s |\n",
			100*targetEventsRatio, r.Store, eventsClients, r.ratio(), num(r.On.holds().Med), num(r.Off.holds().Med),
			durMs(r.delay(0.50)), durMs(r.delay(0.99)), yesNo(r.ratio() >= targetEventsRatio))
	}
}

func durMs(d time.Duration) string { return ms(float64(d)/float64(time.Millisecond)) + " ms" }

// writeEventsSection writes the events section of docs/BENCHMARKS.md.
func (b *bench) writeEventsSection(w *strings.Builder) {
	fmt.Fprintf(w, "## 6. What the event stream costs (events on vs `--events off`)\n\n")
	fmt.Fprintf(w, "Where the difference goes (a CPU profile of the events-on node, and the levers): docs/EVENTS.md, *Cost*.\n\n")
	for _, r := range b.events {
		b.writeEventsStore(w, r)
	}
}

// writeEventsStore writes the events section's figures on one store.
func (b *bench) writeEventsStore(w *strings.Builder, r *eventsResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### %s\n\n", r.Store)
	p("The flash sale of section 1 (one hot resource, %d clients, hold-only, %s per run) on two nodes on %s, "+
		"interleaved in %d rounds (the order alternates): **on** is the default node, whose every commit writes its events "+
		"to the outbox in the same transaction, its relay publishes them to the embedded JetStream, and its webhook "+
		"dispatcher (a durable bus consumer) delivers `hold.placed` to a receiver in the benchmark process, which checks "+
		"each Standard Webhooks signature (on PostgreSQL the node publishes to a JetStream server in the benchmark process, "+
		"as a cluster member does to `--nats-url`); **off** runs with `--events off` (no outbox rows, no bus, no consumers). "+
		"After each events-on run the benchmark waits until every acknowledged hold was delivered (at most %s) before "+
		"the next run, so deliveries never overlap the other node's run.\n\n", eventsClients, r.Duration, r.Store, b.cfg.Runs, drainLimit(r.Duration))
	p("| node | holds/s (median) | holds/s range | p50 ms | p99 ms | errors | audit | server cores | mean batch | commit ms |\n|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
	for _, s := range []*benchSeries{r.On, r.Off} {
		h := s.holds()
		p50 := s.stat(func(r benchRun) float64 { return float64(r.P50) / float64(time.Millisecond) })
		var errs int64
		for _, run := range s.ok() {
			errs += run.Errors
		}
		verdict, _ := s.auditVerdict()
		p("| %s | **%s** | %s | %s | %s | %d | %s | %.2f | %.1f | %s |\n", s.Sys.Label, num(h.Med), rangeOf(h, num), ms(p50.Med), ms(s.p99().Med),
			errs, verdict, s.stat(func(r benchRun) float64 { return r.ServerCores }).Med,
			s.stat(func(r benchRun) float64 { return r.BatchMean }).Med, ms(s.stat(func(r benchRun) float64 { return r.CommitMs }).Med))
	}
	p("\n- Ratio of the medians, on/off: **%.2f×** (target ≥ %.2f: %s).\n", r.ratio(), targetEventsRatio, yesNo(r.ratio() >= targetEventsRatio))
	p("- **Delay from commit to webhook delivery**: from the event's `occurred_at` (the webhook payload's `timestamp`, "+
		"set by the resource actor when it decides the hold, just before the group commit, so the commit itself is "+
		"included; millisecond precision) to the receiver's arrival time, over the first delivery of each of %d events: "+
		"**p50 %s, p99 %s** (max %s). Both clocks are this machine's.\n", len(r.Delays), durMs(r.delay(0.50)), durMs(r.delay(0.99)), durMs(r.delay(1)))
	p("- The load is closed-loop without think time: when the hot resource commits holds faster than the dispatcher " +
		"delivers them, the delay is mostly the deliveries' queue (compare *of which by the end of the run* with the " +
		"holds acknowledged, below), not the path of one event.\n")
	p("- Deliveries verified: %d, bad signatures: %d, repeated `webhook-id`s (at least once): %d.\n\n", len(r.Delays), r.BadSignatures, r.Duplicates)
	p("| round | holds acknowledged | delivered | of which by the end of the run | drained after the run | delay p50 | delay p99 |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, d := range r.Rounds {
		drain := d.Drain.Round(time.Millisecond).String()
		if d.DrainMissed {
			drain = "**not within " + drainLimit(r.Duration).String() + "**"
		}
		p("| %d | %d | %d | %d | %s | %s | %s |\n", i+1, d.Holds, d.Delivered, d.AtRunEnd, drain, durMs(d.P50), durMs(d.P99))
	}
	cfg := b.loadConfig(r.On.Sys, eventsClients, "RUN")
	cfg.Duration = r.Duration
	p("\nThe same figures by hand: start `allot node --data-dir d1 --webhook-allow-private` and `allot node --data-dir d2 --events off`, "+
		"register a webhook for `hold.placed` on the first (`POST /v1/webhooks`), and run `%s` against each.\n\n",
		loadgenCommand(cfg))
}
