package reports_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
	"github.com/allot/allot/api/wire"
)

// testFail stands in for api.Fail (which api/reports may not import): the status of the
// code, and the code as the body.
func testFail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	if booking.ErrorCode(err) == booking.CodeInvalid {
		status = http.StatusUnprocessableEntity
	}
	c.String(status, "%s", booking.ErrorCode(err))
}

func mustEngine(t *testing.T) (*gin.Engine, reports.Store) {
	t.Helper()
	store := mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db"))
	eur := &wire.Money{Amount: 1000, Currency: "EUR"}
	ctx := context.Background()
	for _, ev := range []struct {
		typ string
		v   uint64
	}{{reports.TypeHoldPlaced, 2}, {reports.TypeHoldConfirmed, 3}, {reports.TypeHoldPlaced, 4}, {reports.TypeHoldCancelled, 5}} {
		if _, err := store.Apply(ctx, storetest.ResourceEvent("=r1", 1, storetest.T0, "", eur)); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Apply(ctx, storetest.HoldEvent(ev.typ, "=r1", "h", ev.v, storetest.T0, []string{"2026-12-24"}, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.RecordViews(ctx, []reports.View{{ResourceID: "=r1", Day: "2026-12-04", Viewer: "v1"}}); err != nil {
		t.Fatal(err)
	}
	h, err := reports.NewHandlers(reports.HandlersConfig{Reports: reports.NewReports(store), Fail: testFail,
		Now: func() time.Time { return storetest.T0 }})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	mount.Mount(e, h.Routes())
	return e, store
}

func get(e http.Handler, target, accept string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	e.ServeHTTP(w, r)
	return w
}

func TestRoutesAreForOperators(t *testing.T) {
	h, err := reports.NewHandlers(reports.HandlersConfig{Reports: reports.NewReports(nil), Fail: testFail})
	if err != nil {
		t.Fatal(err)
	}
	rp := auth.RoutePolicies{}
	mount.AddPolicies(rp, h.Routes())
	if len(rp) != 5 {
		t.Fatalf("%d routes", len(rp))
	}
	for r, p := range rp {
		if p != auth.Operator || r.Method != http.MethodGet || !strings.HasPrefix(r.Path, "/v1/reports/") {
			t.Errorf("%s: %s", r, p)
		}
	}
	if _, err := reports.NewHandlers(reports.HandlersConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
}

func TestBookingsJSONAndDefaultRange(t *testing.T) {
	e, _ := mustEngine(t)
	w := get(e, "/v1/reports/bookings", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var rep reports.BookingsReport
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// T0 is 2026-12-04: the default range is the 30 days up to and including it.
	if rep.From != "2026-11-05" || rep.To != "2026-12-05" || rep.GroupBy != reports.ByDay || len(rep.Rows) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if tot := rep.Total; tot.Placed != 2 || tot.Confirmed != 1 || tot.Cancelled != 1 || tot.Conversion != 0.5 || tot.UnitsConfirmed != 2 {
		t.Fatalf("total %+v", tot)
	}
	if rep.LeadTimes[2].Class != "8-30d" || rep.LeadTimes[2].Confirmed != 1 || rep.PeakHours[23] != 2 {
		t.Fatalf("lead %+v hours %v", rep.LeadTimes, rep.PeakHours)
	}
	w = get(e, "/v1/reports/bookings?from=2026-12-05&to=2026-12-06", "")
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || len(rep.Rows) != 0 || rep.Total.Placed != 0 {
		t.Fatalf("empty range: %s", w.Body)
	}
}

func TestReportsCSV(t *testing.T) {
	e, _ := mustEngine(t)
	for path, want := range map[string][][]string{
		"/v1/reports/revenue?group_by=month": {{"group", "currency", "gross", "refunded", "net"},
			{"2026-12", "EUR", "2000", "0", "2000"}, {"total", "EUR", "2000", "0", "2000"}},
		"/v1/reports/funnel?group_by=resource": {{"group", "views", "placed", "confirmed", "cancelled", "view_to_hold", "conversion"},
			{"'=r1", "1", "2", "1", "1", "2.0000", "0.5000"}, {"total", "1", "2", "1", "1", "2.0000", "0.5000"}},
		"/v1/reports/top-resources?limit=5": {{"resource_id", "name", "confirmed", "units_confirmed", "currency", "gross", "refunded", "net"},
			{"'=r1", "Resource =r1", "1", "2", "EUR", "2000", "0", "2000"}},
		"/v1/reports/bookings?group_by=week&tz=resource": {{"group", "placed", "confirmed", "cancelled", "expired", "refunded",
			"units_placed", "units_confirmed", "conversion", "cancellation_rate", "expiry_rate"},
			{"2026-W49", "2", "1", "1", "0", "0", "4", "2", "0.5000", "0.5000", "0.0000"},
			{"total", "2", "1", "1", "0", "0", "4", "2", "0.5000", "0.5000", "0.0000"}},
	} {
		w := get(e, path, "text/csv")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") ||
			!strings.Contains(w.Header().Get("Content-Disposition"), ".csv") || w.Header().Get("Vary") != "Accept" {
			t.Fatalf("%s: %d %v", path, w.Code, w.Header())
		}
		got, err := csv.NewReader(w.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %q", path, got)
		}
		for i := range want {
			if strings.Join(got[i], ",") != strings.Join(want[i], ",") {
				t.Errorf("%s line %d: %q, want %q", path, i, got[i], want[i])
			}
		}
	}
	// JSON is preferred when it comes first.
	if w := get(e, "/v1/reports/revenue", "application/json, text/csv"); w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("accept json first: %s", w.Header().Get("Content-Type"))
	}
	if w := get(e, "/v1/reports/revenue", "text/csv;q=0, application/json"); w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("csv refused: %s", w.Header().Get("Content-Type"))
	}
}

func TestResourcesSearch(t *testing.T) {
	e, _ := mustEngine(t)
	w := get(e, "/v1/reports/resources?q=R1", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"id":"=r1"`) || !strings.Contains(w.Body.String(), `"currency":"EUR"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := get(e, "/v1/reports/resources?q=nothing", ""); w.Body.String() != `{"resources":[]}`+"\n" {
		t.Fatalf("no match: %s", w.Body)
	}
	if w := get(e, "/v1/reports/resources?x=1", ""); w.Code != 422 {
		t.Fatalf("unknown parameter: %d", w.Code)
	}
}

func TestBadQueriesAreRefused(t *testing.T) {
	e, _ := mustEngine(t)
	for _, q := range []string{
		"/v1/reports/bookings?from=yesterday",
		"/v1/reports/bookings?to=2026-13-01",
		"/v1/reports/bookings?from=2026-12-05&to=2026-12-05",
		"/v1/reports/bookings?from=2020-01-01&to=2026-01-01",
		"/v1/reports/bookings?group_by=year",
		"/v1/reports/bookings?tz=Europe/Berlin",
		"/v1/reports/bookings?resource_id=%20",
		"/v1/reports/bookings?colour=red",
		"/v1/reports/bookings?group_by=day&group_by=week",
		"/v1/reports/top-resources?limit=0",
		"/v1/reports/top-resources?limit=101",
		"/v1/reports/funnel?group_by=bucket",
	} {
		if w := get(e, q, ""); w.Code != http.StatusUnprocessableEntity || w.Body.String() != booking.CodeInvalid {
			t.Errorf("%s: %d %s", q, w.Code, w.Body)
		}
	}
}

// failingStore fails every read.
type failingStore struct{ reports.Store }

func (failingStore) Rows(context.Context, reports.Filter) ([]reports.Row, error) {
	return nil, errors.New("disk on fire")
}

func TestStoreErrorsAreAnswered(t *testing.T) {
	h, err := reports.NewHandlers(reports.HandlersConfig{Reports: reports.NewReports(failingStore{}), Fail: testFail})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	mount.Mount(e, h.Routes())
	for _, p := range []string{"bookings", "revenue", "funnel", "top-resources"} {
		if w := get(e, "/v1/reports/"+p, ""); w.Code != 500 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
}

func TestConsumerSkipsBadEventsAndRetriesStoreErrors(t *testing.T) {
	store := mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db"))
	consume := reports.Consumer(store, nil)
	bad := storetest.HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 1, storetest.T0, nil, 1)
	if err := consume(context.Background(), bad); err != nil {
		t.Fatalf("a bad event is acknowledged: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	good := storetest.HoldEvent(reports.TypeHoldPlaced, "r1", "h1", 1, storetest.T0, []string{"x"}, 1)
	if err := consume(ctx, good); err == nil {
		t.Fatal("a store error was acknowledged")
	}
	if err := consume(context.Background(), good); err != nil {
		t.Fatal(err)
	}
}
