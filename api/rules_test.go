package api

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// TestRenewal: the owner renews a live hold by the hold TTL from now, at most max_extensions
// times; another user's hold is not found, as an unknown one; a customer cannot name another
// user, an operator can; an expired hold cannot be renewed.
func TestRenewal(t *testing.T) {
	e := MustServer(t)
	e.ok(e.do("POST", "/v1/resources", `{"id":"r","name":"Show","buckets":{"all":5},"hold_ttl":"10m","max_extensions":2}`), http.StatusCreated, nil)
	var h wire.Hold
	e.ok(e.do("POST", "/v1/resources/r/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &h)
	path := "/v1/resources/r/holds/" + h.ID + "/extend"

	e.clock.Advance(8 * time.Minute)
	var ext wire.Hold
	e.ok(e.do("POST", path, "", e.as("u-1")...), http.StatusOK, &ext)
	if want := e.clock.Now().Add(10 * time.Minute); ext.Extensions != 1 || ext.ExpiresAt == nil || !ext.ExpiresAt.Equal(want) {
		t.Fatalf("renewed %+v, want expires_at %v and 1 extension", ext, want)
	}
	foreign := mustProblem(t, e.do("POST", path, "", e.as("u-2")...), http.StatusNotFound, "not-found")
	unknown := mustProblem(t, e.do("POST", "/v1/resources/r/holds/h-404/extend", "", e.as("u-2")...), http.StatusNotFound, "not-found")
	if strings.Replace(foreign.Detail, h.ID, "h-404", 1) != unknown.Detail {
		t.Fatalf("another user's hold answered %q, an unknown one %q", foreign.Detail, unknown.Detail)
	}
	mustProblem(t, e.do("POST", path+"?user_id=u-1", "", e.as("u-2")...), http.StatusForbidden, "forbidden")
	mustProblem(t, e.do("POST", path+"?user_id=", "", e.as("u-1")...), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", path+"?user_id=u-1&user_id=u-1", "", e.as("u-1")...), http.StatusBadRequest, "malformed")
	// The front desk (an operator with a second factor) renews for u-1 by naming them.
	e.ok(e.do("POST", path+"?user_id=u-1", "", e.bearer(asOperator)...), http.StatusOK, &ext)
	if ext.Extensions != 2 {
		t.Fatalf("second renewal: %+v", ext)
	}
	mustProblem(t, e.do("POST", path, "", e.as("u-1")...), http.StatusConflict, "limit-exceeded")

	var h2 wire.Hold
	e.ok(e.do("POST", "/v1/resources/r/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-3")...), http.StatusCreated, &h2)
	e.clock.Advance(11 * time.Minute)
	mustProblem(t, e.do("POST", "/v1/resources/r/holds/"+h2.ID+"/extend", "", e.as("u-3")...), http.StatusConflict, "conflict")
}

// TestAllowanceAndPerUserLimit: an allowance sells beyond capacity and availability shows how
// far; max_per_user refuses with 409 limit-exceeded; both can be changed by PATCH.
func TestAllowanceAndPerUserLimit(t *testing.T) {
	e := MustServer(t)
	var r wire.Resource
	e.ok(e.do("POST", "/v1/resources", `{"id":"flight","name":"Flight","buckets":{"all":10},"allowance":{"percent":20},"max_per_user":3}`), http.StatusCreated, &r)
	if r.Allowance == nil || r.Allowance.Percent != 20 || r.MaxPerUser != 3 || r.Buckets["all"].Allowance != 2 || r.Buckets["all"].Available != 12 {
		t.Fatalf("created %+v", r)
	}
	for _, u := range []string{"u-a", "u-b", "u-c"} {
		e.ok(e.do("POST", "/v1/resources/flight/holds", `{"buckets":["all"],"quantity":3}`, e.as(u)...), http.StatusCreated, nil)
	}
	mustProblem(t, e.do("POST", "/v1/resources/flight/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-a")...), http.StatusConflict, "limit-exceeded")
	e.ok(e.do("POST", "/v1/resources/flight/holds", `{"buckets":["all"],"quantity":3}`, e.as("u-d")...), http.StatusCreated, nil)
	var a wire.Availability
	e.ok(e.do("GET", "/v1/resources/flight/availability", ""), http.StatusOK, &a)
	if got, want := a.Buckets["all"], (wire.Bucket{Capacity: 10, Held: 12, Available: 0, Allowance: 2, Overbooked: 2}); got != want {
		t.Fatalf("availability %+v, want %+v", got, want)
	}
	mustProblem(t, e.do("POST", "/v1/resources/flight/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-z")...), http.StatusConflict, "sold-out")
	// Lowering the allowance below what is sold is refused; raising the limit is not.
	mustProblem(t, e.do("PATCH", "/v1/resources/flight", `{"allowance":{}}`), http.StatusConflict, "conflict")
	r = wire.Resource{}
	e.ok(e.do("PATCH", "/v1/resources/flight", `{"max_per_user":0,"allowance":{"units":3},"max_extensions":5,"waitlist_offer_ttl":"30m"}`), http.StatusOK, &r)
	if r.MaxPerUser != 0 || r.Allowance.Units != 3 || r.MaxExtensions != 5 || r.WaitlistOfferTTL != "30m" || r.Buckets["all"].Available != 1 {
		t.Fatalf("updated %+v", r)
	}
	e.ok(e.do("POST", "/v1/resources/flight/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-a")...), http.StatusCreated, nil)
}

