package notify

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func held(id string, exp time.Time) HoldState {
	return HoldState{HoldID: id, ResourceID: "r1", UserID: "u1", Status: StatusHeld, Buckets: []string{"2026-12-24"},
		Quantity: 1, ExpiresAt: exp}
}

func kinds(p Plan) []Kind {
	var out []Kind
	for _, s := range p.Sends {
		out = append(out, s.Kind)
	}
	return out
}

// TestDecideScenario walks one hold through its life and checks each step's plan.
func TestDecideScenario(t *testing.T) {
	r := DefaultRules()
	exp := t0.Add(10 * time.Minute)
	start := time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)

	p := Decide(r, Input{EventID: "e1", Type: EventPlaced, Version: 3, After: held("h1", exp), Now: t0})
	if len(p.Sends) != 0 || len(p.SetTimers) != 1 || !p.SetTimers[0].DueAt.Equal(exp.Add(-2*time.Minute)) ||
		p.SetTimers[0].ID != "expiring:h1" {
		t.Fatalf("placed: %+v", p)
	}
	prev := *p.Hold

	// Extended: the warning moves with the expiry.
	exp2 := exp.Add(10 * time.Minute)
	p = Decide(r, Input{EventID: "e2", Type: EventExtended, Version: 4, After: held("h1", exp2), Prev: &prev, Now: t0.Add(time.Minute)})
	if len(p.SetTimers) != 1 || !p.SetTimers[0].DueAt.Equal(exp2.Add(-2*time.Minute)) {
		t.Fatalf("extended: %+v", p)
	}
	prev = *p.Hold

	conf := held("h1", time.Time{})
	conf.Status = StatusConfirmed
	p = Decide(r, Input{EventID: "e3", Type: EventConfirmed, Version: 5, After: conf, Prev: &prev, Start: start, Now: t0.Add(2 * time.Minute)})
	if !slices.Equal(kinds(p), []Kind{KindConfirmation}) || !slices.Contains(p.CancelTimers, "expiring:h1") ||
		len(p.SetTimers) != 1 || p.SetTimers[0].Kind != TimerReminder || !p.SetTimers[0].DueAt.Equal(start.Add(-24*time.Hour)) ||
		!p.Hold.Invited || p.Hold.Version != 5 {
		t.Fatalf("confirmed: %+v", p)
	}
	prev = *p.Hold

	// A redelivery of an older event changes nothing.
	if p := Decide(r, Input{EventID: "e1", Type: EventPlaced, Version: 3, After: held("h1", exp), Prev: &prev, Now: t0.Add(3 * time.Minute)}); p.Hold != nil || len(p.SetTimers) != 0 {
		t.Fatalf("old event replayed: %+v", p)
	}

	canc := conf
	canc.Status = StatusCancelled
	p = Decide(r, Input{EventID: "e4", Type: EventCancelled, Version: 6, After: canc, Prev: &prev, Now: t0.Add(4 * time.Minute)})
	if !slices.Equal(kinds(p), []Kind{KindCancellation}) || len(p.CancelTimers) != 2 {
		t.Fatalf("cancelled: %+v", p)
	}
}

func TestDecideEdges(t *testing.T) {
	r := DefaultRules()
	exp := t0.Add(time.Minute) // shorter than the warning: no timer
	if p := Decide(r, Input{EventID: "e", Type: EventPlaced, Version: 1, After: held("h", exp), Now: t0}); len(p.SetTimers) != 0 {
		t.Fatalf("warning in the past set: %+v", p)
	}
	// A held hold cancelled before any invitation: no message.
	prev := held("h", t0.Add(time.Hour))
	prev.Version = 1
	c := prev
	c.Status = StatusCancelled
	if p := Decide(r, Input{EventID: "e2", Type: EventCancelled, Version: 2, After: c, Prev: &prev, Now: t0}); len(p.Sends) != 0 {
		t.Fatalf("cancel of an uninvited hold sends: %+v", p)
	}
	// A refund of a confirmed hold cancels the invitation.
	prev.Invited, prev.Status = true, StatusConfirmed
	if p := Decide(r, Input{EventID: "e3", Type: EventRefunded, Version: 3, After: c, Prev: &prev, Now: t0}); !slices.Equal(kinds(p), []Kind{KindCancellation}) {
		t.Fatalf("refund: %+v", p)
	}
	// A slot within the reminder window gets no reminder.
	conf := held("h2", time.Time{})
	conf.Status = StatusConfirmed
	if p := Decide(r, Input{EventID: "e4", Type: EventConfirmed, Version: 1, After: conf, Start: t0.Add(time.Hour), Now: t0}); len(p.SetTimers) != 0 {
		t.Fatalf("late reminder set: %+v", p)
	}
	// Waitlist offers are sent and warned about.
	if p := Decide(r, Input{EventID: "e5", Type: EventWaitlistOffered, Version: 1, After: held("h3", t0.Add(time.Hour)), Now: t0}); !slices.Equal(kinds(p), []Kind{KindOffer}) || len(p.SetTimers) != 1 {
		t.Fatalf("offer: %+v", p)
	}
	// Unknown types do nothing.
	if p := Decide(r, Input{EventID: "e6", Type: "bucket.sold_out", Version: 9, After: held("h4", t0), Now: t0}); p.Hold != nil {
		t.Fatalf("unknown type: %+v", p)
	}
}

