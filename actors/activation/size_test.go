package activation

import (
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"github.com/allot/allot/actors/booking"
)

// TestCoreKeepsItsSizeClass: one Core lives per active resource, so its size is memory per
// resource. It fits the runtime's 144-byte allocation class (its Ready is lent, see Readies,
// and holds the step's time; the lookups' map and the backoff are behind the rare pointer;
// its clock readings are instants, not time.Times: instant.go; the state and the work under
// way are behind the work pointer, which a quiet activation drops: work.go), and its work
// fits the 96-byte class; a field more moves every core to a larger class, which should be a
// decision, not an accident. Before round 15 a Core was 288 bytes, quiet or not.
func TestCoreKeepsItsSizeClass(t *testing.T) {
	// Objects up to 512 bytes carry no allocation header.
	if size := unsafe.Sizeof(Core{}); size > 144 {
		t.Fatalf("Core is %d bytes, over the 144-byte allocation class", size)
	}
	if size := unsafe.Sizeof(work{}); size > 96 {
		t.Fatalf("work is %d bytes, over the 96-byte allocation class", size)
	}
}

// TestIdleCoreLendsItsReady: with Config.Readies, a core that the shell told Done while idle
// holds no Ready (that is the point of lending it), and its next Step borrows one again;
// without Readies, or while commands are queued, it keeps its own.
func TestIdleCoreLendsItsReady(t *testing.T) {
	cfg := Config{ResourceID: "r", MaxPending: 50, MaxBatch: 64, IdleTimeout: time.Hour, CommitTimeout: 5 * time.Second,
		MinReloadBackoff: 10 * time.Millisecond, MaxReloadBackoff: 80 * time.Millisecond, Lease: 4 * time.Second,
		MaxClockOffset: 500 * time.Millisecond}
	now := time.UnixMilli(1_900_000_000_000).UTC()
	for _, lend := range []bool{false, true} {
		cfg.Readies = nil
		if lend {
			cfg.Readies = NewReadies()
		}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rd := c.Step(now, Start{}); rd.Load.ID == 0 {
			t.Fatalf("lend %v: Start asked for no load", lend)
		}
		c.Done(false)
		if c.rd == nil {
			t.Fatalf("lend %v: a core with commands queued gave its Ready away", lend)
		}
		c.Done(true)
		if got := c.rd == nil; got != lend {
			t.Fatalf("lend %v: after an idle Done the core holds a Ready: %v", lend, !got)
		}
		if rd := c.Step(now, Tick{}); rd == nil || c.rd != rd {
			t.Fatalf("lend %v: Step after Done returned %p, core holds %p", lend, rd, c.rd)
		}
	}
}

// TestPackedWaitMarkIsNoVersion: a quiet core tells a packed state with waiting entries by its
// first byte (quiet.go, packedWaitMark), so the booking state's packed form must never begin
// with it: its first byte is its format's version.
func TestPackedWaitMarkIsNoVersion(t *testing.T) {
	s := booking.NewState("r")
	now := time.UnixMilli(1_900_000_000_000).UTC()
	s.Apply(booking.ResourceCreated{Resource: booking.Resource{ID: "r", Name: "r", HoldTTL: time.Hour, CreatedAt: now, UpdatedAt: now},
		Buckets: []booking.Bucket{{Key: "a", Capacity: 1}}})
	b, ok := s.Pack(nil)
	if !ok || len(b) == 0 || b[0] == packedWaitMark {
		t.Fatalf("packed form %q (ok %v) begins with the core's waitlist mark %#x", b, ok, packedWaitMark)
	}
	if p := string(b); packedWaiting(p) != 0 || packedState(p) != p {
		t.Fatalf("a packed form without the mark reads as %d waiting, state %q", packedWaiting(p), packedState(p))
	}
	for _, n := range []int{1, 127, 128, 70000} {
		p := string(binary.AppendUvarint([]byte{packedWaitMark}, uint64(n))) + string(b)
		if packedWaiting(p) != n || packedState(p) != string(b) {
			t.Fatalf("%d waiting: read back %d, state %q", n, packedWaiting(p), packedState(p))
		}
	}
}
