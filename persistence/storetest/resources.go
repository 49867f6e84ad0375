package storetest

import (
	"context"
	"reflect"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// resourceLister is what GET /v1/resources needs of a store (each store has it; the API
// defines its own interface for it).
type resourceLister interface {
	ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error)
}

// testListResources: search by name (ASCII case-insensitively, LIKE wildcards literal), by tag,
// archived resources left out, by
// availability on a set of buckets as committed (capacity + allowance - held - confirmed),
// cursor pagination by ID, every field round-trips, and bad filters are invalid. The store may
// hold other runs' resources: every query searches this subtest's prefix.
func testListResources(f *fixture) {
	l, ok := f.s.(resourceLister)
	if !ok {
		f.Fatalf("store %T has no ListResources", f.s)
	}
	hotel, inn, court := f.id("hotel"), f.id("inn"), f.id("court")
	days := []string{"2026-12-24", "2026-12-25", "2026-12-26"}
	f.create(hotel, booking.Bucket{Key: days[0], Capacity: 2}, booking.Bucket{Key: days[1], Capacity: 2}, booking.Bucket{Key: days[2], Capacity: 2})
	f.create(inn, booking.Bucket{Key: days[0], Capacity: 1}, booking.Bucket{Key: days[1], Capacity: 1, Allowance: 1})
	f.create(court, booking.Bucket{Key: "all", Capacity: 5})
	// Rename the inn and give it every rule field; sell the hotel's 25th out and one of the
	// inn's 25th (its allowance leaves one more).
	innRes := f.resource(inn)
	innRes.Name = "Cosy INN_%" + f.prefix
	innRes.Price = &booking.Money{Amount: 9900, Currency: "EUR"}
	innRes.MaxExtensions, innRes.Allowance, innRes.MaxPerUser = 3, booking.Allowance{Units: 1}, 4
	innRes.Timezone, innRes.SlotEvery, innRes.WaitlistOfferTTL = "Europe/Paris", 0, 30*time.Minute
	innRes.Tags, innRes.Location = []string{"family", "sea-view"}, "Porto, Ribeira"
	f.commit(&persistence.Batch{ResourceID: inn, Epoch: 1, Version: 2, Resource: innRes,
		Buckets: []booking.Bucket{{Key: days[1], Capacity: 1, Allowance: 1, Held: 1}},
		Holds:   []booking.Hold{hold(inn, f.id("h-inn"), f.id("u"), 1, 1, days[1])}})
	f.commit(&persistence.Batch{ResourceID: hotel, Epoch: 1, Version: 2, Resource: f.resource(hotel),
		Buckets: []booking.Bucket{{Key: days[1], Capacity: 2, Held: 2}},
		Holds:   []booking.Hold{hold(hotel, f.id("h-hotel"), f.id("u"), 1, 2, days[1])}})

	ids := func(rs []booking.Resource) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	expect := func(filter persistence.ResourceFilter, want ...string) []booking.Resource {
		f.Helper()
		got, err := l.ListResources(f.ctx(), filter)
		if err != nil {
			f.Fatalf("ListResources %+v: %v", filter, err)
		}
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(ids(got), want) {
			f.Fatalf("ListResources %+v: %v, want %v", filter, ids(got), want)
		}
		return got
	}
	all := expect(persistence.ResourceFilter{Query: f.prefix}, court, hotel, inn)
	same := func(got booking.Resource) bool {
		return got.Name == innRes.Name && reflect.DeepEqual(got.Price, innRes.Price) && got.HoldTTL == innRes.HoldTTL &&
			got.CreatedAt.Equal(innRes.CreatedAt) && got.UpdatedAt.Equal(innRes.UpdatedAt) && got.MaxExtensions == 3 &&
			got.Allowance == innRes.Allowance && got.MaxPerUser == 4 && got.Timezone == "Europe/Paris" &&
			got.WaitlistOfferTTL == 30*time.Minute && reflect.DeepEqual(got.Tags, innRes.Tags) && got.Location == innRes.Location &&
			got.ArchivedAt.IsZero()
	}
	if !same(all[2]) {
		f.Fatalf("listed %+v, want %+v", all[2], innRes)
	}
	if snap := f.activate(inn, base); !same(snap.Resource) {
		f.Fatalf("activated %+v, want %+v", snap.Resource, innRes)
	}
	// Tags match exactly.
	expect(persistence.ResourceFilter{Query: f.prefix, Tag: "family"}, inn)
	expect(persistence.ResourceFilter{Query: f.prefix, Tag: "sea"})
	// An archived resource is not listed, and activates archived.
	courtRes := f.resource(court)
	courtRes.ArchivedAt = at(5)
	f.commit(&persistence.Batch{ResourceID: court, Epoch: 1, Version: 2, Resource: courtRes})
	if snap := f.activate(court, base); !snap.Resource.ArchivedAt.Equal(at(5)) {
		f.Fatalf("archived resource activates as %+v", snap.Resource)
	}
	expect(persistence.ResourceFilter{Query: f.prefix}, hotel, inn)
	// Names: ASCII case folded, LIKE's wildcards taken literally.
	expect(persistence.ResourceFilter{Query: "cosy inn_%" + f.prefix}, inn)
	expect(persistence.ResourceFilter{Query: "INN__" + f.prefix})
	expect(persistence.ResourceFilter{Query: "Room " + f.prefix}, hotel)
	// Availability as committed, allowance included.
	expect(persistence.ResourceFilter{Query: f.prefix, Keys: days[:2]}, inn)
	expect(persistence.ResourceFilter{Query: f.prefix, Keys: days[:1], Quantity: 2}, hotel)
	expect(persistence.ResourceFilter{Query: f.prefix, Keys: days[:1]}, hotel, inn)
	expect(persistence.ResourceFilter{Query: f.prefix, Keys: days}) // the inn has no 26th, the hotel no room on the 25th
	expect(persistence.ResourceFilter{Query: f.prefix, Keys: []string{"all"}, Quantity: 5})
	// Pages by ID.
	expect(persistence.ResourceFilter{Query: f.prefix, Limit: 1}, hotel)
	expect(persistence.ResourceFilter{Query: f.prefix, Limit: 1, After: hotel}, inn)
	expect(persistence.ResourceFilter{Query: f.prefix, After: inn})
	// Slots: a span keeps a slot resource whose every step in it is a bucket with room; the
	// daily resources have no slots; nights or slots, either matches.
	hall := f.id("hall")
	slots := []string{"2026-12-24T10:00", "2026-12-24T11:00", "2026-12-24T12:00"}
	hallRes := f.create(hall, booking.Bucket{Key: slots[0], Capacity: 2}, booking.Bucket{Key: slots[1], Capacity: 1},
		booking.Bucket{Key: slots[2], Capacity: 2}).Resource
	hallRes.SlotEvery = time.Hour
	f.commit(&persistence.Batch{ResourceID: hall, Epoch: 1, Version: 2, Resource: hallRes})
	span := func(from, to string, minutes int64) *persistence.SlotSpan {
		return &persistence.SlotSpan{From: from, To: to, Minutes: minutes}
	}
	expect(persistence.ResourceFilter{Query: f.prefix, Span: span(slots[0], slots[2], 120)}, hall)
	expect(persistence.ResourceFilter{Query: f.prefix, Span: span(slots[0], slots[2], 120), Quantity: 2}) // 11:00 has one
	expect(persistence.ResourceFilter{Query: f.prefix, Span: span(slots[0], "2026-12-24T13:00", 180)}, hall)
	expect(persistence.ResourceFilter{Query: f.prefix, Span: span(slots[0], "2026-12-24T14:00", 240)}) // no 13:00 slot
	expect(persistence.ResourceFilter{Query: f.prefix, Span: span(slots[2], "2026-12-24T13:00", 60), Quantity: 2}, hall)
	expect(persistence.ResourceFilter{Query: f.prefix, Keys: days[:1], Span: span(slots[0], slots[2], 120)}, hall, hotel, inn)
	expect(persistence.ResourceFilter{Query: f.prefix, Span: span("2026-12-24T10:30", "2026-12-24T11:30", 60)}) // off the hall's hours
	for _, bad := range []persistence.ResourceFilter{{Limit: -1}, {Limit: 201}, {Quantity: 2}, {Keys: []string{"a", "a"}}, {Keys: days, Quantity: -1}, {Tag: "A"},
		{Span: span(days[0], days[1], 1440)}, {Span: span(slots[1], slots[0], 60)}, {Span: span(slots[0], slots[1], 0)}} {
		if _, err := l.ListResources(f.ctx(), bad); booking.ErrorCode(err) != booking.CodeInvalid {
			f.Fatalf("ListResources %+v: err = %v, want invalid", bad, err)
		}
	}
}
