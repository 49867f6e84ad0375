package cmd

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/notify/smtptest"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
)

// notifyRate is the offered rate of the notify section: the issue's "1,000 confirmations
// per second".
const notifyRate = 1000

// notifyResources spreads the holds over a few resources (a sale of several events), so
// that one resource actor's mailbox is not what the section measures.
const notifyResources = 8

// notifyResult is the outcome of the notify section: confirmations offered open-loop at
// notifyRate for Window, and the delay from each confirm's acknowledgement at the client to
// its confirmation e-mail completing DATA at the in-harness SMTP server.
type notifyResult struct {
	Window     time.Duration
	Offered    int           // confirmations scheduled
	Acked      int           // confirms answered 200
	Failed     int           // confirms that failed (error or problem)
	Achieved   float64       // acknowledged confirmations per second over the window
	Confirm    []float64     // confirm round trips in ms, from the scheduled send (no coordinated omission)
	Delivered  int           // confirmation e-mails that arrived for an acknowledged confirm
	Other      int           // other messages taken (expiry warnings, duplicates)
	Duplicates int           // second copies of one hold's confirmation (same Message-ID)
	Delays     []float64     // commit→SMTP hand-off in ms, sorted
	LastMail   time.Duration // from the first scheduled confirm to the last confirmation e-mail
	MailRate   float64       // confirmation e-mails per second from the first to the last
	Drain      time.Duration // from the last acknowledgement to the last confirmation e-mail
	// HandoffMean is the node's own mean of allot_notification_handoff_seconds{channel="email"}
	// (recording the notification → hand-off) over the run, in ms; -1 when not scraped. The
	// rest of the delay is the event's way from the commit to the recorded notification.
	HandoffMean float64
	// Settle is how long the probe's e-mail took after the set-up (before the window).
	Settle  time.Duration
	Command string
	Err     error
}

// notifyHold is one hold of the section: its owner's client and, once confirmed, when the
// client had the acknowledgement.
type notifyHold struct {
	rid, id string
	api     *client.Client
	acked   time.Time
}

// notifyWindow is the section's timed window: ALLOT_BENCH_DURATION, at most 5 s (5,000
// confirmations), so that the section stays within about a minute and a half on 2 cores: the
// set-up places holds at a few hundred per second (each new user's contact is stored), and
// the e-mails drain at about 150 per second (measured 2026-12-06).
func (b *bench) notifyWindow() time.Duration {
	return min(b.cfg.Duration, 5*time.Second)
}

