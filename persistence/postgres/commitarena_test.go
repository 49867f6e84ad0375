package postgres

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// randomCommitBatch is a batch of up to n holds, buckets, idempotency keys, waitlist changes
// and events, with repeated keys now and then (as a merged recovery batch has).
func randomCommitBatch(rng *rand.Rand, n int) *persistence.Batch {
	rid := fmt.Sprintf("r-%d", rng.IntN(3))
	b := &persistence.Batch{ResourceID: rid, Epoch: rng.Uint64N(5) + 1, Version: rng.Uint64N(50) + 2,
		Create: rng.IntN(8) == 0, Resource: testResource(rid)}
	if rng.IntN(4) == 0 {
		b.LeaseUntil = t0.Add(time.Duration(rng.IntN(1e6)) * time.Millisecond)
	}
	id := func(prefix string, k int) string { return fmt.Sprintf("%s-%d", prefix, rng.IntN(k)) }
	for range rng.IntN(3) {
		b.Buckets = append(b.Buckets, booking.Bucket{Key: id("b", 3), Capacity: rng.Int64N(9), Held: rng.Int64N(3)})
	}
	for range rng.IntN(n + 1) {
		h := testHold(rid, id("h", 4*n+1), rng.Int64N(1e6), rng.Int64N(4)+1, id("b", 3))
		h.IdempotencyKey = id("k", 4*n+1)
		if rng.IntN(5) == 0 {
			h.Contact = booking.SealedContact{1, 2, byte(rng.IntN(256))}
		}
		if rng.IntN(5) == 0 {
			h.Payment, h.PaymentOpen = "pending", true
		}
		b.Holds = append(b.Holds, h)
		if rng.IntN(2) == 0 {
			b.Idempotency = append(b.Idempotency, booking.IdempotencyEntry{Key: h.IdempotencyKey, Fingerprint: id("f", 9), HoldID: h.ID, CreatedAt: h.CreatedAt})
		}
	}
	if rng.IntN(6) == 0 {
		b.Waitlist = append(b.Waitlist, booking.WaitlistEntry{ID: id("w", 3), ResourceID: rid, UserID: "u", Buckets: []string{"b-0"}, Quantity: 1, CreatedAt: t0})
		b.WaitlistRemoved = append(b.WaitlistRemoved, id("w", 3))
	}
	for i := range b.Holds {
		if rng.IntN(3) == 0 {
			continue
		}
		h := b.Holds[i]
		e := events.Event{Type: events.HoldPlaced, ResourceID: rid, Version: b.Version, Index: len(b.Events),
			OccurredAt: t0.Add(time.Duration(rng.IntN(1e9))), Subject: h.UserID, Hold: &h}
		if rng.IntN(10) == 0 {
			e.Type, e.Payment = events.HoldRefunded, &events.PaymentData{Status: "refunded", Amount: 10, Currency: "EUR"}
		}
		b.Events = append(b.Events, e)
	}
	if rng.IntN(5) == 0 {
		bk := booking.Bucket{Key: "b-0", Capacity: 3, Held: 3}
		b.Events = append(b.Events, events.Event{Type: events.BucketSoldOut, ResourceID: rid, Version: b.Version, Index: len(b.Events), OccurredAt: t0, Bucket: &bk})
	}
	return b
}

// oldOutboxArgs are the outbox statement's arguments as queueOutbox built them from
// persistence.EncodeEvents before the arena (one record, one buffer per event).
func oldOutboxArgs(t *testing.T, b *persistence.Batch) []any {
	recs, err := persistence.EncodeEvents(b)
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs)
	types, subjects, data := make(textArray, n), make(textArray, n), make(bytesTextArray, n)
	idx, at := make(int8Array, n), make(int8Array, n)
	for i, r := range recs {
		types[i], subjects[i], data[i] = string(r.Type), r.Subject, r.Data
		idx[i], at[i] = int64(r.Index), r.OccurredAt.UnixMilli()
	}
	return []any{b.ResourceID, int64(b.Version), idx, types, subjects, at, data}
}

// TestCommitArenaReuseBuildsTheSameStatements: random batches built in one arena reused from
// batch to batch (of every size, as a Store's is) give the statements and arguments a fresh
// arena gives, and the outbox rows are the records of persistence.EncodeEvents.
func TestCommitArenaReuseBuildsTheSameStatements(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 25))
	reused := new(commitArena)
	for i := range 3000 {
		b := randomCommitBatch(rng, []int{1, 4, 40}[rng.IntN(3)])
		want, err := newCommitBatch(b, new(commitArena), false, true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := newCommitBatch(b, reused, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.queries) != len(want.queries) {
			t.Fatalf("batch %d: %d statements from a reused arena, %d from a fresh one", i, len(got.queries), len(want.queries))
		}
		for j := range got.queries {
			if g, w := got.queries[j], want.queries[j]; g.sql != w.sql {
				t.Fatalf("batch %d statement %d: sql differs", i, j)
			} else if k := argDiff(g.args, w.args); k >= 0 {
				t.Fatalf("batch %d statement %d argument %d: reused arena %v, fresh one %v", i, j, k, g.args[k], w.args[k])
			}
		}
		outbox := 0
		for _, q := range got.queries {
			if q.sql != sqlInsertOutbox {
				continue
			}
			outbox++
			if old := oldOutboxArgs(t, b); argDiff(q.args, old) >= 0 {
				k := argDiff(q.args, old)
				t.Fatalf("batch %d: outbox argument %d\n%#v\nwant (EncodeEvents)\n%#v", i, k, q.args[k], old[k])
			}
		}
		if (outbox == 1) != (len(b.Events) > 0) || outbox > 1 {
			t.Fatalf("batch %d: %d outbox statements for %d events", i, outbox, len(b.Events))
		}
	}
}

// argDiff is the index of the first argument that differs, -1 if none does (by value).
func argDiff(got, want []any) int {
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	for k := range got {
		if !reflect.DeepEqual(got[k], want[k]) {
			return k
		}
	}
	return -1
}

// TestCommitArenaRefusesAForeignEvent: an event of another resource or version fails the
// batch, as persistence.EncodeEvents does.
func TestCommitArenaRefusesAForeignEvent(t *testing.T) {
	b := randomCommitBatch(rand.New(rand.NewPCG(1, 2)), 4)
	h := testHold(b.ResourceID, "h-x", 0, 1, "b-0")
	b.Events = append(b.Events, events.Event{Type: events.HoldPlaced, ResourceID: b.ResourceID, Version: b.Version + 1, Hold: &h})
	if _, err := newCommitBatch(b, new(commitArena), false, true); err == nil {
		t.Fatal("a batch with an event of another version was built")
	}
	if _, want := persistence.EncodeEvents(b); want == nil {
		t.Fatal("EncodeEvents took it")
	}
}
