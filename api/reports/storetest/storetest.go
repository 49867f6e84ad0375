// Package storetest is the contract suite every reports.Store passes.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/wire"
)

// Run runs the contract against fresh stores from open.
func Run(t *testing.T, open func(t *testing.T) reports.Store) {
	t.Run("AppliesOnce", func(t *testing.T) { testAppliesOnce(t, open(t)) })
	t.Run("BadEventChangesNothing", func(t *testing.T) { testBadEvent(t, open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t)) })
	t.Run("Views", func(t *testing.T) { testViews(t, open(t)) })
	t.Run("ConcurrentRedelivery", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("RedeliveryAfterLaterEvents", func(t *testing.T) { testOutOfOrder(t, open(t)) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, open(t)) })
}

// testBatch: ApplyBatch applies each event of a batch once by id (a duplicate within the
// batch or of an earlier batch included), skips bad events without changing anything for
// them (not even their resource's row) while applying the rest, and ends where applying the
// events one at a time ends.
func testBatch(t *testing.T, s reports.Store) {
	ctx := context.Background()
	eur := &wire.Money{Amount: 1500, Currency: "EUR"}
	placed := HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 2, T0, []string{"2026-12-24"}, 2)
	bad := feed.Event{ID: "r2-1-0", Type: reports.TypeHoldPlaced, ResourceID: "r2", Version: 1, OccurredAt: T0, Data: json.RawMessage(`{"buckets":`)}
	batch := []feed.Event{
		ResourceEvent("r1", 1, T0, "Europe/Berlin", eur),
		placed,
		bad,
		placed, // a duplicate within the batch
		HoldEvent(reports.TypeHoldConfirmed, "r1", "h1", 3, T0.Add(time.Minute), []string{"2026-12-24"}, 2),
		{Type: reports.TypeHoldPlaced, Version: 9}, // no ids
	}
	applied, err := s.ApplyBatch(ctx, batch)
	if !errors.Is(err, reports.ErrBadEvent) || fmt.Sprint(applied) != "[true true false false true false]" {
		t.Fatalf("ApplyBatch = %v, %v; want [true true false false true false] and ErrBadEvent", applied, err)
	}
	want := reports.Counters{Placed: 1, Confirmed: 1, UnitsPlaced: 2, UnitsConfirmed: 2, Gross: 3000}
	if got := total(t, s, reports.Filter{}); got != want {
		t.Fatalf("totals = %+v, want %+v", got, want)
	}
	res, err := s.Resources(ctx)
	if _, ok := res["r2"]; err != nil || ok || res["r1"].TimeZone != "Europe/Berlin" {
		t.Fatalf("resources = %+v, %v; want r1 in Berlin and no r2 (its only event was bad)", res, err)
	}
	// Redelivered as a batch with a new event, and one at a time: only the new one applies.
	next := HoldEvent(reports.TypeHoldPlaced, "r1", "h2", 4, T0, []string{"2026-12-24"}, 1)
	applied, err = s.ApplyBatch(ctx, append([]feed.Event{next}, batch[:2]...))
	if err != nil || fmt.Sprint(applied) != "[true false false]" {
		t.Fatalf("redelivered batch = %v, %v", applied, err)
	}
	mustApply(t, s, batch[4], false)
	want.Placed, want.UnitsPlaced = 2, 3
	if got := total(t, s, reports.Filter{}); got != want {
		t.Fatalf("totals after redelivery = %+v, want %+v", got, want)
	}
	// A fixed redelivery of the bad event applies; an empty batch is nothing.
	fixed := HoldEvent(reports.TypeHoldPlaced, "r2", "h1", 1, T0, []string{"x"}, 1)
	if applied, err := s.ApplyBatch(ctx, []feed.Event{fixed}); err != nil || !applied[0] {
		t.Fatalf("fixed event = %v, %v", applied, err)
	}
	if applied, err := s.ApplyBatch(ctx, nil); err != nil || len(applied) != 0 {
		t.Fatalf("empty batch = %v, %v", applied, err)
	}
}

