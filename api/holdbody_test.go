package api

import (
	"reflect"
	"testing"
)

// holdBodies are hold request bodies on both sides of the fast path's subset.
var holdBodies = []string{
	`{"buckets":["all"],"quantity":1}`,
	`{"buckets":["all"],"quantity":1,"user_id":"u-1"}`,
	" \t\r\n{ \"buckets\" : [ \"a\" , \"b\" ] , \"quantity\" : 2 } \n",
	`{"from":"2026-01-01","to":"2026-01-03","quantity":3}`,
	`{}`, `{ }`, `{"buckets":[]}`, `{"buckets":[ ]}`, `{"quantity":-0}`, `{"quantity":0}`,
	`{"quantity":9223372036854775807}`, `{"quantity":9223372036854775808}`, `{"quantity":-9223372036854775808}`,
	`{"quantity":01}`, `{"quantity":1.0}`, `{"quantity":1e3}`, `{"quantity":-}`, `{"quantity":"1"}`,
	`{"quantity":1,"quantity":2}`, `{"buckets":["a"],"buckets":["b"]}`, `{"Quantity":1}`,
	`{"buckets":null}`, `{"user_id":null}`, `{"buckets":["a\"b"]}`, `{"buckets":["\u0061"]}`,
	"{\"buckets\":[\"\xc3\xa9\"]}", "{\"buckets\":[\"\xff\"]}", `{"buckets":["a",]}`, `{"buckets":["a"],}`,
	`{"contact":{"email":"a@b.c"},"quantity":1}`, `{"contact_from_token":true,"quantity":1}`,
	`{"quantity":1}x`, `{"quantity":1}{}`, `[]`, `null`, ``, ` `, `{`, `{"quantity"`, `{"quantity":1`,
	`{"buckets":["a"]"quantity":1}`, `{"buckets":"a"}`, `{"extra":1}`, `{"quantity":1 2}`,
}

// TestFastPlaceHoldBodyAgreesWithStrict checks fastPlaceHoldBody's invariant: whatever it
// accepts, decodeStrict accepts too and decodes to the same body.
func TestFastPlaceHoldBodyAgreesWithStrict(t *testing.T) {
	accepted := 0
	for _, s := range holdBodies {
		if checkFastHoldBody(t, []byte(s)) {
			accepted++
		}
	}
	if accepted < 8 {
		t.Fatalf("the fast path took only %d of the common bodies", accepted)
	}
	for _, s := range []string{`{"buckets":["all"],"quantity":1}`, `{"buckets":["all"],"quantity":1,"user_id":"u-1"}`} {
		if _, ok := fastPlaceHoldBody([]byte(s)); !ok {
			t.Errorf("the fast path refused the common body %s", s)
		}
	}
}

func FuzzFastPlaceHoldBody(f *testing.F) {
	for _, s := range holdBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastHoldBody(t, body) })
}

// checkFastHoldBody fails t when the fast path accepts body but decodes it differently from
// decodeStrict (or decodeStrict refuses it), and reports whether the fast path accepted it.
func checkFastHoldBody(t *testing.T, body []byte) bool {
	t.Helper()
	fast, ok := fastPlaceHoldBody(body)
	if !ok {
		return false
	}
	var strict placeHoldBody
	if err := decodeStrict(body, &strict, placeHoldMember); err != nil {
		t.Fatalf("fast path accepted %q, decodeStrict refused it: %v", body, err)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("%q: fast path decoded %+v, decodeStrict %+v", body, fast, strict)
	}
	return true
}