// TestCalendarAndRange: a resource created with a daily calendar in its time zone; a 3-night
// stay held by range claims the three nights, as listing them would.
func TestCalendarAndRange(t *testing.T) {
	e := MustServer(t)
	var r wire.Resource
	e.ok(e.do("POST", "/v1/resources", `{"id":"hotel","name":"Hotel","timezone":"Europe/Paris",
		"calendar":{"from":"2026-12-01","to":"2027-01-01","every":"24h","capacity":2}}`), http.StatusCreated, &r)
	if len(r.Buckets) != 31 || r.Timezone != "Europe/Paris" || r.Buckets["2026-12-31"].Capacity != 2 {
		t.Fatalf("calendar resource: %d buckets, %+v", len(r.Buckets), r)
	}
	var h wire.Hold
	e.ok(e.do("POST", "/v1/resources/hotel/holds", `{"from":"2026-12-24","to":"2026-12-27","quantity":1}`, e.as("u-1")...), http.StatusCreated, &h)
	if want := []string{"2026-12-24", "2026-12-25", "2026-12-26"}; !reflect.DeepEqual(h.Buckets, want) {
		t.Fatalf("stay claims %v, want %v", h.Buckets, want)
	}
	var a wire.Availability
	e.ok(e.do("GET", "/v1/resources/hotel/availability", ""), http.StatusOK, &a)
	if a.Buckets["2026-12-26"].Held != 1 || a.Buckets["2026-12-27"].Held != 0 {
		t.Fatalf("availability %+v", a.Buckets)
	}
	// A stay past the calendar, a reversed one and one that also lists buckets are refused.
	mustProblem(t, e.do("POST", "/v1/resources/hotel/holds", `{"from":"2026-12-30","to":"2027-01-02","quantity":1}`, e.as("u-1")...), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources/hotel/holds", `{"from":"2026-12-27","to":"2026-12-24","quantity":1}`, e.as("u-1")...), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources/hotel/holds", `{"buckets":["2026-12-24"],"from":"2026-12-24","to":"2026-12-25","quantity":1}`, e.as("u-1")...), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources/hotel/holds", `{"from":"2026-12-24","quantity":1}`, e.as("u-1")...), http.StatusUnprocessableEntity, "invalid")
	// Slots: hourly, a range of slots.
	r = wire.Resource{}
	e.ok(e.do("POST", "/v1/resources", `{"id":"court","name":"Court","timezone":"America/New_York",
		"calendar":{"from":"2026-12-01T08:00","to":"2026-12-01T20:00","every":"1h","capacity":1}}`), http.StatusCreated, &r)
	if len(r.Buckets) != 12 || r.SlotEvery != "1h" {
		t.Fatalf("slot resource: %+v", r)
	}
	e.ok(e.do("POST", "/v1/resources/court/holds", `{"from":"2026-12-01T10:00","to":"2026-12-01T12:00","quantity":1}`, e.as("u-1")...), http.StatusCreated, &h)
	if want := []string{"2026-12-01T10:00", "2026-12-01T11:00"}; !reflect.DeepEqual(h.Buckets, want) {
		t.Fatalf("slots %v, want %v", h.Buckets, want)
	}
	// Bad calendars and zones never reach an actor.
	for _, body := range []string{
		`{"id":"x","name":"x","calendar":{"from":"2026-12-01","to":"2026-12-05","every":"24h","capacity":1},"buckets":{"a":1}}`,
		`{"id":"x","name":"x","calendar":{"from":"2026-12-01","to":"2026-12-05","every":"7h","capacity":1}}`,
		`{"id":"x","name":"x","calendar":{"from":"2026-12-01","to":"2030-12-05","every":"24h","capacity":1}}`,
		`{"id":"x","name":"x","calendar":{"from":"2026-12-01","to":"2026-12-05","capacity":1}}`,
		`{"id":"x","name":"x","buckets":{"a":1},"timezone":"Mars/Olympus"}`,
		`{"id":"x","name":"x","buckets":{"a":1},"allowance":{"units":1,"percent":5}}`,
		`{"id":"x","name":"x","buckets":{"a":1},"max_extensions":101}`,
		`{"id":"x","name":"x","buckets":{"a":1},"waitlist_offer_ttl":"0s"}`,
		`{"id":"x","name":"x"}`,
	} {
		mustProblem(t, e.do("POST", "/v1/resources", body), http.StatusUnprocessableEntity, "invalid")
	}
	mustProblem(t, e.do("POST", "/v1/resources", `{"id":"x","name":"x","buckets":{"a":1},"allowance":{"unit":1}}`), http.StatusBadRequest, "malformed")
	mustProblem(t, e.do("POST", "/v1/resources", `{"id":"x","name":"x","calendar":{"from":"2026-12-01","to":"2026-12-05","every":"24h","capacity":1,"step":1}}`), http.StatusBadRequest, "malformed")
}