// testOutOfOrder: a redelivery that comes after later events of its resource (its first
// delivery failed; or two nodes handled the resource's events at once) is applied, once; a
// late resource event does not undo what a newer one said of the resource.
func testOutOfOrder(t *testing.T, s reports.Store) {
	eur := &wire.Money{Amount: 100, Currency: "EUR"}
	newer := ResourceEvent("r1", 5, T0, "Europe/Berlin", &wire.Money{Amount: 200, Currency: "EUR"})
	newer.Type = reports.TypeResourceUpdated
	mustApply(t, s, ResourceEvent("r1", 1, T0, "", eur), true)
	mustApply(t, s, HoldEvent(reports.TypeHoldPlaced, "r1", "h2", 3, T0, []string{"x"}, 1), true)
	mustApply(t, s, newer, true)
	mustApply(t, s, HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 2, T0, []string{"x"}, 1), true) // late
	mustApply(t, s, HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 2, T0, []string{"x"}, 1), false)
	late := ResourceEvent("r1", 4, T0, "America/New_York", eur)
	late.Type = reports.TypeResourceUpdated
	mustApply(t, s, late, true)
	if got := total(t, s, reports.Filter{}).Placed; got != 2 {
		t.Fatalf("placed = %d, want 2", got)
	}
	res, err := s.Resources(context.Background())
	if err != nil || res["r1"].TimeZone != "Europe/Berlin" || res["r1"].Price.Amount != 200 {
		t.Fatalf("resource = %+v, %v; want version 5's zone and price", res["r1"], err)
	}
}

// T0 is the time the suite's histories start: 23:30 UTC, which is the next day in Berlin.
var T0 = time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC)

// ResourceEvent returns a resource.created event.
func ResourceEvent(rid string, version uint64, at time.Time, tz string, price *wire.Money) feed.Event {
	data, _ := json.Marshal(map[string]any{"id": rid, "name": "Resource " + rid, "timezone": tz, "price": price})
	return feed.Event{ID: fmt.Sprintf("%s-%d-0", rid, version), Type: reports.TypeResourceCreated, ResourceID: rid,
		Version: version, OccurredAt: at, Data: data}
}

// HoldEvent returns a hold event of type typ.
func HoldEvent(typ, rid, hid string, version uint64, at time.Time, buckets []string, qty int64) feed.Event {
	data, _ := json.Marshal(wire.Hold{ID: hid, ResourceID: rid, Buckets: buckets, Quantity: qty, UserID: "u", CreatedAt: at, UpdatedAt: at})
	return feed.Event{ID: fmt.Sprintf("%s-%d-0", rid, version), Type: typ, ResourceID: rid, Version: version,
		OccurredAt: at, Subject: "u", Data: data}
}

func mustApply(t *testing.T, s reports.Store, ev feed.Event, want bool) {
	t.Helper()
	got, err := s.Apply(context.Background(), ev)
	if err != nil || got != want {
		t.Fatalf("apply %s v%d = %v, %v; want %v", ev.Type, ev.Version, got, err, want)
	}
}

