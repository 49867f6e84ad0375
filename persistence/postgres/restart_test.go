package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// streamWriter commits one hold per batch to one resource, like an actor: it activates, and
// after any failure other than fencing it activates again before writing.
type streamWriter struct {
	s        *Store
	id       string
	active   bool
	epoch    uint64
	version  uint64
	seq      int
	acked    []string
	slowest  time.Duration // longest failed call
	failures int
}

func (w *streamWriter) step(ctx context.Context) error {
	startedAt := time.Now()
	err := w.try(ctx)
	if err != nil {
		w.active = false
		w.failures++
		w.slowest = max(w.slowest, time.Since(startedAt))
	}
	return err
}

func (w *streamWriter) try(ctx context.Context) error {
	if !w.active {
		snap, err := w.s.Activate(ctx, w.id, time.Time{})
		if err != nil {
			return err
		}
		w.active, w.epoch, w.version = true, snap.Epoch, snap.Version
	}
	w.seq++
	hid := fmt.Sprintf("h%05d", w.seq)
	err := w.s.Commit(ctx, &persistence.Batch{
		ResourceID: w.id, Epoch: w.epoch, Version: w.version + 1, Resource: testResource(w.id),
		Holds: []booking.Hold{testHold(w.id, hid, int64(w.seq), 1, "a")},
	})
	if err != nil {
		return err
	}
	w.version++
	w.acked = append(w.acked, hid)
	return nil
}

// stream runs the writer through one outage: it signals healthy after 10 commits, keeps
// committing until 3 calls in a row failed with ErrUnavailable (the database went away),
// signals failing, waits for resumed, and returns after 10 more commits. Any other error, or
// 20 failures after resumed, ends it with an error.
func (w *streamWriter) stream(ctx context.Context, healthy, failing chan<- struct{}, resumed <-chan struct{}) error {
	acks, fails, phase := 0, 0, 0
	for {
		err := w.step(ctx)
		switch {
		case err == nil:
			acks++
			fails = 0
			if phase == 0 && acks == 10 {
				close(healthy)
				phase = 1
			}
			if phase == 2 && acks == 10 {
				return nil
			}
		case errors.Is(err, persistence.ErrUnavailable):
			fails++
			switch {
			case phase == 0:
				return fmt.Errorf("failure before the outage: %w", err)
			case phase == 1 && fails == 3:
				close(failing)
				<-resumed
				phase, acks, fails = 2, 0, 0
			case phase == 2 && fails > 20:
				return fmt.Errorf("no recovery after the database came back: %w", err)
			}
		default:
			return fmt.Errorf("unexpected error: %w", err)
		}
	}
}

// TestDatabaseRestart stops the database in the middle of a stream of commits, once cleanly
// and once as a crash (immediate shutdown, WAL recovery). While it is down, calls fail fast
// with ErrUnavailable; once it is back, the same Store (never reopened) commits again; and
// every commit that returned nil is in the database.
func TestDatabaseRestart(t *testing.T) {
	srv := pgtest.MustNewServer(t)
	url := srv.MustDatabase(t)
	cfg := testConfig(url)
	cfg.MaxConns = 4
	cfg.StatementTimeout = time.Second
	cfg.ConnectTimeout = time.Second
	cfg.OpTimeout = 2 * time.Second
	s := mustOpen(t, cfg)
	const id = "r"
	mustCreate(t, s, id, booking.Bucket{Key: "a", Capacity: 1 << 30})
	w := &streamWriter{s: s, id: id}
	ctx := context.Background()

	for _, outage := range []struct {
		name string
		stop func() error
	}{{"stop", srv.Stop}, {"crash", srv.Crash}} {
		healthy, failing, resumed := make(chan struct{}), make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- w.stream(ctx, healthy, failing, resumed) }()
		waitOr := func(ch <-chan struct{}, what string) {
			t.Helper()
			select {
			case <-ch:
			case err := <-done:
				t.Fatalf("%s: writer ended before %s: %v", outage.name, what, err)
			}
		}
		waitOr(healthy, "its first commits")
		if err := outage.stop(); err != nil {
			t.Fatalf("%s: %v", outage.name, err)
		}
		waitOr(failing, "seeing the outage")
		if err := srv.Start(); err != nil {
			t.Fatalf("%s: start: %v", outage.name, err)
		}
		close(resumed)
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", outage.name, err)
		}
	}
	t.Logf("%d commits acknowledged, %d failed calls, slowest failure %s", len(w.acked), w.failures, w.slowest)
	if w.slowest > cfg.StatementTimeout {
		t.Errorf("a failing call took %s, longer than the statement timeout %s", w.slowest, cfg.StatementTimeout)
	}
	for _, hid := range w.acked {
		if _, err := s.GetHold(ctx, id, hid); err != nil {
			t.Errorf("acknowledged hold %s: %v", hid, err)
		}
	}
}