// TestWaitlistWalk: join when sold out, see one's position, leave; a cancellation offers the
// seat to the first in line as the hold the entry named.
func TestWaitlistWalk(t *testing.T) {
	e := MustServer(t)
	e.ok(e.do("POST", "/v1/resources", `{"id":"gig","name":"Gig","buckets":{"all":1},"waitlist_offer_ttl":"15m"}`), http.StatusCreated, nil)
	var h wire.Hold
	e.ok(e.do("POST", "/v1/resources/gig/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &h)

	var w2, w3 wire.WaitlistEntry
	rec := e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1}`, e.as("u-2")...)
	e.ok(rec, http.StatusCreated, &w2)
	if w2.Position != 1 || w2.UserID != "u-2" || rec.Header().Get("Location") != "/v1/resources/gig/waitlist/"+w2.ID {
		t.Fatalf("joined %+v, %v", w2, rec.Header())
	}
	e.ok(e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1}`, e.as("u-3")...), http.StatusCreated, &w3)
	if w3.Position != 2 {
		t.Fatalf("second in line: %+v", w3)
	}
	mustProblem(t, e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1}`, e.as("u-3")...), http.StatusConflict, "conflict")
	// Only an operator joins and leaves for someone else.
	mustProblem(t, e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1,"user_id":"u-5"}`, e.as("u-4")...), http.StatusForbidden, "forbidden")
	var w5 wire.WaitlistEntry
	e.ok(e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1,"user_id":"u-5"}`, e.bearer(asOperator)...), http.StatusCreated, &w5)
	if w5.UserID != "u-5" || w5.Position != 3 {
		t.Fatalf("joined for u-5: %+v", w5)
	}
	e.ok(e.do("DELETE", "/v1/resources/gig/waitlist/"+w5.ID+"?user_id=u-5", "", e.bearer(asOperator)...), http.StatusOK, nil)
	var mine wire.WaitlistList
	e.ok(e.do("GET", "/v1/me/waitlist", "", e.as("u-3")...), http.StatusOK, &mine)
	if len(mine.Entries) != 1 || mine.Entries[0].ID != w3.ID || mine.Entries[0].Position != 2 {
		t.Fatalf("u-3's waitlist: %+v", mine)
	}
	// An operator may read u-3's; u-2 may not name u-3, and u-3's entry is unknown to u-2.
	e.ok(e.do("GET", "/v1/me/waitlist?user_id=u-3", "", e.bearer(asOperator)...), http.StatusOK, &mine)
	if len(mine.Entries) != 1 || mine.Entries[0].ID != w3.ID {
		t.Fatalf("u-3's waitlist read by an operator: %+v", mine)
	}
	mustProblem(t, e.do("GET", "/v1/me/waitlist?user_id=u-3", "", e.as("u-2")...), http.StatusForbidden, "forbidden")
	mustProblem(t, e.do("DELETE", "/v1/resources/gig/waitlist/"+w3.ID+"?user_id=u-3", "", e.as("u-2")...), http.StatusForbidden, "forbidden")
	foreign := mustProblem(t, e.do("DELETE", "/v1/resources/gig/waitlist/"+w3.ID, "", e.as("u-2")...), http.StatusNotFound, "not-found")
	unknown := mustProblem(t, e.do("DELETE", "/v1/resources/gig/waitlist/w-404", "", e.as("u-2")...), http.StatusNotFound, "not-found")
	if strings.Replace(foreign.Detail, w3.ID, "w-404", 1) != unknown.Detail {
		t.Fatalf("another user's entry answered %q, an unknown one %q", foreign.Detail, unknown.Detail)
	}

	var cancelled wire.Hold
	e.ok(e.do("POST", "/v1/resources/gig/holds/"+h.ID+"/cancel", "", e.as("u-1")...), http.StatusOK, &cancelled)
	var offer wire.Hold
	e.ok(e.do("GET", "/v1/resources/gig/holds/"+w2.OfferHoldID, "", e.as("u-2")...), http.StatusOK, &offer)
	if offer.Status != "held" || offer.UserID != "u-2" || offer.WaitlistEntryID != w2.ID ||
		!offer.ExpiresAt.Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("offer %+v", offer)
	}
	e.ok(e.do("GET", "/v1/me/waitlist", "", e.as("u-3")...), http.StatusOK, &mine)
	if len(mine.Entries) != 1 || mine.Entries[0].Position != 1 {
		t.Fatalf("u-3 moved up: %+v", mine)
	}
	var left wire.WaitlistEntry
	e.ok(e.do("DELETE", "/v1/resources/gig/waitlist/"+w3.ID, "", e.as("u-3")...), http.StatusOK, &left)
	if left.ID != w3.ID || left.Position != 0 {
		t.Fatalf("left %+v", left)
	}
	e.ok(e.do("GET", "/v1/me/waitlist", "", e.as("u-3")...), http.StatusOK, &mine)
	if len(mine.Entries) != 0 {
		t.Fatalf("u-3 still waits: %+v", mine)
	}
	// The units are available now: joining is refused, a hold is the way.
	e.clock.Advance(16 * time.Minute)
	mustProblem(t, e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1}`, e.as("u-4")...), http.StatusConflict, "conflict")
	mustProblem(t, e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"]}`, e.as("u-4")...), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources/gig/waitlist", `{"buckets":["all"],"quantity":1,"x":1}`, e.as("u-4")...), http.StatusBadRequest, "malformed")
}

