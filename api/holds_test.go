package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
)

// The store satisfies HoldLister.
var _ HoldLister = persistence.Store(nil)

func TestPlaceHoldIdempotentReplay(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	body := `{"buckets":["2026-12-24","2026-12-25"],"quantity":2,"user_id":"u-1"}`
	first := e.mustHold(body, "Idempotency-Key", "key-1")

	// Same key, same request (bucket order does not matter): the same hold, 201, replayed.
	e.clock.Advance(time.Second)
	rec := e.do("POST", "/v1/resources/hotel-1/holds", `{"user_id":"u-1","quantity":2,"buckets":["2026-12-25","2026-12-24"]}`, "Idempotency-Key", "key-1")
	var again wire.Hold
	e.ok(rec, http.StatusCreated, &again)
	if rec.Header().Get(IdempotentReplayedHeader) != "true" || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("replay %+v headers %v, first %+v", again, rec.Header(), first)
	}
	var av wire.Availability
	e.ok(e.do("GET", "/v1/resources/hotel-1/availability", ""), http.StatusOK, &av)
	if av.Buckets["2026-12-24"].Held != 2 {
		t.Fatalf("a replay held again: %+v", av)
	}

	// Same key, different request: refused, nothing changes.
	before := e.disp.snapshot(t)
	p := mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":2,"user_id":"u-1"}`, "Idempotency-Key", "key-1"),
		http.StatusUnprocessableEntity, "idempotency-mismatch")
	if p.Code != "idempotency_mismatch" {
		t.Fatalf("problem %+v", p)
	}
	if e.disp.snapshot(t) != before {
		t.Fatal("a mismatched replay changed state")
	}

	// Without a key, the same request is a new hold.
	h2 := e.mustHold(body)
	h3 := e.mustHold(body)
	if h2.ID == h3.ID || h2.ID == first.ID {
		t.Fatalf("holds without key were merged: %s %s %s", first.ID, h2.ID, h3.ID)
	}
}

func TestPlaceHoldSoldOutIsAllOrNothing(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	e.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-1"}`)
	before := e.disp.snapshot(t)
	rec := e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-25","2026-12-26"],"quantity":1,"user_id":"u-2"}`)
	p := mustProblem(t, rec, http.StatusConflict, "sold-out")
	if p.Code != "sold_out" || p.Instance != "/v1/resources/hotel-1/holds" || rec.Header().Get(OwnerHeader) != testOwner {
		t.Fatalf("problem %+v headers %v", p, rec.Header())
	}
	if e.disp.snapshot(t) != before {
		t.Fatal("a sold-out hold claimed a bucket")
	}
	// Unknown bucket and unknown resource come from the actor.
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2027-01-01"],"quantity":1,"user_id":"u-2"}`), http.StatusUnprocessableEntity, "invalid")
	mustProblem(t, e.do("POST", "/v1/resources/nope/holds", `{"buckets":["all"],"quantity":1,"user_id":"u-2"}`), http.StatusNotFound, "not-found")
}

func TestHoldTransitions(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	h := e.mustHold(`{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1"}`)
	path := "/v1/resources/hotel-1/holds/" + h.ID

	var c wire.Hold
	e.ok(e.do("POST", path+"/confirm", ""), http.StatusOK, &c)
	e.ok(e.do("POST", path+"/confirm", ""), http.StatusOK, &c) // a retry is harmless
	if c.Status != "confirmed" {
		t.Fatalf("%+v", c)
	}
	e.ok(e.do("POST", path+"/cancel", ""), http.StatusOK, &c)
	e.ok(e.do("POST", path+"/cancel", ""), http.StatusOK, &c)
	if c.Status != "cancelled" {
		t.Fatalf("%+v", c)
	}
	p := mustProblem(t, e.do("POST", path+"/confirm", ""), http.StatusConflict, "conflict")
	if p.Code != "conflict" {
		t.Fatalf("%+v", p)
	}
	for _, op := range []string{"", "/confirm", "/cancel"} {
		method := "POST"
		if op == "" {
			method = "GET"
		}
		mustProblem(t, e.do(method, "/v1/resources/hotel-1/holds/h-404"+op, ""), http.StatusNotFound, "not-found")
		mustProblem(t, e.do(method, "/v1/resources/nope/holds/h-1"+op, ""), http.StatusNotFound, "not-found")
	}
}

func TestHoldExpiry(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	h := e.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-1"}`)
	e.clock.Advance(10 * time.Minute) // the TTL: expired at this instant
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds/"+h.ID+"/confirm", ""), http.StatusConflict, "conflict")
	mustProblem(t, e.do("POST", "/v1/resources/hotel-1/holds/"+h.ID+"/cancel", ""), http.StatusConflict, "conflict")
	// The unit is free again.
	e.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-2"}`)
	// The actor answers reads from its committed state, and the expiry commits with (or
	// before) the hold just acknowledged: only now is "expired" certain to be what it reads.
	// (Before that, a read may still show "held" with expires_at in the past.)
	var g wire.Hold
	e.ok(e.do("GET", "/v1/resources/hotel-1/holds/"+h.ID, ""), http.StatusOK, &g)
	if g.Status != "expired" {
		t.Fatalf("%+v", g)
	}
}

func TestListHolds(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	var ids []string
	for i := 0; i < 4; i++ {
		e.clock.Advance(time.Second)
		ids = append(ids, e.mustHold(fmt.Sprintf(`{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-%d"}`, i%2)).ID)
	}
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds/"+ids[0]+"/confirm", ""), http.StatusOK, nil)

	tests := []struct {
		path string
		want []string
	}{
		{"/v1/resources/hotel-1/holds", ids},
		{"/v1/resources/hotel-1/holds?limit=2", ids[:2]},
		{"/v1/resources/hotel-1/holds?user_id=u-1", []string{ids[1], ids[3]}},
		{"/v1/resources/hotel-1/holds?status=confirmed", ids[:1]},
		{"/v1/resources/hotel-1/holds?status=&user_id=&limit=", ids}, // empty means absent
		{"/v1/resources/hotel-1/holds?unknown=1", ids},               // unknown parameters are ignored
		{"/v1/resources/other/holds", nil},
		{"/v1/users/u-0/holds", []string{ids[0], ids[2]}},
		{"/v1/users/u-0/holds?status=held&limit=1", ids[2:3]},
		{"/v1/users/nobody/holds", nil},
	}
	for _, tt := range tests {
		var list wire.HoldList
		rec := e.do("GET", tt.path, "")
		e.ok(rec, http.StatusOK, &list)
		var got []string
		for _, h := range list.Holds {
			got = append(got, h.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.path, got, tt.want)
		}
		if list.Holds == nil {
			t.Errorf("%s: holds is null, want []", tt.path)
		}
	}
}
