package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// TestJoinWaitlistIdempotentReplay: POST .../waitlist honours Idempotency-Key as POST
// .../holds does: a retry answers the entry the key created (201, Idempotent-Replayed) while
// it waits and once it was offered (with its offer_hold_id), a conflict once it left, and a
// mismatch for another request; keys are the caller's own, as for holds.
func TestJoinWaitlistIdempotentReplay(t *testing.T) {
	e := MustServer(t)
	e.ok(e.do("POST", "/v1/resources", `{"id":"gig","name":"Gig","buckets":{"all":1}}`), http.StatusCreated, nil)
	var held wire.Hold
	e.ok(e.do("POST", "/v1/resources/gig/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &held)

	const body = `{"buckets":["all"],"quantity":1}`
	join := func(user, key, body string) *httptest.ResponseRecorder {
		t.Helper()
		return e.do("POST", "/v1/resources/gig/waitlist", body, append(e.as(user), IdempotencyKeyHeader, key)...)
	}
	rec := join("u-2", "j-1", body)
	first := decodeEntry(t, rec.Body.Bytes())
	if rec.Code != http.StatusCreated || rec.Header().Get(IdempotentReplayedHeader) != "" || first.Position != 1 {
		t.Fatalf("first join %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	replay := func(what, user, key string, wantPos int) wire.WaitlistEntry {
		t.Helper()
		e.clock.Advance(time.Second)
		rec := join(user, key, body)
		var en wire.WaitlistEntry
		e.ok(rec, http.StatusCreated, &en)
		if rec.Header().Get(IdempotentReplayedHeader) != "true" || en.Position != wantPos {
			t.Fatalf("%s: %+v headers %v, want a replay at position %d", what, en, rec.Header(), wantPos)
		}
		if loc := rec.Header().Get("Location"); loc != "/v1/resources/gig/waitlist/"+en.ID {
			t.Fatalf("%s: Location %q", what, loc)
		}
		return en
	}
	if en := replay("waiting", "u-2", "j-1", 1); en.ID != first.ID || en.OfferHoldID != first.OfferHoldID || !en.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("replay %+v, first %+v", en, first)
	}

	// Another request with the key: refused as for holds (422), nothing changes.
	p := mustProblem(t, join("u-2", "j-1", `{"buckets":["all"],"quantity":2}`), http.StatusUnprocessableEntity, "idempotency-mismatch")
	if p.Code != "idempotency_mismatch" {
		t.Fatalf("problem %+v", p)
	}
	// The key is u-2's: u-3's request with the same key is a join of its own.
	rec = join("u-3", "j-1", body)
	third := decodeEntry(t, rec.Body.Bytes())
	if rec.Code != http.StatusCreated || rec.Header().Get(IdempotentReplayedHeader) != "" || third.ID == first.ID || third.Position != 2 {
		t.Fatalf("u-3's join %d %s", rec.Code, rec.Body)
	}

	// Offered: the replay answers the entry as it was, with the hold it became.
	e.ok(e.do("POST", "/v1/resources/gig/holds/"+held.ID+"/cancel", "", e.as("u-1")...), http.StatusOK, nil)
	if en := replay("offered", "u-2", "j-1", 0); en.ID != first.ID || en.OfferHoldID != first.OfferHoldID || !en.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("replay after the offer %+v, first %+v", en, first)
	}
	var offer wire.Hold
	e.ok(e.do("GET", "/v1/resources/gig/holds/"+first.OfferHoldID, "", e.as("u-2")...), http.StatusOK, &offer)
	if offer.Status != wire.HoldHeld || offer.WaitlistEntryID != first.ID {
		t.Fatalf("offer %+v", offer)
	}

	// Left: a conflict that says so; the user joins again with a new key.
	e.ok(e.do("DELETE", "/v1/resources/gig/waitlist/"+third.ID, "", e.as("u-3")...), http.StatusOK, nil)
	p = mustProblem(t, join("u-3", "j-1", body), http.StatusConflict, "conflict")
	if p.Code != "conflict" || !strings.Contains(p.Detail, "left the waitlist") {
		t.Fatalf("problem %+v", p)
	}
	again := decodeEntry(t, join("u-3", "j-2", body).Body.Bytes())
	if again.ID == "" || again.ID == third.ID || again.Position != 1 {
		t.Fatalf("join with a new key %+v", again)
	}

	// A bad key is refused before anything is decided.
	mustProblem(t, join("u-4", strings.Repeat("k", 200), body), http.StatusUnprocessableEntity, "invalid")
	var mine wire.WaitlistList
	e.ok(e.do("GET", "/v1/me/waitlist", "", e.as("u-2")...), http.StatusOK, &mine)
	if len(mine.Entries) != 0 {
		t.Fatalf("u-2 waits %+v: a replay joined again", mine.Entries)
	}
}