func total(t *testing.T, s reports.Store, f reports.Filter) reports.Counters {
	t.Helper()
	rows, err := s.Rows(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var c reports.Counters
	for _, r := range rows {
		c.Add(r.Counters)
	}
	return c
}

func testAppliesOnce(t *testing.T, s reports.Store) {
	eur := &wire.Money{Amount: 1500, Currency: "EUR"}
	evs := []feed.Event{
		ResourceEvent("r1", 1, T0, "Europe/Berlin", eur),
		HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 2, T0, []string{"2026-12-24", "2026-12-25"}, 2),
		HoldEvent(reports.TypeHoldConfirmed, "r1", "h1", 3, T0.Add(time.Minute), []string{"2026-12-24", "2026-12-25"}, 2),
		HoldEvent(reports.TypeHoldPlaced, "r1", "h2", 4, T0.Add(2*time.Minute), []string{"all"}, 1),
		HoldEvent(reports.TypeHoldExpired, "r1", "h2", 5, T0.Add(3*time.Minute), []string{"all"}, 1),
		HoldEvent(reports.TypeHoldRefunded, "r1", "h1", 6, T0.Add(4*time.Minute), []string{"2026-12-24", "2026-12-25"}, 2),
	}
	for _, ev := range evs {
		mustApply(t, s, ev, true)
	}
	for _, ev := range evs {
		mustApply(t, s, ev, false) // redelivered
	}
	// A later event of an uncounted type is applied once too.
	other := feed.Event{ID: "r1-7-0", Type: "bucket.sold_out", ResourceID: "r1", Version: 7, OccurredAt: T0, Data: json.RawMessage(`{}`)}
	mustApply(t, s, other, true)
	mustApply(t, s, other, false)
	// Two events of one version are told apart by their index.
	second := HoldEvent(reports.TypeHoldCancelled, "r1", "h3", 7, T0, []string{"all"}, 1)
	second.ID, second.Index = "r1-7-1", 1
	mustApply(t, s, second, true)

	got := total(t, s, reports.Filter{})
	want := reports.Counters{Placed: 2, Confirmed: 1, Cancelled: 1, Expired: 1, Refunded: 1, UnitsPlaced: 5,
		UnitsConfirmed: 4, Gross: 6000, RefundedAmount: 6000}
	if got != want {
		t.Fatalf("totals = %+v, want %+v", got, want)
	}
	rows, err := s.Rows(context.Background(), reports.Filter{Local: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Day != "2026-12-05" || r.Currency != "EUR" {
			t.Fatalf("local row %+v: want day 2026-12-05 (Berlin) in EUR", r)
		}
	}
	res, err := s.Resources(context.Background())
	if err != nil || res["r1"].Name != "Resource r1" || res["r1"].TimeZone != "Europe/Berlin" || res["r1"].Price != *eur {
		t.Fatalf("resources = %+v, %v", res, err)
	}
	hours, err := s.Hours(context.Background(), reports.Filter{})
	if err != nil || len(hours) != 1 || hours[0].Hour != 23 || hours[0].Placed != 2 {
		t.Fatalf("hours = %+v, %v", hours, err)
	}
	hours, err = s.Hours(context.Background(), reports.Filter{Local: true})
	if err != nil || len(hours) != 1 || hours[0].Hour != 0 || hours[0].Day != "2026-12-05" {
		t.Fatalf("local hours = %+v, %v", hours, err)
	}
	leads, err := s.LeadTimes(context.Background(), reports.Filter{})
	if err != nil || len(leads) != 1 || leads[0].Class != "8-30d" || leads[0].Confirmed != 1 {
		t.Fatalf("lead times = %+v, %v", leads, err)
	}
}

func testBadEvent(t *testing.T, s reports.Store) {
	mustApply(t, s, HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 1, T0, []string{"a"}, 1), true)
	bad := feed.Event{ID: "r1-2-0", Type: reports.TypeHoldPlaced, ResourceID: "r1", Version: 2, OccurredAt: T0, Data: json.RawMessage(`{"buckets":`)}
	if _, err := s.Apply(context.Background(), bad); !errors.Is(err, reports.ErrBadEvent) {
		t.Fatalf("bad event: %v", err)
	}
	empty := HoldEvent(reports.TypeHoldPlaced, "r1", "h2", 2, T0, nil, 1)
	if _, err := s.Apply(context.Background(), empty); !errors.Is(err, reports.ErrBadEvent) {
		t.Fatalf("hold without buckets: %v", err)
	}
	if got := total(t, s, reports.Filter{}); got != (reports.Counters{Placed: 1, UnitsPlaced: 1}) {
		t.Fatalf("totals after bad events = %+v", got)
	}
	// Nothing was recorded of the bad events: a good event with the same id still applies.
	mustApply(t, s, HoldEvent(reports.TypeHoldPlaced, "r1", "h2", 2, T0, []string{"a"}, 1), true)
	if _, err := s.Apply(context.Background(), feed.Event{Type: reports.TypeHoldPlaced, Version: 3}); !errors.Is(err, reports.ErrBadEvent) {
		t.Fatalf("an event without a resource id: %v", err)
	}
}

