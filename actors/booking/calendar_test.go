package booking

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExpandSpan(t *testing.T) {
	berlin, err := LoadTimezone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := LoadTimezone("America/New_York")
	tests := []struct {
		name     string
		from, to string
		every    time.Duration
		loc      *time.Location
		limit    int
		want     []string
		code     string
	}{
		{"three nights", "2026-12-24", "2026-12-27", Day, time.UTC, 62, []string{"2026-12-24", "2026-12-25", "2026-12-26"}, ""},
		{"across a year", "2026-12-31", "2027-01-02", Day, berlin, 62, []string{"2026-12-31", "2027-01-01"}, ""},
		{"leap day", "2028-02-28", "2028-03-01", Day, time.UTC, 62, []string{"2028-02-28", "2028-02-29"}, ""},
		{"spring DST day is one day", "2026-03-28", "2026-03-31", Day, berlin, 62, []string{"2026-03-28", "2026-03-29", "2026-03-30"}, ""},
		{"autumn DST day is one day", "2026-10-24", "2026-10-26", Day, berlin, 62, []string{"2026-10-24", "2026-10-25"}, ""},
		{"hourly", "2026-05-01T09:00", "2026-05-01T12:00", time.Hour, berlin, 62, []string{"2026-05-01T09:00", "2026-05-01T10:00", "2026-05-01T11:00"}, ""},
		{"half hours", "2026-05-01T09:00", "2026-05-01T10:30", 30 * time.Minute, time.UTC, 62, []string{"2026-05-01T09:00", "2026-05-01T09:30", "2026-05-01T10:00"}, ""},
		{"slots from a date mean midnight", "2026-05-01", "2026-05-01T03:00", time.Hour, time.UTC, 62, []string{"2026-05-01T00:00", "2026-05-01T01:00", "2026-05-01T02:00"}, ""},
		// Berlin, 2026-03-29: 02:00 becomes 03:00; the day has 23 hourly slots.
		{"spring gap skipped", "2026-03-29T01:00", "2026-03-29T04:00", time.Hour, berlin, 62, []string{"2026-03-29T01:00", "2026-03-29T03:00"}, ""},
		// Berlin, 2026-10-25: 03:00 becomes 02:00 again; the repeated hour is one key.
		{"autumn repeat once", "2026-10-25T01:00", "2026-10-25T04:00", time.Hour, berlin, 62, []string{"2026-10-25T01:00", "2026-10-25T02:00", "2026-10-25T03:00"}, ""},
		{"autumn repeat half hours", "2026-10-25T02:00", "2026-10-25T03:00", 30 * time.Minute, berlin, 62, []string{"2026-10-25T02:00", "2026-10-25T02:30"}, ""},
		{"New York spring gap", "2026-03-08T01:00", "2026-03-08T04:00", time.Hour, ny, 62, []string{"2026-03-08T01:00", "2026-03-08T03:00"}, ""},
		{"same in UTC", "2026-03-29T01:00", "2026-03-29T04:00", time.Hour, time.UTC, 62, []string{"2026-03-29T01:00", "2026-03-29T02:00", "2026-03-29T03:00"}, ""},
		{"at the limit", "2026-01-01", "2026-01-04", Day, time.UTC, 3, []string{"2026-01-01", "2026-01-02", "2026-01-03"}, ""},
		{"over the limit", "2026-01-01", "2026-01-05", Day, time.UTC, 3, nil, CodeInvalid},
		{"huge span stops early", "0001-01-01T00:00", "9999-12-31T00:00", time.Minute, time.UTC, 1000, nil, CodeInvalid},
		{"empty", "2026-01-01", "2026-01-01", Day, time.UTC, 62, nil, CodeInvalid},
		{"reversed", "2026-01-02", "2026-01-01", Day, time.UTC, 62, nil, CodeInvalid},
		{"daily needs dates", "2026-01-01T00:00", "2026-01-02", Day, time.UTC, 62, nil, CodeInvalid},
		{"not a date", "2026-02-30", "2026-03-02", Day, time.UTC, 62, nil, CodeInvalid},
		{"opaque key", "all", "2026-03-02", Day, time.UTC, 62, nil, CodeInvalid},
		{"every 7m does not divide a day", "2026-01-01T00:00", "2026-01-01T01:00", 7 * time.Minute, time.UTC, 62, nil, CodeInvalid},
		{"every 48h", "2026-01-01", "2026-01-05", 48 * time.Hour, time.UTC, 62, nil, CodeInvalid},
		{"every 0", "2026-01-01", "2026-01-05", 0, time.UTC, 62, nil, CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandSpan(tt.from, tt.to, tt.every, tt.loc, tt.limit)
			wantCode(t, err, tt.code)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for _, k := range got {
				if !ValidBucketKey(k) {
					t.Fatalf("key %q is not a valid bucket key", k)
				}
			}
		})
	}
}

