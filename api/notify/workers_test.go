package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
