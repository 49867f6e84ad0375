package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/allot/allot/actors/booking"
)

// Fuzz targets for request decoding: any bytes give either a command the real model accepts
// or a 4xx problem — never a panic, never a 5xx. Run one with
// go test -run '^$' -fuzz FuzzDecodePlaceHold -fuzztime 30s ./api/

var fuzzEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// mustClientError fails unless err maps to a 400 or 422 problem (413 and 415 are decided
// before decoding).
func mustClientError(t *testing.T, err error) {
	t.Helper()
	if s := answerFor(err).kind.status; s != http.StatusBadRequest && s != http.StatusUnprocessableEntity {
		t.Fatalf("error %v maps to %d", err, s)
	}
}

func FuzzDecodeCreateResource(f *testing.F) {
	for _, s := range []string{
		walkResource,
		`{"id":"r","name":"n","buckets":{"all":0}}`,
		`{"id":"r","name":"n","buckets":{"2026-02-30":1},"hold_ttl":"1h"}`,
		`{"id":"r","name":"n","buckets":{"a":1,"a":2}}`,
		`{"id":"r","name":"n","buckets":{"a":1},"price":{"amount":-1,"currency":"EUR"}}`,
		`{"ID":"r"}`, `[]`, `null`, `{"id":"r"}x`, "{\"id\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, op, err := decodeCreateResource(body)
		if err != nil {
			mustClientError(t, err)
			return
		}
		// What the edge accepts, the model accepts.
		create := booking.CreateResource{ID: id, Name: op.Name, Buckets: op.Buckets, HoldTTL: time.Duration(op.HoldTtlMs) * time.Millisecond}
		if op.Price != nil {
			create.Price = &booking.Money{Amount: op.Price.Amount, Currency: op.Price.Currency}
		}
		if _, err := booking.NewState(id).DecideCreate(create, fuzzEpoch); err != nil {
			t.Fatalf("edge accepted %q but the model refuses: %v", body, err)
		}
		for k := range op.Buckets {
			if len(k) >= 5 && k[4] == '-' && strings.Trim(k[:4], "0123456789") == "" && !realDate(k) {
				t.Fatalf("bad date %q accepted", k)
			}
		}
	})
}