// TestBrowse: search by name and by availability for a stay, a page at a time.
func TestBrowse(t *testing.T) {
	e := MustServer(t)
	for _, body := range []string{
		`{"id":"a-hotel","name":"Hotel Astoria","buckets":{"2026-12-24":1,"2026-12-25":1}}`,
		`{"id":"b-inn","name":"Harbour Inn","buckets":{"2026-12-24":3,"2026-12-25":3,"2026-12-26":3}}`,
		`{"id":"c-hostel","name":"Hostel","buckets":{"2026-12-24":5}}`,
		`{"id":"d-gig","name":"Gig","buckets":{"all":5}}`,
	} {
		e.ok(e.do("POST", "/v1/resources", body), http.StatusCreated, nil)
	}
	e.ok(e.do("POST", "/v1/resources/a-hotel/holds", `{"from":"2026-12-25","to":"2026-12-26","quantity":1}`, e.as("u-1")...), http.StatusCreated, nil)
	search := func(query string) []string {
		t.Helper()
		var l wire.ResourceList
		e.ok(e.do("GET", "/v1/resources?"+query, ""), http.StatusOK, &l)
		ids := []string{}
		for _, r := range l.Resources {
			ids = append(ids, r.ID)
		}
		if l.NextCursor != "" {
			ids = append(ids, "next:"+l.NextCursor)
		}
		return ids
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"a-hotel", "b-inn", "c-hostel", "d-gig"}},
		{"q=HOST", []string{"c-hostel"}},
		{"q=o", []string{"a-hotel", "b-inn", "c-hostel"}},
		{"available_from=2026-12-24&available_to=2026-12-26", []string{"b-inn"}},
		{"available_from=2026-12-24&available_to=2026-12-25", []string{"a-hotel", "b-inn", "c-hostel"}},
		{"available_from=2026-12-24&available_to=2026-12-25&quantity=4", []string{"c-hostel"}},
		{"limit=2", []string{"a-hotel", "b-inn", "next:" + encodeCursor("b-inn")}},
		{"limit=2&cursor=" + encodeCursor("b-inn"), []string{"c-hostel", "d-gig"}},
	} {
		if got := search(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GET /v1/resources?%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"available_from=2026-12-24", "quantity=2", "available_from=2026-12-26&available_to=2026-12-24",
		"available_from=2026-12-24T10:00&available_to=2026-12-24T12:00", "limit=101", "cursor=!!", "limit=0"} {
		mustProblem(t, e.do("GET", "/v1/resources?"+q, ""), http.StatusUnprocessableEntity, "invalid")
	}
	mustProblem(t, e.do("GET", "/v1/resources?q=a&q=b", ""), http.StatusBadRequest, "malformed")
}

