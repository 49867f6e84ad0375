package persistence

import (
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// TestMergeIdempotency: entries of one key from both tables are kept once, the first by
// creation time unless a later one is the retention younger; the rest by CreatedAt, then key.
func TestMergeIdempotency(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	e := func(key, hold string, ms int64) booking.IdempotencyEntry {
		return booking.IdempotencyEntry{Key: key, Fingerprint: "f" + hold, HoldID: hold, CreatedAt: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	day := booking.IdempotencyRetention.Milliseconds()
	got := MergeIdempotency([]booking.IdempotencyEntry{
		e("b", "h2", 5), e("a", "h1", 5), e("b", "h2", 5), // b in both tables
		e("c", "h3", 1), e("c", "h4", 2), // a second entry of c too soon: ignored
		e("d", "h5", 3), e("d", "h6", 3+day), // d reused a retention later: replaced
	})
	want := []booking.IdempotencyEntry{e("c", "h3", 1), e("a", "h1", 5), e("b", "h2", 5), e("d", "h6", 3+day)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	if got := MergeIdempotency(nil); got != nil {
		t.Fatalf("nil: got %+v", got)
	}
}
