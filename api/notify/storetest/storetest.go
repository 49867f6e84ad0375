// Package storetest is the contract suite every notify.Store passes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/notify"
)

// Run runs the suite; newStore returns an empty store, cleaned up with t.
func Run(t *testing.T, newStore func(t *testing.T) notify.Store) {
	t.Run("HoldsKeepTheNewestVersion", func(t *testing.T) { testHolds(t, newStore(t)) })
	t.Run("OutboxDeduplicates", func(t *testing.T) { testDedup(t, newStore(t)) })
	t.Run("ApplyEventsOnceWithTheInbox", func(t *testing.T) { testApplyEvents(t, newStore(t)) })
	t.Run("ClaimAndFinish", func(t *testing.T) { testClaimFinish(t, newStore(t)) })
	t.Run("FinishAllSkipsStale", func(t *testing.T) { testFinishAll(t, newStore(t)) })
	t.Run("RetryOnlyFailed", func(t *testing.T) { testRetry(t, newStore(t)) })
	t.Run("ConcurrentRetriesOneWins", func(t *testing.T) { testConcurrentRetries(t, newStore(t)) })
	t.Run("ConcurrentClaimsShareNothing", func(t *testing.T) { testConcurrentClaims(t, newStore(t)) })
	t.Run("ConcurrentApplyAndFinish", func(t *testing.T) { testConcurrentWrites(t, newStore(t)) })
	t.Run("TimersFireOnce", func(t *testing.T) { testTimers(t, newStore(t)) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, newStore(t)) })
	t.Run("PreferencesAndTokens", func(t *testing.T) { testPrefsTokens(t, newStore(t)) })
}

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func note(ev string, ch notify.Channel, at time.Time) notify.Notification {
	return notify.Notification{ID: notify.NotificationID(ev, ch), EventID: ev, Channel: ch, Kind: notify.KindConfirmation,
		HoldID: "h1", UserID: "u1", Status: notify.StatusPending, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
}

func testHolds(t *testing.T, s notify.Store) {
	ctx := context.Background()
	if _, err := s.Hold(ctx, "h1"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("missing hold: %v", err)
	}
	h := notify.HoldState{HoldID: "h1", ResourceID: "r1", UserID: "u1", Status: notify.StatusHeld,
		Buckets: []string{"2026-12-24", "2026-12-25"}, Quantity: 2, ExpiresAt: t0, Version: 5, UpdatedAt: t0}
	_, err := s.Apply(ctx, notify.Record{Hold: &h})
	must(t, err)
	old := h
	old.Version, old.Status = 4, notify.StatusCancelled
	_, err = s.Apply(ctx, notify.Record{Hold: &old})
	must(t, err)
	got, err := s.Hold(ctx, "h1")
	must(t, err)
	if got.Status != notify.StatusHeld || got.Version != 5 || fmt.Sprint(got.Buckets) != fmt.Sprint(h.Buckets) ||
		!got.ExpiresAt.Equal(t0) || got.Quantity != 2 || got.Invited {
		t.Fatalf("hold = %+v", got)
	}
	h.Version, h.Status, h.Invited, h.ExpiresAt = 6, notify.StatusConfirmed, true, time.Time{}
	_, err = s.Apply(ctx, notify.Record{Hold: &h})
	must(t, err)
	got, err = s.Hold(ctx, "h1")
	must(t, err)
	if got.Status != notify.StatusConfirmed || !got.Invited || !got.ExpiresAt.IsZero() {
		t.Fatalf("hold after confirm = %+v", got)
	}
	other := h
	other.HoldID, other.UserID = "h2", "u2"
	_, err = s.Apply(ctx, notify.Record{Hold: &other})
	must(t, err)
	mine, err := s.HoldsOfUser(ctx, "u1", notify.StatusConfirmed, 10)
	must(t, err)
	all, err := s.HoldsOfResource(ctx, "r1", notify.StatusConfirmed, 10)
	must(t, err)
	if len(mine) != 1 || mine[0].HoldID != "h1" || len(all) != 2 {
		t.Fatalf("lists: %d %d", len(mine), len(all))
	}
}

func testDedup(t *testing.T, s notify.Store) {
	ctx := context.Background()
	rec := notify.Record{Notifications: []notify.Notification{note("e1", notify.ChannelEmail, t0), note("e1", notify.ChannelPush, t0)}}
	n, err := s.Apply(ctx, rec)
	must(t, err)
	if n != 2 {
		t.Fatalf("added %d", n)
	}
	rec.Notifications = append(rec.Notifications, note("e2", notify.ChannelEmail, t0))
	n, err = s.Apply(ctx, rec)
	must(t, err)
	if n != 1 {
		t.Fatalf("redelivery added %d, want 1 (only e2)", n)
	}
	ps, err := s.Notifications(ctx, notify.StatusPending, 10)
	must(t, err)
	if len(ps) != 3 {
		t.Fatalf("%d pending", len(ps))
	}
}

// testFinishAll: a batch of outcomes is recorded together; the one whose claim was taken
// over is reported stale and not recorded, the others are.
func testFinishAll(t *testing.T, s notify.Store) {
	ctx := context.Background()
	_, err := s.Apply(ctx, notify.Record{Notifications: []notify.Notification{note("e1", notify.ChannelEmail, t0),
		note("e2", notify.ChannelEmail, t0), note("e3", notify.ChannelEmail, t0)}})
	must(t, err)
	cl, err := s.ClaimNotifications(ctx, t0, t0.Add(time.Minute), 10)
	must(t, err)
	if len(cl) != 3 {
		t.Fatalf("claim = %+v", cl)
	}
	// e2's lease runs out and another worker claims it again.
	again, err := s.ClaimNotifications(ctx, t0.Add(time.Minute), t0.Add(2*time.Minute), 3)
	must(t, err)
	if len(again) != 3 {
		t.Fatalf("second claim = %+v", again)
	}
	var fs []notify.Finished
	for _, n := range cl {
		fs = append(fs, notify.Finished{Notification: n, Outcome: notify.Outcome{Status: notify.StatusSent}})
	}
	for _, n := range again {
		if n.EventID != "e2" {
			fs = append(fs, notify.Finished{Notification: n, Outcome: notify.Outcome{Status: notify.StatusSent}})
		}
	}
	stale, err := s.FinishAll(ctx, fs, t0.Add(time.Minute))
	must(t, err)
	if len(stale) != 3 {
		t.Fatalf("stale = %v, want the three first-claim outcomes", stale)
	}
	sent, err := s.Notifications(ctx, notify.StatusSent, 10)
	must(t, err)
	if len(sent) != 2 {
		t.Fatalf("sent = %+v, want e1 and e3", sent)
	}
	if stale, err := s.FinishAll(ctx, nil, t0); err != nil || len(stale) != 0 {
		t.Fatalf("empty batch: %v %v", stale, err)
	}
}

func testClaimFinish(t *testing.T, s notify.Store) {
	ctx := context.Background()
	_, err := s.Apply(ctx, notify.Record{Notifications: []notify.Notification{note("e1", notify.ChannelEmail, t0),
		note("e2", notify.ChannelEmail, t0.Add(time.Minute))}})
	must(t, err)
	cl, err := s.ClaimNotifications(ctx, t0, t0.Add(time.Minute), 10)
	must(t, err)
	if len(cl) != 1 || cl[0].EventID != "e1" || cl[0].Attempts != 1 {
		t.Fatalf("claim = %+v", cl)
	}
	if again, err := s.ClaimNotifications(ctx, t0.Add(30*time.Second), t0.Add(2*time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("leased row claimed again: %+v %v", again, err)
	}
	// The lease runs out: another worker claims it; the first one's outcome is stale.
	cl2, err := s.ClaimNotifications(ctx, t0.Add(time.Minute), t0.Add(2*time.Minute), 1)
	must(t, err)
	if len(cl2) != 1 || cl2[0].ID != cl[0].ID || cl2[0].Attempts != 2 {
		t.Fatalf("second claim = %+v", cl2)
	}
	if err := s.Finish(ctx, cl[0], notify.Outcome{Status: notify.StatusSent}, t0); !errors.Is(err, notify.ErrStale) {
		t.Fatalf("stale finish: %v", err)
	}
	must(t, s.Finish(ctx, cl2[0], notify.Outcome{Status: notify.StatusPending, NextAttemptAt: t0.Add(time.Hour), Error: "421 busy"}, t0))
	cl3, err := s.ClaimNotifications(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	must(t, err)
	if len(cl3) != 2 {
		t.Fatalf("retry claim = %+v", cl3)
	}
	for _, n := range cl3 {
		must(t, s.Finish(ctx, n, notify.Outcome{Status: notify.StatusFailed, Error: "550 no such user"}, t0.Add(time.Hour)))
	}
	failed, err := s.Notifications(ctx, notify.StatusFailed, 10)
	must(t, err)
	if len(failed) != 2 || failed[0].LastError != "550 no such user" {
		t.Fatalf("failed = %+v", failed)
	}
	if p, _ := s.ClaimNotifications(ctx, t0.Add(24*time.Hour), t0.Add(25*time.Hour), 10); len(p) != 0 {
		t.Fatalf("failed rows claimed: %+v", p)
	}
}

func testConcurrentClaims(t *testing.T, s notify.Store) {
	ctx := context.Background()
	var ns []notify.Notification
	for i := range 40 {
		ns = append(ns, note(fmt.Sprintf("e%02d", i), notify.ChannelEmail, t0))
	}
	_, err := s.Apply(ctx, notify.Record{Notifications: ns})
	must(t, err)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cl, err := s.ClaimNotifications(ctx, t0, t0.Add(time.Hour), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(cl) == 0 {
					return
				}
				mu.Lock()
				for _, n := range cl {
					seen[n.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("claimed %d of 40", len(seen))
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s claimed %d times", id, c)
		}
	}
}

func testTimers(t *testing.T, s notify.Store) {
	ctx := context.Background()
	a := notify.Timer{ID: "expiring:h1", Kind: notify.TimerExpiring, HoldID: "h1", DueAt: t0}
	b := notify.Timer{ID: "reminder:h2", Kind: notify.TimerReminder, HoldID: "h2", DueAt: t0.Add(time.Hour)}
	c := notify.Timer{ID: "reminder:h3", Kind: notify.TimerReminder, HoldID: "h3", DueAt: t0}
	_, err := s.Apply(ctx, notify.Record{SetTimers: []notify.Timer{a, b, c}})
	must(t, err)
	_, err = s.Apply(ctx, notify.Record{CancelTimers: []string{"reminder:h3", "nope"}})
	must(t, err)
	cl, err := s.ClaimTimers(ctx, t0, t0.Add(time.Minute), 10)
	must(t, err)
	if len(cl) != 1 || cl[0].ID != a.ID || !cl[0].DueAt.Equal(t0) || cl[0].Kind != notify.TimerExpiring {
		t.Fatalf("claim = %+v", cl)
	}
	if again, _ := s.ClaimTimers(ctx, t0.Add(time.Second), t0.Add(time.Minute), 10); len(again) != 0 {
		t.Fatalf("leased timer claimed again: %+v", again)
	}
	n := note("expiring:h1@1", notify.ChannelEmail, t0)
	must(t, s.FireTimer(ctx, cl[0], []notify.Notification{n}))
	if err := s.FireTimer(ctx, cl[0], []notify.Notification{n}); !errors.Is(err, notify.ErrStale) {
		t.Fatalf("second fire: %v", err)
	}
	if again, _ := s.ClaimTimers(ctx, t0.Add(time.Hour*2), t0.Add(time.Hour*3), 10); len(again) != 1 || again[0].ID != b.ID {
		t.Fatalf("fired timer claimed again, or b missing: %+v", again)
	}
	ps, err := s.Notifications(ctx, notify.StatusPending, 10)
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("fire added %d", len(ps))
	}
	// A timer moved after its claim: the stale firing is refused and adds nothing.
	moved := b
	moved.DueAt = t0.Add(5 * time.Hour)
	_, err = s.Apply(ctx, notify.Record{SetTimers: []notify.Timer{moved}})
	must(t, err)
	if err := s.FireTimer(ctx, b, []notify.Notification{note("x", notify.ChannelEmail, t0)}); !errors.Is(err, notify.ErrStale) {
		t.Fatalf("fire of a moved timer: %v", err)
	}
	// A fired timer set again (a renewed hold) is pending again.
	a.DueAt = t0.Add(10 * time.Minute)
	_, err = s.Apply(ctx, notify.Record{SetTimers: []notify.Timer{a}})
	must(t, err)
	if cl, _ := s.ClaimTimers(ctx, t0.Add(10*time.Minute), t0.Add(11*time.Minute), 10); len(cl) != 1 || cl[0].ID != a.ID {
		t.Fatalf("re-set timer: %+v", cl)
	}
}

func testDevices(t *testing.T, s notify.Store) {
	ctx := context.Background()
	must(t, s.AddDevice(ctx, notify.Device{ID: "d1", UserID: "u1", Token: "tok1", Platform: "android", CreatedAt: t0}))
	must(t, s.AddDevice(ctx, notify.Device{ID: "d2", UserID: "u1", Token: "tok2", Platform: "ios", CreatedAt: t0.Add(time.Second)}))
	// The same token registered by another user moves to them.
	must(t, s.AddDevice(ctx, notify.Device{ID: "d3", UserID: "u2", Token: "tok1", Platform: "android", CreatedAt: t0}))
	ds, err := s.Devices(ctx, "u1")
	must(t, err)
	if len(ds) != 1 || ds[0].ID != "d2" || ds[0].Platform != "ios" {
		t.Fatalf("u1 devices = %+v", ds)
	}
	if err := s.DeleteDevice(ctx, "u1", "d3"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("deleting another user's device: %v", err)
	}
	must(t, s.DeleteToken(ctx, "tok1"))
	must(t, s.DeleteToken(ctx, "tok1"))
	if ds, _ := s.Devices(ctx, "u2"); len(ds) != 0 {
		t.Fatalf("u2 devices = %+v", ds)
	}
	must(t, s.DeleteDevice(ctx, "u1", "d2"))
}

func testPrefsTokens(t *testing.T, s notify.Store) {
	ctx := context.Background()
	if _, err := s.Preferences(ctx, "u1"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("missing prefs: %v", err)
	}
	p := notify.Preferences{Locale: "de", Timezone: "Europe/Berlin",
		Channels: map[notify.Kind][]notify.Channel{notify.KindReminder: {notify.ChannelSMS}}}
	must(t, s.PutPreferences(ctx, "u1", p, t0))
	p.Locale = "de-AT"
	must(t, s.PutPreferences(ctx, "u1", p, t0))
	got, err := s.Preferences(ctx, "u1")
	must(t, err)
	if got.Locale != "de-AT" || got.Timezone != "Europe/Berlin" || fmt.Sprint(got.Channels) != fmt.Sprint(p.Channels) {
		t.Fatalf("prefs = %+v", got)
	}
	must(t, s.SetCalendarToken(ctx, "u1", "hash1", t0))
	must(t, s.SetCalendarToken(ctx, "u1", "hash2", t0))
	if _, err := s.CalendarTokenUser(ctx, "hash1"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("rotated token still valid: %v", err)
	}
	if u, err := s.CalendarTokenUser(ctx, "hash2"); err != nil || u != "u1" {
		t.Fatalf("token user = %q %v", u, err)
	}
}

// testConcurrentWrites: events recorded while workers claim and finish, all at once, fail
// none of the calls (a store must not surface serialization conflicts of unrelated rows).
func testConcurrentWrites(t *testing.T, s notify.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 15 {
				h := fmt.Sprintf("h%d-%d", w, i)
				hs := notify.HoldState{HoldID: h, ResourceID: "r1", UserID: "u1", Status: notify.StatusConfirmed,
					Buckets: []string{"2026-12-24"}, Version: 1, UpdatedAt: t0}
				n := note("ev-"+h, notify.ChannelEmail, t0)
				n.HoldID = h
				_, err := s.Apply(ctx, notify.Record{Hold: &hs, Notifications: []notify.Notification{n},
					SetTimers:    []notify.Timer{{ID: "reminder:" + h, Kind: notify.TimerReminder, HoldID: h, DueAt: t0.Add(time.Hour)}},
					CancelTimers: []string{"expiring:" + h}})
				if err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 15 {
				cl, err := s.ClaimNotifications(ctx, t0, t0.Add(time.Minute), 4)
				if err != nil {
					errs <- err
					continue
				}
				for _, n := range cl {
					if err := s.Finish(ctx, n, notify.Outcome{Status: notify.StatusSent}, t0); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// fail claims the notifications due at now and records them failed.
func fail(t *testing.T, s notify.Store, now time.Time) []notify.Notification {
	t.Helper()
	ctx := context.Background()
	cl, err := s.ClaimNotifications(ctx, now, now.Add(time.Minute), 10)
	must(t, err)
	for _, n := range cl {
		must(t, s.Finish(ctx, n, notify.Outcome{Status: notify.StatusFailed, Error: "550 no such user"}, now))
	}
	return cl
}

// testRetry: only a failed notification is retried; it becomes pending and due at once with
// its attempt count going on, so an outcome of an older claim stays stale.
func testRetry(t *testing.T, s notify.Store) {
	ctx := context.Background()
	_, err := s.Apply(ctx, notify.Record{Notifications: []notify.Notification{note("e1", notify.ChannelEmail, t0),
		note("e2", notify.ChannelEmail, t0.Add(24*time.Hour)), note("e3", notify.ChannelPush, t0.Add(time.Hour))}})
	must(t, err)
	first, err := s.ClaimNotifications(ctx, t0, t0.Add(time.Minute), 10)
	must(t, err)
	if len(first) != 1 || first[0].EventID != "e1" {
		t.Fatalf("claim = %+v", first)
	}
	// Its lease runs out; the second claim fails it.
	if cl := fail(t, s, t0.Add(time.Minute)); len(cl) != 1 || cl[0].Attempts != 2 {
		t.Fatalf("second claim = %+v", cl)
	}
	id := first[0].ID

	if _, err := s.RetryNotification(ctx, "nt_nope", t0); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("retry of an unknown id: %v", err)
	}
	e2 := notify.NotificationID("e2", notify.ChannelEmail)
	if n, err := s.RetryNotification(ctx, e2, t0); !errors.Is(err, notify.ErrNotRetryable) || n.ID != e2 || n.Status != notify.StatusPending {
		t.Fatalf("retry of a pending one: %+v %v", n, err)
	}
	at := t0.Add(2*time.Hour + 1500*time.Microsecond) // kept to the millisecond
	n, err := s.RetryNotification(ctx, id, at)
	must(t, err)
	if n.ID != id || n.Status != notify.StatusPending || n.Attempts != 2 || n.LastError != "550 no such user" ||
		!n.NextAttemptAt.Equal(at.Truncate(time.Millisecond)) || !n.UpdatedAt.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("retried = %+v", n)
	}
	if again, err := s.RetryNotification(ctx, id, at); !errors.Is(err, notify.ErrNotRetryable) || again.Status != notify.StatusPending {
		t.Fatalf("second retry: %+v %v", again, err)
	}
	if failed, err := s.Notifications(ctx, notify.StatusFailed, 10); err != nil || len(failed) != 0 {
		t.Fatalf("failed after retry = %+v %v", failed, err)
	}
	// The first claim's outcome arrives late: still stale, the retry is not overwritten.
	if err := s.Finish(ctx, first[0], notify.Outcome{Status: notify.StatusSent}, at); !errors.Is(err, notify.ErrStale) {
		t.Fatalf("stale finish after retry: %v", err)
	}
	// e3 is due too (since t0+1h): the retried row and it are claimed, attempt 3 and 1.
	cl, err := s.ClaimNotifications(ctx, at, at.Add(time.Minute), 10)
	must(t, err)
	if len(cl) != 2 {
		t.Fatalf("claim after retry = %+v", cl)
	}
	for _, c := range cl {
		o := notify.Outcome{Status: notify.StatusSent}
		if c.ID == id && c.Attempts != 3 {
			t.Fatalf("retried claim = %+v", c)
		}
		if c.ID != id {
			o = notify.Outcome{Status: notify.StatusSkipped, Error: "no device"}
		}
		must(t, s.Finish(ctx, c, o, at))
	}
	for _, want := range []struct{ id, status string }{{id, notify.StatusSent}, {notify.NotificationID("e3", notify.ChannelPush), notify.StatusSkipped}} {
		if n, err := s.RetryNotification(ctx, want.id, at); !errors.Is(err, notify.ErrNotRetryable) || n.Status != want.status {
			t.Fatalf("retry of a %s one: %+v %v", want.status, n, err)
		}
	}
	if sent, err := s.Notifications(ctx, notify.StatusSent, 10); err != nil || len(sent) != 1 || sent[0].ID != id {
		t.Fatalf("sent = %+v %v", sent, err)
	}
}

// testConcurrentRetries: of concurrent retries of one failed notification exactly one
// succeeds; the rest see it pending.
func testConcurrentRetries(t *testing.T, s notify.Store) {
	ctx := context.Background()
	_, err := s.Apply(ctx, notify.Record{Notifications: []notify.Notification{note("e1", notify.ChannelEmail, t0)}})
	must(t, err)
	if cl := fail(t, s, t0); len(cl) != 1 {
		t.Fatalf("claim = %+v", cl)
	}
	id := notify.NotificationID("e1", notify.ChannelEmail)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.RetryNotification(ctx, id, t0.Add(time.Duration(i+1)*time.Second))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, notify.ErrNotRetryable):
			t.Fatalf("concurrent retry: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d retries won: %v", won, errs)
	}
	if cl, err := s.ClaimNotifications(ctx, t0.Add(time.Minute), t0.Add(2*time.Minute), 10); err != nil || len(cl) != 1 || cl[0].Attempts != 2 {
		t.Fatalf("claim after retries = %+v %v", cl, err)
	}
}