func TestExpandCalendarDSTDays(t *testing.T) {
	berlin, _ := LoadTimezone("Europe/Berlin")
	for _, tt := range []struct {
		day  string
		next string
		n    int
	}{{"2026-03-29", "2026-03-30", 23}, {"2026-10-25", "2026-10-26", 24}, {"2026-06-01", "2026-06-02", 24}} {
		m, err := ExpandCalendar(Calendar{From: tt.day, To: tt.next, Every: time.Hour, Capacity: 3}, berlin)
		if err != nil || len(m) != tt.n {
			t.Fatalf("%s: %d slots (%v), want %d", tt.day, len(m), err, tt.n)
		}
		for k, c := range m {
			if c != 3 || !strings.HasPrefix(k, tt.day+"T") {
				t.Fatalf("%s: slot %q capacity %d", tt.day, k, c)
			}
		}
	}
	if _, err := ExpandCalendar(Calendar{From: "2026-01-01", To: "2026-01-02", Every: time.Minute, Capacity: 1}, time.UTC); ErrorCode(err) != CodeInvalid {
		t.Fatalf("1440 minute slots: %v, want invalid (MaxBuckets)", err)
	}
}

func TestLoadTimezone(t *testing.T) {
	for name, ok := range map[string]bool{"": true, "UTC": true, "Europe/Berlin": true, "America/Argentina/Buenos_Aires": true,
		"Local": false, "Mars/Olympus": false, "../../etc/passwd": false, "Europe/Berlin\x00": false, strings.Repeat("A", 65): false} {
		if err := ValidateTimezone(name); (err == nil) != ok {
			t.Errorf("ValidateTimezone(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestExpandRange(t *testing.T) {
	if _, err := ExpandRange(Range{From: "2026-01-01T10:00", To: "2026-01-01T12:00"}, 0, time.UTC); ErrorCode(err) != CodeInvalid {
		t.Fatalf("slot range without a slot calendar: %v", err)
	}
	keys, err := ExpandRange(Range{From: "2026-01-01", To: "2026-03-04"}, 0, time.UTC)
	if err != nil || len(keys) != MaxHoldBuckets {
		t.Fatalf("62 nights: %d %v", len(keys), err)
	}
	if _, err := ExpandRange(Range{From: "2026-01-01", To: "2026-03-05"}, 0, time.UTC); ErrorCode(err) != CodeInvalid {
		t.Fatalf("63 nights: %v", err)
	}
}

// FuzzExpandSpan: whatever the input, ExpandSpan returns an error or at most limit distinct
// valid keys in increasing order, each of the layout the step asks for.
func FuzzExpandSpan(f *testing.F) {
	f.Add("2026-10-25T01:00", "2026-10-25T04:00", int64(time.Hour), "Europe/Berlin", 62)
	f.Add("2026-03-29", "2026-03-31", int64(Day), "America/New_York", 62)
	f.Add("0001-01-01T00:00", "9999-12-31T23:59", int64(time.Minute), "", 1000)
	f.Add("2026-02-28", "2026-03-01T00:30", int64(15*time.Minute), "Australia/Lord_Howe", 5)
	f.Fuzz(func(t *testing.T, from, to string, every int64, zone string, limit int) {
		if limit < 0 || limit > 2000 {
			return
		}
		loc, err := LoadTimezone(zone)
		if err != nil {
			return
		}
		keys, err := ExpandSpan(from, to, time.Duration(every), loc, limit)
		if err != nil {
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if len(keys) == 0 || len(keys) > limit {
			t.Fatalf("%d keys for limit %d", len(keys), limit)
		}
		want := len(slotLayout)
		if time.Duration(every) == Day {
			want = len(dayLayout)
		}
		for i, k := range keys {
			if !ValidBucketKey(k) || len(k) != want || (i > 0 && keys[i-1] >= k) {
				t.Fatalf("keys %v: %q out of place", keys, k)
			}
		}
	})
}
