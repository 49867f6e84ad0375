package reports

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/wire"
)

func TestDeriveDaysLeadAndPrice(t *testing.T) {
	at := time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC)
	r := Resource{ID: "r", TimeZone: "Asia/Kolkata", Price: wire.Money{Amount: 700, Currency: "INR"}}
	hold := func(typ string, buckets ...string) feed.Event {
		data, _ := json.Marshal(wire.Hold{Buckets: buckets, Quantity: 3})
		return feed.Event{ID: "e", Type: typ, ResourceID: "r", Version: 1, OccurredAt: at, Data: data}
	}
	d, err := Derive(hold(TypeHoldConfirmed, "2026-12-05", "2026-12-06"), r)
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 UTC is 05:00 the next day in Kolkata; the stay starts 00:00 local, 19 hours on.
	want := Key{ResourceID: "r", Bucket: "2026-12-05", DayUTC: "2026-12-04", DayLocal: "2026-12-05", Currency: "INR"}
	if *d.Row != want || d.Counters.Gross != 700*6 || d.Counters.UnitsConfirmed != 6 || d.Lead.Class != "same_day" {
		t.Fatalf("delta %+v %+v %+v", d.Row, d.Counters, d.Lead)
	}
	for bucket, class := range map[string]string{"2026-12-12": "1-7d", "2026-12-30": "8-30d", "2027-02-01": "31-90d",
		"2027-06-01": "91d+", "all": "unknown", "2026-12-20T10:00:00Z": "8-30d"} {
		d, err := Derive(hold(TypeHoldConfirmed, bucket), r)
		if err != nil || d.Lead.Class != class {
			t.Errorf("%s: %+v %v, want %s", bucket, d.Lead, err, class)
		}
	}
	d, err = Derive(hold(TypeHoldPlaced, "x"), r)
	if err != nil || d.Hour.HourUTC != 23 || d.Hour.HourLocal != 5 || d.Counters != (Counters{Placed: 1, UnitsPlaced: 3}) {
		t.Fatalf("placed %+v %+v", d.Hour, d.Counters)
	}
	d, err = Derive(hold("bucket.sold_out"), r)
	if err != nil || d.Row != nil || d.Resource != nil {
		t.Fatalf("uncounted type: %+v %v", d, err)
	}
	// An unknown zone counts in UTC rather than failing the event.
	if loc := (Resource{TimeZone: "Mars/Olympus"}).Location(); loc != time.UTC {
		t.Fatalf("unknown zone: %v", loc)
	}
}

func TestDeriveResourceKeepsPriceWhenAbsent(t *testing.T) {
	prev := Resource{ID: "r", Price: wire.Money{Amount: 5, Currency: "EUR"}}
	ev := feed.Event{Type: TypeResourceUpdated, ResourceID: "r", Data: json.RawMessage(`{"name":"N","time_zone":"Europe/Paris"}`)}
	d, err := Derive(ev, prev)
	if err != nil || d.Resource.Name != "N" || d.Resource.TimeZone != "Europe/Paris" || d.Resource.Price != prev.Price {
		t.Fatalf("%+v %v", d.Resource, err)
	}
}

func TestCockroachReadsFollowers(t *testing.T) {
	s := &SQLStore{d: CockroachDB}
	if got := s.from("report_rollups"); got != "report_rollups AS OF SYSTEM TIME follower_read_timestamp()" {
		t.Fatal(got)
	}
	if got := s.q("a = ? AND b = ?"); got != "a = $1 AND b = $2" {
		t.Fatal(got)
	}
	if got := (&SQLStore{d: Postgres}).from("t"); got != "t" {
		t.Fatal(got)
	}
}

func TestCSVCellGuardsFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "-2": "'-2", "@a": "'@a", "ok": "ok", "": ""} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q", in, got)
		}
	}
}
