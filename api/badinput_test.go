package api

import (
	"fmt"
	"strings"
	"testing"
)

// TestBadInput sends bad input of every kind. Each must get its 4xx problem, and must reach
// neither the Dispatcher nor the HoldLister, nor change any state.
func TestBadInput(t *testing.T) {
	const (
		post  = "POST"
		res   = "/v1/resources"
		r1    = "/v1/resources/hotel-1"
		holds = "/v1/resources/hotel-1/holds"
	)
	okCreate := func(patch string) string { // a valid creation body with one member replaced or added
		return `{"id":"new-1","name":"n","buckets":{"all":1}` + patch + `}`
	}
	okHold := `{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1"}`
	manyBuckets := func(n int, suffix string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%d"%s`, i, suffix)
		}
		return b.String()
	}
	long := strings.Repeat("a", 129)

	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		status       int
		slug         string
	}{
		// Syntax and shape: 400 malformed.
		{"not json", post, res, `{`, nil, 400, "malformed"},
		{"bad syntax", post, res, `{"id":}`, nil, 400, "malformed"},
		{"trailing garbage", post, res, okCreate("") + `x`, nil, 400, "malformed"},
		{"two objects", post, res, okCreate("") + okCreate(""), nil, 400, "malformed"},
		{"array body", post, res, `[]`, nil, 400, "malformed"},
		{"null body", post, res, `null`, nil, 400, "malformed"},
		{"string body", post, res, `"x"`, nil, 400, "malformed"},
		{"empty body", post, res, ``, []string{"Content-Type", "application/json"}, 400, "malformed"},
		{"whitespace body", post, res, "  \n", nil, 400, "malformed"},
		{"invalid utf-8", post, res, "{\"id\":\"a\",\"name\":\"\xff\",\"buckets\":{\"all\":1}}", nil, 400, "malformed"},
		{"unknown member", post, res, okCreate(`,"color":"red"`), nil, 400, "malformed"},
		{"member in other case", post, res, `{"ID":"x","name":"n","buckets":{"all":1}}`, nil, 400, "malformed"},
		{"duplicate member", post, res, okCreate(`,"id":"other"`), nil, 400, "malformed"},
		{"duplicate bucket key", post, res, `{"id":"x","name":"n","buckets":{"all":1,"all":2}}`, nil, 400, "malformed"},
		{"id is a number", post, res, `{"id":7,"name":"n","buckets":{"all":1}}`, nil, 400, "malformed"},
		{"buckets is an array", post, res, `{"id":"x","name":"n","buckets":["all"]}`, nil, 400, "malformed"},
		{"capacity is fractional", post, res, `{"id":"x","name":"n","buckets":{"all":1.5}}`, nil, 400, "malformed"},
		{"capacity is a string", post, res, `{"id":"x","name":"n","buckets":{"all":"1"}}`, nil, 400, "malformed"},
		{"capacity overflows", post, res, `{"id":"x","name":"n","buckets":{"all":1e30}}`, nil, 400, "malformed"},
		{"hold_ttl is a number", post, res, okCreate(`,"hold_ttl":600`), nil, 400, "malformed"},
		{"unknown price member", post, res, okCreate(`,"price":{"amount":1,"currency":"EUR","tax":1}`), nil, 400, "malformed"},
		{"price member in other case", post, res, okCreate(`,"price":{"Amount":1,"currency":"EUR"}`), nil, 400, "malformed"},
		// Values: 422 invalid.
		{"missing id", post, res, `{"name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"missing name", post, res, `{"id":"x","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"null name", post, res, `{"id":"x","name":null,"buckets":{"all":1}}`, nil, 422, "invalid"},
		{"missing buckets", post, res, `{"id":"x","name":"n"}`, nil, 422, "invalid"},
		{"empty buckets", post, res, `{"id":"x","name":"n","buckets":{}}`, nil, 422, "invalid"},
		{"too many buckets", post, res, `{"id":"x","name":"n","buckets":{` + manyBuckets(1001, ":1") + `}}`, nil, 422, "invalid"},
		{"negative capacity", post, res, `{"id":"x","name":"n","buckets":{"all":-1}}`, nil, 422, "invalid"},
		{"capacity too large", post, res, `{"id":"x","name":"n","buckets":{"all":1099511627777}}`, nil, 422, "invalid"},
		{"february 30", post, res, `{"id":"x","name":"n","buckets":{"2026-02-30":1}}`, nil, 422, "invalid"},
		{"date without zero padding", post, res, `{"id":"x","name":"n","buckets":{"2026-2-3":1}}`, nil, 422, "invalid"},
		{"month 13", post, res, `{"id":"x","name":"n","buckets":{"2026-13-01":1}}`, nil, 422, "invalid"},
		{"hour 25", post, res, `{"id":"x","name":"n","buckets":{"2026-12-24T25:00":1}}`, nil, 422, "invalid"},
		{"slot without zero padding", post, res, `{"id":"x","name":"n","buckets":{"2026-12-24T9:00":1}}`, nil, 422, "invalid"},
		{"date with seconds", post, res, `{"id":"x","name":"n","buckets":{"2026-12-24T09:00:00":1}}`, nil, 422, "invalid"},
		{"bucket key with space", post, res, `{"id":"x","name":"n","buckets":{"seat A1":1}}`, nil, 422, "invalid"},
		{"bucket key with comma", post, res, `{"id":"x","name":"n","buckets":{"a,b":1}}`, nil, 422, "invalid"},
		{"bucket key too long", post, res, `{"id":"x","name":"n","buckets":{"` + strings.Repeat("k", 65) + `":1}}`, nil, 422, "invalid"},
		{"empty bucket key", post, res, `{"id":"x","name":"n","buckets":{"":1}}`, nil, 422, "invalid"},
		{"id with slash", post, res, `{"id":"a/b","name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"id with percent", post, res, `{"id":"a%b","name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"id too long", post, res, `{"id":"` + long + `","name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"empty id", post, res, `{"id":"","name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"empty name", post, res, `{"id":"x","name":"","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"name too long", post, res, `{"id":"x","name":"` + strings.Repeat("n", 257) + `","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"hold_ttl unparsable", post, res, okCreate(`,"hold_ttl":"ten minutes"`), nil, 422, "invalid"},
		{"hold_ttl too short", post, res, okCreate(`,"hold_ttl":"500ms"`), nil, 422, "invalid"},
		{"hold_ttl zero", post, res, okCreate(`,"hold_ttl":"0s"`), nil, 422, "invalid"},
		{"hold_ttl negative", post, res, okCreate(`,"hold_ttl":"-10m"`), nil, 422, "invalid"},
		{"hold_ttl too long", post, res, okCreate(`,"hold_ttl":"169h"`), nil, 422, "invalid"},
		{"hold_ttl below a millisecond", post, res, okCreate(`,"hold_ttl":"1.0000001s"`), nil, 422, "invalid"},
		{"negative price", post, res, okCreate(`,"price":{"amount":-1,"currency":"EUR"}`), nil, 422, "invalid"},
		{"lower-case currency", post, res, okCreate(`,"price":{"amount":1,"currency":"eur"}`), nil, 422, "invalid"},
		{"made-up currency", post, res, okCreate(`,"price":{"amount":1,"currency":"ZZZ"}`), nil, 422, "invalid"},
		{"withdrawn currency", post, res, okCreate(`,"price":{"amount":1,"currency":"HRK"}`), nil, 422, "invalid"},
		{"id dot", post, res, `{"id":".","name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"id dot dot", post, res, `{"id":"..","name":"n","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"name with NUL", post, res, `{"id":"x","name":"a\u0000b","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"name with newline", post, res, `{"id":"x","name":"a\nb","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"name with C1 control", post, res, `{"id":"x","name":"a\u0085b","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"name with RLO", post, res, `{"id":"x","name":"evil\u202etxt.exe","buckets":{"all":1}}`, nil, 422, "invalid"},
		{"name with raw RLO", post, res, "{\"id\":\"x\",\"name\":\"evil\u202etxt\",\"buckets\":{\"all\":1}}", nil, 422, "invalid"},
		{"name with lone surrogate", post, res, `{"id":"x","name":"a\ud800b","buckets":{"all":1}}`, nil, 400, "malformed"},
		{"name with lone low surrogate", post, res, `{"id":"x","name":"\udc00","buckets":{"all":1}}`, nil, 400, "malformed"},
		{"price without currency", post, res, okCreate(`,"price":{"amount":1}`), nil, 422, "invalid"},
		{"price without amount", post, res, okCreate(`,"price":{"currency":"EUR"}`), nil, 422, "invalid"},
		// Media type and size.
		{"no content type", post, res, okCreate(""), []string{"Content-Type", ""}, 415, "unsupported-media-type"},
		{"text/plain", post, res, okCreate(""), []string{"Content-Type", "text/plain"}, 415, "unsupported-media-type"},
		{"form", post, res, okCreate(""), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported-media-type"},
		{"latin1 charset", post, res, okCreate(""), []string{"Content-Type", "application/json; charset=latin1"}, 415, "unsupported-media-type"},
		{"unknown parameter", post, res, okCreate(""), []string{"Content-Type", "application/json; v=2"}, 415, "unsupported-media-type"},
		{"broken content type", post, res, okCreate(""), []string{"Content-Type", "application/json;;"}, 415, "unsupported-media-type"},
		{"oversized body", post, res, `{"id":"x","name":"` + strings.Repeat("n", 70<<10) + `","buckets":{"all":1}}`, nil, 413, "payload-too-large"},

		// PATCH /v1/resources/{rid}
		{"update nothing", "PATCH", r1, `{}`, nil, 422, "invalid"},
		{"update only empty buckets", "PATCH", r1, `{"buckets":{}}`, nil, 422, "invalid"},
		{"update unknown member", "PATCH", r1, `{"capacity":3}`, nil, 400, "malformed"},
		{"update negative capacity", "PATCH", r1, `{"buckets":{"2026-12-24":-1}}`, nil, 422, "invalid"},
		{"update bad date", "PATCH", r1, `{"buckets":{"2026-04-31":1}}`, nil, 422, "invalid"},
		{"update empty name", "PATCH", r1, `{"name":""}`, nil, 422, "invalid"},
		{"update name with bidi isolate", "PATCH", r1, `{"name":"\u2067x"}`, nil, 422, "invalid"},
		{"update zero ttl", "PATCH", r1, `{"hold_ttl":"0s"}`, nil, 422, "invalid"},
		{"update wrong type", "PATCH", r1, `{"name":["x"]}`, nil, 400, "malformed"},
		{"update no content type", "PATCH", r1, `{"name":"x"}`, []string{"Content-Type", ""}, 415, "unsupported-media-type"},
		{"update bad path id", "PATCH", "/v1/resources/a%25b", `{"name":"x"}`, nil, 422, "invalid"},

		// POST /v1/resources/{rid}/holds
		{"zero quantity", post, holds, `{"buckets":["2026-12-24"],"quantity":0,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"negative quantity", post, holds, `{"buckets":["2026-12-24"],"quantity":-2,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"quantity too large", post, holds, `{"buckets":["2026-12-24"],"quantity":1073741825,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"missing quantity", post, holds, `{"buckets":["2026-12-24"],"user_id":"u-1"}`, nil, 422, "invalid"},
		{"fractional quantity", post, holds, `{"buckets":["2026-12-24"],"quantity":1.5,"user_id":"u-1"}`, nil, 400, "malformed"},
		{"quantity as string", post, holds, `{"buckets":["2026-12-24"],"quantity":"2","user_id":"u-1"}`, nil, 400, "malformed"},
		{"duplicate buckets", post, holds, `{"buckets":["2026-12-24","2026-12-24"],"quantity":1,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"empty bucket list", post, holds, `{"buckets":[],"quantity":1,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"missing buckets", post, holds, `{"quantity":1,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"null bucket", post, holds, `{"buckets":[null],"quantity":1,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"buckets as object", post, holds, `{"buckets":{"2026-12-24":1},"quantity":1,"user_id":"u-1"}`, nil, 400, "malformed"},
		{"too many hold buckets", post, holds, `{"buckets":[` + manyBuckets(63, "") + `],"quantity":1,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"hold bad date", post, holds, `{"buckets":["2026-12-32"],"quantity":1,"user_id":"u-1"}`, nil, 422, "invalid"},
		{"empty user", post, holds, `{"buckets":["2026-12-24"],"quantity":1,"user_id":""}`, nil, 422, "invalid"},
		{"user with space", post, holds, `{"buckets":["2026-12-24"],"quantity":1,"user_id":"u 1"}`, nil, 422, "invalid"},
		{"user dot dot", post, holds, `{"buckets":["2026-12-24"],"quantity":1,"user_id":".."}`, nil, 422, "invalid"},
		{"user too long", post, holds, `{"buckets":["2026-12-24"],"quantity":1,"user_id":"` + long + `"}`, nil, 422, "invalid"},
		{"user as number", post, holds, `{"buckets":["2026-12-24"],"quantity":1,"user_id":1}`, nil, 400, "malformed"},
		{"idempotency key in body", post, holds, `{"buckets":["2026-12-24"],"quantity":1,"user_id":"u-1","idempotency_key":"k"}`, nil, 400, "malformed"},
		{"idempotency key too long", post, holds, okHold, []string{"Idempotency-Key", long}, 422, "invalid"},
		{"idempotency key control char", post, holds, okHold, []string{"Idempotency-Key", "a\x01b"}, 422, "invalid"},
		{"idempotency key non-ascii", post, holds, okHold, []string{"Idempotency-Key", "clé"}, 422, "invalid"},
		{"idempotency key twice", post, holds, okHold, []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}, 422, "invalid"},
		{"idempotency key empty", post, holds, okHold, []string{"Idempotency-Key", emptyHeader}, 422, "invalid"},
		{"hold as text", post, holds, okHold, []string{"Content-Type", "text/plain"}, 415, "unsupported-media-type"},
		{"hold bad path id", post, "/v1/resources/a%20b/holds", okHold, nil, 422, "invalid"},

		// Hold operations and queries.
		{"get hold bad id", "GET", holds + "/h%25", "", nil, 422, "invalid"},
		{"get hold dot dot", "GET", holds + "/%2E%2E", "", nil, 422, "invalid"},
		{"get resource dot", "GET", "/v1/resources/%2E", "", nil, 422, "invalid"},
		{"user list dot dot", "GET", "/v1/users/%2e%2e/holds", "", nil, 422, "invalid"},
		{"confirm bad id", post, holds + "/h%23/confirm", "", nil, 422, "invalid"},
		{"cancel bad resource id", post, "/v1/resources/r%3F/holds/h-1/cancel", "", nil, 422, "invalid"},
		{"get resource id too long", "GET", "/v1/resources/" + long, "", nil, 422, "invalid"},
		{"availability bad id", "GET", "/v1/resources/a%20b/availability", "", nil, 422, "invalid"},
		{"list bad status", "GET", holds + "?status=bogus", "", nil, 422, "invalid"},
		{"list limit not a number", "GET", holds + "?limit=abc", "", nil, 400, "malformed"},
		{"list limit zero", "GET", holds + "?limit=0", "", nil, 422, "invalid"},
		{"list limit too large", "GET", holds + "?limit=1001", "", nil, 422, "invalid"},
		{"list limit twice", "GET", holds + "?limit=1&limit=2", "", nil, 400, "malformed"},
		{"list bad user", "GET", holds + "?user_id=a%20b", "", nil, 422, "invalid"},
		{"list bad query encoding", "GET", holds + "?status=%zz", "", nil, 400, "malformed"},
		{"user list bad id", "GET", "/v1/users/a%20b/holds", "", nil, 422, "invalid"},
		{"user list bad status", "GET", "/v1/users/u-1/holds?status=HELD", "", nil, 422, "invalid"},

		// Routing.
		{"unknown route", "GET", "/v1/nothing", "", nil, 404, "route-not-found"},
		{"unknown version", "GET", "/v2/resources/hotel-1", "", nil, 404, "route-not-found"},
		{"trailing slash", "GET", r1 + "/", "", nil, 404, "route-not-found"},
		{"put resource", "PUT", r1, "", nil, 405, "method-not-allowed"},
		{"put resources", "PUT", res, okCreate(""), nil, 405, "method-not-allowed"},
		{"get confirm", "GET", holds + "/h-1/confirm", "", nil, 405, "method-not-allowed"},
		{"post healthz", post, HealthzPath, "", nil, 405, "method-not-allowed"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases", len(tests))
	}

	e := MustServer(t)
	e.mustCreate()
	e.mustHold(okHold)
	before := e.disp.snapshot(t)
	calls, lists := e.disp.calls.Load(), e.disp.listCalls.Load()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.method, tt.path, tt.body, tt.hdr...)
			p := mustProblem(t, rec, tt.status, tt.slug)
			if p.Detail == "" {
				t.Fatalf("problem without detail: %+v", p)
			}
			if tt.status == 405 && rec.Header().Get("Allow") == "" {
				t.Fatalf("405 without Allow")
			}
			if c, l := e.disp.calls.Load(), e.disp.listCalls.Load(); c != calls || l != lists {
				t.Fatalf("bad input reached the dispatcher (%d calls) or lister (%d calls)", c-calls, l-lists)
			}
		})
	}
	if after := e.disp.snapshot(t); after != before {
		t.Fatalf("bad input changed state:\n%s\n%s", before, after)
	}
}
