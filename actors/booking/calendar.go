package booking

import (
	"time"
	_ "time/tzdata" // zones from the binary, so that a zone means the same on every node
)

// Calendars and ranges: days and slots named by their local wall-clock start, in the
// resource's time zone.
//
// A day key is YYYY-MM-DD; a slot key is YYYY-MM-DDTHH:MM, the slot's start as read on a wall
// clock of the zone. Days are calendar days whatever their length (23 or 25 hours on a DST
// change). Slots step through absolute time by Every, so a slot whose start does not exist on
// the wall clock (the hour skipped in spring) has no key, and the hour repeated in autumn is
// one bucket (both occurrences have the same wall-clock key): a resource that sells that hour
// twice lists it under a key of its own.

// Calendar describes a resource's buckets as a run of days or slots with one capacity:
// From..To (To exclusive), each a day or slot key, every Every. Every is 24h for days, or a
// slot length from a minute to 12h that divides a day (15m, 1h, 2h...), for slots.
type Calendar struct {
	From     string
	To       string
	Every    time.Duration
	Capacity int64
}

// Range names the buckets of a hold by span: From..To, To exclusive. Two day keys are the
// nights From, From+1, ..., To-1 (a hotel stay: check-in to check-out); two slot keys are the
// slots starting at From up to To, stepping by the resource's SlotEvery.
type Range struct {
	From string
	To   string
}

// Day is the step of a daily calendar.
const Day = 24 * time.Hour

// LoadTimezone returns the location of an IANA zone name; "" is UTC. Names are resolved from
// the zone database embedded in the binary when the host has none, so every node agrees.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" || len(name) > 64 {
		return nil, invalidf("timezone %s is not an IANA time zone name", quote(name))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalidf("timezone %s is not an IANA time zone name", quote(name))
	}
	return loc, nil
}

// ValidateTimezone checks an IANA time zone name (LoadTimezone).
func ValidateTimezone(name string) error {
	_, err := LoadTimezone(name)
	return err
}

// validEvery reports whether every may step a calendar: a day, or a whole number of minutes up
// to 12h that divides a day.
func validEvery(every time.Duration) bool {
	if every == Day {
		return true
	}
	return every >= time.Minute && every <= 12*time.Hour && every%time.Minute == 0 && Day%every == 0
}

// parseKey reads a day or slot key as a wall-clock time in loc. day tells which it was.
func parseKey(k string, loc *time.Location) (t time.Time, day bool, ok bool) {
	if !validKeyChars(k) || !looksLikeDate(k) || !validDate(k) {
		return time.Time{}, false, false
	}
	if len(k) == len(dayLayout) {
		t, err := time.ParseInLocation(dayLayout, k, loc)
		return t, true, err == nil
	}
	t, err := time.ParseInLocation(slotLayout, k, loc)
	return t, false, err == nil
}

// ExpandSpan returns the keys of the days or slots from..to (to exclusive) in loc: day keys
// when every is Day (from and to must then be day keys), slot keys otherwise (from and to may
// be day keys, meaning midnight, or slot keys). It refuses, with CodeInvalid, a span that is
// empty, reversed, or longer than limit keys; the expansion stops as soon as it passes limit,
// so a huge span costs no more than limit steps.
func ExpandSpan(from, to string, every time.Duration, loc *time.Location, limit int) ([]string, error) {
	if !validEvery(every) {
		return nil, invalidf("every must be 24h, or a slot length from 1m to 12h that divides a day")
	}
	start, fromDay, ok1 := parseKey(from, loc)
	end, toDay, ok2 := parseKey(to, loc)
	if !ok1 || !ok2 {
		return nil, invalidf("from and to must be dates YYYY-MM-DD or slots YYYY-MM-DDTHH:MM")
	}
	if every == Day && (!fromDay || !toDay) {
		return nil, invalidf("a daily span runs from a date to a date")
	}
	if !start.Before(end) {
		return nil, invalidf("from %s must be before to %s", quote(from), quote(to))
	}
	var keys []string
	if every == Day {
		for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
			if len(keys) == limit {
				return nil, invalidf("the span from %s to %s has more than %d days", quote(from), quote(to), limit)
			}
			keys = append(keys, d.Format(dayLayout))
		}
		return keys, nil
	}
	// Slots step through absolute time from the first one. A key not after the last one is
	// the repeated hour of an autumn DST change: it is listed once.
	for t := start; t.Before(end); t = t.Add(every) {
		k := t.Format(slotLayout)
		if n := len(keys); n > 0 && keys[n-1] >= k {
			continue
		}
		if len(keys) == limit {
			return nil, invalidf("the span from %s to %s has more than %d slots", quote(from), quote(to), limit)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ExpandCalendar returns the buckets of a calendar in loc: every key with the calendar's
// capacity. At most MaxBuckets keys.
func ExpandCalendar(c Calendar, loc *time.Location) (map[string]int64, error) {
	keys, err := ExpandSpan(c.From, c.To, c.Every, loc, MaxBuckets)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(keys))
	for _, k := range keys {
		if err := ValidateCapacity(k, c.Capacity); err != nil {
			return nil, err
		}
		out[k] = c.Capacity
	}
	return out, nil
}

// ExpandRange returns the bucket keys a hold range names on a resource: nights for two day
// keys, slots stepping by slotEvery for slot keys (invalid when slotEvery is 0). At most
// MaxHoldBuckets keys. It does not check that the keys are buckets of the resource.
func ExpandRange(r Range, slotEvery time.Duration, loc *time.Location) ([]string, error) {
	if len(r.From) == len(dayLayout) && len(r.To) == len(dayLayout) {
		return ExpandSpan(r.From, r.To, Day, loc, MaxHoldBuckets)
	}
	if slotEvery == 0 {
		return nil, invalidf("a range of slots needs a resource created with a slot calendar")
	}
	return ExpandSpan(r.From, r.To, slotEvery, loc, MaxHoldBuckets)
}

// ExpandRange returns the bucket keys a range names on this resource (ExpandRange in its
// time zone and slot step), each checked to be a bucket of the resource.
func (s *State) ExpandRange(r Range) ([]string, error) {
	loc, err := LoadTimezone(s.resource.Timezone())
	if err != nil {
		return nil, err
	}
	keys, err := ExpandRange(r, s.resource.SlotEvery(), loc)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if s.buckets.get(k) == nil {
			return nil, Errorf(CodeInvalid, "resource %s has no bucket %s", quote(s.id), quote(k))
		}
	}
	return keys, nil
}

// FirstStart is when the earliest of keys begins, read in the IANA zone timezone: midnight of
// a day key, the start of a slot key. Opaque keys (not dates) have no start; zero when none of
// keys has one or the zone is unknown. A cancellation policy measures its notice against it.
func FirstStart(keys []string, timezone string) time.Time {
	loc, err := LoadTimezone(timezone)
	if err != nil {
		return time.Time{}
	}
	var first time.Time
	for _, k := range keys {
		if t, _, ok := parseKey(k, loc); ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}
