package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/notify"
)

// TestStartClose: the workers started by Start deliver without being driven, export their
// metrics, and Close stops them (twice is fine).
func TestStartClose(t *testing.T) {
	r := newRig(t)
	reg := prometheus.NewRegistry()
	cfg, _ := notify.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(r.smtp.port))
	cfg.TLS = r.smtp.clients
	mailer, _ := notify.NewSMTPMailer(cfg, "notifications@allot.example")
	c := notify.DefaultConfig()
	c.PollEvery = 10 * time.Millisecond
	s, err := notify.New(c, notify.Deps{Store: r.store, Resources: dir, Contacts: dir, Mailer: mailer, Now: r.clock.Now,
		Metrics: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	s.Start()
	if err := s.Handle(context.Background(), event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.smtp.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no mail from the running workers")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	// The outcome is recorded after the hand-off; Close waited for it.
	if got := testutil.ToFloat64(mustCounter(t, reg)); got != 1 {
		t.Fatalf("allot_notifications_total{outcome=sent} = %v", got)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "allot_notifications_total" {
			continue
		}
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "sent" {
					g.Add(m.GetCounter().GetValue())
				}
			}
		}
		return g
	}
	t.Fatal("allot_notifications_total not registered")
	return nil
}

// TestWakeSendsWithoutWaitingForTheTick: with a tick an hour away, a notification recorded
// after the workers went idle goes out at once: Handle wakes them.
func TestWakeSendsWithoutWaitingForTheTick(t *testing.T) {
	r := newRig(t)
	cfg, _ := notify.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(r.smtp.port))
	cfg.TLS = r.smtp.clients
	mailer, _ := notify.NewSMTPMailer(cfg, "notifications@allot.example")
	c := notify.DefaultConfig()
	c.PollEvery = time.Hour
	s, err := notify.New(c, notify.Deps{Store: r.store, Resources: dir, Contacts: dir, Mailer: mailer, Now: r.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	for i, h := range []string{"h1", "h2"} {
		// The second hold is recorded after the first mail arrived, so after the round that
		// sent it had claimed: only a wake sends it before the hour is up.
		ev := event(notify.EventConfirmed, "ev-"+h, uint64(i+1), hold(h, "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil))
		if err := s.Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.smtp.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("mail %d not sent until the next tick", i+1)
		}
	}
}

// countingMailer records the most sends in flight at once.
type countingMailer struct {
	notify.Mailer
	mu            sync.Mutex
	inFlight, max int
}

func (c *countingMailer) Send(ctx context.Context, m notify.Mail) error {
	c.mu.Lock()
	c.inFlight++
	c.max = max(c.max, c.inFlight)
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.inFlight--; c.mu.Unlock() }()
	time.Sleep(time.Millisecond) // a provider's round trip, so that sends overlap
	return c.Mailer.Send(ctx, m)
}

// TestWorkersShareTheSlots: two delivery loops, woken by one batch of 60 confirmations,
// deliver all of them once, never with more than Concurrency sends in flight between them.
func TestWorkersShareTheSlots(t *testing.T) {
	r := newRig(t)
	emailOnly(t, r, "ann")
	mailer := &countingMailer{Mailer: r.svcMailer(t)}
	c := notify.DefaultConfig()
	c.MailFrom = "Allot <notifications@allot.example>"
	c.PollEvery, c.Batch, c.Concurrency, c.Workers = time.Hour, 5, 3, 2
	s, err := notify.New(c, notify.Deps{Store: r.store, Resources: dir, Contacts: dir, Mailer: mailer, Now: r.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	var evs []feed.Event
	for i := range 60 {
		h := "h" + strconv.Itoa(i)
		evs = append(evs, event(notify.EventConfirmed, "ev-"+h, 1, hold(h, "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	}
	r.handleBatch(t, s, evs...)
	deadline := time.After(20 * time.Second)
	for range 60 {
		select {
		case <-r.smtp.arrived:
		case <-deadline:
			t.Fatalf("%d of 60 mails arrived", len(r.smtp.messages()))
		}
	}
	if got := r.mailsByHold(t); len(got) != 60 {
		t.Fatalf("%d holds mailed", len(got))
	}
	mailer.mu.Lock()
	defer mailer.mu.Unlock()
	if mailer.max > 3 || mailer.max < 2 {
		t.Fatalf("at most %d sends in flight, want 2 to 3 (Concurrency 3)", mailer.max)
	}
}