// notifyBench starts one node on the embedded store with --smtp-url to an in-harness SMTP
// server, places rate×window holds (users whose tokens carry an e-mail claim, so the node
// has their contacts), then confirms them open-loop at notifyRate and matches each arrived
// confirmation e-mail to its hold by the invitation's UID (the hold id).
func (b *bench) notifyBench(t *testing.T) notifyResult {
	res := notifyResult{Window: b.notifyWindow()}
	n := int(res.Window.Seconds() * notifyRate)
	res.Offered = n
	mail := smtptest.New(t, smtptest.Options{ArrivedBuffer: 1})
	dir := t.TempDir()
	node := startBenchNode(t, b.bin, b.cfg.Artifacts, "notify-node", b.keyFile, "--data-dir", filepath.Join(dir, "data"),
		"--data-key-file", writeDataKey(t), "--smtp-url", fmt.Sprintf("smtp://127.0.0.1:%d", mail.Port),
		"--mail-from", "Allot <bookings@allot.test>")
	res.Command = node.CommandLine()
	ctx := t.Context()
	issuer := clustertest.DevIssuer(t, b.keyFile)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}
	base, err := client.New([]string{node.URL}, client.WithHTTPClient(hc), client.WithUserAgent("allot-bench-notify"), client.WithoutRetry())
	if err != nil {
		res.Err = err
		return res
	}

	// Set-up (not timed): the resources, then one hold per user, 64 at a time.
	admin := clustertest.NewClient(30*time.Second, issuer).API(node.URL)
	bucket := "2027-06-01"
	for r := range notifyResources {
		rid := fmt.Sprintf("notify-%s-%d", b.stamp, r)
		if _, _, err := admin.CreateResource(ctx, wire.CreateResource{ID: rid, Name: "Concert " + rid, Buckets: map[string]int64{bucket: int64(n)},
			HoldTTL: "1h", Price: &wire.Money{Amount: 4500, Currency: "EUR"}}); err != nil {
			res.Err = fmt.Errorf("create %s: %w", rid, err)
			return res
		}
	}
	holds := make([]*notifyHold, n+1) // the last one is the probe (below)
	var mu sync.Mutex
	var setupErr error
	var wg sync.WaitGroup
	next := make(chan int)
	setup := time.Now()
	for range 64 {
		wg.Go(func() {
			for i := range next {
				user := fmt.Sprintf("nb-%s-%05d", b.stamp, i)
				tok, err := issuer.Mint(auth.TokenSpec{Subject: user, Email: user + "@bench.test", TTL: time.Hour})
				h := &notifyHold{rid: fmt.Sprintf("notify-%s-%d", b.stamp, i%notifyResources)}
				if err == nil {
					h.api = base.With(client.WithToken(tok))
					var hold wire.Hold
					hold, _, err = h.api.PlaceHold(ctx, h.rid, user, wire.PlaceHold{Buckets: []string{bucket}, Quantity: 1, UserID: user})
					h.id = hold.ID
				}
				if err != nil {
					mu.Lock()
					setupErr = fmt.Errorf("hold %d: %w", i, err)
					mu.Unlock()
					continue
				}
				holds[i] = h
			}
		})
	}
	for i := range n + 1 {
		next <- i
	}
	close(next)
	wg.Wait()
	if setupErr != nil {
		res.Err = setupErr
		return res
	}
	t.Logf("notify: %d holds placed in %s", n, time.Since(setup).Round(time.Millisecond))
	// The placements' events (each hold.placed stores an expiry-warning timer) are still on
	// their way through the relay and the consumer: the window starts once a probe hold,
	// placed last and confirmed now, has had its e-mail, so that the section measures the
	// confirmations and not the set-up's backlog.
	probe := holds[n]
	holds = holds[:n]
	settle := time.Now()
	if _, _, err := probe.api.ConfirmHold(ctx, probe.rid, probe.id); err != nil {
		res.Err = fmt.Errorf("confirm the probe: %w", err)
		return res
	}
	if !waitForUID(ctx, t, mail, probe.id, 3*time.Minute) {
		res.Err = fmt.Errorf("the probe's e-mail did not arrive within 3 minutes")
		return res
	}
	res.Settle = time.Since(settle)
	t.Logf("notify: the probe's e-mail arrived %s after its confirm", res.Settle.Round(time.Millisecond))

	// The timed window: confirm i is due at start + i/rate whatever the earlier ones do
	// (open loop); its round trip counts from that due time.
	start := time.Now()
	res.Confirm = make([]float64, n)
	ok := make([]bool, n)
	for i, h := range holds {
		due := start.Add(time.Duration(i) * time.Second / notifyRate)
		if d := time.Until(due); d > 0 {
			time.Sleep(d) // pacing: the schedule, not an event, decides when the next confirm leaves
		}
		wg.Go(func() {
			_, _, err := h.api.ConfirmHold(ctx, h.rid, h.id)
			h.acked = time.Now()
			res.Confirm[i] = float64(h.acked.Sub(due)) / float64(time.Millisecond)
			ok[i] = err == nil
		})
	}
	wg.Wait()
	var lastAck time.Time
	acked := map[string]*notifyHold{}
	for i, h := range holds {
		if ok[i] {
			acked[h.id] = h
			if h.acked.After(lastAck) {
				lastAck = h.acked
			}
		}
	}
	res.Acked, res.Failed = len(acked), n-len(acked)
	if !lastAck.IsZero() {
		res.Achieved = float64(res.Acked) / lastAck.Sub(start).Seconds()
	}
	t.Logf("notify: %d of %d confirms acknowledged in %s (%.0f/s)", res.Acked, n, lastAck.Sub(start).Round(time.Millisecond), res.Achieved)

	// Wait for the mail: until every acknowledged confirmation arrived or nothing arrived
	// for 20 s (the node polls for due notifications every second).
	seen, lastCount, lastChange := map[string]bool{}, -1, time.Now()
	var msgs []smtptest.Message
	for ctx.Err() == nil {
		msgs = mail.Messages()
		if len(msgs) != lastCount {
			lastCount, lastChange = len(msgs), time.Now()
		}
		if len(msgs) >= res.Acked+1 || // +1: the probe's
			time.Since(lastChange) > 20*time.Second {
			break
		}
		select {
		case <-mail.Arrived:
		case <-time.After(500 * time.Millisecond): // Arrived drops signals when full: look again
		case <-ctx.Done():
		}
	}
	var first, last time.Time
	for _, m := range msgs {
		p := smtptest.ParseMail(t, m.Data)
		uid := icalUID(p.Calendar)
		if uid == probe.id {
			continue
		}
		h := acked[uid]
		if h == nil || p.CalendarMethod != "REQUEST" {
			res.Other++
			continue
		}
		if seen[h.id] {
			res.Duplicates++
			continue
		}
		seen[h.id] = true
		res.Delivered++
		res.Delays = append(res.Delays, float64(m.At.Sub(h.acked))/float64(time.Millisecond))
		if m.At.After(last) {
			last = m.At
		}
		if first.IsZero() || m.At.Before(first) {
			first = m.At
		}
	}
	res.HandoffMean = -1
	sum, count := `allot_notification_handoff_seconds_sum{channel="email"}`, `allot_notification_handoff_seconds_count{channel="email"}`
	if m, err := scrapeMetrics(ctx, node.Admin+"/metrics", sum, count); err == nil && m[count] > 0 {
		res.HandoffMean = 1000 * m[sum] / m[count]
	}
	slices.Sort(res.Delays)
	slices.Sort(res.Confirm)
	if !last.IsZero() {
		res.LastMail, res.Drain = last.Sub(start), last.Sub(lastAck)
	}
	if d := last.Sub(first); d > 0 {
		res.MailRate = float64(res.Delivered-1) / d.Seconds()
	}
	t.Logf("notify: %d of %d confirmation e-mails, p50 %.0f ms, p99 %.0f ms, last mail %s after the first confirm, %.0f/s, record→hand-off mean %.0f ms",
		res.Delivered, res.Acked, pct(res.Delays, 50), pct(res.Delays, 99), res.LastMail.Round(time.Millisecond), res.MailRate, res.HandoffMean)
	return res
}

