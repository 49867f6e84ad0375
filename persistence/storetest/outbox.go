package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// The outbox contract (persistence.Outbox): a committed batch writes exactly its events, in
// order, in the same transaction; a fenced or failed batch writes none; claims exclude each
// other for their lease; published events are pruned after the retention, unpublished ones
// never; the log lists in (occurred, resource, version, index) order after a cursor.

func (f *fixture) outbox() persistence.Outbox {
	f.Helper()
	ob, ok := f.s.(persistence.Outbox)
	if !ok {
		f.Fatalf("%T does not implement persistence.Outbox", f.s)
	}
	return ob
}

// holdEvent is a hold event of resource rid at version, index i.
func holdEvent(t events.Type, h booking.Hold, version uint64, i int) events.Event {
	return events.Event{Type: t, ResourceID: h.ResourceID, Version: version, Index: i, OccurredAt: h.UpdatedAt,
		Subject: h.UserID, Hold: &h}
}

// createWithEvent creates rid with one bucket and its resource.created event.
func (f *fixture) createWithEvent(rid string, capacity int64) {
	f.Helper()
	res := f.resource(rid)
	buckets := []booking.Bucket{{Key: "a", Capacity: capacity}}
	f.commit(&persistence.Batch{ResourceID: rid, Version: 1, Create: true, Resource: res, Buckets: buckets,
		Events: []events.Event{{Type: events.ResourceCreated, ResourceID: rid, Version: 1, OccurredAt: base, Resource: &res, Buckets: buckets}}})
}

// listOf lists every event of rid, in log order.
func (f *fixture) listOf(rid string) []events.Record {
	f.Helper()
	recs, err := f.outbox().ListEvents(f.ctx(), persistence.EventFilter{ResourceID: rid, Limit: 1000})
	if err != nil {
		f.Fatalf("ListEvents %s: %v", rid, err)
	}
	return recs
}

func encodeAll(f *fixture, evs []events.Event) []events.Record {
	f.Helper()
	var out []events.Record
	for i := range evs {
		r, err := events.Encode(&evs[i])
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// expectRecords compares records field by field, data as JSON values.
func (f *fixture) expectRecords(what string, got, want []events.Record) {
	f.Helper()
	if len(got) != len(want) {
		f.Fatalf("%s: %d events %v, want %d %v", what, len(got), recordIDs(got), len(want), recordIDs(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		var gd, wd any
		if err := json.Unmarshal(g.Data, &gd); err != nil {
			f.Fatalf("%s: event %s data %q: %v", what, g.ID, g.Data, err)
		}
		_ = json.Unmarshal(w.Data, &wd)
		g.Data, w.Data = nil, nil
		if !g.OccurredAt.Equal(w.OccurredAt) {
			f.Fatalf("%s: event %s occurred at %v, want %v", what, g.ID, g.OccurredAt, w.OccurredAt)
		}
		g.OccurredAt, w.OccurredAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(gd, wd) {
			f.Fatalf("%s: event %d:\n got %+v %v\nwant %+v %v", what, i, g, gd, w, wd)
		}
	}
}

func recordIDs(rs []events.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// testOutboxCommit: a committed batch writes exactly its events, in order, with their data.
func testOutboxCommit(f *fixture) {
	rid := f.id("r")
	f.createWithEvent(rid, 2)
	created := f.listOf(rid)
	if len(created) != 1 || created[0].Type != events.ResourceCreated || created[0].ID != events.ID(rid, 1, 0) {
		f.Fatalf("after the creation: %+v", created)
	}
	u := f.id("u")
	h1, h2 := hold(rid, f.id("h1"), u, 10, 1, "a"), hold(rid, f.id("h2"), u, 11, 1, "a")
	full := booking.Bucket{Key: "a", Capacity: 2, Held: 2}
	evs := []events.Event{holdEvent(events.HoldPlaced, h1, 2, 0), holdEvent(events.HoldPlaced, h2, 2, 1),
		{Type: events.BucketSoldOut, ResourceID: rid, Version: 2, Index: 2, OccurredAt: h2.UpdatedAt, Bucket: &full}}
	f.commit(&persistence.Batch{ResourceID: rid, Epoch: 1, Version: 2, Resource: f.resource(rid), Buckets: []booking.Bucket{full},
		Holds: []booking.Hold{h1, h2}, Events: evs})
	// A batch without events adds none.
	f.commit(&persistence.Batch{ResourceID: rid, Epoch: 1, Version: 3, Resource: f.resource(rid)})
	f.expectRecords("after two commits", f.listOf(rid)[1:], encodeAll(f, evs))
}

// testOutboxFencedOrFailed: a fenced batch, a creation of an existing resource, a batch that
// breaks the bucket CHECK and a batch whose events are not its own write no event.
func testOutboxFencedOrFailed(f *fixture) {
	rid := f.id("r")
	f.createWithEvent(rid, 1)
	u := f.id("u")
	h := hold(rid, f.id("h1"), u, 10, 1, "a")
	ev := []events.Event{holdEvent(events.HoldPlaced, h, 2, 0)}
	f.activate(rid, time.Time{}) // epoch 2: epoch 1 is fenced
	err := f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: rid, Epoch: 1, Version: 2, Resource: f.resource(rid),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}}, Holds: []booking.Hold{h}, Events: ev})
	if !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("stale epoch: err = %v, want ErrFenced", err)
	}
	res := f.resource(rid)
	err = f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: rid, Version: 1, Create: true, Resource: res,
		Events: []events.Event{{Type: events.ResourceCreated, ResourceID: rid, Version: 1, Index: 5, OccurredAt: base, Resource: &res}}})
	if !errors.Is(err, persistence.ErrFenced) {
		f.Fatalf("second creation: err = %v, want ErrFenced", err)
	}
	err = f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: rid, Epoch: 2, Version: 2, Resource: f.resource(rid),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 2}}, Holds: []booking.Hold{h}, Events: ev})
	f.expectInvalidBatch("oversold bucket", err)
	other := ev[0]
	other.Version = 7
	err = f.s.Commit(f.ctx(), &persistence.Batch{ResourceID: rid, Epoch: 2, Version: 2, Resource: f.resource(rid),
		Holds: []booking.Hold{h}, Events: []events.Event{other}})
	f.expectInvalidBatch("event of another version", err)
	if got := f.listOf(rid); len(got) != 1 {
		f.Fatalf("refused batches wrote events: %v", recordIDs(got))
	}
	f.expectNoHold(rid, h.ID)
	// The activation is still usable, and its events are written.
	f.commit(&persistence.Batch{ResourceID: rid, Epoch: 2, Version: 2, Resource: f.resource(rid),
		Buckets: []booking.Bucket{{Key: "a", Capacity: 1, Held: 1}}, Holds: []booking.Hold{h}, Events: ev})
	f.expectRecords("after the good batch", f.listOf(rid)[1:], encodeAll(f, ev))
}

