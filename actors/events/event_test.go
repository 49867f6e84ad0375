package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

func TestIDRoundTrip(t *testing.T) {
	for _, rid := range []string{"hotel-1", "a:b", "x.y*z>", "r"} {
		id := ID(rid, 42, 3)
		got, v, i, ok := ParseID(id)
		if !ok || got != rid || v != 42 || i != 3 {
			t.Errorf("ParseID(%q) = %q %d %d %v", id, got, v, i, ok)
		}
	}
	for _, bad := range []string{"", "a", "a/1", "/1/2", "a/x/1", "a/1/-1", "a b/1/2"} {
		if _, _, _, ok := ParseID(bad); ok {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestSubjectEscapesNATSMetacharacters(t *testing.T) {
	cases := map[string]string{
		"hotel-1": "allot.events.hold.placed.hotel-1",
		"a.b":     "allot.events.hold.placed.a%2Eb",
		"*":       "allot.events.hold.placed.%2A",
		">x":      "allot.events.hold.placed.%3Ex",
	}
	for rid, want := range cases {
		if got := Subject(HoldPlaced, rid); got != want {
			t.Errorf("Subject(%q) = %q, want %q", rid, got, want)
		}
	}
	if SubjectToken("a.b") == SubjectToken("a%2Eb") {
		t.Error("two ids share a token") // '%' is not a valid id character, but the escape must not rely on it alone
	}
}

func TestEncodeHold(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	h := booking.Hold{ID: "h1", ResourceID: "r1", UserID: "u1", IdempotencyKey: "secret-ish", Buckets: []string{"all"},
		Quantity: 2, Status: booking.StatusHeld, CreatedAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: at}
	rec, err := Encode(&Event{Type: HoldPlaced, ResourceID: "r1", Version: 7, Index: 1, OccurredAt: at, Subject: "u1", Hold: &h})
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != "r1/7/1" || !rec.OccurredAt.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("record %+v", rec)
	}
	var d HoldData
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != "h1" || d.Status != "held" || d.Quantity != 2 || len(d.Buckets) != 1 {
		t.Fatalf("data %+v", d)
	}
	if strings.Contains(string(rec.Data), "secret-ish") {
		t.Fatal("the idempotency key leaked into the event")
	}
	if _, err := Encode(&Event{Type: HoldPlaced, ResourceID: "r1"}); err == nil {
		t.Fatal("an event without after-image encoded")
	}
}

func TestEncodeBucket(t *testing.T) {
	b := booking.Bucket{Key: "all", Capacity: 5, Held: 3, Confirmed: 2}
	rec, err := Encode(&Event{Type: BucketSoldOut, ResourceID: "r1", Version: 1, Bucket: &b})
	if err != nil {
		t.Fatal(err)
	}
	var d BucketData
	if err := json.Unmarshal(rec.Data, &d); err != nil || d.Available != 0 || d.Key != "all" {
		t.Fatalf("data %s: %v", rec.Data, err)
	}
}

// TestRefundRecordCarriesTheRefund: hold.refunded's data has the refund's amount and currency
// where the report rollups read it ("refund"), and the payment's state.
func TestRefundRecordCarriesTheRefund(t *testing.T) {
	h := booking.Hold{ID: "h1", ResourceID: "r", UserID: "u", Buckets: []string{"a"}, Quantity: 1, Status: booking.StatusCancelled}
	e := Event{Type: HoldRefunded, ResourceID: "r", Version: 3, Hold: &h,
		Payment: &PaymentData{Status: "refunded", Previous: "captured", Refunded: 1500, Amount: 1500, Currency: "EUR"}}
	r, err := Encode(&e)
	if err != nil {
		t.Fatal(err)
	}
	var d HoldData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Refund == nil || d.Refund.Amount != 1500 || d.Refund.Currency != "EUR" || d.Payment == nil || d.Payment.Status != "refunded" {
		t.Fatalf("data = %s", r.Data)
	}
}

// TestEncodeResourceCarriesItsRules: resource.* data is the resource as it is after the
// change, its booking rules included, so a consumer needs no read back.
func TestEncodeResourceCarriesItsRules(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := booking.Resource{ID: "inn", Name: "Inn", HoldTTL: 10 * time.Minute, CreatedAt: at, UpdatedAt: at,
		MaxExtensions: 2, Allowance: booking.Allowance{Percent: 10}, MaxPerUser: 4, Timezone: "Europe/Paris",
		SlotEvery: 30 * time.Minute, WaitlistOfferTTL: 15 * time.Minute,
		Refunds: []booking.RefundTier{{Before: 48 * time.Hour, Percent: 100}, {Before: 0, Percent: 0}},
		Tags:    []string{"spa"}, Location: "Paris", ArchivedAt: at.Add(time.Hour)}
	rec, err := Encode(&Event{Type: ResourceUpdated, ResourceID: "inn", Version: 3, Resource: &r,
		Buckets: []booking.Bucket{{Key: "2026-12-24", Capacity: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	const want = `"max_extensions":2,"allowance":{"percent":10},"max_per_user":4,"timezone":"Europe/Paris",` +
		`"slot_every_seconds":1800,"waitlist_offer_ttl_seconds":900,` +
		`"cancellation_policy":[{"before_seconds":172800,"percent":100},{"before_seconds":0,"percent":0}],` +
		`"tags":["spa"],"location":"Paris","archived_at":"2026-01-02T04:04:05Z"`
	if !strings.Contains(string(rec.Data), want) {
		t.Fatalf("data %s\nlacks %s", rec.Data, want)
	}
	// A resource without rules says so by absence, but always gives the renewals and offer TTL.
	plain := booking.Resource{ID: "r", Name: "R", HoldTTL: time.Minute, CreatedAt: at, UpdatedAt: at}
	rec, err = Encode(&Event{Type: ResourceCreated, ResourceID: "r", Version: 1, Resource: &plain})
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"allowance", "max_per_user", "timezone", "slot_every", "cancellation_policy", "tags", "location", "archived_at"} {
		if strings.Contains(string(rec.Data), absent) {
			t.Errorf("%s in %s", absent, rec.Data)
		}
	}
	if !strings.Contains(string(rec.Data), `"max_extensions":0`) || !strings.Contains(string(rec.Data), `"waitlist_offer_ttl_seconds":0`) {
		t.Errorf("data %s", rec.Data)
	}
}
