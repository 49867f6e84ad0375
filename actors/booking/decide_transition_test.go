package booking

import (
	"reflect"
	"testing"
	"time"
)

func TestConfirmCancel(t *testing.T) {
	const ttl = time.Minute
	deadline := t0.Add(ttl)
	type setup func(*testing.T, *State)
	held := func(*testing.T, *State) {}
	confirmed := func(t *testing.T, s *State) { MustTransition(t, s, "h1", true, t0) }
	cancelled := func(t *testing.T, s *State) { MustTransition(t, s, "h1", false, t0) }
	expired := func(t *testing.T, s *State) { MustApply(t, s, s.ExpireDue(deadline)) }
	confirmedThenCancelled := func(t *testing.T, s *State) {
		MustTransition(t, s, "h1", true, t0)
		MustTransition(t, s, "h1", false, t0)
	}
	tests := []struct {
		name    string
		setup   setup
		confirm bool // else cancel
		id      string
		at      time.Time
		code    string
		events  int
		status  Status // of h1 afterwards
	}{
		{"held -> confirmed", held, true, "h1", t0, "", 1, StatusConfirmed},
		{"held -> confirmed just before deadline", held, true, "h1", deadline.Add(-time.Nanosecond), "", 1, StatusConfirmed},
		{"held confirm at deadline", held, true, "h1", deadline, CodeConflict, 0, StatusHeld},
		{"held confirm after deadline", held, true, "h1", deadline.Add(time.Hour), CodeConflict, 0, StatusHeld},
		{"held -> cancelled", held, false, "h1", t0, "", 1, StatusCancelled},
		{"held cancel at deadline", held, false, "h1", deadline, CodeConflict, 0, StatusHeld},
		{"confirmed -> confirmed is a no-op", confirmed, true, "h1", t0, "", 0, StatusConfirmed},
		{"confirmed confirm after deadline is a no-op", confirmed, true, "h1", deadline.Add(time.Hour), "", 0, StatusConfirmed},
		{"confirmed -> cancelled", confirmed, false, "h1", t0, "", 1, StatusCancelled},
		{"confirmed -> cancelled after deadline", confirmed, false, "h1", deadline.Add(time.Hour), "", 1, StatusCancelled},
		{"cancelled -> cancel is a no-op", cancelled, false, "h1", t0, "", 0, StatusCancelled},
		{"confirmed-then-cancelled cancel is a no-op", confirmedThenCancelled, false, "h1", t0, "", 0, StatusCancelled},
		{"cancelled confirm", cancelled, true, "h1", t0, CodeConflict, 0, StatusCancelled},
		{"expired confirm", expired, true, "h1", t0, CodeConflict, 0, StatusExpired},
		{"expired cancel", expired, false, "h1", t0, CodeConflict, 0, StatusExpired},
		{"unknown hold confirm", held, true, "nope", t0, CodeNotFound, 0, StatusHeld},
		{"unknown hold cancel", held, false, "nope", t0, CodeNotFound, 0, StatusHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustCreate(t, map[string]int64{"a": 5, "b": 5}, ttl)
			MustHold(t, s, "h1", 2, t0, "a", "b")
			MustHold(t, s, "other", 1, t0, "a")
			tt.setup(t, s)
			before := observe(s)
			var evs []Event
			var err error
			if tt.confirm {
				evs, err = s.DecideConfirm(ConfirmHold{HoldID: tt.id}, tt.at)
			} else {
				evs, err = s.DecideCancel(CancelHold{HoldID: tt.id}, tt.at)
			}
			wantCode(t, err, tt.code)
			wantUnchanged(t, s, before)
			if len(evs) != tt.events {
				t.Fatalf("events = %v, want %d", evs, tt.events)
			}
			for _, e := range evs {
				var want Event = HoldCancelled{HoldID: tt.id, At: tt.at}
				if tt.confirm {
					want = HoldConfirmed{HoldID: tt.id, At: tt.at}
				}
				if !reflect.DeepEqual(e, want) {
					t.Fatalf("event = %#v, want %#v", e, want)
				}
			}
			MustApply(t, s, evs)
			h, _ := s.Hold("h1")
			if h.Status != tt.status {
				t.Fatalf("status = %s, want %s", h.Status, tt.status)
			}
			if tt.events > 0 && !h.UpdatedAt.Equal(tt.at) {
				t.Fatalf("UpdatedAt = %v, want %v", h.UpdatedAt, tt.at)
			}
			if !h.ExpiresAt.Equal(deadline) {
				t.Fatalf("ExpiresAt changed to %v", h.ExpiresAt)
			}
			// h1 claims 2 in a and b; "other" claims 1 in a and stays held unless expired.
			var h1Held, h1Conf, otherHeld int64
			switch h.Status {
			case StatusHeld:
				h1Held = 2
			case StatusConfirmed:
				h1Conf = 2
			}
			if o, _ := s.Hold("other"); o.Status == StatusHeld {
				otherHeld = 1
			}
			wantBucket(t, s, "a", 5, h1Held+otherHeld, h1Conf)
			wantBucket(t, s, "b", 5, h1Held, h1Conf)
		})
	}
}

func TestConfirmCancelNotFound(t *testing.T) {
	s := NewState("r1")
	_, err := s.DecideConfirm(ConfirmHold{HoldID: "h1"}, t0)
	wantCode(t, err, CodeNotFound)
	_, err = s.DecideCancel(CancelHold{HoldID: "h1"}, t0)
	wantCode(t, err, CodeNotFound)
}

// TestConfirmedNeverExpires checks that ExpireDue ignores confirmed holds, whose ExpiresAt
// is kept as it was.
func TestConfirmedNeverExpires(t *testing.T) {
	s := MustCreate(t, map[string]int64{"a": 1}, time.Minute)
	MustHold(t, s, "h1", 1, t0, "a")
	MustTransition(t, s, "h1", true, t0)
	if evs := s.ExpireDue(t0.Add(24 * time.Hour)); evs != nil {
		t.Fatalf("ExpireDue = %v", evs)
	}
	wantBucket(t, s, "a", 1, 0, 1)
}
