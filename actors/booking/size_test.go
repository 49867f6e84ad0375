package booking

import (
	"testing"
	"unsafe"
)

// TestSizes pins the sizes of what the model allocates per hold and per resource, so that a
// field added to one of them is a decision, not an accident. A hold's decision allocates one
// placement (176 bytes: the allocator's size class for its 168); each hold in memory is a hold
// (112 bytes, a class of its own; the exported Hold, 256, is only what callers are handed) and
// an expiryItem while held; each resource a State. Raise a bound only with the measurement that
// says it is worth it (docs/ARCHITECTURE.md, rounds 5 and 6).
func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"placement", unsafe.Sizeof(placement{}), 168},
		{"PlacedHold", unsafe.Sizeof(PlacedHold{}), 152},
		{"Hold", unsafe.Sizeof(Hold{}), 256},
		{"hold", unsafe.Sizeof(hold{}), 96},
		{"holdRare", unsafe.Sizeof(holdRare{}), 64},
		{"State", unsafe.Sizeof(State{}), 256}, // the 256-byte class
		{"resourceMem", unsafe.Sizeof(resourceMem{}), 56},
		{"expiryItem", unsafe.Sizeof(expiryItem{}), 16},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, more than %d", c.name, c.size, c.max)
		}
	}
}

// TestDecidePlaceHoldAllocatesOnce: an accepted hold costs its decision one allocation, the
// placement (the placed hold and its one-event list); the HoldPlaced event is one word and
// boxes without one.
func TestDecidePlaceHoldAllocatesOnce(t *testing.T) {
	s := MustCreate(t, benchBuckets, 0)
	cmd := PlaceHold{HoldID: "h-new", UserID: "user-1", Quantity: 1, Buckets: []string{"2026-03-01", "2026-03-02", "2026-03-03"}}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.DecidePlaceHold(cmd, t0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Fatalf("DecidePlaceHold allocates %v times, want 1", allocs)
	}
}