func FuzzDecodeUpdateResource(f *testing.F) {
	for _, s := range []string{
		`{"buckets":{"all":3}}`, `{"name":"x"}`, `{"hold_ttl":"5m"}`, `{}`, `{"buckets":{}}`,
		`{"buckets":{"2026-12-24T18:30":1},"name":"n","hold_ttl":"1s"}`, `{"name":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := decodeUpdateResource(body)
		if err != nil {
			mustClientError(t, err)
			return
		}
		// Apply it to a resource that has exactly the named buckets (and no holds): the model
		// must accept it.
		buckets := map[string]int64{"all": 1}
		for k := range op.Buckets {
			buckets[k] = 0
		}
		if len(buckets) > booking.MaxBuckets {
			delete(buckets, "all")
		}
		st := booking.NewState("r")
		evs, err := st.DecideCreate(booking.CreateResource{ID: "r", Name: "n", Buckets: buckets}, fuzzEpoch)
		if err != nil {
			t.Fatalf("setup: %v", err)
		}
		for _, e := range evs {
			st.Apply(e)
		}
		upd := booking.UpdateResource{Buckets: op.Buckets, Name: op.Name}
		if op.HoldTtlMs != nil {
			ttl := time.Duration(*op.HoldTtlMs) * time.Millisecond
			upd.HoldTTL = &ttl
		}
		if _, err := st.DecideUpdate(upd, fuzzEpoch); err != nil {
			t.Fatalf("edge accepted %q but the model refuses: %v", body, err)
		}
	})
}

func FuzzDecodePlaceHold(f *testing.F) {
	for _, s := range []struct{ body, key string }{
		{`{"buckets":["2026-12-24","2026-12-25"],"quantity":2,"user_id":"u-1"}`, "k-1"},
		{`{"buckets":["all"],"quantity":1,"user_id":"u"}`, ""},
		{`{"buckets":["a","a"],"quantity":1,"user_id":"u"}`, "k"},
		{`{"buckets":[],"quantity":0,"user_id":""}`, "\x01"},
		{`{"buckets":["2026-02-30"],"quantity":1e3,"user_id":"u"}`, strings.Repeat("k", 129)},
	} {
		f.Add([]byte(s.body), s.key)
	}
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		op, err := decodePlaceHold(body)
		if err != nil {
			mustClientError(t, err)
			return
		}
		h := http.Header{}
		if key != "" {
			h[IdempotencyKeyHeader] = []string{key}
		}
		k, err := idempotencyKey(h)
		if err != nil {
			mustClientError(t, err)
			return
		}
		// On a resource with the requested buckets and room enough, the model must place it.
		buckets := map[string]int64{}
		for _, b := range op.Buckets {
			buckets[b] = booking.MaxCapacity
		}
		st := booking.NewState("r")
		evs, err := st.DecideCreate(booking.CreateResource{ID: "r", Name: "n", Buckets: buckets}, fuzzEpoch)
		if err != nil {
			t.Fatalf("setup for %q: %v", body, err)
		}
		for _, e := range evs {
			st.Apply(e)
		}
		dec, err := st.DecidePlaceHold(booking.PlaceHold{HoldID: "h-1", IdempotencyKey: k, Buckets: op.Buckets, Quantity: op.Quantity, UserID: op.UserId}, fuzzEpoch)
		if err != nil || len(dec.Events) != 1 {
			t.Fatalf("edge accepted %q (key %q) but the model refuses: %v", body, key, err)
		}
	})
}

func FuzzDecodeHoldQuery(f *testing.F) {
	for _, s := range []string{"", "status=held&limit=5", "user_id=u-1", "limit=0", "limit=a", "limit=1&limit=2", "%zz", "status=HELD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := decodeHoldQuery(raw, true)
		if err != nil {
			mustClientError(t, err)
			return
		}
		if q.limit < 0 || q.limit > maxListLimit || (q.status != "" && !q.status.Valid()) || (q.userID != "" && !booking.ValidID(q.userID)) {
			t.Fatalf("%q decoded to %+v", raw, q)
		}
	})
}

// FuzzPlaceHoldHTTP drives the whole handler over the real resource actor: never a 5xx, and
// a 4xx decided by the edge never reaches the actor.
func FuzzPlaceHoldHTTP(f *testing.F) {
	f.Add([]byte(`{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1"}`), "application/json", "k")
	f.Add([]byte(`{"buckets":["2026-12-26"],"quantity":5,"user_id":"u-1"}`), "application/json; charset=utf-8", "")
	f.Add([]byte(`{"buckets":["nope"],"quantity":1,"user_id":"u-1"}`), "text/plain", "k")
	e := MustServer(f)
	e.mustCreate()
	f.Fuzz(func(t *testing.T, body []byte, contentType, key string) {
		req, _ := http.NewRequest("POST", "/v1/resources/hotel-1/holds", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", contentType)
		if key != "" {
			req.Header[IdempotencyKeyHeader] = []string{key}
		}
		before := e.disp.calls.Load()
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusCreated:
		case rec.Code >= 400 && rec.Code < 500:
			if rec.Header().Get("Content-Type") != ProblemContentType {
				t.Fatalf("%d without problem+json", rec.Code)
			}
			if rec.Header().Get(OwnerHeader) == "" && e.disp.calls.Load() != before {
				t.Fatalf("edge-refused request (%d %s) reached the dispatcher", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}

// realDate reports whether k is a day YYYY-MM-DD or a slot YYYY-MM-DDTHH:MM that exists.
func realDate(k string) bool {
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, k); err == nil && t.Format(layout) == k {
			return true
		}
	}
	return false
}

// FuzzLoneSurrogate checks loneSurrogate against encoding/json, which decodes a lone surrogate
// escape to U+FFFD: for a JSON string, loneSurrogate finds one exactly when the decoded text
// has more U+FFFD than the body spells out (as the character itself or as \ufffd).
func FuzzLoneSurrogate(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud800"`, `"\ud83d\ude00"`, `"\\ud800"`, `"\udc00\ud800"`, `"\ufffd"`, "\"\ufffd\"", `"\uD800\uDC00"`, `"\ud800\\"`, `"\\\ufffd"`, `"\\\ud800"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var s string
		if !utf8.ValidString(body) || json.Unmarshal([]byte(body), &s) != nil || !strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), `"`) {
			return
		}
		spelled := strings.Count(body, "\ufffd") + escapedFFFD(body)
		replaced := strings.Count(s, "\ufffd") > spelled
		if got := loneSurrogate([]byte(body)) >= 0; got != replaced {
			t.Fatalf("%q: loneSurrogate says %v, encoding/json decoded %q", body, got, s)
		}
	})
}

// escapedFFFD counts the \ufffd escapes (any hex case) in body, a valid JSON text: a
// backslash starts an escape when the run of backslashes it ends has odd length.
func escapedFFFD(body string) int {
	n := 0
	lower := strings.ToLower(body)
	for i := 0; i+6 <= len(lower); i++ {
		if lower[i:i+6] != `\ufffd` {
			continue
		}
		run := 0
		for j := i; j >= 0 && lower[j] == '\\'; j-- {
			run++
		}
		if run%2 == 1 {
			n++
		}
	}
	return n
}
