package activation

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// TestBigStateKeepsSpecApartWhileBusy: a resource with more than shareSpecMaxHolds holds keeps
// spec's own copy when a commit drains it (so the next write does not copy every hold again),
// both copies follow the same commits, and a Tick that finds it drained shares them.
func TestBigStateKeepsSpecApartWhileBusy(t *testing.T) {
	c, now := loadedCore(t, booking.Bucket{Key: "all", Capacity: 1000})

	const holds = shareSpecMaxHolds + 20
	for i := range holds {
		now = now.Add(time.Millisecond)
		ops := []any{booking.PlaceHold{HoldID: fmt.Sprintf("h%04d", i), IdempotencyKey: fmt.Sprintf("k%04d", i), UserID: "u", Quantity: 1, Buckets: []string{"all"}}}
		if i%10 == 9 { // now and then a cancel of an earlier hold
			ops = append(ops, booking.CancelHold{HoldID: fmt.Sprintf("h%04d", i-5)})
		}
		for _, op := range ops {
			rd := c.Step(now, &Command{Op: op, To: i})
			if len(rd.Commits) != 1 {
				t.Fatalf("hold %d: %T: %d commits", i, op, len(rd.Commits))
			}
			rd = c.Step(now, CommitResult{ID: rd.Commits[0].ID, Outcome: Committed})
			if len(rd.Replies) != 1 || rd.Replies[0].Answer.Err != nil {
				t.Fatalf("hold %d: %T: replies %+v", i, op, rd.Replies)
			}
			if shared, big := c.spec == c.committed, c.committed.HoldCount() > shareSpecMaxHolds; shared == big {
				t.Fatalf("hold %d: %d holds in memory, spec shared %v", i, c.committed.HoldCount(), shared)
			}
			if d := sameState(c.spec, c.committed, i); d != "" {
				t.Fatalf("hold %d: drained, spec and committed differ: %s", i, d)
			}
		}
	}
	b, _ := c.committed.Bucket("all")
	if want := int64(holds - holds/10); b.Held != want {
		t.Fatalf("bucket %+v, want %d held", b, want)
	}
	c.Step(now.Add(time.Second), Tick{})
	if c.spec != c.committed {
		t.Fatal("a Tick found the activation drained and kept two copies")
	}
	// The next write copies again and commits as before.
	rd := c.Step(now, &Command{Op: booking.PlaceHold{HoldID: "last", UserID: "u", Quantity: 1, Buckets: []string{"all"}}, To: 0})
	if c.spec == c.committed || len(rd.Commits) != 1 {
		t.Fatalf("a write did not copy spec (%d commits)", len(rd.Commits))
	}
	if rd = c.Step(now, CommitResult{ID: rd.Commits[0].ID, Outcome: Committed}); len(rd.Replies) != 1 || rd.Replies[0].Answer.Err != nil {
		t.Fatalf("last hold: %+v", rd.Replies)
	}
}

// sameState compares what two states answer about holds h0000..h<n>, their keys and buckets.
func sameState(a, b *booking.State, n int) string {
	if a.HoldCount() != b.HoldCount() {
		return fmt.Sprintf("%d holds against %d", a.HoldCount(), b.HoldCount())
	}
	if !reflect.DeepEqual(a.Buckets(), b.Buckets()) {
		return fmt.Sprintf("buckets %+v against %+v", a.Buckets(), b.Buckets())
	}
	for i := range n + 1 {
		id, key := fmt.Sprintf("h%04d", i), fmt.Sprintf("k%04d", i)
		ha, oka := a.Hold(id)
		hb, okb := b.Hold(id)
		if oka != okb || !reflect.DeepEqual(ha, hb) {
			return fmt.Sprintf("hold %s: %+v against %+v", id, ha, hb)
		}
		ia, oka := a.Idempotency(key)
		ib, okb := b.Idempotency(key)
		if oka != okb || !reflect.DeepEqual(ia, ib) {
			return fmt.Sprintf("key %s: %+v against %+v", key, ia, ib)
		}
	}
	ea, _ := a.NextExpiry()
	eb, _ := b.NextExpiry()
	if !ea.Equal(eb) {
		return fmt.Sprintf("next expiry %v against %v", ea, eb)
	}
	return ""
}
