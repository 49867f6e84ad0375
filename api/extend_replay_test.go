package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// TestRenewalIdempotentReplay: POST .../extend honours Idempotency-Key as POST .../holds
// does: a retry answers the hold as it is (200, Idempotent-Replayed) without a second
// extension, also once that renewal spent the last one; the key reused on another hold, or a
// placement's key, is 422 idempotency-mismatch; keys are the caller's own; without the header
// every request renews.
func TestRenewalIdempotentReplay(t *testing.T) {
	e := MustServer(t)
	e.ok(e.do("POST", "/v1/resources", `{"id":"r","name":"Show","buckets":{"all":5},"hold_ttl":"10m","max_extensions":2}`), http.StatusCreated, nil)
	var h, h2 wire.Hold
	e.ok(e.do("POST", "/v1/resources/r/holds", `{"buckets":["all"],"quantity":1}`, append(e.as("u-1"), IdempotencyKeyHeader, "place-1")...), http.StatusCreated, &h)
	e.ok(e.do("POST", "/v1/resources/r/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-1")...), http.StatusCreated, &h2)
	extend := func(user, hold, key string) *httptest.ResponseRecorder {
		t.Helper()
		hdr := e.as(user)
		if key != "" {
			hdr = append(hdr, IdempotencyKeyHeader, key)
		}
		return e.do("POST", "/v1/resources/r/holds/"+hold+"/extend", "", hdr...)
	}

	e.clock.Advance(time.Minute)
	rec := extend("u-1", h.ID, "renew-1")
	var first wire.Hold
	e.ok(rec, http.StatusOK, &first)
	if first.Extensions != 1 || rec.Header().Get(IdempotentReplayedHeader) != "" {
		t.Fatalf("first renewal %+v headers %v", first, rec.Header())
	}
	// The client lost the reply and retries later: the same hold, not renewed again.
	e.clock.Advance(time.Minute)
	rec = extend("u-1", h.ID, "renew-1")
	var again wire.Hold
	e.ok(rec, http.StatusOK, &again)
	if rec.Header().Get(IdempotentReplayedHeader) != "true" || again.ID != h.ID || again.Extensions != 1 ||
		again.ExpiresAt == nil || !again.ExpiresAt.Equal(*first.ExpiresAt) {
		t.Fatalf("retry %+v headers %v, want the first renewal's hold replayed", again, rec.Header())
	}

	// The key on another hold, and a placement's key on a renewal: refused, nothing renewed.
	for what, rec := range map[string]*httptest.ResponseRecorder{
		"another hold":      extend("u-1", h2.ID, "renew-1"),
		"a placement's key": extend("u-1", h.ID, "place-1"),
	} {
		if p := mustProblem(t, rec, http.StatusUnprocessableEntity, "idempotency-mismatch"); p.Code != "idempotency_mismatch" {
			t.Fatalf("%s: problem %+v", what, p)
		}
	}
	var got wire.Hold
	e.ok(e.do("GET", "/v1/resources/r/holds/"+h2.ID, "", e.as("u-1")...), http.StatusOK, &got)
	if got.Extensions != 0 {
		t.Fatalf("h2 after a reused key: %+v", got)
	}

	// The second renewal spends the last extension; its retry still replays, a new one is refused.
	var second wire.Hold
	e.ok(extend("u-1", h.ID, "renew-2"), http.StatusOK, &second)
	if second.Extensions != 2 {
		t.Fatalf("second renewal %+v", second)
	}
	for _, key := range []string{"renew-2", "renew-1"} {
		rec = extend("u-1", h.ID, key)
		e.ok(rec, http.StatusOK, &again)
		if rec.Header().Get(IdempotentReplayedHeader) != "true" || again.Extensions != 2 {
			t.Fatalf("retry of %s at the limit: %+v headers %v", key, again, rec.Header())
		}
	}
	mustProblem(t, extend("u-1", h.ID, "renew-3"), http.StatusConflict, "limit-exceeded")
	mustProblem(t, extend("u-1", h.ID, ""), http.StatusConflict, "limit-exceeded")

	// Keys are the caller's own: u-2's renewal with key renew-1 is its own.
	var h3 wire.Hold
	e.ok(e.do("POST", "/v1/resources/r/holds", `{"buckets":["all"],"quantity":1}`, e.as("u-2")...), http.StatusCreated, &h3)
	rec = extend("u-2", h3.ID, "renew-1")
	e.ok(rec, http.StatusOK, &got)
	if got.Extensions != 1 || rec.Header().Get(IdempotentReplayedHeader) != "" {
		t.Fatalf("u-2's renewal with another user's key: %+v headers %v", got, rec.Header())
	}
	// Without the header, a repeated request renews again, as before.
	e.ok(extend("u-1", h2.ID, ""), http.StatusOK, &got)
	e.ok(extend("u-1", h2.ID, ""), http.StatusOK, &got)
	if got.Extensions != 2 {
		t.Fatalf("two renewals without a key: %+v", got)
	}
	// A key that is not valid, or given twice, is refused before anything is renewed.
	mustProblem(t, extend("u-1", h3.ID, "bad key\x7f"), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources/r/holds/"+h3.ID+"/extend", "",
		append(e.as("u-2"), IdempotencyKeyHeader, "a", IdempotencyKeyHeader, "b")...), http.StatusUnprocessableEntity, "invalid")
}