// TestCapacityRaiseOffers: raising a capacity offers the new units to the waitlist in the
// same commit, first come first served, first fit: a big request that does not fit keeps its
// place, and a smaller one behind it is served.
func TestCapacityRaiseOffers(t *testing.T) {
	e := MustServer(t)
	e.ok(e.do("POST", "/v1/resources", `{"id":"show","name":"Show","buckets":{"all":2}}`), http.StatusCreated, nil)
	e.ok(e.do("POST", "/v1/resources/show/holds", `{"buckets":["all"],"quantity":2}`, e.as("u-1")...), http.StatusCreated, nil)
	var big, small wire.WaitlistEntry
	e.ok(e.do("POST", "/v1/resources/show/waitlist", `{"buckets":["all"],"quantity":3}`, e.as("u-2")...), http.StatusCreated, &big)
	e.ok(e.do("POST", "/v1/resources/show/waitlist", `{"buckets":["all"],"quantity":1}`, e.as("u-3")...), http.StatusCreated, &small)
	var r wire.Resource
	e.ok(e.do("PATCH", "/v1/resources/show", `{"buckets":{"all":4}}`), http.StatusOK, &r)
	if b := r.Buckets["all"]; b.Held != 3 || b.Available != 1 {
		t.Fatalf("after the raise: %+v", b)
	}
	mustProblem(t, e.do("GET", "/v1/resources/show/holds/"+big.OfferHoldID, ""), http.StatusNotFound, "not-found")
	var offer wire.Hold
	e.ok(e.do("GET", "/v1/resources/show/holds/"+small.OfferHoldID, "", e.as("u-3")...), http.StatusOK, &offer)
	if offer.UserID != "u-3" || offer.Status != wire.HoldHeld {
		t.Fatalf("offer %+v", offer)
	}
	var mine wire.WaitlistList
	e.ok(e.do("GET", "/v1/me/waitlist", "", e.as("u-2")...), http.StatusOK, &mine)
	if len(mine.Entries) != 1 || mine.Entries[0].Position != 1 {
		t.Fatalf("the big request keeps its place: %+v", mine)
	}
}

