package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/allot/allot/api/notify"
)

// testApplyEvents: a batch's records are stored with its inbox rows, in order per hold; the
// same batch again, or redelivered events among new ones (more than one chunk of inbox rows),
// add nothing for the events stored before; an event given twice in a batch applies once.
func testApplyEvents(t *testing.T, s notify.Store) {
	ctx := context.Background()
	hold := func(id string, v uint64, status string, invited bool) *notify.HoldState {
		return &notify.HoldState{HoldID: id, ResourceID: "r1", UserID: "u1", Status: status, Buckets: []string{"2026-12-24"},
			Quantity: 1, Version: v, Invited: invited, UpdatedAt: t0}
	}
	timer := notify.Timer{ID: notify.TimerID(notify.TimerExpiring, "h1"), Kind: notify.TimerExpiring, HoldID: "h1", DueAt: t0.Add(time.Minute)}
	batch := []notify.Consumed{
		{EventID: "p1", Record: notify.Record{Hold: hold("h1", 1, notify.StatusHeld, false), SetTimers: []notify.Timer{timer}}},
		{EventID: "c1", Record: notify.Record{Hold: hold("h1", 2, notify.StatusConfirmed, true),
			Notifications: []notify.Notification{note("c1", notify.ChannelEmail, t0), note("c1", notify.ChannelPush, t0)},
			CancelTimers:  []string{timer.ID}}},
		{EventID: "c1", Record: notify.Record{Notifications: []notify.Notification{note("c1", notify.ChannelSMS, t0)}}},
		{EventID: "x1"}, // an event with nothing to record but its inbox row
	}
	added, err := s.ApplyEvents(ctx, "notify", t0, batch)
	must(t, err)
	if added != 2 {
		t.Fatalf("added %d, want 2", added)
	}
	h, err := s.Hold(ctx, "h1")
	must(t, err)
	if h.Version != 2 || h.Status != notify.StatusConfirmed || !h.Invited {
		t.Fatalf("hold = %+v", h)
	}
	if ts, err := s.ClaimTimers(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10); err != nil || len(ts) != 0 {
		t.Fatalf("timers left: %v, %v", ts, err)
	}
	added, err = s.ApplyEvents(ctx, "notify", t0, batch) // redelivered whole
	must(t, err)
	if added != 0 {
		t.Fatalf("redelivery added %d", added)
	}
	// A redelivery mixed with new events, across more than one multi-row insert: only the
	// new events' records are applied (p1 again would set the timer anew).
	mixed := []notify.Consumed{batch[0]}
	for i := range 70 {
		ev := "n" + strconv.Itoa(i)
		mixed = append(mixed, notify.Consumed{EventID: ev, Record: notify.Record{Notifications: []notify.Notification{note(ev, notify.ChannelEmail, t0)}}})
	}
	added, err = s.ApplyEvents(ctx, "notify", t0, mixed)
	must(t, err)
	if added != 70 {
		t.Fatalf("mixed batch added %d, want 70", added)
	}
	if ts, err := s.ClaimTimers(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10); err != nil || len(ts) != 0 {
		t.Fatalf("a redelivered event set its timer again: %v, %v", ts, err)
	}
	// Another consumer's inbox is its own.
	added, err = s.ApplyEvents(ctx, "other", t0, []notify.Consumed{{EventID: "c1", Record: notify.Record{
		Notifications: []notify.Notification{note("c1", notify.ChannelSMS, t0)}}}})
	must(t, err)
	if added != 1 {
		t.Fatalf("another consumer's event added %d, want 1", added)
	}
	ps, err := s.Notifications(ctx, notify.StatusPending, 100)
	must(t, err)
	if len(ps) != 73 {
		t.Fatalf("%d pending, want 73", len(ps))
	}
}