// TestDecideTimerChecksStateAtSendTime: the warning is not sent once the hold was confirmed,
// cancelled or extended (the timer then fires for the new expiry), the reminder only for a
// confirmed hold.
func TestDecideTimerChecksStateAtSendTime(t *testing.T) {
	r := DefaultRules()
	exp := t0.Add(10 * time.Minute)
	tm := Timer{ID: "expiring:h", Kind: TimerExpiring, HoldID: "h", DueAt: exp.Add(-2 * time.Minute)}
	h := held("h", exp)
	now := tm.DueAt
	if s := DecideTimer(r, tm, &h, now); len(s) != 1 || s[0].Kind != KindExpiring || s[0].EventID != fmt.Sprintf("expiring:h@%d", tm.DueAt.UnixMilli()) {
		t.Fatalf("due warning: %+v", s)
	}
	for name, mut := range map[string]func(*HoldState){
		"confirmed": func(h *HoldState) { h.Status = StatusConfirmed },
		"cancelled": func(h *HoldState) { h.Status = StatusCancelled },
		"extended":  func(h *HoldState) { h.ExpiresAt = h.ExpiresAt.Add(time.Hour) },
	} {
		h := held("h", exp)
		mut(&h)
		if s := DecideTimer(r, tm, &h, now); len(s) != 0 {
			t.Errorf("%s: warning sent: %+v", name, s)
		}
		if StillWanted(KindExpiring, &h, now) && name != "extended" {
			t.Errorf("%s: still wanted", name)
		}
	}
	rm := Timer{ID: "reminder:h", Kind: TimerReminder, HoldID: "h", DueAt: now}
	c := held("h", time.Time{})
	c.Status = StatusConfirmed
	if s := DecideTimer(r, rm, &c, now); len(s) != 1 || s[0].Kind != KindReminder {
		t.Fatalf("reminder: %+v", s)
	}
	c.Status = StatusCancelled
	if s := DecideTimer(r, rm, &c, now); len(s) != 0 {
		t.Fatalf("reminder of a cancelled hold: %+v", s)
	}
	if s := DecideTimer(r, rm, nil, now); s != nil {
		t.Fatalf("unknown hold: %+v", s)
	}
}

func TestStillWanted(t *testing.T) {
	h := held("h", t0.Add(time.Minute))
	c := held("h", time.Time{})
	c.Status = StatusConfirmed
	x := c
	x.Status = StatusCancelled
	for _, tc := range []struct {
		k    Kind
		h    *HoldState
		now  time.Time
		want bool
	}{
		{KindExpiring, &h, t0, true}, {KindExpiring, &h, t0.Add(time.Minute), false}, {KindExpiring, &c, t0, false},
		{KindOffer, &h, t0, true}, {KindOffer, &x, t0, false},
		{KindConfirmation, &c, t0, true}, {KindConfirmation, &x, t0, false},
		{KindReminder, &c, t0, true}, {KindReminder, &x, t0, false}, {KindReminder, nil, t0, false},
		{KindCancellation, &x, t0, true},
	} {
		if got := StillWanted(tc.k, tc.h, tc.now); got != tc.want {
			t.Errorf("StillWanted(%s, %+v, %v) = %v", tc.k, tc.h, tc.now, got)
		}
	}
}
