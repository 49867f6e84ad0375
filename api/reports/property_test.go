package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
	"github.com/allot/allot/api/wire"
)

// history is a random event log: per resource, its events in order.
type history struct {
	byResource map[string][]feed.Event
	ids        []string
	views      [][3]string // resource, UTC day, viewer; with repeats
}

var zones = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"}

// randomHistory builds resources with prices in two currencies (or none, and changes of
// price), and holds that are placed and then confirmed, cancelled or expired, some confirmed
// ones refunded (in part or whole) or cancelled, over ten days.
func randomHistory(rng *rand.Rand) history {
	h := history{byResource: map[string][]feed.Event{}}
	nres := 2 + rng.Intn(3)
	for i := 0; i < nres; i++ {
		rid := fmt.Sprintf("res-%d", i)
		h.ids = append(h.ids, rid)
		at := storetest.T0.Add(time.Duration(rng.Intn(3600)) * time.Second)
		v := uint64(0)
		next := func(typ string, data any) {
			v++
			at = at.Add(time.Duration(1+rng.Intn(4*3600)) * time.Second)
			body, _ := json.Marshal(data)
			h.byResource[rid] = append(h.byResource[rid], feed.Event{ID: fmt.Sprintf("%s-%d", rid, v), Type: typ,
				ResourceID: rid, Version: v, OccurredAt: at, Data: body})
		}
		price := func() *wire.Money {
			switch rng.Intn(3) {
			case 0:
				return nil
			case 1:
				return &wire.Money{Amount: int64(100 * (1 + rng.Intn(50))), Currency: "EUR"}
			}
			return &wire.Money{Amount: int64(100 * (1 + rng.Intn(50))), Currency: "USD"}
		}
		next(reports.TypeResourceCreated, map[string]any{"name": rid, "timezone": zones[rng.Intn(len(zones))], "price": price()})
		for j := 0; j < 20+rng.Intn(40); j++ {
			if rng.Intn(15) == 0 {
				next(reports.TypeResourceUpdated, map[string]any{"name": rid, "timezone": zones[rng.Intn(len(zones))], "price": price()})
			}
			day := storetest.T0.AddDate(0, 0, rng.Intn(60)).Format(time.DateOnly)
			buckets := []string{day}
			if rng.Intn(3) == 0 {
				buckets = append(buckets, "extra")
			}
			if rng.Intn(4) == 0 {
				buckets = []string{"all"}
			}
			hold := wire.Hold{ID: fmt.Sprintf("%s-h%d", rid, j), ResourceID: rid, Buckets: buckets, Quantity: int64(1 + rng.Intn(4))}
			next(reports.TypeHoldPlaced, hold)
			switch rng.Intn(4) {
			case 0:
				next(reports.TypeHoldCancelled, hold)
			case 1:
				next(reports.TypeHoldExpired, hold)
			default:
				next(reports.TypeHoldConfirmed, hold)
				switch rng.Intn(4) {
				case 0:
					next(reports.TypeHoldCancelled, hold)
				case 1:
					next(reports.TypeHoldRefunded, hold)
				case 2:
					partial := map[string]any{"id": hold.ID, "buckets": hold.Buckets, "quantity": hold.Quantity,
						"refund": wire.Money{Amount: 50, Currency: "EUR"}}
					next(reports.TypeHoldRefunded, partial)
				}
			}
			if rng.Intn(8) == 0 {
				next("bucket.sold_out", map[string]any{"bucket": day})
			}
		}
		for k := 0; k < 30; k++ {
			day := storetest.T0.AddDate(0, 0, rng.Intn(5)).Format(time.DateOnly)
			h.views = append(h.views, [3]string{rid, day, fmt.Sprint("viewer-", rng.Intn(10))})
		}
	}
	return h
}