func testFilters(t *testing.T, s reports.Store) {
	for i, rid := range []string{"a", "b"} {
		for d := 0; d < 3; d++ {
			at := T0.Add(time.Duration(d) * 24 * time.Hour)
			mustApply(t, s, HoldEvent(reports.TypeHoldPlaced, rid, fmt.Sprint("h", d), uint64(d+1), at, []string{"x"}, int64(i+1)), true)
		}
	}
	cases := []struct {
		f    reports.Filter
		want int64
	}{
		{reports.Filter{}, 6},
		{reports.Filter{ResourceID: "b"}, 3},
		{reports.Filter{From: "2026-12-05"}, 4},
		{reports.Filter{To: "2026-12-05"}, 2},
		{reports.Filter{From: "2026-12-05", To: "2026-12-06", ResourceID: "a"}, 1},
		{reports.Filter{From: "2026-12-07"}, 0},
	}
	for _, c := range cases {
		if got := total(t, s, c.f).Placed; got != c.want {
			t.Errorf("filter %+v: placed %d, want %d", c.f, got, c.want)
		}
	}
	rows, err := s.Rows(context.Background(), reports.Filter{ResourceID: "a"})
	if err != nil || len(rows) != 3 || rows[0].Day != "2026-12-04" || rows[2].Day != "2026-12-06" {
		t.Fatalf("rows of a = %+v, %v", rows, err)
	}
}

func testViews(t *testing.T, s reports.Store) {
	ctx := context.Background()
	if err := s.RecordViews(ctx, []reports.View{{ResourceID: "r1", Day: "2026-12-04", Viewer: "x"}, {ResourceID: "r1", Day: "2026-12-04", Viewer: "x"}, {ResourceID: "r1", Day: "2026-12-04", Viewer: "y"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordViews(ctx, []reports.View{{ResourceID: "r1", Day: "2026-12-05", Viewer: "x"}, {ResourceID: "r2", Day: "2026-12-04", Viewer: "x"}, {ResourceID: "r1", Day: "2026-12-04", Viewer: "y"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	views, err := s.Views(ctx, reports.Filter{ResourceID: "r1", To: "2026-12-05"})
	if err != nil || len(views) != 1 || views[0].Viewers != 2 || views[0].Day != "2026-12-04" {
		t.Fatalf("views = %+v, %v", views, err)
	}
	views, err = s.Views(ctx, reports.Filter{})
	if err != nil || len(views) != 3 {
		t.Fatalf("all views = %+v, %v", views, err)
	}
}

// testConcurrent delivers the same events from several goroutines at once, as two consumers
// racing on a redelivery would: each is applied exactly once.
func testConcurrent(t *testing.T, s reports.Store) {
	const n = 20
	evs := make([]feed.Event, n)
	for i := range evs {
		evs[i] = HoldEvent(reports.TypeHoldPlaced, "r1", fmt.Sprint("h", i), uint64(i+1), T0, []string{"x"}, 1)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	applied := 0
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range evs {
				for {
					ok, err := s.Apply(context.Background(), ev)
					if err != nil {
						continue // a serialization failure: the bus would redeliver
					}
					if ok {
						mu.Lock()
						applied++
						mu.Unlock()
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	if applied != n {
		t.Fatalf("applied %d times, want %d", applied, n)
	}
	if got := total(t, s, reports.Filter{}).Placed; got != n {
		t.Fatalf("placed = %d, want %d", got, n)
	}
}