// waitForUID waits until s has taken a message whose invitation's UID is uid.
func waitForUID(ctx context.Context, t testing.TB, s *smtptest.Server, uid string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	checked := 0
	for {
		msgs := s.Messages()
		for _, m := range msgs[checked:] {
			if icalUID(smtptest.ParseMail(t, m.Data).Calendar) == uid {
				return true
			}
		}
		checked = len(msgs)
		select {
		case <-s.Arrived:
		case <-time.After(200 * time.Millisecond): // Arrived drops signals when full: look again
		case <-deadline:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// icalUID is the UID property of an iCalendar text (lines unfolded), "" without one.
func icalUID(cal string) string {
	cal = strings.NewReplacer("\r\n ", "", "\r\n\t", "").Replace(cal)
	for line := range strings.SplitSeq(cal, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "UID:"); ok {
			return v
		}
	}
	return ""
}

// pct is the p-th percentile (nearest rank) of sorted xs, 0 when empty.
func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// writeNotify renders the notify section.
func (b *bench) writeNotify(w *strings.Builder) {
	r := b.notify
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## 7. Notifications: commit to SMTP hand-off at %s confirmations per second\n\n", num(notifyRate))
	p("One node on the embedded store (SQLite, embedded NATS JetStream), `--smtp-url` to an SMTP server in the harness "+
		"(emersion/go-smtp on 127.0.0.1, api/notify/smtptest) that timestamps each message when its DATA completes. "+
		"%s one-unit holds over %d resources, each by its own user whose token carries an `email` claim, are placed first "+
		"(not timed); a probe hold placed last is confirmed and its e-mail awaited, so that the placements' events are "+
		"through the pipeline; then the confirms are sent open-loop at %s per second for %s, each by its owner. Each confirmation "+
		"e-mail is matched to its hold by the invitation's `UID`. **The delay is measured from the confirm's acknowledgement "+
		"at the client** (the commit is durable by then) to the e-mail's arrival at the SMTP server: the event relay, the "+
		"bus consumer, recording the notification, the delivery worker's poll, rendering and the SMTP session. When the "+
		"e-mails are handed off more slowly than confirms arrive, the delay is mostly queueing behind earlier e-mails.\n\n",
		num(float64(r.Offered)), notifyResources, num(notifyRate), r.Window)
	if r.Err != nil {
		p("The section failed: %v\n\n", r.Err)
	}
	p("| measure | value |\n|---|---:|\n")
	p("| confirms offered / acknowledged / failed | %s / %s / %s |\n", num(float64(r.Offered)), num(float64(r.Acked)), num(float64(r.Failed)))
	p("| confirmations per second achieved | %s |\n", num(r.Achieved))
	p("| confirm round trip p50 / p99 (from its scheduled time) | %s / %s |\n", ms(pct(r.Confirm, 50))+" ms", ms(pct(r.Confirm, 99))+" ms")
	p("| confirmation e-mails delivered / acknowledged confirms | %s / %s |\n", num(float64(r.Delivered)), num(float64(r.Acked)))
	p("| duplicates (same hold twice) / other messages | %d / %d |\n", r.Duplicates, r.Other)
	p("| **commit → SMTP hand-off p50 / p99** | **%s / %s** |\n", ms(pct(r.Delays, 50))+" ms", ms(pct(r.Delays, 99))+" ms")
	p("| e-mails handed off per second (first to last) | %s |\n", num(r.MailRate))
	if r.HandoffMean >= 0 {
		p("| of the delay, mean from the recorded notification to hand-off (the node's `allot_notification_handoff_seconds`) | %s ms |\n", ms(r.HandoffMean))
	}
	p("| max | %s |\n", ms(pct(r.Delays, 100))+" ms")
	p("| set-up backlog: the probe's e-mail after its confirm, before the window | %s |\n", r.Settle.Round(time.Millisecond))
	p("| last e-mail after the first confirm / after the last acknowledgement | %s / %s |\n\n",
		r.LastMail.Round(time.Millisecond), r.Drain.Round(time.Millisecond))
	p("Node: `%s`.\n\nThis section alone (`make bench` runs it with the others and rewrites docs/BENCHMARKS.md; the window is "+
		"`ALLOT_BENCH_DURATION`, at most 5 s):\n\n```sh\nmake build build-bench && ALLOT_BENCH=1 ALLOT_BENCH_BIN=$PWD/bin/allot "+
		"ALLOT_BENCH_BASELINE_BIN=$PWD/bin/allot-bench ALLOT_BENCH_OUT=/tmp/notify.md ALLOT_BENCH_SECTIONS=notify \\\n"+
		"  go test -run '^TestBenchmarks$' -count=1 -v ./cmd\n```\n\n", r.Command)
}

// runNotify runs the notify section and records its problems.
func (b *bench) runNotify(t *testing.T) {
	r := b.notifyBench(t)
	switch {
	case r.Err != nil:
		b.problem(t, "notify benchmark: %v", r.Err)
	case r.Delivered < r.Acked:
		b.problem(t, "notify benchmark: %d of %d acknowledged confirmations got no e-mail", r.Acked-r.Delivered, r.Acked)
	}
	b.notify = &r
}

// The notify section's document reports the percentiles of the delays it measured, and the
// hold id is read from a folded UID line.
func TestBenchDocumentReportsNotifyDelay(t *testing.T) {
	if got := icalUID("BEGIN:VEVENT\r\nUID:h-0123456789\r\n abc\r\nSEQUENCE:1\r\n"); got != "h-0123456789abc" {
		t.Fatalf("icalUID: %q", got)
	}
	delays := make([]float64, 100)
	for i := range delays {
		delays[i] = float64(i + 1)
	}
	if pct(delays, 50) != 50 || pct(delays, 99) != 99 || pct(delays, 100) != 100 || pct(nil, 50) != 0 {
		t.Fatalf("pct: %v %v %v", pct(delays, 50), pct(delays, 99), pct(delays, 100))
	}
	b := &bench{notify: &notifyResult{Window: 5 * time.Second, Offered: 5000, Acked: 5000, Delivered: 4999, Delays: delays,
		Confirm: []float64{2}, Achieved: 998, MailRate: 230, HandoffMean: -1, Command: "allot node --smtp-url smtp://127.0.0.1:2525"}}
	var w strings.Builder
	b.writeNotify(&w)
	for _, want := range []string{"**50.0 ms / 99.0 ms**", "| 4,999 / 5,000 |", "| 998 |", "smtp://127.0.0.1:2525", "ALLOT_BENCH_SECTIONS=notify"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("lacks %q:\n%s", want, w.String())
		}
	}
	if strings.Contains(w.String(), "allot_notification_handoff_seconds") {
		t.Errorf("reports a hand-off mean it did not scrape:\n%s", w.String())
	}
}