// TestTagsLocationAndArchive: tags and a location on creation and update, search by tag, and
// archiving: refused while a hold is live, then the resource leaves the listing and takes no
// new holds, while its bookings stay readable.
func TestTagsLocationAndArchive(t *testing.T) {
	e := MustServer(t)
	var r wire.Resource
	e.ok(e.do("POST", "/v1/resources", `{"id":"inn","name":"Inn","buckets":{"all":2},"tags":["sea-view","family"],"location":"Porto, Ribeira"}`), http.StatusCreated, &r)
	if !reflect.DeepEqual(r.Tags, []string{"family", "sea-view"}) || r.Location != "Porto, Ribeira" || r.ArchivedAt != nil {
		t.Fatalf("created %+v", r)
	}
	e.ok(e.do("POST", "/v1/resources", `{"id":"barn","name":"Barn","buckets":{"all":2},"tags":["family"]}`), http.StatusCreated, nil)
	var l wire.ResourceList
	e.ok(e.do("GET", "/v1/resources?tag=sea-view", ""), http.StatusOK, &l)
	if len(l.Resources) != 1 || l.Resources[0].ID != "inn" || l.Resources[0].Location != "Porto, Ribeira" {
		t.Fatalf("by tag: %+v", l)
	}
	r = wire.Resource{}
	e.ok(e.do("PATCH", "/v1/resources/barn", `{"tags":[],"location":"Minho"}`), http.StatusOK, &r)
	if r.Tags != nil || r.Location != "Minho" {
		t.Fatalf("updated %+v", r)
	}
	mustProblem(t, e.do("GET", "/v1/resources?tag=Family", ""), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources", `{"id":"x","name":"x","buckets":{"a":1},"tags":["a","a"]}`), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("PATCH", "/v1/resources/barn", `{"location":"a\u0000b"}`), http.StatusUnprocessableEntity, "invalid")

	var h wire.Hold
	e.ok(e.do("POST", "/v1/resources/inn/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &h)
	mustProblem(t, e.do("DELETE", "/v1/resources/inn", ""), http.StatusConflict, "conflict")
	e.ok(e.do("POST", "/v1/resources/inn/holds/"+h.ID+"/confirm", ""), http.StatusOK, nil)
	r = wire.Resource{}
	e.ok(e.do("DELETE", "/v1/resources/inn", ""), http.StatusOK, &r)
	if r.ArchivedAt == nil || !r.ArchivedAt.Equal(e.clock.Now()) {
		t.Fatalf("archived %+v", r)
	}
	e.ok(e.do("DELETE", "/v1/resources/inn", ""), http.StatusOK, nil) // again: harmless
	l = wire.ResourceList{}
	e.ok(e.do("GET", "/v1/resources?tag=family", ""), http.StatusOK, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("the archived inn is listed, or the barn kept its tag: %+v", l)
	}
	mustProblem(t, e.do("POST", "/v1/resources/inn/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-2")...), http.StatusConflict, "conflict")
	e.ok(e.do("GET", "/v1/resources/inn/holds/"+h.ID, ""), http.StatusOK, nil)
	mustProblem(t, e.do("DELETE", "/v1/resources/nope", ""), http.StatusNotFound, "not-found")
}
