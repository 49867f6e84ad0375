package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/nodestats"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/protos"
)

// TestWireRequestsDecode: what the client's request types encode is what the edge accepts.
func TestWireRequestsDecode(t *testing.T) {
	full, _ := json.Marshal(wire.CreateResource{ID: "r-1", Name: "Room", Buckets: map[string]int64{"all": 3},
		HoldTTL: "90s", Price: &wire.Money{Amount: 100, Currency: "EUR"}})
	id, op, err := decodeCreateResource(full)
	if err != nil || id != "r-1" || op.HoldTtlMs != 90000 || op.Price.Amount != 100 || op.Buckets["all"] != 3 {
		t.Fatalf("create %s: %v %+v", full, err, op)
	}
	bare, _ := json.Marshal(wire.CreateResource{ID: "r-2", Name: "Room", Buckets: map[string]int64{"all": 3}})
	if _, op, err := decodeCreateResource(bare); err != nil || op.HoldTtlMs != 0 || op.Price != nil {
		t.Fatalf("create without the optional members %s: %v %+v", bare, err, op)
	}
	hold, _ := json.Marshal(wire.PlaceHold{Buckets: []string{"a", "b"}, Quantity: 2, UserID: "u-1"})
	if ph, err := decodePlaceHold(hold); err != nil || ph.Quantity != 2 || ph.UserId != "u-1" || len(ph.Buckets) != 2 {
		t.Fatalf("place hold %s: %v %+v", hold, err, ph)
	}
}

// TestWireFormat: durations come back as they were sent, confirmed and cancelled holds have
// no expires_at, and every JSON answer ends with a newline.
func TestWireFormat(t *testing.T) {
	e := MustServer(t)
	for _, tc := range []struct{ sent, want string }{{"10m", "10m"}, {"1h30m", "1h30m"}, {"45s", "45s"}, {"600s", "10m"}, {"2h", "2h"}} {
		rec := e.do("POST", "/v1/resources", `{"id":"ttl-`+tc.sent+`","name":"x","buckets":{"all":1},"hold_ttl":"`+tc.sent+`"}`)
		var r wire.Resource
		e.ok(rec, http.StatusCreated, &r)
		if r.HoldTTL != tc.want {
			t.Errorf("hold_ttl %q answered as %q, want %q", tc.sent, r.HoldTTL, tc.want)
		}
	}

	e.mustCreate()
	raw := func(method, path, body string, status int, hdr ...string) map[string]any {
		t.Helper()
		rec := e.do(method, path, body, hdr...)
		if rec.Code != status || !strings.HasSuffix(rec.Body.String(), "}\n") {
			t.Fatalf("%s %s: %d %q, want %d and a body ending in a newline", method, path, rec.Code, rec.Body, status)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	h := raw("POST", "/v1/resources/hotel-1/holds", `{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1"}`, http.StatusCreated)
	if _, ok := h["expires_at"]; !ok {
		t.Fatalf("a held hold shows expires_at: %v", h)
	}
	path := "/v1/resources/hotel-1/holds/" + h["id"].(string)
	for _, op := range []string{"/confirm", "/cancel"} {
		if m := raw("POST", path+op, "", http.StatusOK); m["expires_at"] != nil {
			t.Errorf("%s: %v still shows expires_at", op, m)
		}
	}
	list := raw("GET", "/v1/users/u-1/holds", "", http.StatusOK)
	if hs := list["holds"].([]any); len(hs) != 1 || hs[0].(map[string]any)["expires_at"] != nil {
		t.Errorf("listed cancelled hold shows expires_at: %v", list)
	}
	raw("GET", "/v1/resources/nope", "", http.StatusNotFound) // problem+json too
	raw("GET", HealthzPath, "", http.StatusOK)
}

// TestOpenAPIMatchesWire: every response and request schema of openapi.yaml names the members
// of its wire type, and requires exactly those that are never omitted.
func TestOpenAPIMatchesWire(t *testing.T) {
	doc := mustOpenAPI(t)
	for schema, v := range map[string]any{
		"Money": wire.Money{}, "Bucket": wire.Bucket{}, "Resource": wire.Resource{}, "Availability": wire.Availability{},
		"Hold": wire.Hold{}, "HoldList": wire.HoldList{}, "Member": wire.Member{}, "MemberList": wire.MemberList{},
		"Status": wire.Status{}, "Problem": wire.Problem{}, "PlaceHoldRequest": wire.PlaceHold{},
		"CreateResourceRequest": wire.CreateResource{},
		"ResourceSummary":       wire.ResourceSummary{}, "ResourceList": wire.ResourceList{}, "WaitlistEntry": wire.WaitlistEntry{},
		"WaitlistList": wire.WaitlistList{}, "JoinWaitlistRequest": wire.JoinWaitlist{}, "Allowance": wire.Allowance{},
		"Calendar": wire.Calendar{}, "NodeStats": nodestats.Body{},
		"Contact": wire.Contact{},
	} {
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Errorf("schema %s is not in openapi.yaml", schema)
			continue
		}
		var members, required []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			members = append(members, name)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		var documented, docRequired []string
		for k := range s["properties"].(map[string]any) {
			documented = append(documented, k)
		}
		for _, r := range asAnyList(s["required"]) {
			docRequired = append(docRequired, r.(string))
		}
		for _, l := range [][]string{members, required, documented, docRequired} {
			sort.Strings(l)
		}
		if !reflect.DeepEqual(members, documented) {
			t.Errorf("%s: wire members %v, openapi.yaml %v", schema, members, documented)
		}
		if !reflect.DeepEqual(required, docRequired) {
			t.Errorf("%s: wire members never omitted %v, openapi.yaml requires %v", schema, required, docRequired)
		}
	}
}

// TestHoldFromProtoAtIsHoldFromProto: the reply placeHold builds with its expiry in the
// command's block is the one holdFromProto builds, for every status, with and without an
// expiry (random holds, fixed seed); a hold with no expiry leaves the lent time alone.
func TestHoldFromProtoAtIsHoldFromProto(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 5))
	statuses := []string{"held", "confirmed", "cancelled", "expired", "offered"}
	for i := range 1000 {
		h := &protos.Hold{Id: fmt.Sprintf("h_%d", i), ResourceId: "r", Status: statuses[rng.IntN(len(statuses))],
			Buckets: []string{"all"}, Quantity: 1 + rng.Int64N(4), UserId: "u", CreatedAtMs: 1_900_000_000_000 + rng.Int64N(1e9),
			UpdatedAtMs: 1_900_000_000_000 + rng.Int64N(1e9), Extensions: rng.Int64N(3)}
		if rng.IntN(3) > 0 {
			h.ExpiresAtMs = 1_900_000_000_000 + rng.Int64N(1e9)
		}
		want := holdFromProto(h)
		lent := time.Unix(7, 0)
		got := holdFromProtoAt(h, &lent)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%v: got %+v, want %+v", h, got, want)
		}
		if got.ExpiresAt != nil && got.ExpiresAt != &lent {
			t.Fatalf("%v: the expiry is not the lent time", h)
		}
		if got.ExpiresAt == nil && !lent.Equal(time.Unix(7, 0)) {
			t.Fatalf("%v: a hold without an expiry wrote the lent time", h)
		}
	}
}
