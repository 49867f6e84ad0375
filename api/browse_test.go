package api

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/allot/allot/api/wire"
)

// TestBrowseBySlots: from and to search a stay by dates or slot starts, as read on each
// resource's wall clock: a slot resource matches when every slot of the span has the quantity
// free, a daily one when every night has; dates match either.
func TestBrowseBySlots(t *testing.T) {
	e := MustServer(t)
	for _, body := range []string{
		`{"id":"court","name":"Court","timezone":"Europe/Berlin","calendar":{"from":"2026-12-24T00:00","to":"2026-12-26T00:00","every":"1h","capacity":2}}`,
		`{"id":"hotel","name":"Hotel","timezone":"America/New_York","calendar":{"from":"2026-12-24","to":"2026-12-27","every":"24h","capacity":2}}`,
		`{"id":"studio","name":"Studio","calendar":{"from":"2026-12-24T09:00","to":"2026-12-24T13:00","every":"30m","capacity":1}}`,
	} {
		e.ok(e.do("POST", "/v1/resources", body), http.StatusCreated, nil)
	}
	// The court's 10:00 slot is sold out.
	e.ok(e.do("POST", "/v1/resources/court/holds", `{"from":"2026-12-24T10:00","to":"2026-12-24T11:00","quantity":2}`, e.as("u-1")...), http.StatusCreated, nil)
	search := func(query string) []string {
		t.Helper()
		var l wire.ResourceList
		e.ok(e.do("GET", "/v1/resources?"+query, ""), http.StatusOK, &l)
		ids := []string{}
		for _, r := range l.Resources {
			ids = append(ids, r.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"from=2026-12-24T11:00&to=2026-12-24T13:00", []string{"court", "studio"}},
		{"from=2026-12-24T09:00&to=2026-12-24T11:00", []string{"studio"}}, // the court's 10:00 is sold out
		{"from=2026-12-24T11:00&to=2026-12-24T13:00&quantity=2", []string{"court"}},
		{"from=2026-12-24T12:00&to=2026-12-24T14:00", []string{"court"}},  // the studio closes at 13:00
		{"from=2026-12-24T11:30&to=2026-12-24T12:30", []string{"studio"}}, // not on the court's hours
		{"from=2026-12-25&to=2026-12-26", []string{"court", "hotel"}},     // a night, or every slot of the day
		{"from=2026-12-24&to=2026-12-25", []string{"hotel"}},
		{"from=2026-12-25&to=2026-12-27", []string{"hotel"}}, // the court ends with the 25th
		{"from=2026-12-25&to=2026-12-26&quantity=3", []string{}},
		{"from=2026-12-25T00:00&to=2026-12-26", []string{"court"}}, // a slot start: slots only
	} {
		if got := search(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GET /v1/resources?%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"from=2026-12-24T10:00", "to=2026-12-24", "from=2026-12-24T12:00&to=2026-12-24T10:00",
		"from=2026-12-24T10&to=2026-12-24T12", "from=2026-12-24&to=2026-12-25&available_from=2026-12-24&available_to=2026-12-25",
		"from=2026-12-24&to=2028-12-24", "quantity=1"} {
		mustProblem(t, e.do("GET", "/v1/resources?"+q, ""), http.StatusUnprocessableEntity, "invalid")
	}
}
