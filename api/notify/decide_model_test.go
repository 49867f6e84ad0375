package notify

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestDecideAgainstModel drives Decide and DecideTimer, with a timer table as the store keeps
// it, through random lives of a hold (placements, renewals, confirms, cancels, expiries,
// redeliveries of old events, time passing) and checks every send against a model of what
// the user should hear: a warning only while the hold is held, at its current expiry's
// warning time and before it; one confirmation per confirm; a cancellation only after a
// confirmation; a reminder only of a confirmed hold; nothing for a redelivery.
func TestDecideAgainstModel(t *testing.T) {
	r := Rules{ExpiryWarning: 2 * time.Minute, ReminderBefore: 24 * time.Hour}
	rng := rand.New(rand.NewPCG(14, 5))
	seen := map[Kind]int{}
	for run := range 500 {
		now := t0
		// The first bucket begins so that its reminder falls due within the walk or just after.
		start := t0.Add(24*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		var state *HoldState
		timers := map[string]Timer{}
		var version uint64
		type past struct {
			typ   string
			after HoldState
			ver   uint64
		}
		var history []past
		modelStatus := ""
		var modelExp time.Time
		confirms, invited := 0, false
		gotConfirms := 0

		apply := func(p Plan) {
			for _, id := range p.CancelTimers {
				delete(timers, id)
			}
			for _, tm := range p.SetTimers {
				timers[tm.ID] = tm
			}
			if p.Hold != nil {
				h := *p.Hold
				state = &h
			}
		}
		check := func(s Send, at time.Time) {
			seen[s.Kind]++
			switch s.Kind {
			case KindExpiring:
				if modelStatus != StatusHeld || !at.Before(modelExp) || at.Before(modelExp.Add(-r.ExpiryWarning)) {
					t.Fatalf("run %d: warning at %v, status %s, expiry %v", run, at, modelStatus, modelExp)
				}
			case KindConfirmation:
				gotConfirms++
			case KindCancellation:
				if !invited {
					t.Fatalf("run %d: cancellation without an invitation", run)
				}
			case KindReminder:
				if modelStatus != StatusConfirmed {
					t.Fatalf("run %d: reminder of a %s hold", run, modelStatus)
				}
			}
		}
		event := func(typ, status string, exp time.Time) {
			version++
			after := HoldState{HoldID: "h", ResourceID: "r", UserID: "u", Status: status, Buckets: []string{"k"}, ExpiresAt: exp}
			history = append(history, past{typ, after, version})
			modelStatus, modelExp = status, exp
			if typ == EventConfirmed {
				confirms++
			}
			p := Decide(r, Input{EventID: "e", Type: typ, Version: version, After: after, Prev: state, Start: start, Now: now})
			for _, s := range p.Sends {
				check(s, now)
			}
			if typ == EventConfirmed {
				invited = true
			}
			apply(p)
		}
		for step := 0; step < 12; step++ {
			now = now.Add(time.Duration(rng.IntN(240)) * time.Second)
			// Fire due timers against the state now, as the service does.
			for id, tm := range timers {
				if !tm.DueAt.After(now) {
					for _, s := range DecideTimer(r, tm, state, now) {
						check(s, now)
					}
					delete(timers, id)
				}
			}
			switch {
			case modelStatus == "":
				event(EventPlaced, StatusHeld, now.Add(time.Duration(1+rng.IntN(10))*time.Minute))
			case modelStatus == StatusHeld && !now.Before(modelExp):
				event(EventExpired, StatusExpired, time.Time{})
			case modelStatus == StatusHeld:
				switch rng.IntN(4) {
				case 0:
					event(EventExtended, StatusHeld, modelExp.Add(time.Duration(1+rng.IntN(5))*time.Minute))
				case 1:
					event(EventConfirmed, StatusConfirmed, time.Time{})
				case 2:
					event(EventCancelled, StatusCancelled, time.Time{})
				}
			case modelStatus == StatusConfirmed && rng.IntN(4) == 0:
				event([]string{EventCancelled, EventRefunded}[rng.IntN(2)], StatusCancelled, time.Time{})
			}
			if len(history) > 0 && rng.IntN(3) == 0 {
				old := history[rng.IntN(len(history))]
				p := Decide(r, Input{EventID: "e", Type: old.typ, Version: old.ver, After: old.after, Prev: state, Start: start, Now: now})
				if p.Hold != nil || len(p.Sends) != 0 || len(p.SetTimers) != 0 {
					t.Fatalf("run %d: redelivery of version %d did something: %+v", run, old.ver, p)
				}
			}
		}
		if gotConfirms != confirms {
			t.Fatalf("run %d: %d confirmations for %d confirms", run, gotConfirms, confirms)
		}
	}
	// The walk must reach every kind it checks, or it proves nothing.
	for _, k := range []Kind{KindExpiring, KindConfirmation, KindCancellation, KindReminder} {
		if seen[k] == 0 {
			t.Errorf("no %s in 500 runs", k)
		}
	}
	t.Logf("sends seen: %v", seen)
}

func FuzzParseSMTPURL(f *testing.F) {
	for _, s := range []string{"smtps://u:p@h:465", "smtp://h:587?starttls=required", "smtp://h", "smtp://[::1]:25", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSMTPURL(s)
		if err != nil {
			return
		}
		if c.Host == "" || c.Port <= 0 || c.Port > 65535 || (c.ImplicitTLS && c.RequireSTARTTLS) {
			t.Fatalf("%q gave %+v", s, c)
		}
	})
}

func FuzzSpanOf(f *testing.F) {
	f.Add("2026-12-24", "2026-12-25")
	f.Add("2026-12-24T10:00", "2026-03-29T02:30")
	f.Add("2026-02-30", "x")
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sp, ok := SpanOf([]string{a, b}, berlin, 30*time.Minute)
		if ok && !sp.End.After(sp.Start) {
			t.Fatalf("%q %q: span %v..%v", a, b, sp.Start, sp.End)
		}
	})
}