// recount is the model: the report totals computed straight from the log, independently of
// Derive: per resource, by walking its events in order with its price and zone at the time.
type recount struct {
	counters map[string]reports.Counters    // resource -> totals
	revenue  map[string][2]int64            // currency -> gross, refunded
	byDay    map[[2]string]reports.Counters // (resource, UTC day) -> totals
	byLocal  map[[2]string]int64            // (resource, local day) -> placed
	views    int64
}

func recountOf(h history) recount {
	m := recount{counters: map[string]reports.Counters{}, revenue: map[string][2]int64{},
		byDay: map[[2]string]reports.Counters{}, byLocal: map[[2]string]int64{}}
	for _, rid := range h.ids {
		var price wire.Money
		zone := time.UTC
		for _, ev := range h.byResource[rid] {
			var d struct {
				Price    *wire.Money `json:"price"`
				TimeZone string      `json:"timezone"`
				Buckets  []string    `json:"buckets"`
				Quantity int64       `json:"quantity"`
				Refund   *wire.Money `json:"refund"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				panic(err)
			}
			if ev.Type == reports.TypeResourceCreated || ev.Type == reports.TypeResourceUpdated {
				if d.Price != nil {
					price = *d.Price
				}
				zone = time.UTC
				if d.TimeZone != "" {
					zone, _ = time.LoadLocation(d.TimeZone)
				}
				continue
			}
			units := d.Quantity * int64(len(d.Buckets))
			var c reports.Counters
			rev := m.revenue[price.Currency]
			switch ev.Type {
			case reports.TypeHoldPlaced:
				c = reports.Counters{Placed: 1, UnitsPlaced: units}
				m.byLocal[[2]string{rid, ev.OccurredAt.In(zone).Format(time.DateOnly)}]++
			case reports.TypeHoldConfirmed:
				c = reports.Counters{Confirmed: 1, UnitsConfirmed: units, Gross: price.Amount * units}
				rev[0] += price.Amount * units
			case reports.TypeHoldCancelled:
				c = reports.Counters{Cancelled: 1}
			case reports.TypeHoldExpired:
				c = reports.Counters{Expired: 1}
			case reports.TypeHoldRefunded:
				c = reports.Counters{Refunded: 1, RefundedAmount: price.Amount * units}
				if d.Refund != nil {
					c.RefundedAmount = d.Refund.Amount
					r := m.revenue[d.Refund.Currency]
					r[1] += d.Refund.Amount
					m.revenue[d.Refund.Currency] = r
					c.Gross = 0
				} else {
					rev[1] += price.Amount * units
				}
			default:
				continue
			}
			if ev.Type != reports.TypeHoldRefunded || d.Refund == nil {
				m.revenue[price.Currency] = rev
			}
			t := m.counters[rid]
			t.Add(c)
			m.counters[rid] = t
			k := [2]string{rid, ev.OccurredAt.UTC().Format(time.DateOnly)}
			dc := m.byDay[k]
			dc.Add(c)
			m.byDay[k] = dc
		}
	}
	seen := map[[3]string]bool{}
	for _, v := range h.views {
		if !seen[v] {
			seen[v] = true
			m.views++
		}
	}
	delete(m.revenue, "")
	return m
}

// deliveries interleaves the resources' events at random, keeping each resource's order, and
// redelivers: now and then an event again at once, or an earlier event of the same resource;
// and delays: now and then a hold event's first delivery fails and it comes later, after
// later events of its resource (the bus redelivers it; or another node handled those). A
// resource event is not delayed: a confirmation applied before a late price change would be
// priced by the older price (docs/REPORTS.md).
func deliveries(rng *rand.Rand, h history) []feed.Event {
	pos := map[string]int{}
	var out, delayed []feed.Event
	for {
		var live []string
		for _, rid := range h.ids {
			if pos[rid] < len(h.byResource[rid]) {
				live = append(live, rid)
			}
		}
		if len(live) == 0 {
			return append(out, delayed...)
		}
		if len(delayed) > 0 && rng.Intn(4) == 0 {
			i := rng.Intn(len(delayed))
			out = append(out, delayed[i])
			delayed = append(delayed[:i], delayed[i+1:]...)
		}
		rid := live[rng.Intn(len(live))]
		ev := h.byResource[rid][pos[rid]]
		pos[rid]++
		if strings.HasPrefix(ev.Type, "hold.") && rng.Intn(12) == 0 {
			delayed = append(delayed, ev)
			continue
		}
		out = append(out, ev)
		switch rng.Intn(10) {
		case 0:
			out = append(out, ev)
		case 1:
			out = append(out, h.byResource[rid][rng.Intn(pos[rid])])
		}
	}
}

// TestReportsEqualRecount: for random histories (fixed seeds), delivered with duplicates,
// redeliveries (also after later events of their resource) and interleaving across resources, with a restart (the store closed and
// reopened) midway and the whole log delivered a second time, every report total equals a
// recount from the log.
func TestReportsEqualRecount(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			h := randomHistory(rng)
			want := recountOf(h)
			path := filepath.Join(t.TempDir(), "allot.db")
			store, closeStore := openSQLite(t, path)
			ctx := context.Background()
			evs := append(deliveries(rng, h), deliveries(rng, h)...)
			restartAt := rng.Intn(len(evs))
			for i, ev := range evs {
				if i == restartAt {
					closeStore()
					store, closeStore = openSQLite(t, path)
				}
				if _, err := store.Apply(ctx, ev); err != nil {
					t.Fatalf("apply %s: %v", ev.ID, err)
				}
			}
			var views []reports.View
			for _, v := range h.views {
				views = append(views, reports.View{ResourceID: v[0], Day: v[1], Viewer: v[2]})
			}
			if err := store.RecordViews(ctx, views); err != nil {
				t.Fatal(err)
			}
			closeStore()
			store, closeStore = openSQLite(t, path)
			defer closeStore()
			checkReports(t, reports.NewReports(store), h, want)
		})
	}
}

// TestReportsEqualRecountInBatches is TestReportsEqualRecount with the deliveries applied in
// batches of random sizes (ApplyBatch, as the bus consumer does), the restart between two
// batches: batch boundaries change nothing. Each history runs twice: the batches in
// transactions of the side pool, and through the booking writer's group commits
// (WriteThrough, as a node on SQLite runs them).
func TestReportsEqualRecountInBatches(t *testing.T) {
	for _, through := range []bool{false, true} {
		t.Run(fmt.Sprint("through-writer=", through), func(t *testing.T) { testRecountInBatches(t, through) })
	}
}

func testRecountInBatches(t *testing.T, through bool) {
	openSQLite := func(t testing.TB, path string) (*reports.SQLStore, func()) { return openSQLiteVia(t, path, through) }
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			h := randomHistory(rng)
			want := recountOf(h)
			path := filepath.Join(t.TempDir(), "allot.db")
			store, closeStore := openSQLite(t, path)
			ctx := context.Background()
			evs := append(deliveries(rng, h), deliveries(rng, h)...)
			restartAt := rng.Intn(len(evs))
			for len(evs) > 0 {
				n := min(len(evs), 1+rng.Intn(64))
				if restartAt >= 0 && restartAt < n {
					closeStore()
					store, closeStore = openSQLite(t, path)
				}
				restartAt -= n
				if _, err := store.ApplyBatch(ctx, evs[:n]); err != nil {
					t.Fatalf("apply batch of %d: %v", n, err)
				}
				evs = evs[n:]
			}
			closeStore()
			store, closeStore = openSQLite(t, path)
			defer closeStore()
			var views []reports.View
			for _, v := range h.views {
				views = append(views, reports.View{ResourceID: v[0], Day: v[1], Viewer: v[2]})
			}
			if err := store.RecordViews(ctx, views); err != nil {
				t.Fatal(err)
			}
			checkReports(t, reports.NewReports(store), h, want)
		})
	}
}

func checkReports(t *testing.T, r *reports.Reports, h history, want recount) {
	t.Helper()
	ctx := context.Background()
	all := reports.Query{From: "2026-01-01", To: "2027-12-31", GroupBy: reports.ByResource, Limit: 100}
	var wantTotal reports.Counters
	for _, rid := range h.ids {
		wantTotal.Add(want.counters[rid])
	}
	b, err := r.Bookings(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	tot := b.Total
	if tot.Placed != wantTotal.Placed || tot.Confirmed != wantTotal.Confirmed || tot.Cancelled != wantTotal.Cancelled ||
		tot.Expired != wantTotal.Expired || tot.Refunded != wantTotal.Refunded || tot.UnitsPlaced != wantTotal.UnitsPlaced ||
		tot.UnitsConfirmed != wantTotal.UnitsConfirmed {
		t.Fatalf("bookings total %+v, recount %+v", tot, wantTotal)
	}
	for _, row := range b.Rows {
		w := want.counters[row.Group]
		if row.Placed != w.Placed || row.Confirmed != w.Confirmed || row.UnitsConfirmed != w.UnitsConfirmed {
			t.Fatalf("resource %s: %+v, recount %+v", row.Group, row, w)
		}
	}
	var leads, hours int64
	for _, l := range b.LeadTimes {
		leads += l.Confirmed
	}
	for _, n := range b.PeakHours {
		hours += n
	}
	if leads != wantTotal.Confirmed || hours != wantTotal.Placed {
		t.Fatalf("lead times sum %d (want %d), peak hours sum %d (want %d)", leads, wantTotal.Confirmed, hours, wantTotal.Placed)
	}
	rev, err := r.Revenue(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Totals) != len(want.revenue) {
		t.Fatalf("revenue totals %+v, recount %+v", rev.Totals, want.revenue)
	}
	for _, tr := range rev.Totals {
		w := want.revenue[tr.Currency]
		if tr.Gross != w[0] || tr.Refunded != w[1] || tr.Net != w[0]-w[1] {
			t.Fatalf("revenue %s: %+v, recount %v", tr.Currency, tr, w)
		}
	}
	f, err := r.Funnel(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if f.Total.Views != want.views || f.Total.Placed != wantTotal.Placed || f.Total.Confirmed != wantTotal.Confirmed ||
		f.Total.Cancelled != wantTotal.Cancelled {
		t.Fatalf("funnel %+v, recount views %d, %+v", f.Total, want.views, wantTotal)
	}
	top, err := r.TopResources(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range top.Resources {
		if tr.UnitsConfirmed != want.counters[tr.ResourceID].UnitsConfirmed {
			t.Fatalf("top %s: %+v, recount %+v", tr.ResourceID, tr, want.counters[tr.ResourceID])
		}
		if i > 0 && top.Resources[i-1].UnitsConfirmed < tr.UnitsConfirmed {
			t.Fatalf("top resources out of order: %+v", top.Resources)
		}
	}
	// Per resource and day, in UTC and in the resource's zone.
	for _, rid := range h.ids {
		days, err := r.Bookings(ctx, reports.Query{From: all.From, To: all.To, ResourceID: rid, GroupBy: reports.ByDay})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, row := range days.Rows {
			w := want.byDay[[2]string{rid, row.Group}]
			if row.Placed != w.Placed || row.Confirmed != w.Confirmed || row.Expired != w.Expired {
				t.Fatalf("%s on %s: %+v, recount %+v", rid, row.Group, row, w)
			}
			n++
		}
		local, err := r.Bookings(ctx, reports.Query{From: all.From, To: all.To, ResourceID: rid, GroupBy: reports.ByDay, Local: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range local.Rows {
			if w := want.byLocal[[2]string{rid, row.Group}]; row.Placed != w {
				t.Fatalf("%s on local %s: placed %d, recount %d", rid, row.Group, row.Placed, w)
			}
		}
	}
}
