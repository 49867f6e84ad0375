package notify

import (
	"time"

	ics "github.com/arran4/golang-ical"
)

// productID names this service in every calendar it writes (PRODID).
const productID = "-//Allot//Notifications//EN"

// Invite is one booking as a calendar event.
type Invite struct {
	// HoldID is the event's UID: every update and the cancellation of a booking carry the
	// same UID, so calendar clients replace the entry instead of adding one.
	HoldID string
	// Sequence rises with every change of the hold (the resource version of the event).
	Sequence uint64
	Summary  string
	Span     Span
	// Zone is the resource's IANA zone; timed events are written in it (TZID).
	Zone string
	// Organizer is the mailbox the messages come from; Attendee the user's, if known.
	Organizer, Attendee string
	// Stamp is DTSTAMP: when this version of the event was made (the event's time).
	Stamp     time.Time
	Cancelled bool
}

// InvitationICS returns an iTIP message (RFC 5546) for one booking: METHOD:REQUEST with the
// event, or METHOD:CANCEL with STATUS:CANCELLED for the same UID when inv.Cancelled.
func InvitationICS(inv Invite) string {
	cal := newCalendar()
	method := ics.MethodRequest
	if inv.Cancelled {
		method = ics.MethodCancel
	}
	cal.SetMethod(method)
	addEvent(cal, inv)
	return cal.Serialize()
}

// FeedICS returns a subscribable calendar (METHOD:PUBLISH) of bookings, named name.
func FeedICS(name string, invs []Invite) string {
	cal := newCalendar()
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(name)
	for _, inv := range invs {
		addEvent(cal, inv)
	}
	return cal.Serialize()
}

func newCalendar() *ics.Calendar {
	cal := ics.NewCalendar()
	cal.SetProductId(productID)
	return cal
}

func addEvent(cal *ics.Calendar, inv Invite) {
	ev := cal.AddEvent(inv.HoldID)
	ev.SetDtStampTime(inv.Stamp)
	ev.SetSequence(int(min(inv.Sequence, 1<<31-1)))
	ev.SetSummary(inv.Summary)
	if inv.Organizer != "" {
		ev.SetOrganizer(inv.Organizer)
	}
	if inv.Attendee != "" {
		ev.AddAttendee(inv.Attendee, ics.ParticipationRoleReqParticipant, ics.WithRSVP(false))
	}
	if inv.Cancelled {
		ev.SetStatus(ics.ObjectStatusCancelled)
	} else {
		ev.SetStatus(ics.ObjectStatusConfirmed)
	}
	switch {
	case inv.Span.Start.IsZero():
		// A resource with named buckets: no times to give. DTSTART is required, so the
		// event is the day it was booked.
		ev.SetAllDayStartAt(inv.Stamp)
	case inv.Span.AllDay:
		ev.SetAllDayStartAt(inv.Span.Start)
		ev.SetAllDayEndAt(inv.Span.End)
	default:
		// Wall-clock times with the resource's zone, so that the entry stays at 10:00 in
		// Berlin whatever zone the reader is in.
		const local = "20060102T150405"
		ev.SetProperty(ics.ComponentPropertyDtStart, inv.Span.Start.Format(local), ics.WithTZID(inv.Zone))
		ev.SetProperty(ics.ComponentPropertyDtEnd, inv.Span.End.Format(local), ics.WithTZID(inv.Zone))
	}
}
