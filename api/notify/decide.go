package notify

import (
	"strconv"
	"time"
)

// Rules are the timing rules of the decisions. Config.Rules holds the node's; a resource may
// override ExpiryWarning (ResourceInfo.ExpiryWarning).
type Rules struct {
	// ExpiryWarning is how long before a held hold's expiry "complete your booking" is sent.
	// Zero: never.
	ExpiryWarning time.Duration
	// ReminderBefore is how long before the first bucket's start the reminder is sent.
	// Zero: never.
	ReminderBefore time.Duration
}

// DefaultRules are 2 minutes and 24 hours (issue 14).
func DefaultRules() Rules {
	return Rules{ExpiryWarning: 2 * time.Minute, ReminderBefore: 24 * time.Hour}
}

// Input is one event as Decide reads it.
type Input struct {
	// EventID, Type and Version are the event's (feed.Event).
	EventID string
	Type    string
	Version uint64
	// After is the hold's after-image carried by the event.
	After HoldState
	// Prev is the state before the event, nil when the service never saw the hold.
	Prev *HoldState
	// Start is when the hold's first bucket begins (zero: unknown, no reminder).
	Start time.Time
	// Now is the time the event is handled.
	Now time.Time
}

// Decide is the notification state machine for one event: what to send, which timers to set
// and cancel, and the hold's new state. It is pure: no clock, no I/O.
//
// Invariants: a cancellation is sent only for a hold that was sent an invitation; an event
// older than the state already applied (Version not above Prev.Version) changes nothing and
// sends nothing, so a redelivery after a later event cannot resurrect a timer; a timer is due
// strictly after Now, else it is not set.
func Decide(r Rules, in Input) Plan {
	if in.Prev != nil && in.Version <= in.Prev.Version {
		return Plan{}
	}
	h := in.After
	h.Version = in.Version
	h.UpdatedAt = in.Now
	if in.Prev != nil {
		h.Invited = in.Prev.Invited
	}
	p := Plan{Hold: &h}
	expiring, reminder := TimerID(TimerExpiring, h.HoldID), TimerID(TimerReminder, h.HoldID)
	switch in.Type {
	case EventPlaced, EventExtended, EventWaitlistOffered:
		if in.Type == EventWaitlistOffered {
			p.Sends = append(p.Sends, Send{Kind: KindOffer, EventID: in.EventID})
		}
		if t, ok := expiringTimer(r, h, in.Now); ok {
			p.SetTimers = append(p.SetTimers, t)
		} else {
			p.CancelTimers = append(p.CancelTimers, expiring)
		}
	case EventConfirmed:
		h.Invited = true
		p.Sends = append(p.Sends, Send{Kind: KindConfirmation, EventID: in.EventID})
		p.CancelTimers = append(p.CancelTimers, expiring)
		if r.ReminderBefore > 0 && !in.Start.IsZero() {
			if due := in.Start.Add(-r.ReminderBefore); due.After(in.Now) {
				p.SetTimers = append(p.SetTimers, Timer{ID: reminder, Kind: TimerReminder, HoldID: h.HoldID, DueAt: due})
			}
		}
	case EventCancelled, EventRefunded:
		if h.Invited {
			p.Sends = append(p.Sends, Send{Kind: KindCancellation, EventID: in.EventID})
		}
		p.CancelTimers = append(p.CancelTimers, expiring, reminder)
	case EventExpired:
		p.CancelTimers = append(p.CancelTimers, expiring, reminder)
	default:
		return Plan{}
	}
	return p
}

// expiringTimer is the warning timer of a held hold, if one is due after now.
func expiringTimer(r Rules, h HoldState, now time.Time) (Timer, bool) {
	if r.ExpiryWarning <= 0 || h.Status != StatusHeld || h.ExpiresAt.IsZero() {
		return Timer{}, false
	}
	due := h.ExpiresAt.Add(-r.ExpiryWarning)
	if !due.After(now) {
		return Timer{}, false
	}
	return Timer{ID: TimerID(TimerExpiring, h.HoldID), Kind: TimerExpiring, HoldID: h.HoldID, DueAt: due}, true
}

// DecideTimer decides what a due timer sends, given the hold's state now (nil: unknown). The
// state is checked here, at send time: the warning goes out only while the hold is still
// held, still expires when the timer assumed and has not expired yet; the reminder only while
// the hold is confirmed. A send's EventID names the timer and its due time, so that a timer
// moved and fired again is a new message while the same firing twice is one.
func DecideTimer(r Rules, t Timer, h *HoldState, now time.Time) []Send {
	if h == nil {
		return nil
	}
	id := t.ID + "@" + strconv.FormatInt(t.DueAt.UnixMilli(), 10)
	switch t.Kind {
	case TimerExpiring:
		if h.Status == StatusHeld && now.Before(h.ExpiresAt) && t.DueAt.Equal(h.ExpiresAt.Add(-r.ExpiryWarning)) {
			return []Send{{Kind: KindExpiring, EventID: id}}
		}
	case TimerReminder:
		if h.Status == StatusConfirmed {
			return []Send{{Kind: KindReminder, EventID: id}}
		}
	}
	return nil
}

// StillWanted reports whether a recorded send of kind k is still to be delivered given the
// hold's state now: the outbox worker asks just before handing a message to a provider. An
// expiry warning or offer queued before a confirm is dropped; so is a confirmation whose hold
// was cancelled before it went out, since its invitation would carry the cancellation's
// SEQUENCE and could arrive after the CANCEL, re-adding the event. Cancellations always go.
func StillWanted(k Kind, h *HoldState, now time.Time) bool {
	switch k {
	case KindExpiring, KindOffer:
		return h != nil && h.Status == StatusHeld && now.Before(h.ExpiresAt)
	case KindReminder, KindConfirmation:
		return h != nil && h.Status == StatusConfirmed
	}
	return true
}
