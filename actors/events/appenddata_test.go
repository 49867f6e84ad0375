package events

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// TestAppendDataMatchesEncode: on random events of every kind (holds whose strings JSON
// escapes or not, with payments and refunds, resources, buckets, events without an
// after-image), AppendData appends exactly Encode's Data, fails where Encode fails, and leaves
// the bytes already in the buffer alone, whether the buffer has room or must grow.
func TestAppendDataMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 6))
	strs := []string{"", "h-01J9Z8", "all", "wrk-user", "a b", "x\"y", "<tag>", "é", "\u2028"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	tm := func() time.Time {
		switch rng.IntN(4) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(2026, 12, 6, 9, 0, 0, rng.IntN(1e9), time.FixedZone("x", 3600))
		}
		return time.UnixMilli(1796000000000 + rng.Int64N(1e9)).Add(time.Duration(rng.IntN(1e6)))
	}
	statuses := []booking.Status{booking.StatusHeld, booking.StatusConfirmed, booking.StatusCancelled, booking.StatusExpired}
	var buf []byte
	for i := range 20000 {
		e := Event{Type: Types[rng.IntN(len(Types))], ResourceID: str(), Version: rng.Uint64N(100), Index: rng.IntN(5),
			OccurredAt: tm(), Subject: str()}
		switch rng.IntN(5) {
		case 0, 1:
			h := booking.Hold{ID: str(), ResourceID: str(), UserID: str(), Quantity: rng.Int64N(10), Status: statuses[rng.IntN(len(statuses))],
				CreatedAt: tm(), ExpiresAt: tm(), UpdatedAt: tm(), Extensions: rng.IntN(3), WaitlistEntryID: str()}
			for range rng.IntN(3) {
				h.Buckets = append(h.Buckets, str())
			}
			e.Hold = &h
			if rng.IntN(8) == 0 {
				e.Payment = &PaymentData{Status: str(), Amount: rng.Int64N(5000), Currency: "EUR"}
			}
		case 2:
			e.Resource = &booking.Resource{ID: str(), Name: str(), HoldTTL: time.Minute, CreatedAt: tm(), UpdatedAt: tm()}
			e.Buckets = []booking.Bucket{{Key: str(), Capacity: rng.Int64N(9), Held: rng.Int64N(3)}}
		case 3:
			e.Bucket = &booking.Bucket{Key: str(), Capacity: rng.Int64N(9), Held: rng.Int64N(3), Confirmed: rng.Int64N(3)}
		case 4: // no after-image: refused
		}
		want, wantErr := Encode(&e)
		if rng.IntN(3) == 0 {
			buf = buf[:0:0] // a buffer that must grow
		}
		prefix := []byte("prefix-" + str())
		buf = append(buf[:0], prefix...)
		got, err := AppendData(buf, &e)
		if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("event %d %+v: AppendData error %v, Encode's %v", i, e, err, wantErr)
		}
		if !bytes.Equal(got[:len(prefix)], prefix) {
			t.Fatalf("event %d: the buffer's first bytes changed: %q", i, got[:len(prefix)])
		}
		if err == nil && !bytes.Equal(got[len(prefix):], want.Data) {
			t.Fatalf("event %d %+v:\n got %s\nwant %s", i, e, got[len(prefix):], want.Data)
		}
		if err != nil && len(got) != len(prefix) {
			t.Fatalf("event %d: a refused event appended %q", i, got[len(prefix):])
		}
		buf = got
	}
}
