package api

import (
	"net/http"
	"testing"
	"time"
)

// TestCaching: reads carry an ETag from the resource version (or the hold's updated_at), an
// If-None-Match naming it gets 304 without a body, any committed change gives a new tag, and
// availability may be cached briefly by shared caches.
func TestCaching(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()

	avail := e.do("GET", "/v1/resources/hotel-1/availability", "")
	e.ok(avail, http.StatusOK, nil)
	tag := avail.Header().Get("ETag")
	if tag != `"v1"` || avail.Header().Get("Cache-Control") != "public, max-age=1, stale-while-revalidate=5" ||
		avail.Header().Get("Vary") != "Authorization" {
		t.Fatalf("availability headers %v", avail.Header())
	}
	for _, inm := range []string{tag, `W/"v1"`, `"v0", "v1"`, "*"} {
		rec := e.do("GET", "/v1/resources/hotel-1/availability", "", "If-None-Match", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != tag {
			t.Fatalf("If-None-Match %s: %d %q %v", inm, rec.Code, rec.Body, rec.Header())
		}
	}
	if rec := e.do("HEAD", "/v1/resources/hotel-1/availability", "", "If-None-Match", tag); rec.Code != http.StatusNotModified {
		t.Fatalf("HEAD: %d", rec.Code)
	}
	res := e.do("GET", "/v1/resources/hotel-1", "", "If-None-Match", tag)
	if res.Code != http.StatusNotModified || res.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("resource: %d %v", res.Code, res.Header())
	}

	// A hold changes the version: the old tag no longer matches.
	h := e.mustHold(`{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1"}`)
	rec := e.do("GET", "/v1/resources/hotel-1/availability", "", "If-None-Match", tag)
	e.ok(rec, http.StatusOK, nil)
	if rec.Header().Get("ETag") != `"v2"` {
		t.Fatalf("after a hold: ETag %q", rec.Header().Get("ETag"))
	}

	// Holds: tagged by updated_at, private.
	path := "/v1/resources/hotel-1/holds/" + h.ID
	got := e.do("GET", path, "")
	e.ok(got, http.StatusOK, nil)
	htag := got.Header().Get("ETag")
	if htag == "" || got.Header().Get("Cache-Control") != "private, no-cache" || got.Header().Get("Vary") != "Authorization" {
		t.Fatalf("hold headers %v", got.Header())
	}
	if rec := e.do("GET", path, "", "If-None-Match", htag); rec.Code != http.StatusNotModified {
		t.Fatalf("hold revalidation: %d", rec.Code)
	}
	e.clock.Advance(time.Millisecond) // the confirmation has a later updated_at
	e.ok(e.do("POST", path+"/confirm", ""), http.StatusOK, nil)
	rec = e.do("GET", path, "", "If-None-Match", htag)
	e.ok(rec, http.StatusOK, nil)
	if rec.Header().Get("ETag") == htag {
		t.Fatal("a confirmed hold kept its tag")
	}
	// Errors are not tagged.
	if rec := e.do("GET", "/v1/resources/nope/availability", "", "If-None-Match", "*"); rec.Code != http.StatusNotFound || rec.Header().Get("ETag") != "" {
		t.Fatalf("missing resource: %d %v", rec.Code, rec.Header())
	}
}

func TestNoneMatch(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{`"v1"`}, true},
		{[]string{`"v2"`}, false},
		{[]string{`"v2"`, `W/"v1"`}, true},
		{[]string{` "v3" ,"v1"`}, true},
		{[]string{`*`}, true},
		{[]string{`v1`}, false},
	} {
		if got := noneMatch(tc.values, `"v1"`); got != tc.want {
			t.Errorf("noneMatch(%q) = %v, want %v", tc.values, got, tc.want)
		}
	}
}
