package notify

import (
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

func TestSpanOf(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := SpanOf([]string{"2026-03-29", "2026-03-28"}, berlin, 0)
	if !ok || !sp.AllDay || sp.Start.Format(dayLayout) != "2026-03-28" || sp.End.Format(dayLayout) != "2026-03-30" {
		t.Fatalf("nights: %+v %v", sp, ok)
	}
	sp, ok = SpanOf([]string{"2026-12-24T10:00", "2026-12-24T11:00"}, berlin, 0)
	if !ok || sp.AllDay || sp.Start.Hour() != 10 || sp.End.Hour() != 12 || sp.Start.Location() != berlin {
		t.Fatalf("slots: %+v %v", sp, ok)
	}
	for _, bad := range [][]string{nil, {"seat-a"}, {"2026-12-24", "2026-12-24T10:00"}, {"2026-13-40"}} {
		if _, ok := SpanOf(bad, berlin, time.Hour); ok {
			t.Errorf("%q has a span", bad)
		}
	}
}

// parseInvite parses an iTIP message back and returns its method and one event.
func parseInvite(t *testing.T, s string) (string, *ics.VEvent) {
	t.Helper()
	cal, err := ics.ParseCalendar(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	var method string
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == string(ics.PropertyMethod) {
			method = p.Value
		}
	}
	return method, evs[0]
}

func prop(ev *ics.VEvent, p ics.ComponentProperty) string {
	if v := ev.GetProperty(p); v != nil {
		return v.Value
	}
	return ""
}

func TestInvitationRoundTrip(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	sp, _ := SpanOf([]string{"2026-12-24T10:00"}, berlin, 30*time.Minute)
	inv := Invite{HoldID: "h_1", Sequence: 7, Summary: "Sauna; \"big\", room", Span: sp, Zone: "Europe/Berlin",
		Organizer: "n@allot.example", Attendee: "a@example.com", Stamp: t0}
	method, ev := parseInvite(t, InvitationICS(inv))
	if method != "REQUEST" || ev.Id() != "h_1" || prop(ev, ics.ComponentPropertySequence) != "7" ||
		prop(ev, ics.ComponentPropertySummary) != inv.Summary {
		t.Fatalf("request: method %s uid %s seq %s summary %q", method, ev.Id(), prop(ev, ics.ComponentPropertySequence),
			prop(ev, ics.ComponentPropertySummary))
	}
	start, err := ev.GetStartAt()
	if err != nil || !start.Equal(sp.Start) {
		t.Fatalf("start %v (%v), want %v", start, err, sp.Start)
	}
	end, err := ev.GetEndAt()
	if err != nil || !end.Equal(sp.Start.Add(30*time.Minute)) {
		t.Fatalf("end %v (%v)", end, err)
	}
	if tz := ev.GetProperty(ics.ComponentPropertyDtStart).ICalParameters["TZID"]; len(tz) != 1 || tz[0] != "Europe/Berlin" {
		t.Fatalf("TZID %v", tz)
	}

	inv.Cancelled, inv.Sequence = true, 8
	method, ev = parseInvite(t, InvitationICS(inv))
	if method != "CANCEL" || ev.Id() != "h_1" || prop(ev, ics.ComponentPropertySequence) != "8" ||
		prop(ev, ics.ComponentPropertyStatus) != "CANCELLED" {
		t.Fatalf("cancel: %s %s %s", method, ev.Id(), prop(ev, ics.ComponentPropertySequence))
	}

	days, _ := SpanOf([]string{"2026-12-24", "2026-12-25"}, berlin, 0)
	_, ev = parseInvite(t, InvitationICS(Invite{HoldID: "h_2", Span: days, Zone: "Europe/Berlin", Stamp: t0}))
	if d := ev.GetProperty(ics.ComponentPropertyDtStart); d.Value != "20261224" || d.ICalParameters["VALUE"][0] != "DATE" {
		t.Fatalf("all-day start %+v", d)
	}
	if d := prop(ev, ics.ComponentPropertyDtEnd); d != "20261226" {
		t.Fatalf("all-day end %s", d)
	}
}

func TestFeedICS(t *testing.T) {
	s := FeedICS("My bookings", []Invite{{HoldID: "a", Stamp: t0}, {HoldID: "b", Stamp: t0}})
	cal, err := ics.ParseCalendar(strings.NewReader(s))
	if err != nil || len(cal.Events()) != 2 || !strings.Contains(s, "METHOD:PUBLISH") {
		t.Fatalf("feed: %v\n%s", err, s)
	}
}
