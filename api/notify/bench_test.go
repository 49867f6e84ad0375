package notify_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/allot/allot/api/notify"
)

// BenchmarkCommitToHandOff measures the time from a confirmation's event being recorded
// (Handle returned, as the bus would acknowledge it) to the e-mail's arrival at a local SMTP
// server (plain relay on 127.0.0.1), with the workers running as in a node on SQLite, and
// reports p50 and p99. Events are offered at --rate per second (1,000 in issue 14's bench;
// pass -benchtime=2000x for a stable tail).
func BenchmarkCommitToHandOff(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchHandOff(b, mustSQLiteStore(b)) })
	b.Run("postgres", func(b *testing.B) { benchHandOff(b, mustPostgresStore(b)) })
}

func benchHandOff(b *testing.B, store notify.Store) {
	const rate = 1000
	srv := newSMTPServer(b, smtpOpts{ArrivedBuffer: b.N + 1})
	cfg, err := notify.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(srv.port))
	if err != nil {
		b.Fatal(err)
	}
	mailer, err := notify.NewSMTPMailer(cfg, "notifications@allot.example")
	if err != nil {
		b.Fatal(err)
	}
	c := notify.DefaultConfig()
	c.MailFrom = "notifications@allot.example"
	c.PollEvery, c.Batch = 5*time.Millisecond, 64
	svc, err := notify.New(c, notify.Deps{Store: store, Resources: dir, Contacts: dir, Mailer: mailer,
		Log: slog.New(slog.NewTextHandler(benchLog, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := store.PutPreferences(ctx, "ann", notify.Preferences{
		Channels: map[notify.Kind][]notify.Channel{notify.KindConfirmation: {notify.ChannelEmail}}}, time.Now()); err != nil {
		b.Fatal(err)
	}
	svc.Start()
	defer svc.Close()
	recorded := make([]time.Time, b.N)
	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		h := "h" + strconv.Itoa(i)
		if err := svc.Handle(ctx, event(notify.EventConfirmed, "ev-"+h, 1, hold(h, "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil))); err != nil {
			b.Fatal(err)
		}
		recorded[i] = time.Now()
	}
	deadline := time.After(time.Minute)
	for range b.N {
		select {
		case <-srv.arrived:
		case <-deadline:
			b.Fatalf("only %d of %d arrived", len(srv.messages()), b.N)
		}
	}
	b.StopTimer()
	index := make(map[string]int, b.N)
	for i := range b.N {
		index["<"+notify.MessageID("ev-h"+strconv.Itoa(i), notify.ChannelEmail, "allot.example")+">"] = i
	}
	lat := make([]time.Duration, 0, b.N)
	for _, m := range srv.messages() {
		i, ok := index[parseMail(b, m.Data).MessageID]
		if !ok {
			b.Fatal("unknown Message-ID")
		}
		lat = append(lat, m.At.Sub(recorded[i]))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// benchLog gets the service's warnings in benchmarks (set BENCH_NOTIFY_LOG=1 to see them).
var benchLog io.Writer = func() io.Writer {
	if os.Getenv("BENCH_NOTIFY_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}()