// testOutboxClaim: claims return unpublished events in log order and exclude each other for
// their lease; published events are not claimed again and are pruned after the cutoff,
// unpublished ones never.
func testOutboxClaim(f *fixture) {
	ob := f.outbox()
	rid := f.id("r")
	f.createWithEvent(rid, 3)
	u := f.id("u")
	var evs []events.Event
	for i := range 3 {
		h := hold(rid, f.id("h")+string(rune('0'+i)), u, int64(10+i), 1, "a")
		evs = append(evs, holdEvent(events.HoldPlaced, h, uint64(2+i), 0))
		f.commit(&persistence.Batch{ResourceID: rid, Epoch: 1, Version: uint64(2 + i), Resource: f.resource(rid),
			Holds: []booking.Hold{h}, Events: evs[i:]})
	}
	mine := func(rs []events.Record) []string {
		var ids []string
		for _, r := range rs {
			if r.ResourceID == rid {
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	// "now" is after every event; earlier runs on a shared database may have left claims.
	now := time.Now().Add(time.Hour)
	claim := func(at time.Time) []string {
		f.Helper()
		var ids []string
		for range 100 {
			rs, err := ob.ClaimEvents(f.ctx(), at, time.Minute, 500)
			if err != nil {
				f.Fatalf("ClaimEvents: %v", err)
			}
			ids = append(ids, mine(rs)...)
			if len(rs) < 500 {
				return ids
			}
		}
		f.Fatal("ClaimEvents: more than 50000 unpublished events")
		return nil
	}
	all := []string{events.ID(rid, 1, 0), events.ID(rid, 2, 0), events.ID(rid, 3, 0), events.ID(rid, 4, 0)}
	keyOf := map[string]persistence.EventKey{}
	for _, r := range f.listOf(rid) {
		keyOf[r.ID] = persistence.KeyOf(&r)
	}
	keys := func(ids []string) []persistence.EventKey {
		var out []persistence.EventKey
		for _, id := range ids {
			out = append(out, keyOf[id])
		}
		return out
	}
	if got := claim(now); !reflect.DeepEqual(got, all) {
		f.Fatalf("first claim: %v, want %v", got, all)
	}
	if got := claim(now.Add(30 * time.Second)); len(got) != 0 {
		f.Fatalf("a claim within the lease of another returned %v", got)
	}
	// A store that counts its backlog (the relay's gauge) counts exactly the unpublished.
	bc, counts := f.s.(interface {
		UnpublishedEvents(ctx context.Context) (int64, error)
	})
	var before int64
	if counts {
		var err error
		if before, err = bc.UnpublishedEvents(f.ctx()); err != nil || before < int64(len(all)) {
			f.Fatalf("UnpublishedEvents = %d, %v; want at least %d", before, err, len(all))
		}
	}
	if err := ob.MarkPublished(f.ctx(), keys(all[:2]), now); err != nil {
		f.Fatalf("MarkPublished: %v", err)
	}
	if counts {
		if after, err := bc.UnpublishedEvents(f.ctx()); err != nil || after != before-2 {
			f.Fatalf("UnpublishedEvents after marking 2 = %d, %v; want %d", after, err, before-2)
		}
	}
	if got := claim(now.Add(2 * time.Minute)); !reflect.DeepEqual(got, all[2:]) {
		f.Fatalf("claim after the lease: %v, want the unpublished %v", got, all[2:])
	}
	// Pruning before the events occurred deletes none of them; after, only the published.
	if _, err := ob.PruneEvents(f.ctx(), base); err != nil {
		f.Fatalf("PruneEvents: %v", err)
	}
	if got := f.listOf(rid); len(got) != 4 {
		f.Fatalf("a prune before the events deleted some: %v", recordIDs(got))
	}
	n, err := ob.PruneEvents(f.ctx(), at(1_000_000))
	if err != nil || n < 2 {
		f.Fatalf("PruneEvents = %d, %v; want at least the 2 published events", n, err)
	}
	if got := recordIDs(f.listOf(rid)); !reflect.DeepEqual(got, all[2:]) {
		f.Fatalf("after the prune: %v, want the unpublished %v", got, all[2:])
	}
	if err := ob.MarkPublished(f.ctx(), append(keys(all[2:]), persistence.EventKey{OccurredMS: 1, ResourceID: "gone", Version: 1}), now); err != nil {
		f.Fatalf("MarkPublished with an unknown key: %v", err)
	}
	if got := claim(now.Add(time.Hour)); len(got) != 0 {
		f.Fatalf("published events claimed: %v", got)
	}
}

// testOutboxList: the log in order, after a cursor, by type, with a limit.
func testOutboxList(f *fixture) {
	ob := f.outbox()
	rid := f.id("r")
	f.createWithEvent(rid, 5)
	u := f.id("u")
	h := hold(rid, f.id("h1"), u, 10, 1, "a")
	placed := holdEvent(events.HoldPlaced, h, 2, 0)
	h.Status, h.UpdatedAt = booking.StatusConfirmed, at(20)
	confirmed := holdEvent(events.HoldConfirmed, h, 2, 1)
	f.commit(&persistence.Batch{ResourceID: rid, Epoch: 1, Version: 2, Resource: f.resource(rid), Holds: []booking.Hold{h},
		Events: []events.Event{placed, confirmed}})
	all := f.listOf(rid)
	if len(all) != 3 {
		f.Fatalf("events %v", recordIDs(all))
	}
	page, err := ob.ListEvents(f.ctx(), persistence.EventFilter{ResourceID: rid, Limit: 2})
	if err != nil || len(page) != 2 || page[1].ID != all[1].ID {
		f.Fatalf("first page %v, %v", recordIDs(page), err)
	}
	k := persistence.KeyOf(&page[1])
	cur, err := persistence.ParseCursor(k.Cursor())
	if err != nil || cur != k {
		f.Fatalf("cursor round trip: %+v, %v", cur, err)
	}
	rest, err := ob.ListEvents(f.ctx(), persistence.EventFilter{ResourceID: rid, After: &cur})
	if err != nil || len(rest) != 1 || rest[0].ID != all[2].ID {
		f.Fatalf("after the cursor: %v, %v", recordIDs(rest), err)
	}
	typed, err := ob.ListEvents(f.ctx(), persistence.EventFilter{ResourceID: rid, Type: events.HoldConfirmed})
	if err != nil || len(typed) != 1 || typed[0].ID != events.ID(rid, 2, 1) {
		f.Fatalf("by type: %v, %v", recordIDs(typed), err)
	}
	if _, err := ob.ListEvents(f.ctx(), persistence.EventFilter{Type: "hold.exploded"}); booking.ErrorCode(err) != booking.CodeInvalid {
		f.Fatalf("unknown type: err = %v, want invalid", err)
	}
}

// testInbox: (consumer, event id) is recorded once, read back, and pruned by age.
func testInbox(f *fixture) {
	ob := f.outbox()
	c, id := f.id("consumer"), f.id("r")+"/1/0"
	if ok, err := ob.Processed(f.ctx(), c, id); err != nil || ok {
		f.Fatalf("Processed before = %v, %v", ok, err)
	}
	for range 2 {
		if err := ob.MarkProcessed(f.ctx(), c, id, at(5)); err != nil {
			f.Fatalf("MarkProcessed: %v", err)
		}
	}
	if ok, err := ob.Processed(f.ctx(), c, id); err != nil || !ok {
		f.Fatalf("Processed after = %v, %v", ok, err)
	}
	if ok, _ := ob.Processed(f.ctx(), c+"-other", id); ok {
		f.Fatal("another consumer's inbox has the event")
	}
	if _, err := ob.PruneEvents(f.ctx(), at(6)); err != nil {
		f.Fatalf("PruneEvents: %v", err)
	}
	if ok, err := ob.Processed(f.ctx(), c, id); err != nil || ok {
		f.Fatalf("Processed after the prune = %v, %v", ok, err)
	}
}
