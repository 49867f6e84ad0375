package notify

import (
	"slices"
	"time"
)

// Span is when a hold takes place, from its bucket keys read in the resource's zone.
type Span struct {
	// Start and End bound the hold (End exclusive), in the resource's zone. For day keys
	// Start is the first night's midnight and End the morning after the last night.
	Start, End time.Time
	// AllDay is true for day keys (nights, all-day events), false for slot keys.
	AllDay bool
}

// Key layouts of actors/booking/calendar.go: a day key is YYYY-MM-DD, a slot key
// YYYY-MM-DDTHH:MM, the slot's start on the resource's wall clock.
const (
	dayLayout  = "2006-01-02"
	slotLayout = "2006-01-02T15:04"
)

// SpanOf returns the span of a hold's buckets in loc. Slots last slotEvery (an hour when
// zero). It reports false when a key is neither a day nor a slot key (a resource with named
// buckets has no times) or when days and slots are mixed. The span runs from the earliest
// key to the end of the latest one: a hold of separate days is shown as one event across
// them, which is what a calendar entry can say.
func SpanOf(buckets []string, loc *time.Location, slotEvery time.Duration) (Span, bool) {
	if len(buckets) == 0 || loc == nil {
		return Span{}, false
	}
	if slotEvery <= 0 {
		slotEvery = time.Hour
	}
	keys := slices.Clone(buckets)
	slices.Sort(keys) // both layouts sort by time as strings
	allDay := len(keys[0]) == len(dayLayout)
	layout := slotLayout
	if allDay {
		layout = dayLayout
	}
	var first, last time.Time
	for i, k := range keys {
		if len(k) != len(layout) {
			return Span{}, false
		}
		t, err := time.ParseInLocation(layout, k, loc)
		if err != nil {
			return Span{}, false
		}
		if i == 0 {
			first = t
		}
		last = t
	}
	if allDay {
		// The next calendar day, not +24h: a night across a DST change is 23 or 25 hours.
		return Span{Start: first, End: last.AddDate(0, 0, 1), AllDay: true}, true
	}
	return Span{Start: first, End: last.Add(slotEvery)}, true
}
